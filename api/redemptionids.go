package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"

	"github.com/google/uuid"

	"github.com/perkflow/perkflow/domain"
)

// Redemption ids. A claim without an Idempotency-Key gets a random id. A claim with one gets an id derived from the
// member, the offer and the key, so that a retried claim — even one whose stored answer is gone — names the same
// redemption and never claims twice. The derivation is an HMAC under the server's secret (PERKFLOW_ID_SECRET), so
// that nobody who knows a member's id and an app's key scheme can compute the ids of what that member claimed.
//
// Claims made before ids were keyed have UUIDv5 ids under a namespace that was in the source. They keep them: a
// workflow's id is its redemption's, and a running one is never renamed. A retried claim finds its redemption under
// the keyed id first, then under the old derivation (claimedBefore); no new claim is ever given an old-style id. The
// old derivation computes nothing a caller could not: it is only looked up for the calling member's own claims, and
// every redemption another member asks for answers the same 404 as one that does not exist.

// redemptionIDVersion marks keyed ids as RFC 9562 version 8 (custom) UUIDs.
const redemptionIDVersion = 8

// errNoIDSecret: the server was built without Config.IDSecret (the command line always sets it).
var errNoIDSecret = errors.New("no secret to derive redemption ids with (PERKFLOW_ID_SECRET)")

// keyedRedemptionID is the id of the redemption a member's claim of an offer with an Idempotency-Key starts.
func keyedRedemptionID(secret []byte, memberID, offerID, key string) (string, error) {
	if len(secret) == 0 {
		return "", errNoIDSecret
	}
	return uuid.NewHash(hmac.New(sha256.New, secret), uuid.Nil, []byte("redemption|"+memberID+"|"+offerID+"|"+key),
		redemptionIDVersion).String(), nil
}

// legacyRedemptionNamespace is the namespace of the ids claims were given before keyedRedemptionID. Only looked up.
var legacyRedemptionNamespace = uuid.MustParse("7d0c5d55-4f0e-4c37-9f38-2f1c3a8f0b6e")

func legacyRedemptionID(memberID, offerID, key string) string {
	return uuid.NewSHA1(legacyRedemptionNamespace, []byte(memberID+"|"+offerID+"|"+key)).String()
}

// claimedBefore finds the redemption an earlier claim of the offer by the member with this Idempotency-Key started:
// under its keyed id, or under the id such a claim was given before ids were keyed. Not found → domain.ErrNotFound.
func (s *Server) claimedBefore(ctx context.Context, keyed, memberID, offerID, key string) (domain.Redemption, error) {
	red, err := s.cfg.Store.GetRedemption(ctx, keyed)
	if codeOf(err) != domain.ErrNotFound {
		return red, err
	}
	red, err = s.cfg.Store.GetRedemption(ctx, legacyRedemptionID(memberID, offerID, key))
	if err == nil && (red.MemberID != memberID || red.OfferID != offerID) {
		return domain.Redemption{}, domain.Errorf(domain.ErrNotFound, "no such redemption")
	}
	return red, err
}
