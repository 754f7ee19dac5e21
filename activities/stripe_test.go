package activities_test

import (
	"context"
	"testing"
	"time"

	"github.com/perkflow/perkflow/activities"
	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/testkit/stripefake"
)

// TestALostChargeIsFoundByItsRedemptionAndRefunded: Stripe takes the money but its answer never arrives (the
// attempt times out, and the retries run out): the saga has no PaymentIntent id. FindLostPayment finds it in
// Stripe's list by metadata['redemption_id'] among others', and the refund gives the money back; a declined charge
// or none at all is nothing to refund.
func TestALostChargeIsFoundByItsRedemptionAndRefunded(t *testing.T) {
	fake := stripefake.Start()
	t.Cleanup(fake.Close)
	pay := activities.NewStripePayments(activities.StripeConfig{SecretKey: "sk_test_perkflow", APIBase: fake.URL})
	a := &activities.Activities{Rewards: activities.Rewards{Payments: pay}}
	ctx := context.Background()
	claim := func(id, pm string) domain.RedemptionClaim {
		return domain.RedemptionClaim{RedemptionID: id, OfferID: "offer-1", MemberID: "m", Title: "Mug", Points: 10,
			Cash: &domain.Money{Amount: 500, Currency: "EUR"}, PaymentMethod: pm, ClaimedAt: time.Now()}
	}
	// Others' charges, before and after, which must not be taken for it.
	if _, err := pay.Charge(ctx, claim("r-before", "pm_card_visa")); err != nil {
		t.Fatal(err)
	}
	lost := claim("r-lost", "pm_card_visa")
	fake.StallNext(1, 5*time.Second)
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	if _, err := pay.Charge(short, lost); err == nil {
		t.Fatal("the stalled charge answered")
	}
	cancel()
	for i := range 3 {
		if _, err := pay.Charge(ctx, claim("r-after-"+string(rune('a'+i)), "pm_card_visa")); err != nil {
			t.Fatal(err)
		}
	}
	intents := fake.Intents()
	var want string
	for _, pi := range intents {
		if pi.Metadata["redemption_id"] == "r-lost" {
			want = pi.ID
		}
	}
	if want == "" || len(intents) != 5 {
		t.Fatalf("intents %+v", intents)
	}
	got, err := a.FindLostPayment(ctx, lost)
	if err != nil || got != want {
		t.Fatalf("found %q (%v), want %q", got, err, want)
	}
	if _, err := pay.Refund(ctx, lost.RedemptionID, got); err != nil {
		t.Fatal(err)
	}
	for _, pi := range fake.Intents() {
		if pi.ID == want && len(pi.Refunds) != 1 {
			t.Fatalf("the lost charge %+v was not refunded", pi)
		}
	}
	if fake.RefundCount() != 1 {
		t.Fatalf("%d refunds, want the lost charge's only", fake.RefundCount())
	}

	declined := claim("r-declined", "pm_card_chargeDeclined")
	if _, err := pay.Charge(ctx, declined); err == nil {
		t.Fatal("the declined card was charged")
	}
	for _, c := range []domain.RedemptionClaim{declined, claim("r-never", "pm_card_visa")} {
		if got, err := a.FindLostPayment(ctx, c); err != nil || got != "" {
			t.Fatalf("%s: found %q (%v), want nothing to refund", c.RedemptionID, got, err)
		}
	}
}
