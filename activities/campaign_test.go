package activities_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/perkflow/perkflow/activities"
	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/testkit/itest"
	"github.com/perkflow/perkflow/internal/testkit/providerfake"
	"github.com/perkflow/perkflow/store"
	"github.com/perkflow/perkflow/worker"
	"github.com/perkflow/perkflow/workflows"
)

// TestAnnouncementToTenThousandMembersSendsEachOnce announces a campaign to 10,000 members through the real SendGrid
// SDK, on a real Temporal server, while the provider fails mid-way (503s, then 429s): the activity fails, Temporal
// retries it, the retry resumes from the heartbeat's cursor, and every member gets exactly one email.
func TestAnnouncementToTenThousandMembersSendsEachOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 sends")
	}
	f := newFixture(t)
	ctx := context.Background()
	const members = 10_000
	if _, err := f.db.Pool.Exec(ctx, `
		WITH m AS (INSERT INTO members (id, email, name, consent_email, consent_sms)
		           SELECT gen_random_uuid(), 'member' || i || '@example.com', 'Member ' || i, true, false
		           FROM generate_series(1, $1) i RETURNING id)
		INSERT INTO member_balances (member_id) SELECT id FROM m`, members); err != nil {
		t.Fatal(err)
	}
	// A member without email consent is outside the segment (consent: email) and must get nothing.
	outsider := f.member(t, "outsider@example.com", "", domain.Consent{})
	f.fake.SetFault(func(provider string, n int, _ providerfake.Request) int {
		switch {
		case n > 3000 && n <= 3010:
			return 503
		case n > 7000 && n <= 7005:
			return 429
		}
		return 0
	})
	f.acts.Campaigns = activities.CampaignOptions{AnnouncePerSecond: 1_000_000, AnnounceConcurrency: 8}
	// As in production, the worker's pool has room for every message in flight.
	pcfg, err := pgxpool.ParseConfig(f.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	pcfg.MaxConns = 12
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	f.acts.Store = store.New(pool)

	tmp, err := itest.StartTemporal()
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Stop()
	w := worker.New(tmp.Client, "announce-test", f.acts, sdkworker.Options{})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	now := time.Now().UTC()
	c := domain.Campaign{ID: "announce-10k", Name: "Winter sale", Kind: domain.CampaignAnnouncement, StartsAt: now, EndsAt: now.Add(time.Hour),
		Segment: domain.Segment{Consent: domain.ChannelEmail}, Announcement: &domain.Announcement{Channel: domain.ChannelEmail}}
	id := workflows.CampaignWorkflowID(c.ID)
	if _, err := tmp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "announce-test"},
		workflows.CampaignWorkflowName, workflows.CampaignInput{Campaign: c}); err != nil {
		t.Fatal(err)
	}
	var st workflows.CampaignState
	began := time.Now()
	deadline := time.Now().Add(3 * time.Minute)
	for !st.AnnounceDone {
		if time.Now().After(deadline) {
			t.Fatalf("announcement not done: %+v; fake accepted %d", st, f.fake.Accepted(providerfake.SendGrid))
		}
		time.Sleep(200 * time.Millisecond)
		v, err := tmp.Client.QueryWorkflow(ctx, id, "", workflows.QueryState)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Get(&st); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("announced to %d members in %s", st.Announced, time.Since(began).Round(time.Millisecond))
	if err := tmp.Client.SignalWorkflow(ctx, id, "", workflows.CampaignSignalCancel, nil); err != nil {
		t.Fatal(err)
	}

	reqs := f.fake.Requests()
	keys := map[string]int{}
	failed := 0
	for _, r := range reqs {
		if r.Status >= 300 {
			failed++
			continue
		}
		keys[r.Key]++
	}
	if failed != 15 || len(keys) != members || len(reqs) != members+failed {
		t.Fatalf("%d requests, %d failed, %d distinct members emailed; want %d sends", len(reqs), failed, len(keys), members)
	}
	for k, n := range keys {
		if n != 1 {
			t.Fatalf("%s sent %d times", k, n)
		}
	}
	counts, err := f.st.CountNotifications(ctx, domain.TemplateCampaignAnnouncement+":"+c.ID+":")
	if err != nil {
		t.Fatal(err)
	}
	if counts[store.NotificationSent] != members || len(counts) != 1 {
		t.Fatalf("notifications %v", counts)
	}
	if _, err := f.st.GetNotification(ctx, domain.AnnouncementKey(c.ID, outsider)); domain.CodeOf(err) != domain.ErrNotFound {
		t.Fatalf("the member outside the segment: %v", err)
	}
	rec, err := f.st.GetCampaign(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Announced != members || rec.Announced != members || rec.SegmentSize != members {
		t.Fatalf("state %+v, record %+v", st, rec)
	}
}
