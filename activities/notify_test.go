package activities_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"

	"github.com/perkflow/perkflow/activities"
	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/testkit/pgtest"
	"github.com/perkflow/perkflow/internal/testkit/providerfake"
	"github.com/perkflow/perkflow/store"
)

const (
	sgKey    = "SG.test-key"
	twSID    = "AC0123456789abcdef0123456789abcdef"
	twToken  = "testauthtoken0123456789"
	mailFrom = "news@perkflow.test"
	smsFrom  = "+15005550006"
)

type fixture struct {
	st   *store.Store
	db   *pgtest.DB
	fake *providerfake.Server
	acts *activities.Activities
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := pgtest.New(t)
	st := store.New(db.Pool)
	epoch := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := st.SaveProgram(context.Background(), domain.DefaultProgram(), epoch, "test"); err != nil {
		t.Fatal(err)
	}
	for _, r := range domain.DefaultRules() {
		if _, err := st.SaveRule(context.Background(), r, true, epoch, "test"); err != nil {
			t.Fatal(err)
		}
	}
	fake := providerfake.New(sgKey, twSID, twToken)
	t.Cleanup(fake.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	acts := &activities.Activities{Store: st, Log: log, Notifier: activities.Channels{
		Email: &activities.SendGrid{APIKey: sgKey, BaseURL: fake.URL, From: mailFrom, FromName: "Perkflow"},
		SMS:   &activities.Twilio{AccountSID: twSID, AuthToken: twToken, From: smsFrom, BaseURL: fake.URL},
	}}
	return &fixture{st: st, db: db, fake: fake, acts: acts}
}

func (f *fixture) member(t *testing.T, email, phone string, c domain.Consent) string {
	t.Helper()
	r := domain.Registration{MemberID: uuid.NewString(), Email: email, Phone: phone, Name: "Ada Lovelace", Consent: c}
	if _, err := f.st.CreateMember(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return r.MemberID
}

func (f *fixture) record(t *testing.T, key string) store.NotificationRecord {
	t.Helper()
	r, err := f.st.GetNotification(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestEmailThroughSendGridSDK(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.member(t, "ada@example.com", "+33612345678", domain.Consent{Email: true, SMS: true})
	n := domain.Notification{Key: domain.WelcomeKey(m), MemberID: m, Template: domain.TemplateWelcome}
	for range 3 { // retries of the same activity send once
		if err := f.acts.SendNotification(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	reqs := f.fake.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests: %+v", len(reqs), reqs)
	}
	r := reqs[0]
	if r.Provider != providerfake.SendGrid || r.Auth != sgKey || r.From != mailFrom || strings.Join(r.To, ",") != "ada@example.com" ||
		r.Subject != "Welcome to the program" || !strings.HasPrefix(r.Body, "Hello Ada, welcome") || r.Key != n.Key {
		t.Fatalf("request %+v", r)
	}
	if rec := f.record(t, n.Key); rec.Status != store.NotificationSent || rec.ProviderID != r.ID || rec.Provider != "sendgrid" || rec.Attempts != 1 {
		t.Fatalf("record %+v", rec)
	}
}

func TestSMSThroughTwilioSDK(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.member(t, "bob@example.com", "+33612345678", domain.Consent{SMS: true})
	n := domain.Notification{Key: "tier_change:" + m, MemberID: m, Template: domain.TemplateTierChange, Data: map[string]string{"to": "gold"}}
	for range 2 {
		if err := f.acts.SendNotification(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	reqs := f.fake.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests: %+v", len(reqs), reqs)
	}
	r := reqs[0]
	if r.Provider != providerfake.Twilio || r.Auth != twSID+":"+twToken || r.From != smsFrom || r.To[0] != "+33612345678" ||
		r.Body != "Hello Ada, your tier is now gold. "+domain.DefaultSMSOptOut {
		t.Fatalf("request %+v", r)
	}
	if rec := f.record(t, n.Key); rec.Status != store.NotificationSent || rec.ProviderID != "SM"+r.ID || rec.Channel != "sms" {
		t.Fatalf("record %+v", rec)
	}
}

func TestProviderErrorsAreClassified(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		consent  domain.Consent
		status   int
		retry    bool
		provider string
	}{
		{"sendgrid rate limit", domain.Consent{Email: true}, 429, true, providerfake.SendGrid},
		{"sendgrid outage", domain.Consent{Email: true}, 503, true, providerfake.SendGrid},
		{"sendgrid refusal", domain.Consent{Email: true}, 400, false, providerfake.SendGrid},
		{"twilio rate limit", domain.Consent{SMS: true}, 429, true, providerfake.Twilio},
		{"twilio outage", domain.Consent{SMS: true}, 500, true, providerfake.Twilio},
		{"twilio refusal", domain.Consent{SMS: true}, 400, false, providerfake.Twilio},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := f.member(t, uuid.NewString()+"@example.com", "+33612345678", tc.consent)
			n := domain.Notification{Key: "test:" + m, MemberID: m, Template: "anything"}
			before := f.fake.Accepted(tc.provider)
			f.fake.SetFault(func(string, int, providerfake.Request) int { return tc.status })
			err := f.acts.SendNotification(ctx, n)
			var appErr *temporal.ApplicationError
			if tc.retry {
				if err == nil || (errors.As(err, &appErr) && appErr.NonRetryable()) {
					t.Fatalf("want a retryable error, got %v", err)
				}
				if rec := f.record(t, n.Key); rec.Status != store.NotificationPending {
					t.Fatalf("record %+v", rec)
				}
				// A rate limit is retried when the provider said to come back (its Retry-After), not before.
				want := time.Duration(0)
				if tc.status == 429 {
					want = providerfake.RetryAfter * time.Second
				}
				if !errors.As(err, &appErr) || appErr.NextRetryDelay() != want {
					t.Fatalf("next retry delay of %v, want %v", err, want)
				}
			} else {
				if err != nil {
					t.Fatalf("a refusal must not fail the activity: %v", err)
				}
				if rec := f.record(t, n.Key); rec.Status != store.NotificationFailed {
					t.Fatalf("record %+v", rec)
				}
			}
			f.fake.SetFault(nil)
			if err := f.acts.SendNotification(ctx, n); err != nil { // the retry
				t.Fatal(err)
			}
			want := before
			if tc.retry {
				want++
			}
			if got := f.fake.Accepted(tc.provider); got != want {
				t.Fatalf("accepted %d, want %d", got, want)
			}
		})
	}
}

func TestNoConsentOrErasedSendsNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	none := f.member(t, "none@example.com", "+33612345678", domain.Consent{})
	emailOnly := f.member(t, "emailonly@example.com", "+33612345678", domain.Consent{Email: true})
	erased := f.member(t, "erased@example.com", "", domain.Consent{Email: true})
	if _, err := f.db.Pool.Exec(ctx, `UPDATE members SET status = 'erased', email = NULL, name = NULL WHERE id = $1`, erased); err != nil {
		t.Fatal(err)
	}
	for _, n := range []domain.Notification{
		{Key: "w:none", MemberID: none, Template: domain.TemplateWelcome},
		{Key: "w:sms", MemberID: emailOnly, Template: domain.TemplateWelcome, Data: map[string]string{"channel": "sms"}},
		{Key: "w:erased", MemberID: erased, Template: domain.TemplateWelcome},
	} {
		if err := f.acts.SendNotification(ctx, n); err != nil {
			t.Fatal(err)
		}
		if rec := f.record(t, n.Key); rec.Status != store.NotificationSkipped {
			t.Fatalf("%s: %+v", n.Key, rec)
		}
	}
	if reqs := f.fake.Requests(); len(reqs) != 0 {
		t.Fatalf("sent %+v", reqs)
	}
}

func TestUnknownOutcomeIsNotResent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.member(t, "slow@example.com", "", domain.Consent{Email: true})
	f.acts.Notifier = &activities.SendGrid{APIKey: sgKey, BaseURL: f.fake.URL, From: mailFrom, HTTP: &http.Client{Timeout: 100 * time.Millisecond}}
	// The provider takes the message but answers too late: the sender cannot know whether it went.
	f.fake.SetFault(func(string, int, providerfake.Request) int { time.Sleep(300 * time.Millisecond); return 0 })
	n := domain.Notification{Key: "slow:" + m, MemberID: m, Template: domain.TemplateWelcome}
	for range 3 {
		if err := f.acts.SendNotification(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(f.fake.Requests()); got != 1 {
		t.Fatalf("%d requests, want 1", got)
	}
	if rec := f.record(t, n.Key); rec.Status != store.NotificationFailed {
		t.Fatalf("record %+v", rec)
	}
}
