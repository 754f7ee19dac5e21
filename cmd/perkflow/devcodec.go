//go:build !nodev

package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"time"
)

// codecRelay is `perkflow dev`'s loopback relay from its embedded Temporal UI to the API's codec endpoints: it adds
// dev's support key to each call, which the UI (with no sign-in of its own) cannot send. It forwards /codec/decode,
// /codec/encode and their CORS preflights only, and listens on loopback only; the API authenticates, authorises,
// answers CORS and audits as for any caller.
type codecRelay struct {
	url string
	key atomic.Pointer[string]
	srv *http.Server
}

func newCodecRelay(apiAddr string) (*codecRelay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	host, port, err := net.SplitHostPort(apiAddr)
	if err != nil {
		return nil, err
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	target := &url.URL{Scheme: "http", Host: net.JoinHostPort(host, port)}
	r := &codecRelay{url: "http://" + ln.Addr().String() + "/codec"}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = target.Host
		pr.Out.Header.Del("Cookie")
		if k := r.key.Load(); k != nil && pr.In.Method != http.MethodOptions {
			pr.Out.Header.Set("Authorization", "Bearer "+*k)
		}
	}}
	r.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/codec/decode" && req.URL.Path != "/codec/encode" {
			http.NotFound(w, req)
			return
		}
		proxy.ServeHTTP(w, req)
	})}
	go func() {
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return
		}
	}()
	return r, nil
}

func (r *codecRelay) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = r.srv.Shutdown(ctx)
}
