package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/metrics"
)

// metricValue is the value of the series name{labels} in reg ("k=v,k=v"; "" for none), 0 when absent.
func metricValue(t *testing.T, reg prometheus.Gatherer, name, labels string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var got []string
			for _, l := range m.GetLabel() {
				got = append(got, l.GetName()+"="+l.GetValue())
			}
			if strings.Join(got, ",") != labels {
				continue
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// TestMetricsCountEachCommittedEffectOnce: every counter moves by what committed, once, whatever the retries and
// replays; refusals and rollbacks count as refusals or not at all; points outstanding is the ledger's sum.
func TestMetricsCountEachCommittedEffectOnce(t *testing.T) {
	base, db := setup(t)
	reg := prometheus.NewRegistry()
	st := base.WithMetrics(metrics.NewBusiness(reg))
	metrics.RegisterOutstanding(reg, st.OutstandingPoints)
	ctx := context.Background()
	m := newMember(t, st, "metrics@example.com")
	val := func(name, labels string) float64 { return metricValue(t, reg, name, labels) }

	p := purchase("T-METRICS-1", m, 12345)
	var earned int64
	for range 2 { // the second is a replay: nothing more
		r, err := st.AccruePurchase(ctx, p, testNow)
		if err != nil {
			t.Fatal(err)
		}
		earned = r.Transaction.PointsEarned
	}
	if earned <= 0 || val(metrics.PointsIssued, "kind=accrual") != float64(earned) {
		t.Fatalf("issued %v after one accrual of %d points", val(metrics.PointsIssued, "kind=accrual"), earned)
	}
	credit := domain.Adjustment{AdjustmentID: "ADJ-M1", MemberID: m, Points: 40, Reason: "goodwill", Actor: "t"}
	debit := domain.Adjustment{AdjustmentID: "ADJ-M2", MemberID: m, Points: -15, Reason: "correction", Actor: "t"}
	refused := domain.Adjustment{AdjustmentID: "ADJ-M3", MemberID: m, Points: -1_000_000, Reason: "too much", Actor: "t"}
	for _, a := range []domain.Adjustment{credit, credit, debit, debit, refused} {
		if _, err := st.Adjust(ctx, a, testNow); err != nil {
			t.Fatal(err)
		}
	}
	till := domain.TillRedemption{RedemptionID: uuid.NewString(), MemberID: m, StoreID: "s1", Points: 20}
	tooMuch := domain.TillRedemption{RedemptionID: uuid.NewString(), MemberID: m, StoreID: "s1", Points: 1_000_000}
	for _, r := range []domain.TillRedemption{till, till, tooMuch} {
		if _, err := st.RedeemAtTill(ctx, r, testNow); err != nil {
			t.Fatal(err)
		}
	}
	held := uuid.NewString()
	for range 2 {
		if _, err := st.HoldPoints(ctx, held, m, 5, testNow); err != nil {
			t.Fatal(err)
		}
		if _, err := st.ReleasePoints(ctx, held, testNow); err != nil {
			t.Fatal(err)
		}
	}
	later := testNow.AddDate(3, 0, 0)
	before, _ := st.BalanceAt(ctx, m, later)
	for range 2 {
		if _, err := st.ExpireMemberLots(ctx, m, later); err != nil {
			t.Fatal(err)
		}
	}

	for _, want := range []struct {
		name, labels string
		value        float64
	}{
		{metrics.PointsIssued, "kind=adjustment", 40},
		{metrics.PointsWithdrawn, "kind=adjustment", 15},
		{metrics.PointsRedeemed, "kind=till", 20},
		{metrics.PointsRedeemed, "kind=offer", 5},
		{metrics.PointsReleased, "", 5},
		{metrics.PointsExpired, "", float64(before.Total)},
		{metrics.Redemptions, "channel=till,outcome=applied", 1},
		{metrics.Redemptions, "channel=till,outcome=rejected", 1},
		{metrics.Compensations, "step=release_points", 1},
	} {
		if got := val(want.name, want.labels); got != want.value {
			t.Errorf("%s{%s} = %v, want %v", want.name, want.labels, got, want.value)
		}
	}
	var ledger int64
	if err := db.Pool.QueryRow(ctx, `SELECT COALESCE(sum(points), 0) FROM ledger_entries`).Scan(&ledger); err != nil {
		t.Fatal(err)
	}
	if got := val(metrics.PointsOutstanding, ""); got != float64(ledger) {
		t.Fatalf("points outstanding %v, the ledger sums to %d", got, ledger)
	}
	// Without metrics, the same store writes the same and counts nothing (no nil dereference).
	if _, err := base.AccruePurchase(ctx, purchase("T-METRICS-2", m, 100), testNow); err != nil {
		t.Fatal(err)
	}
}
