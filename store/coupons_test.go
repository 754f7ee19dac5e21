package store_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/testkit/pgtest"
	"github.com/perkflow/perkflow/store"
)

var couponSecret = []byte("store-test-coupon-secret-of-32-bytes!")

// couponStore is the test store with a coupon secret.
func couponStore(t *testing.T) (*store.Store, *pgtest.DB) {
	t.Helper()
	st, db := setup(t)
	st, err := st.WithCouponSecret(couponSecret)
	if err != nil {
		t.Fatal(err)
	}
	return st, db
}

// issuedRedemption is a redemption of a points-only offer whose code is issued, and which has reached status.
func issuedRedemption(t *testing.T, st *store.Store, code string, validDays int64, status domain.RedemptionStatus) domain.RedemptionClaim {
	t.Helper()
	ctx := context.Background()
	o, err := st.CreateOffer(ctx, domain.Offer{ID: uuid.NewString(), Title: "Coffee", Description: "A hot one", PointsCost: 10, EligibleTiers: []string{}, CancelWindowMinutes: 30}, "test")
	if err != nil {
		t.Fatal(err)
	}
	c := domain.RedemptionClaim{RedemptionID: uuid.NewString(), OfferID: o.ID, MemberID: newMember(t, st, uuid.NewString()+"@example.com"),
		Title: o.Title, Points: 10, CancelUntil: testNow.Add(30 * time.Minute), ClaimedAt: testNow, CodeValidDays: validDays}
	if err := st.OpenRedemption(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := st.IssueCoupon(ctx, c, code, testNow); err != nil {
		t.Fatal(err)
	}
	if status != domain.RedemptionFulfilled {
		if err := st.SetRedemptionStatus(ctx, c.RedemptionID, status, ""); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestCouponCodesAreStoredSealedAndFoundByTheirHash(t *testing.T) {
	st, db := couponStore(t)
	ctx := context.Background()
	c := issuedRedemption(t, st, "ABCD-EFGH-JKMN-PQRS", 0, domain.RedemptionFulfilled)
	// Not usable until the redemption completes.
	if _, err := st.LookupCoupon(ctx, "ABCD-EFGH-JKMN-PQRS", testNow); domain.CodeOf(err) != domain.ErrNotFound {
		t.Fatalf("a code of a redemption still running: %v", err)
	}
	if err := st.SetRedemptionStatus(ctx, c.RedemptionID, domain.RedemptionCompleted, ""); err != nil {
		t.Fatal(err)
	}
	for _, typed := range []string{"ABCD-EFGH-JKMN-PQRS", "abcd efgh jkmn pqrs", "ABCDEFGHJKMNPQRS"} {
		got, err := st.LookupCoupon(ctx, typed, testNow)
		if err != nil || got.Status != domain.CouponValid || got.Offer.Title != "Coffee" || got.RedemptionID != c.RedemptionID || got.ExpiresAt != nil {
			t.Fatalf("lookup %q: %+v %v", typed, got, err)
		}
	}
	for _, wrong := range []string{"ABCD-EFGH-JKMN-PQRT", "", "x", "ABCD/EFGH", strings.Repeat("A", 65)} {
		if _, err := st.LookupCoupon(ctx, wrong, testNow); domain.CodeOf(err) != domain.ErrNotFound {
			t.Fatalf("lookup %q: %v", wrong, err)
		}
	}
	// Nothing in the database holds the code in clear, in any spelling.
	var dump []byte
	if err := db.Pool.QueryRow(ctx, `SELECT string_agg(t, ' ') FROM (
		SELECT row_to_json(c)::text AS t FROM coupons c UNION ALL SELECT row_to_json(r)::text FROM redemptions r) x`).Scan(&dump); err != nil {
		t.Fatal(err)
	}
	var sealed, hash []byte
	if err := db.Pool.QueryRow(ctx, `SELECT code_sealed, code_hash FROM coupons`).Scan(&sealed, &hash); err != nil {
		t.Fatal(err)
	}
	for _, clear := range []string{"ABCD-EFGH-JKMN-PQRS", "ABCDEFGHJKMNPQRS"} {
		if bytes.Contains(dump, []byte(clear)) || bytes.Contains(sealed, []byte(clear)) || bytes.Contains(hash, []byte(clear)) {
			t.Fatalf("the code %s is stored in clear", clear)
		}
	}
	// Its member reads it from the redemption; under another secret it is neither found nor read.
	if red, err := st.GetRedemption(ctx, c.RedemptionID); err != nil || red.Code != "ABCD-EFGH-JKMN-PQRS" || red.Coupon == nil || red.Coupon.Status != domain.CouponValid {
		t.Fatalf("redemption %+v %v", red, err)
	}
	other, err := store.New(db.Pool).WithCouponSecret([]byte("another-secret-another-secret-another!"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.LookupCoupon(ctx, "ABCD-EFGH-JKMN-PQRS", testNow); domain.CodeOf(err) != domain.ErrNotFound {
		t.Fatalf("found under another secret: %v", err)
	}
	if _, err := other.GetRedemption(ctx, c.RedemptionID); err == nil {
		t.Fatal("opened under another secret")
	}
	if _, err := st.WithCouponSecret([]byte("short")); err == nil {
		t.Fatal("a short secret accepted")
	}
	// A retried issue keeps the first code; the same code for another redemption is refused.
	if _, err := st.IssueCoupon(ctx, c, "ZZZZ-ZZZZ-ZZZZ-ZZZZ", testNow); err != nil {
		t.Fatal(err)
	}
	if code, _ := st.RevealCoupon(ctx, c.RedemptionID); code != "ABCD-EFGH-JKMN-PQRS" {
		t.Fatalf("after a retried issue the code is %q", code)
	}
	c2 := c
	c2.RedemptionID = uuid.NewString()
	if err := st.OpenRedemption(ctx, c2); err != nil {
		t.Fatal(err)
	}
	if _, err := st.IssueCoupon(ctx, c2, "abcd-efgh-jkmn-pqrs", testNow); domain.CodeOf(err) != domain.ErrConflict {
		t.Fatalf("the same code for another redemption: %v", err)
	}
}

func TestCouponIsUsedExactlyOnce(t *testing.T) {
	st, _ := couponStore(t)
	ctx := context.Background()
	issuedRedemption(t, st, "USE1-USE1-USE1-USE1", 0, domain.RedemptionCompleted)
	const n = 16
	var wg sync.WaitGroup
	results := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, results[i] = st.UseCoupon(ctx, "USE1-USE1-USE1-USE1", domain.CouponUseRequest{UseID: "sale-" + string(rune('a'+i)), StoreID: "s1"}, "apikey:1 (till)", testNow)
		}()
	}
	wg.Wait()
	used := 0
	for _, err := range results {
		switch domain.CodeOf(err) {
		case "":
			used++
		case domain.ErrConflict:
		default:
			t.Fatalf("a concurrent use: %v", err)
		}
	}
	if used != 1 {
		t.Fatalf("%d of %d concurrent uses succeeded, want exactly 1", used, n)
	}
	got, err := st.LookupCoupon(ctx, "USE1-USE1-USE1-USE1", testNow)
	if err != nil || got.Status != domain.CouponUsed || got.Use == nil {
		t.Fatalf("after the uses: %+v %v", got, err)
	}
	// The winning use_id replays; from another store it conflicts.
	again, replayed, err := st.UseCoupon(ctx, "USE1-USE1-USE1-USE1", domain.CouponUseRequest{UseID: got.Use.UseID, StoreID: "s1"}, "apikey:1 (till)", testNow.Add(time.Hour))
	if err != nil || !replayed || !again.Use.UsedAt.Equal(got.Use.UsedAt) {
		t.Fatalf("replayed use: %+v %v %v", again, replayed, err)
	}
	if _, _, err := st.UseCoupon(ctx, "USE1-USE1-USE1-USE1", domain.CouponUseRequest{UseID: got.Use.UseID, StoreID: "s2"}, "apikey:1 (till)", testNow); domain.CodeOf(err) != domain.ErrConflict {
		t.Fatalf("the use_id from another store: %v", err)
	}
}

func TestCouponUseAndVoidNeverBothSucceed(t *testing.T) {
	st, _ := couponStore(t)
	ctx := context.Background()
	for i := range 20 {
		code := "RACE-" + strings.Repeat(string(rune('A'+i)), 4) + "-RACE-RACE"
		c := issuedRedemption(t, st, code, 0, domain.RedemptionCompleted)
		var wg sync.WaitGroup
		var useErr, voidErr error
		var v domain.CouponVoid
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, _, useErr = st.UseCoupon(ctx, code, domain.CouponUseRequest{UseID: "u", StoreID: "s"}, "t", testNow)
		}()
		go func() { defer wg.Done(); v, voidErr = st.VoidCoupon(ctx, c.RedemptionID, testNow) }()
		wg.Wait()
		if voidErr != nil {
			t.Fatal(voidErr)
		}
		usedWon := useErr == nil
		if usedWon == !v.Used || (!usedWon && domain.CodeOf(useErr) != domain.ErrGone) {
			t.Fatalf("round %d: use %v, void found used=%v", i, useErr, v.Used)
		}
	}
}

func TestCouponStatuses(t *testing.T) {
	st, _ := couponStore(t)
	ctx := context.Background()
	use := domain.CouponUseRequest{UseID: "u1", StoreID: "s1"}

	issuedRedemption(t, st, "EXPI-EXPI-EXPI-EXPI", 30, domain.RedemptionCompleted)
	got, err := st.LookupCoupon(ctx, "EXPI-EXPI-EXPI-EXPI", testNow.Add(29*24*time.Hour))
	if err != nil || got.Status != domain.CouponValid || got.ExpiresAt == nil || !got.ExpiresAt.Equal(testNow.Add(30*24*time.Hour)) {
		t.Fatalf("before expiry: %+v %v", got, err)
	}
	later := testNow.Add(30 * 24 * time.Hour)
	if got, _ := st.LookupCoupon(ctx, "EXPI-EXPI-EXPI-EXPI", later); got.Status != domain.CouponExpired {
		t.Fatalf("at expiry: %+v", got)
	}
	if _, _, err := st.UseCoupon(ctx, "EXPI-EXPI-EXPI-EXPI", use, "t", later); domain.CodeOf(err) != domain.ErrGone {
		t.Fatalf("use after expiry: %v", err)
	}

	cancelled := issuedRedemption(t, st, "CANC-CANC-CANC-CANC", 0, domain.RedemptionCompleted)
	if v, err := st.VoidCoupon(ctx, cancelled.RedemptionID, testNow); err != nil || v.Used {
		t.Fatalf("void: %+v %v", v, err)
	}
	if got, _ := st.LookupCoupon(ctx, "CANC-CANC-CANC-CANC", testNow); got.Status != domain.CouponCancelled {
		t.Fatalf("voided: %+v", got)
	}
	if _, _, err := st.UseCoupon(ctx, "CANC-CANC-CANC-CANC", use, "t", testNow); domain.CodeOf(err) != domain.ErrGone {
		t.Fatalf("use of a voided code: %v", err)
	}
	failed := issuedRedemption(t, st, "FAIL-FAIL-FAIL-FAIL", 0, domain.RedemptionFailed)
	if got, _ := st.LookupCoupon(ctx, "FAIL-FAIL-FAIL-FAIL", testNow); got.Status != domain.CouponCancelled {
		t.Fatalf("code of a failed redemption: %+v", got)
	}
	if red, _ := st.GetRedemption(ctx, failed.RedemptionID); red.Coupon == nil || red.Coupon.Status != domain.CouponCancelled {
		t.Fatalf("failed redemption's coupon: %+v", red.Coupon)
	}
	// A redemption without a code has nothing to void.
	if v, err := st.VoidCoupon(ctx, uuid.NewString(), testNow); err != nil || v.Used {
		t.Fatalf("void without a code: %+v %v", v, err)
	}
}

// TestClearCodesFromBeforeAreSealed: codes redemptions held in clear are moved into sealed coupons once, and are then
// found, read and used like new ones.
func TestClearCodesFromBeforeAreSealed(t *testing.T) {
	st, db := couponStore(t)
	ctx := context.Background()
	o, err := st.CreateOffer(ctx, domain.Offer{ID: uuid.NewString(), Title: "Old", PointsCost: 5, EligibleTiers: []string{}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, code := range []string{"OLDC-OLDC-OLDC-OLD1", "partner/código#2"} {
		c := domain.RedemptionClaim{RedemptionID: uuid.NewString(), OfferID: o.ID, MemberID: newMember(t, st, uuid.NewString()+"@example.com"),
			Points: 5, CancelUntil: testNow, ClaimedAt: testNow}
		if err := st.OpenRedemption(ctx, c); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Pool.Exec(ctx, `UPDATE redemptions SET code = $2, status = 'completed' WHERE redemption_id = $1`, c.RedemptionID, code); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.RedemptionID)
	}
	if n, err := st.SealClearCoupons(ctx); err != nil || n != 2 {
		t.Fatalf("sealed %d (%v), want 2", n, err)
	}
	if n, err := st.SealClearCoupons(ctx); err != nil || n != 0 {
		t.Fatalf("sealed %d again (%v)", n, err)
	}
	var clear int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM redemptions WHERE code IS NOT NULL`).Scan(&clear); err != nil || clear != 0 {
		t.Fatalf("%d codes left in clear (%v)", clear, err)
	}
	if red, err := st.GetRedemption(ctx, ids[1]); err != nil || red.Code != "partner/código#2" {
		t.Fatalf("a legacy partner code: %+v %v", red, err)
	}
	if _, _, err := st.UseCoupon(ctx, "oldc-oldc-oldc-old1", domain.CouponUseRequest{UseID: "u", StoreID: "s"}, "t", testNow); err != nil {
		t.Fatalf("using a moved code: %v", err)
	}
}

func TestHistoryShowsTheUseOfARedemptionsCode(t *testing.T) {
	st, _ := couponStore(t)
	ctx := context.Background()
	c := issuedRedemption(t, st, "HIST-HIST-HIST-HIST", 0, domain.RedemptionFulfilled)
	if _, err := st.Adjust(ctx, domain.Adjustment{AdjustmentID: uuid.NewString(), MemberID: c.MemberID, Points: 50, Reason: "gift", Actor: "t"}, testNow.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.HoldPoints(ctx, c.RedemptionID, c.MemberID, 10, testNow); err != nil {
		t.Fatal(err)
	}
	if err := st.CommitPoints(ctx, c.RedemptionID); err != nil {
		t.Fatal(err)
	}
	if err := st.SetRedemptionStatus(ctx, c.RedemptionID, domain.RedemptionCompleted, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.UseCoupon(ctx, "HIST-HIST-HIST-HIST", domain.CouponUseRequest{UseID: "sale-1", StoreID: "store-9"}, "t", testNow); err != nil {
		t.Fatal(err)
	}
	h, err := st.History(ctx, c.MemberID, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range h {
		if e.Kind == domain.EntryRedemption {
			if e.CouponUse == nil || e.CouponUse.StoreID != "store-9" || e.CouponUse.UseID != "sale-1" {
				t.Fatalf("the redemption's entry %+v shows no use", e)
			}
			return
		}
	}
	t.Fatalf("no redemption entry in %+v", h)
}
