package api

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perkflow/perkflow/domain"
)

// TestAwaitTakesEveryAnnouncement: a subscription stays subscribed and keeps a wake-up that comes while the request
// is reading, so a waiter sees each step of an effect (a redemption going reserved → completed) and the step it
// waits for is never missed; keys are kept apart.
func TestAwaitTakesEveryAnnouncement(t *testing.T) {
	l := newCommitListener(nil, nil, newKeyCache())
	sub := l.subscribe("redemption:r-1")
	defer sub.close()
	other := l.subscribe("redemption:r-2")
	defer other.close()

	var status atomic.Value
	status.Store("")
	read := func(context.Context) (string, error) {
		if s := status.Load().(string); s != "" {
			return s, nil
		}
		return "", domain.Errorf(domain.ErrNotFound, "not recorded yet")
	}
	var reads atomic.Int32
	done := func(s string) bool {
		reads.Add(1)
		if s == "reserved" { // the store records the next step while the waiter looks at this one
			status.Store("completed")
			l.wake("redemption:r-1")
		}
		return s == "completed"
	}
	go func() {
		status.Store("reserved")
		l.wake("redemption:r-1")
	}()
	got, ok := await(context.Background(), sub, time.Minute, read, done)
	if !ok || got != "completed" {
		t.Fatalf("await: %q, %v; want completed", got, ok)
	}
	select {
	case <-other.woken:
		t.Fatal("an announcement for r-1 woke the subscription of r-2")
	default:
	}
	if n := reads.Load(); n < 2 {
		t.Fatalf("%d values looked at, want reserved then completed", n)
	}
}

// TestAwaitAnswersAtTheBudget: an effect not committed within the budget ends the wait with what was read last,
// not accepted; errors other than not-found are retried until then rather than ending it early.
func TestAwaitAnswersAtTheBudget(t *testing.T) {
	l := newCommitListener(nil, nil, newKeyCache())
	sub := l.subscribe("campaign:c-1")
	defer sub.close()
	var n atomic.Int32
	read := func(context.Context) (string, error) {
		if n.Add(1) == 1 {
			return "", errors.New("connection reset")
		}
		return "scheduled", nil
	}
	sub.wake()
	got, ok := await(context.Background(), sub, 3*pollInterval, read, func(s string) bool { return s == "paused" })
	if ok || got != "scheduled" {
		t.Fatalf("await: %q, %v; want the last value read, not accepted", got, ok)
	}
	if n.Load() < 2 {
		t.Fatalf("read %d times: an error ended the wait", n.Load())
	}
}

// TestAwaitReadsAtOnceWhenWoken: a handler whose effect may be committed already (a retried request) wakes its
// subscription itself and is answered without waiting for a poll.
func TestAwaitReadsAtOnceWhenWoken(t *testing.T) {
	l := newCommitListener(nil, nil, newKeyCache())
	sub := l.subscribe("enrolment:c/m")
	defer sub.close()
	sub.wake()
	sub.wake() // a second wake-up before the first is taken is the same wake-up
	got, ok := await(context.Background(), sub, pollInterval*4/5, func(context.Context) (int, error) { return 7, nil }, nil)
	if !ok || got != 7 {
		t.Fatalf("await: %d, %v", got, ok)
	}
	sub.close()
	if len(l.subs) != 0 {
		t.Fatalf("closed subscriptions left behind: %v", l.subs)
	}
}
