package activities_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/testkit/providerfake"
	"github.com/perkflow/perkflow/store"
)

var testUnsubscriber = domain.Unsubscriber{Secret: []byte("test-unsubscribe-secret-test-unsubscribe"), BaseURL: "https://loyalty.example.com"}

// TestEveryEmailCarriesAOneClickUnsubscribeAndEverySMSTheOptOut: at the provider fake, an email has List-Unsubscribe
// (an https link to /v1/unsubscribe with a token that verifies for this member and channel) and
// List-Unsubscribe-Post: List-Unsubscribe=One-Click (RFC 8058); an SMS ends with the program's opt-out text.
func TestEveryEmailCarriesAOneClickUnsubscribeAndEverySMSTheOptOut(t *testing.T) {
	f := newFixture(t)
	f.acts.Unsubscribe = testUnsubscriber
	f.acts.SMSOptOut = "Text STOP to end."
	ctx := context.Background()
	ada := f.member(t, "ada.optout@example.com", "", domain.Consent{Email: true})
	bob := f.member(t, "bob.optout@example.com", "+33612345600", domain.Consent{SMS: true})
	for _, m := range []string{ada, bob} {
		if err := f.acts.SendNotification(ctx, domain.Notification{Key: domain.WelcomeKey(m), MemberID: m, Template: domain.TemplateWelcome}); err != nil {
			t.Fatal(err)
		}
	}
	reqs := f.fake.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	for _, r := range reqs {
		switch r.Provider {
		case providerfake.SendGrid:
			lu := r.Headers["List-Unsubscribe"]
			if r.Headers["List-Unsubscribe-Post"] != "List-Unsubscribe=One-Click" || !strings.HasPrefix(lu, "<https://loyalty.example.com/v1/unsubscribe?token=") || !strings.HasSuffix(lu, ">") {
				t.Fatalf("email headers %v", r.Headers)
			}
			u, err := url.Parse(strings.Trim(lu, "<>"))
			if err != nil {
				t.Fatal(err)
			}
			id, ch, err := testUnsubscriber.Verify(u.Query().Get("token"), time.Now())
			if err != nil || id != ada || ch != domain.ChannelEmail {
				t.Fatalf("the link's token names %s %s (%v), want %s email", id, ch, err, ada)
			}
			if !strings.Contains(r.Body, u.String()) {
				t.Errorf("the email's text does not show the link: %q", r.Body)
			}
		case providerfake.Twilio:
			if !strings.HasSuffix(r.Body, " Text STOP to end.") {
				t.Fatalf("SMS %q does not end with the opt-out text", r.Body)
			}
		}
	}
}

// TestConsentWithdrawnIsHonouredAtSendTime: a notification sent after the member withdrew consent on its channel
// reaches no provider (recorded skipped), even though it was asked for while consent was given; the other channel
// is never used in its place.
func TestConsentWithdrawnIsHonouredAtSendTime(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.member(t, "cleo.optout@example.com", "+33612345601", domain.Consent{Email: true, SMS: true})
	send := func(key, channel string) {
		t.Helper()
		n := domain.Notification{Key: key, MemberID: m, Template: domain.TemplateWelcome, Data: map[string]string{"channel": channel}}
		if err := f.acts.SendNotification(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	send("before-email", domain.ChannelEmail)
	send("before-sms", domain.ChannelSMS)
	if changed, err := f.st.SetConsent(ctx, m, domain.ChannelEmail, false); err != nil || !changed {
		t.Fatalf("withdraw email: %v %v", changed, err)
	}
	send("after-email", domain.ChannelEmail)
	send("after-sms", domain.ChannelSMS)
	off := false
	if _, _, err := f.st.UpdateMemberProfile(ctx, m, domain.ProfilePatch{Consent: &domain.ConsentPatch{SMS: &off}}); err != nil {
		t.Fatal(err)
	}
	send("last-sms", domain.ChannelSMS)
	if err := f.acts.SendNotification(ctx, domain.Notification{Key: "last-any", MemberID: m, Template: domain.TemplateWelcome}); err != nil {
		t.Fatal(err)
	}
	if got := f.fake.Accepted(providerfake.SendGrid); got != 1 {
		t.Errorf("%d emails reached SendGrid, want 1 (before the withdrawal)", got)
	}
	if got := f.fake.Accepted(providerfake.Twilio); got != 2 {
		t.Errorf("%d SMS reached Twilio, want 2 (before each withdrawal)", got)
	}
	for _, key := range []string{"after-email", "last-sms", "last-any"} {
		if rec := f.record(t, key); rec.Status != store.NotificationSkipped {
			t.Errorf("%s: %+v, want skipped", key, rec)
		}
	}
}

// TestConsentChangeWaitsForAMessageBeingSent: a withdrawal made while a message is being handed to the provider
// returns only once that send is over, so that no message goes out after it returned.
func TestConsentChangeWaitsForAMessageBeingSent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.member(t, "dan.optout@example.com", "", domain.Consent{Email: true})
	inSend, release := make(chan struct{}), make(chan struct{})
	f.fake.SetFault(func(_ string, _ int, _ providerfake.Request) int {
		close(inSend)
		<-release
		return 0
	})
	sent := make(chan time.Time, 1)
	go func() {
		_ = f.acts.SendNotification(ctx, domain.Notification{Key: "slow", MemberID: m, Template: domain.TemplateWelcome})
		sent <- time.Now()
	}()
	<-inSend
	withdrawn := make(chan time.Time, 1)
	go func() {
		if _, err := f.st.SetConsent(ctx, m, domain.ChannelEmail, false); err != nil {
			t.Error(err)
		}
		withdrawn <- time.Now()
	}()
	select {
	case <-withdrawn:
		t.Fatal("the withdrawal returned while a message to the member was being sent")
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	<-withdrawn
	<-sent
	if got := f.fake.Accepted(providerfake.SendGrid); got != 1 {
		t.Fatalf("%d emails", got)
	}
}
