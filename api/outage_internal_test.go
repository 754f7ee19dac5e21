package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
)

// TestListenerBackoffResetsOnceConnected: the reconnect backoff doubles while connecting fails, and starts again
// from its minimum after a connection that listened.
func TestListenerBackoffResetsOnceConnected(t *testing.T) {
	l := newCommitListener(nil, slog.New(slog.NewTextHandler(io.Discard, nil)), newKeyCache())
	// Each attempt: connects (true) or fails at once (false); the run ends after the script.
	script := []bool{false, false, false, false, false, false, false, true, false, false, true, false}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	attempt := 0
	l.listenOnce = func(_ context.Context, connected func()) error {
		if attempt == len(script) {
			cancel()
			return ctx.Err()
		}
		ok := script[attempt]
		attempt++
		if ok {
			connected()
			return errors.New("connection lost")
		}
		return errors.New("connection refused")
	}
	var waits []time.Duration
	l.sleep = func(_ context.Context, d time.Duration) bool {
		waits = append(waits, d)
		return true
	}
	l.run(ctx)
	ms := time.Millisecond
	want := []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 5000 * ms, // failures
		100 * ms,           // after a connection
		200 * ms, 400 * ms, // failures again
		100 * ms, // after a connection
		200 * ms}
	if !reflect.DeepEqual(waits, want) {
		t.Errorf("waits %v, want %v", waits, want)
	}
}

// TestOutageErrorsAreClassified: which errors are outages of which dependency, and whether the request may have
// been accepted.
func TestOutageErrorsAreClassified(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, c := range []struct {
		name  string
		err   error
		slug  string // "" for no outage
		maybe bool
	}{
		{"postgres refused", fmt.Errorf("authenticate api key: %w", &pgconn.ConnectError{}), "postgres-unavailable", false},
		{"dial refused", fmt.Errorf("query: %w", refused), "postgres-unavailable", false},
		{"postgres shutting down", &pgconn.PgError{Code: "57P01"}, "postgres-unavailable", true},
		{"postgres starting", &pgconn.PgError{Code: "57P03"}, "postgres-unavailable", true},
		{"connection lost", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), "postgres-unavailable", true},
		{"constraint", &pgconn.PgError{Code: "23505"}, "", false},
		{"temporal deadline", serviceerror.NewDeadlineExceeded("context deadline exceeded"), "temporal-unavailable", true},
		{"temporal unavailable", serviceerror.NewUnavailable("connection refused"), "temporal-unavailable", false},
		{"breaker", fmt.Errorf("signal: %w", errBreakerOpen), "temporal-unavailable", false},
		{"temporal busy", serviceerror.NewResourceExhausted(enumspb.RESOURCE_EXHAUSTED_CAUSE_BUSY_WORKFLOW, "workflow is busy"), "temporal-unavailable", false},
		// The bench's 10,000 purchases for one member met this as a 500 (BENCHMARKS.md, history bound).
		{"signals per run", fmt.Errorf("signal with start: %w", serviceerror.NewInvalidArgument("exceeded workflow execution limit for signal events")), "temporal-unavailable", false},
		{"another invalid argument", serviceerror.NewInvalidArgument("workflow id is not set"), "", false},
		{"bug", errors.New("nil map"), "", false},
	} {
		got := outage(c.err)
		if c.slug == "" {
			if got != nil {
				t.Errorf("%s: %v is an outage", c.name, got)
			}
			continue
		}
		de := classify(got)
		if de == nil || problemTypes[de.Code].slug != c.slug {
			t.Errorf("%s: %v, want %s", c.name, got, c.slug)
			continue
		}
		if maybe := strings.Contains(de.Message, "may have been accepted"); maybe != c.maybe {
			t.Errorf("%s: detail %q (may have been accepted: %v)", c.name, de.Message, c.maybe)
		}
	}
	// A call to Temporal whose context ended may have been accepted.
	if de := classify(temporalRefused(context.DeadlineExceeded)); de == nil || de.Code != errTemporalUnavailable ||
		!strings.Contains(de.Message, "may have been accepted") {
		t.Errorf("deadline: %v", de)
	}
}

// TestOutageProblemsAreDocumented: every outage answer has Retry-After and a documented type.
func TestOutageProblemsAreDocumented(t *testing.T) {
	for _, err := range []error{postgresUnavailable(false, nil), temporalUnavailable(true, nil)} {
		w := httptest.NewRecorder()
		fail(w, httptest.NewRequest("GET", "/v1/program", nil), err)
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "2" {
			t.Errorf("%v: %d Retry-After %q", err, w.Code, w.Header().Get("Retry-After"))
		}
		if problemDocs[problemTypes[classify(err).Code].slug] == "" {
			t.Errorf("%v: undocumented", err)
		}
	}
}

// TestBreakerFollowsTheProbe: open once the probe has seen Temporal down twice in a row, closed once it answers
// again; one failed probe between good ones leaves it closed.
func TestBreakerFollowsTheProbe(t *testing.T) {
	var b breaker
	if b.allow() != nil {
		t.Fatal("a new breaker is open")
	}
	b.record(false)
	if b.allow() != nil {
		t.Fatal("one failed probe opened the breaker")
	}
	b.record(true)
	b.record(false)
	if b.allow() != nil {
		t.Fatal("failures that were not in a row opened the breaker")
	}
	b.record(false)
	if !errors.Is(b.allow(), errBreakerOpen) {
		t.Fatal("open: allowed")
	}
	g := &guardedTemporal{br: &b, timeout: time.Second} // no client: an open breaker must not call it
	if err := g.SignalWorkflow(context.Background(), "member/x", "", "purchase", nil); !errors.Is(err, errBreakerOpen) {
		t.Fatalf("signal with the breaker open: %v", err)
	}
	b.record(true)
	if b.allow() != nil {
		t.Fatal("closed: refused")
	}
}
