// Package activities holds every effect perkflow's workflows have on the outside world: Postgres, and the
// notification providers. Each activity is idempotent under retry, keyed by a deterministic key that the workflow
// derives from the business event.
package activities

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/metrics"
	"github.com/perkflow/perkflow/privacy"
	"github.com/perkflow/perkflow/store"
)

// Activities holds the dependencies; the worker registers its methods.
type Activities struct {
	Store    *store.Store
	Notifier Notifier
	Log      *slog.Logger
	// Campaigns tunes the campaign activities (announcement pacing).
	Campaigns CampaignOptions
	// Rewards holds the redemption saga's payment provider and code issuer.
	Rewards Rewards
	// Webhooks tunes the delivery of outbound webhooks.
	Webhooks WebhookOptions
	// Metrics counts notifications sent and failed (the ledger's effects are counted by the store); nil counts
	// nothing.
	Metrics *metrics.Business
	// Members opens and seals members' personal fields under their own keys: what the member workflow carries of
	// them is sealed (docs/privacy.md).
	Members *privacy.Members
	// ShredMemberKey deletes a member's payload encryption key when they are erased (crypto-shredding); nil when
	// payloads are not encrypted per member. See EraseMember.
	ShredMemberKey func(ctx context.Context, memberID string) error
	// Unsubscribe signs the unsubscribe links every email carries (List-Unsubscribe); the zero value adds none.
	Unsubscribe domain.Unsubscriber
	// SMSOptOut ends every SMS (domain.DefaultSMSOptOut when empty).
	SMSOptOut string
}

// RegisterMember creates the member and opens their balance. Creating the same member again (a retry) succeeds; an
// email or external id held by another member fails for good with an error of type "conflict".
func (a *Activities) RegisterMember(ctx context.Context, sr privacy.SealedRegistration) (privacy.SealedMember, error) {
	if a.Members == nil {
		return privacy.SealedMember{}, errors.New("no member keys configured (PERKFLOW_PAYLOAD_KEYS)")
	}
	r, err := a.Members.OpenRegistration(ctx, sr)
	if errors.Is(err, privacy.ErrShredded) || errors.Is(err, privacy.ErrNotSealed) || errors.Is(err, privacy.ErrCorrupt) {
		// The member was erased before their registration ran, or the input is not theirs: nothing to create.
		return privacy.SealedMember{}, temporal.NewNonRetryableApplicationError("registration of member "+sr.MemberID+
			" cannot be read: "+err.Error(), string(domain.ErrInvalid), nil)
	}
	if err != nil {
		return privacy.SealedMember{}, err
	}
	m, err := a.Store.CreateMember(ctx, r)
	if err != nil {
		return privacy.SealedMember{}, classify(err)
	}
	return a.Members.SealMember(ctx, m)
}

// AccruePurchases accrues a batch of purchases of one member, in order, each in its own database transaction and
// idempotent on its transaction id, so that a retried batch writes only what the failed attempt had not.
func (a *Activities) AccruePurchases(ctx context.Context, batch []domain.Purchase) ([]domain.AccrualOutcome, error) {
	out := make([]domain.AccrualOutcome, 0, len(batch))
	for _, p := range batch {
		r, err := a.Store.AccruePurchase(ctx, p, a.Store.Now())
		if err != nil {
			return nil, classify(err)
		}
		out = append(out, domain.AccrualOutcome{
			TransactionID: p.TransactionID,
			Status:        r.Transaction.Status,
			Points:        r.Transaction.PointsEarned,
			Replayed:      r.Replayed,
			Conflict:      r.Conflict,
			Balance:       r.Balance,
			TierChange:    r.TierChange,
		})
	}
	return out, nil
}

// ParkPurchases parks a chunk of a member's queued purchases in Postgres for the workflow's next run
// (domain.ParkRequest).
func (a *Activities) ParkPurchases(ctx context.Context, r domain.ParkRequest) error {
	return classify(a.Store.ParkPurchases(ctx, r))
}

// UnparkPurchases reads back the next batch of a member's parked purchases (domain.UnparkRequest).
func (a *Activities) UnparkPurchases(ctx context.Context, r domain.UnparkRequest) ([]domain.Purchase, error) {
	ps, err := a.Store.UnparkPurchases(ctx, r)
	return ps, classify(err)
}

// ReturnPurchase reverses the points of returned lines, idempotent on the return id.
func (a *Activities) ReturnPurchase(ctx context.Context, r domain.Return) (domain.OperationOutcome, error) {
	o, err := a.Store.ReturnPurchase(ctx, r, a.Store.Now())
	if domain.CodeOf(err) == domain.ErrNotFound {
		// The member's workflow has accrued every purchase queued before the return: no retry will find this one.
		return o, temporal.NewNonRetryableApplicationError(err.Error(), string(domain.ErrNotFound), nil)
	}
	return o, classify(err)
}

// RedeemAtTill spends points at a till, idempotent on the redemption id; too few points → a rejected outcome.
func (a *Activities) RedeemAtTill(ctx context.Context, r domain.TillRedemption) (domain.OperationOutcome, error) {
	o, err := a.Store.RedeemAtTill(ctx, r, a.Store.Now())
	return o, classify(err)
}

// AdjustPoints applies a manual credit or debit, idempotent on the adjustment id.
func (a *Activities) AdjustPoints(ctx context.Context, adj domain.Adjustment) (domain.OperationOutcome, error) {
	o, err := a.Store.Adjust(ctx, adj, a.Store.Now())
	return o, classify(err)
}

// ReviewTier reviews the member's tier on its anniversary; idempotent on the review date.
func (a *Activities) ReviewTier(ctx context.Context, memberID string, reviewAt time.Time) (domain.TierReview, error) {
	t, ch, err := a.Store.ReviewTier(ctx, memberID, reviewAt, a.Store.Now())
	return domain.TierReview{Tier: t, Change: ch}, classify(err)
}

// classify turns business errors that no retry can fix into non-retryable application errors whose type is the
// domain error code; everything else (Postgres down, timeouts) stays retryable.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var de *domain.Error
	if errors.As(err, &de) && (de.Code == domain.ErrConflict || de.Code == domain.ErrInvalid || de.Code == domain.ErrUnprocessable) {
		return temporal.NewNonRetryableApplicationError(de.Error(), string(de.Code), nil)
	}
	return err
}
