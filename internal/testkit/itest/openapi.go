package itest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/go-chi/chi/v5"
)

// contract is api/openapi.yaml, the document the API embeds and serves at GET /openapi.yaml, loaded once.
type contract struct {
	doc    *openapi3.T
	router routers.Router
}

var loadContract = sync.OnceValues(func() (*contract, error) {
	_, here, _, ok := runtime.Caller(0)
	if !ok {
		return nil, errors.New("cannot locate the itest package's source to find api/openapi.yaml")
	}
	path := filepath.Join(filepath.Dir(here), "..", "..", "..", "api", "openapi.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("%s is not a valid OpenAPI document: %w", path, err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", path, err)
	}
	// The documentation pages and their script are text, validated as strings.
	for _, ct := range []string{"text/html", "text/javascript"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
	return &contract{doc: doc, router: router}, nil
})

// contractOptions validate responses strictly: a status the operation does not document is an error. Requests are
// not validated (tests send bad input on purpose), and authentication is the API's business, not the validator's.
var contractOptions = &openapi3filter.Options{
	IncludeResponseStatus: true,
	MultiError:            true,
	AuthenticationFunc:    func(context.Context, *openapi3filter.AuthenticationInput) error { return nil },
}

// checkContract validates an answer of the API (status, headers, body) against api/openapi.yaml, failing the test
// when it does not match. A request the document has no operation for is checked only for being one the API does
// not serve either (its 404 or 405 answer is then the router's own); a route the API serves that the document
// leaves out fails the test.
func (s *Stack) checkContract(req *http.Request, res Response) {
	s.T.Helper()
	c, err := loadContract()
	if err != nil {
		s.T.Errorf("openapi contract: %v", err)
		return
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		if pattern := s.servedRoute(req); pattern != "" {
			s.T.Errorf("openapi contract: %s %s (route %s) answered %d, but api/openapi.yaml does not describe %s %s",
				req.Method, req.URL.Path, pattern, res.Status, req.Method, pattern)
		}
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route, Options: contractOptions,
		},
		Status:  res.Status,
		Header:  res.Header,
		Body:    io.NopCloser(bytes.NewReader(res.Body)),
		Options: contractOptions,
	}
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		s.T.Errorf("openapi contract: %s %s answered %d, which api/openapi.yaml (%s %s) does not allow:\n%v\nbody: %s",
			req.Method, req.URL.RequestURI(), res.Status, route.Method, route.Path, err, truncate(res.Body, 2048))
	}
}

// servedRoute returns the pattern of the API route that serves req, or "" when the API has none.
func (s *Stack) servedRoute(req *http.Request) string {
	if s.router == nil {
		return ""
	}
	return s.router.Find(chi.NewRouteContext(), req.Method, req.URL.Path)
}

func truncate(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return append(b[:n:n], "…"...)
}
