package api_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/internal/testkit/itest"
)

// The cap on writes concerning one member in flight covers the member a handler finds itself (the purchase of a
// return), and a body's member_id takes a slot only once the handler has checked it (pen test, issue 21, finding 3).

// holdRequest sends a write that waits (no worker runs) for wait seconds, returning when it is surely in flight.
func holdRequest(t *testing.T, s *itest.Stack, path string, body any, wait int, wg *sync.WaitGroup) {
	t.Helper()
	wg.Add(1)
	go func() {
		defer wg.Done()
		res := s.Do("POST", path, s.Keys["pos"], body, "Prefer", fmt.Sprintf("wait=%d", wait))
		if res.Status != http.StatusAccepted {
			t.Errorf("held %s: %d %s", path, res.Status, res.Body)
		}
	}()
	time.Sleep(700 * time.Millisecond)
}

func returnOf(id string) map[string]any {
	return map[string]any{"return_id": id, "amount": map[string]any{"amount": 100, "currency": "EUR"}}
}

func TestConcurrentReturnsForOneMemberAreCapped(t *testing.T) {
	t.Parallel() // waits on timers: alongside the others
	s := itest.NewStack(t, temporal, itest.Options{Limits: &api.Limits{MemberWrites: 2}})
	busy := register(t, s, "busy-returns@example.com")
	calm := register(t, s, "calm-returns@example.com")
	for _, tx := range []struct{ id, member string }{{"T-RET-BUSY", busy}, {"T-RET-CALM", calm}} {
		mustStatus(t, s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], purchase(tx.id, tx.member, 10_000), "Prefer", "wait=20"), http.StatusCreated, "accrue")
	}
	s.StopWorker() // returns now wait for their whole budget

	var wg sync.WaitGroup
	holdRequest(t, s, "/v1/transactions/T-RET-BUSY/return", returnOf("R-HOLD-1"), 4, &wg)
	holdRequest(t, s, "/v1/transactions/T-RET-BUSY/return", returnOf("R-HOLD-2"), 4, &wg)
	res := s.Do("POST", "/v1/transactions/T-RET-BUSY/return", s.Keys["pos"], returnOf("R-HOLD-3"), "Prefer", "wait=0")
	if res.Status != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("a third return for a busy member: %d %v %s", res.Status, res.Header, res.Body)
	}
	// Returns and accruals count together: an accrual for the busy member waits its turn too.
	if res := s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], purchase("T-RET-BUSY-2", busy, 100), "Prefer", "wait=0"); res.Status != http.StatusTooManyRequests {
		t.Fatalf("an accrual for the member whose returns fill the cap: %d %s", res.Status, res.Body)
	}
	if res := s.Do("POST", "/v1/transactions/T-RET-CALM/return", s.Keys["pos"], returnOf("R-CALM-1"), "Prefer", "wait=0"); res.Status != http.StatusAccepted {
		t.Fatalf("a return for another member: %d %s", res.Status, res.Body)
	}
	wg.Wait()
	if res := s.Do("POST", "/v1/transactions/T-RET-BUSY/return", s.Keys["pos"], returnOf("R-HOLD-3"), "Prefer", "wait=0"); res.Status != http.StatusAccepted {
		t.Fatalf("the return once the others finished: %d %s", res.Status, res.Body)
	}
}

func TestABodysMemberIDTakesNoSlotBeforeItIsChecked(t *testing.T) {
	t.Parallel() // waits on timers: alongside the others
	s := itest.NewStack(t, temporal, itest.Options{Limits: &api.Limits{MemberWrites: 1}})
	victim := register(t, s, "victim-slots@example.com")
	s.StopWorker()

	var wg sync.WaitGroup
	holdRequest(t, s, "/v1/transactions/accrue", purchase("T-SLOT-1", victim, 100), 4, &wg)
	// Requests that name the member in their body but are refused before reaching them answer their own refusal,
	// not the member's cap: nothing they send occupies, or is held up by, the member's slots.
	bad := purchase("T-SLOT-2", victim, 100)
	bad["points_earned"] = 1_000
	if res := s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], bad, "Prefer", "wait=0"); res.Status != http.StatusBadRequest {
		t.Fatalf("a malformed accrual naming the busy member: %d %s, want its 400", res.Status, res.Body)
	}
	redeem := map[string]any{"redemption_id": "TILL-SLOT", "member_id": victim, "points": 0, "store_id": "s1"}
	if res := s.Do("POST", "/v1/transactions/redeem", s.Keys["pos"], redeem); res.Status != http.StatusBadRequest {
		t.Fatalf("an invalid till redemption naming the busy member: %d %s, want its 400", res.Status, res.Body)
	}
	// A valid one waits its turn.
	if res := s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], purchase("T-SLOT-3", victim, 100), "Prefer", "wait=0"); res.Status != http.StatusTooManyRequests {
		t.Fatalf("a second valid accrual for the busy member: %d %s", res.Status, res.Body)
	}
	wg.Wait()
}
