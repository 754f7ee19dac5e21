package itest

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync"

	"github.com/go-chi/chi/v5"
)

// Every request a stack's API answers is counted by route and status, for all the stacks of a test binary, so
// that a package can check at its end that each route it serves was exercised, and answered with success at least
// once (Unserved): a route that exists but no test ever drives to its happy path is a route nobody tested.
var served = struct {
	sync.Mutex
	byRoute map[string]map[int]int
}{byRoute: map[string]map[int]int{}}

// routeRecorder wraps the API's router: after each request it notes the route's pattern and the status answered.
// It is still a chi.Routes (the router's own), so tests can walk the routes of the handler a stack serves.
type routeRecorder struct {
	router chi.Routes
	next   http.Handler
}

func recordRoutes(router chi.Routes, next http.Handler) http.Handler {
	return routeRecorder{router: router, next: next}
}

// RecordRoutes counts what a router built outside a Stack answers (a test that serves the API's handler on its
// own), as a Stack's API is counted. A handler that is not a chi router is returned as it is.
func RecordRoutes(h http.Handler) http.Handler {
	router, ok := h.(chi.Routes)
	if !ok {
		return h
	}
	return recordRoutes(router, h)
}

func (rr routeRecorder) Routes() []chi.Route                    { return rr.router.Routes() }
func (rr routeRecorder) Middlewares() chi.Middlewares           { return rr.router.Middlewares() }
func (rr routeRecorder) Match(c *chi.Context, m, p string) bool { return rr.router.Match(c, m, p) }
func (rr routeRecorder) Find(c *chi.Context, m, p string) string {
	return rr.router.Find(c, m, p)
}

func (rr routeRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	pattern := rr.router.Find(chi.NewRouteContext(), r.Method, r.URL.Path)
	sw := &statusWriter{ResponseWriter: w}
	rr.next.ServeHTTP(sw, r)
	if pattern == "" {
		return
	}
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	served.Lock()
	defer served.Unlock()
	key := r.Method + " " + pattern
	if served.byRoute[key] == nil {
		served.byRoute[key] = map[int]int{}
	}
	served.byRoute[key][status]++
}

// Unserved returns, of the routes given as "METHOD pattern", those that no stack of this test binary answered
// with a 2xx or 3xx, each with the statuses it did answer.
func Unserved(routes []string) []string {
	served.Lock()
	defer served.Unlock()
	var out []string
	for _, rt := range routes {
		ok := false
		var seen []int
		for status := range served.byRoute[rt] {
			seen = append(seen, status)
			if status >= 200 && status < 400 {
				ok = true
			}
		}
		if !ok {
			sort.Ints(seen)
			out = append(out, fmt.Sprintf("%s (answered %v)", rt, seen))
		}
	}
	return out
}

// statusWriter remembers the status written; it keeps the writer's optional interfaces reachable (Flush for
// streamed answers, Hijack, and Unwrap for http.ResponseController).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	return h.Hijack()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
