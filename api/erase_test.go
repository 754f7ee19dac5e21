package api_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perkflow/perkflow/internal/testkit/itest"
	"github.com/perkflow/perkflow/store"
	"github.com/perkflow/perkflow/workflows"
)

// TestEraseMemberLeavesNoPersonalDataAndKeepsTheLedger: a member with every profile field set, purchases, a lookup
// by email, a stored idempotent answer holding their profile and a profile change is erased by an admin while a
// burst of purchases for them arrives. Every purchase acknowledged accrues; a pg_dump of the whole database then
// holds none of their email, phone, name, birthdate or external id; the ledger's invariants hold; the member reads
// as erased, their tokens are refused, a second erasure answers the same, an unknown member 404.
func TestEraseMemberLeavesNoPersonalDataAndKeepsTheLedger(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	ctx := context.Background()
	const (
		email, phone, name, birth, card = "erin.erase@example.com", "+33611122233", "Erin Erasable", "1984-06-09", "CARD-ERIN-77"
	)
	res := s.Do("POST", "/v1/members/register", s.Keys["pos"], map[string]any{
		"email": email, "phone": phone, "name": name, "birthdate": birth, "external_id": card,
		"consent": map[string]bool{"email": true, "sms": true}}, "Prefer", "wait=20", "Idempotency-Key", "reg-erin")
	mustStatus(t, res, http.StatusCreated, "register")
	var m member
	res.Decode(t, &m)
	id := m.MemberID
	tok := s.MemberToken(id)
	mustStatus(t, s.Do("GET", "/v1/members?"+url.Values{"email": {email}}.Encode(), s.Keys["support"], nil), http.StatusOK, "lookup")
	mustStatus(t, s.Do("PATCH", "/v1/members/"+id, tok, map[string]any{"consent": map[string]bool{"sms": false}}), http.StatusOK, "patch")
	mustStatus(t, s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], basketPurchase("T-ERIN-0", id, line("BOOK", "books", 1, 2_000))), http.StatusCreated, "first purchase")

	// A burst of purchases while the erasure runs.
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		acked []string
	)
	for i := 1; i <= 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tx := fmt.Sprintf("T-ERIN-%d", i)
			r := s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], basketPurchase(tx, id, line("PEN", "office", 1, 1_000)))
			if r.Status == http.StatusCreated || r.Status == http.StatusAccepted {
				mu.Lock()
				acked = append(acked, tx)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	del := s.Do("DELETE", "/v1/members/"+id, s.Keys["admin"], nil, "Prefer", "wait=30")
	wg.Wait()
	if del.Status != http.StatusNoContent {
		t.Fatalf("erase: %d %s, want 204", del.Status, del.Body)
	}
	acked = append(acked, "T-ERIN-0")
	deadline := time.Now().Add(60 * time.Second)
	for {
		var n int
		if err := s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM transactions WHERE member_id = $1 AND status = $2 AND transaction_id = ANY ($3)`,
			id, store.TxAccrued, acked).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == len(acked) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of the %d acknowledged purchases accrued", n, len(acked))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%d purchases acknowledged and accrued", len(acked))
	s.LedgerInvariants()

	// The member reads as erased, to everyone; their token is refused.
	for _, key := range []string{s.Keys["admin"], s.Keys["support"], s.Keys["pos"]} {
		r := s.Do("GET", "/v1/members/"+id, key, nil)
		mustStatus(t, r, http.StatusOK, "read erased")
		var v map[string]any
		r.Decode(t, &v)
		if v["status"] != "erased" || v["email"] != nil || v["name"] != nil || v["phone"] != nil || v["birthdate"] != nil || v["external_id"] != nil || v["balance"] != nil {
			t.Fatalf("erased member reads %v", v)
		}
	}
	if r := s.Do("GET", "/v1/members/"+id, tok, nil); r.Status != http.StatusUnauthorized {
		t.Errorf("the erased member's token: %d, want 401", r.Status)
	}
	mustStatus(t, s.Do("DELETE", "/v1/members/"+id, s.Keys["admin"], nil), http.StatusNoContent, "second erase")
	if r := s.Do("DELETE", "/v1/members/00000000-0000-4000-8000-000000000002", s.Keys["admin"], nil); r.Status != http.StatusNotFound {
		t.Errorf("erase of an unknown member: %d, want 404", r.Status)
	}
	if r := s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], basketPurchase("T-ERIN-AFTER", id, line("PEN", "office", 1, 1_000))); r.Status != http.StatusNotFound {
		t.Errorf("a purchase for an erased member: %d, want 404", r.Status)
	}

	// The member's workflow dropped its run, the one started with the registration, and continues as new.
	deadline = time.Now().Add(20 * time.Second)
	for {
		d, err := s.Temporal.DescribeWorkflowExecution(ctx, workflows.MemberWorkflowID(id), "")
		if err != nil {
			t.Fatal(err)
		}
		info := d.GetWorkflowExecutionInfo()
		if info.GetExecution().GetRunId() != info.GetFirstRunId() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the member's workflow still runs the run its registration started")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Left out of the leaderboard.
	lb := s.Do("GET", "/v1/gamification/leaderboard?period=all", s.Keys["marketer"], nil)
	mustStatus(t, lb, http.StatusOK, "leaderboard")
	if strings.Contains(string(lb.Body), id) || strings.Contains(string(lb.Body), "Erin") {
		t.Errorf("the leaderboard shows the erased member: %s", lb.Body)
	}

	// Their payload key is gone (crypto-shredding), so every sealed copy of their profile in Temporal's history is
	// unreadable too.
	var keys int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM member_keys WHERE member_id = $1`, id).Scan(&keys); err != nil {
		t.Fatal(err)
	}
	if keys != 0 {
		t.Errorf("the erased member's payload key is still stored (%d rows in member_keys)", keys)
	}

	// Nothing personal left anywhere in the database, in text or as bytes (bytea columns dump as hex).
	out, err := exec.Command("pg_dump", "--no-owner", s.DB.URL).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_dump: %v: %s", err, out)
	}
	dump := string(out)
	if !strings.Contains(dump, id) {
		t.Fatal("the dump does not hold the member id: not the stack's database?")
	}
	lower := strings.ToLower(dump)
	for _, v := range []string{email, phone, name, birth, card, "Erin"} {
		if strings.Contains(dump, v) {
			i := strings.Index(dump, v)
			t.Errorf("the dump still holds %q: …%s…", v, dump[max(0, i-200):min(len(dump), i+100)])
		}
		if h := hex.EncodeToString([]byte(v)); strings.Contains(lower, h) {
			t.Errorf("the dump still holds %q as bytes (%s)", v, h)
		}
	}
}
