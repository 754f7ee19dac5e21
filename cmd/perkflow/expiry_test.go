package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/testkit"
	"github.com/perkflow/perkflow/internal/testkit/itest"
	"github.com/perkflow/perkflow/workflows"
)

// TestExpiryRunShowsProgress runs `perkflow expiry run`'s code against the real worker on an in-process Temporal
// server, over 30 lots past their date in 6 activity calls: it prints the lots due, progress lines read from the
// workflow's state query while it runs, and at the end all 30 lots done, with the final state as JSON.
func TestExpiryRunShowsProgress(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Temporal")
	}
	tmp, err := itest.StartTemporal()
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Stop()
	s := itest.NewStack(t, tmp, itest.Options{})
	ctx := context.Background()
	now := time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)
	const members, perMember = 3, 10
	if _, err := s.DB.Pool.Exec(ctx, `
		WITH m AS (
			INSERT INTO members (id, email, name) SELECT md5('expiry-cli' || i)::uuid, 'x' || i || '@example.com', 'X' FROM generate_series(1, $1) i RETURNING id),
		b AS (INSERT INTO member_balances (member_id, total, lifetime) SELECT id, 10 * $2, 10 * $2 FROM m),
		e AS (
			INSERT INTO ledger_entries (member_id, kind, points, available_at, expires_at, source_type, source_id, idempotency_key,
			                            balance_after, occurred_at)
			SELECT m.id, 'adjustment', 10, $3::timestamptz - interval '800 days', $3::timestamptz - interval '1 day' - k * interval '1 minute', 'admin',
			       'seed', 'seed:' || m.id || ':' || k, 10 * k, $3::timestamptz - interval '800 days'
			FROM m CROSS JOIN generate_series(1, $2) k RETURNING id, member_id, available_at, expires_at)
		INSERT INTO ledger_lots (entry_id, member_id, points, remaining, available_at, expires_at)
		SELECT id, member_id, 10, 10, available_at, expires_at FROM e`, members, perMember, now); err != nil {
		t.Fatal(err)
	}
	// The members' balances are held locked until a progress line has been printed: the expiry's first chunk waits
	// for them, so the run is surely under way, unfinished, when the command reads its state.
	hold, err := s.DB.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback(ctx) //nolint:errcheck
	if _, err := hold.Exec(ctx, `SELECT 1 FROM member_balances FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	progress := &testkit.SyncBuffer{}
	ran := make(chan error, 1)
	go func() {
		ran <- runExpiry(ctx, expiryRun{
			store: s.Store, temporal: s.Temporal, taskQueue: s.TaskQueue,
			input: workflows.ExpiryInput{Now: now, ChunkSize: 5, ChunksPerActivity: 1},
			wait:  2 * time.Minute, every: 10 * time.Millisecond, out: &out, progress: progress,
		})
	}()
	for deadline := time.Now().Add(time.Minute); strings.Count(progress.String(), "\n") < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no progress line within a minute:\n%s", progress.String())
		}
	}
	if err := hold.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-ran; err != nil {
		t.Fatalf("expiry run: %v\n%s", err, progress.String())
	}
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	if !strings.HasPrefix(lines[0], "expiry started: "+workflows.ExpiryManualWorkflowID(now)+" (30 lots due)") {
		t.Errorf("first line %q; want the workflow id and the 30 lots due", lines[0])
	}
	want := "expiry: done: 30/30 lots (30 expired, 0 skipped), 300 points expired, 0 lots reminded"
	if last := lines[len(lines)-1]; last != want {
		t.Errorf("last line %q; want %q", last, want)
	}
	// At least one line between came from the state query while the run went on.
	if len(lines) < 3 {
		t.Errorf("no progress while the expiry ran:\n%s", progress.String())
	}
	for _, l := range lines[1 : len(lines)-1] {
		if !strings.HasPrefix(l, "expiry: reminding") && !strings.Contains(l, "/30 lots (") {
			t.Errorf("progress line %q is not lots done of the 30 due", l)
		}
	}
	var st workflows.ExpiryState
	if err := json.Unmarshal(out.Bytes(), &st); err != nil || st.Phase != workflows.ExpiryPhaseDone || st.Stats.LotsExpired != 30 || st.Stats.PointsExpired != 300 {
		t.Errorf("final state %s (%v); want done with 30 lots and 300 points expired", out.String(), err)
	}
	if n, err := s.Store.CountExpiringLots(ctx, now); err != nil || n != 0 {
		t.Errorf("%d lots still due after the run (%v)", n, err)
	}
	s.LedgerInvariants()
}

// TestExpiryProgressLine: lots done (expired or skipped) of those due, capped at 100%, and a run with nothing due.
func TestExpiryProgressLine(t *testing.T) {
	for _, tc := range []struct {
		st   workflows.ExpiryState
		due  int64
		want string
	}{
		{workflows.ExpiryState{Phase: workflows.ExpiryPhaseReminding}, 10, "expiry: reminding members of points expiring soon"},
		{workflows.ExpiryState{Phase: workflows.ExpiryPhaseExpiring}, 0, "expiry: 0/0 lots (100%), 0 points expired"},
		{workflows.ExpiryState{Phase: workflows.ExpiryPhaseExpiring, Stats: statsOf(3, 1, 40)}, 16, "expiry: 4/16 lots (25%), 40 points expired"},
		{workflows.ExpiryState{Phase: workflows.ExpiryPhaseExpiring, Stats: statsOf(12, 0, 120)}, 10, "expiry: 12/10 lots (100%), 120 points expired"},
		{workflows.ExpiryState{Phase: workflows.ExpiryPhaseDone, Stats: statsOf(9, 1, 90)}, 10, "expiry: done: 10/10 lots (9 expired, 1 skipped), 90 points expired, 0 lots reminded"},
	} {
		if got := expiryProgress(tc.st, tc.due); got != tc.want {
			t.Errorf("expiryProgress(%s, %d) = %q, want %q", fmt.Sprint(tc.st.Stats), tc.due, got, tc.want)
		}
	}
}

func statsOf(expired, skipped, points int64) domain.ExpiryStats {
	return domain.ExpiryStats{LotsExpired: expired, LotsSkipped: skipped, PointsExpired: points}
}
