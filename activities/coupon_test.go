package activities_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/perkflow/perkflow/domain"
)

// TestCouponCodeReachesTheMemberOnlyInTheMessage: the saga names the redemption (domain.NotificationCouponOf), not
// the code; the message the member receives carries the code, read from the store as it is composed.
func TestCouponCodeReachesTheMemberOnlyInTheMessage(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	st, err := f.st.WithCouponSecret([]byte("activities-test-coupon-secret-32-bytes"))
	if err != nil {
		t.Fatal(err)
	}
	f.acts.Store = st
	m := f.member(t, "coupon@example.com", "", domain.Consent{Email: true})
	o, err := st.CreateOffer(ctx, domain.Offer{ID: uuid.NewString(), Title: "Free coffee", PointsCost: 10, EligibleTiers: []string{}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	c := domain.RedemptionClaim{RedemptionID: uuid.NewString(), OfferID: o.ID, MemberID: m, Title: o.Title, Points: 10,
		CancelUntil: now, ClaimedAt: now, CodeValidDays: 7}
	if err := st.OpenRedemption(ctx, c); err != nil {
		t.Fatal(err)
	}
	issued, err := f.acts.IssueCoupon(ctx, c)
	if err != nil || issued.ExpiresAt == nil || issued.ExpiresAt.Sub(issued.IssuedAt) != 7*24*time.Hour {
		t.Fatalf("issued %+v %v", issued, err)
	}
	code, err := st.RevealCoupon(ctx, c.RedemptionID)
	if err != nil || len(code) != 19 {
		t.Fatalf("code %q %v", code, err)
	}
	n := domain.Notification{Key: domain.RedemptionNotificationKey(domain.TemplateRedemptionCompleted, c.RedemptionID), MemberID: m,
		Template: domain.TemplateRedemptionCompleted, Data: map[string]string{"offer": o.Title, domain.NotificationCouponOf: c.RedemptionID}}
	if err := f.acts.SendNotification(ctx, n); err != nil {
		t.Fatal(err)
	}
	reqs := f.fake.Requests()
	if len(reqs) != 1 || !strings.Contains(reqs[0].Body, "Your code: "+code) || strings.Contains(reqs[0].Body, c.RedemptionID) {
		t.Fatalf("message %+v, want the code %s", reqs, code)
	}
}
