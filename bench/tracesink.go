package bench

import (
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// traceSink is an OTLP/HTTP trace receiver that counts and drops what it receives: with --tracing, the children
// export every span to it, so that the bench measures what tracing costs perkflow (instrumentation, batching,
// encoding, sending) without a collector's own cost on the same cores.
type traceSink struct {
	URL      string
	srv      *http.Server
	spans    atomic.Int64
	requests atomic.Int64
}

func startTraceSink() (*traceSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &traceSink{URL: "http://" + ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", s.receive)
	s.srv = &http.Server{Handler: mux}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *traceSink) receive(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer zr.Close()
		body = zr
	}
	b, err := io.ReadAll(body)
	var req coltrace.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(b, &req)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			s.spans.Add(int64(len(ss.GetSpans())))
		}
	}
	s.requests.Add(1)
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// note says what the sink received, for the report.
func (s *traceSink) note() string {
	return fmt.Sprintf("Tracing on (--tracing): the api and the worker exported %d spans in %d OTLP/HTTP requests to the bench's sink, which counts and drops them.",
		s.spans.Load(), s.requests.Load())
}

func (s *traceSink) stop() {
	if s != nil {
		_ = s.srv.Close()
	}
}
