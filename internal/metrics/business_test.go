package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestLabelsStayBounded: a value outside a label's fixed set is counted as "other", so that no caller can grow the
// number of series (with an id, say); a nil *Business counts nothing and does not panic.
func TestLabelsStayBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	b := NewBusiness(reg)
	b.NotificationSent("sendgrid", "email")
	b.NotificationSent("member-6f1c2a9e", "pigeon")
	b.RedemptionEnded("offer", "completed")
	b.RedemptionEnded("till", "T-123")
	b.PointsIssued("accrual", 10)
	b.PointsIssued("accrual", -5) // never negative
	b.WebhookDelivery("delivered", 30*time.Millisecond)
	if got := testutil.ToFloat64(b.notifSent.WithLabelValues("other", "other")); got != 1 {
		t.Errorf("an unknown provider and channel: %v, want 1 under other", got)
	}
	if got := testutil.ToFloat64(b.redemptions.WithLabelValues("till", "other")); got != 1 {
		t.Errorf("an unknown outcome: %v", got)
	}
	if got := testutil.ToFloat64(b.issued.WithLabelValues("accrual")); got != 10 {
		t.Errorf("issued %v, want 10", got)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), "member") || strings.Contains(l.GetValue(), "T-") {
					t.Errorf("%s carries %s=%s", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
	var none *Business
	none.PointsIssued("accrual", 1)
	none.NotificationFailed("twilio", "sms", "refused")
	none.ImportRows("loaded", 3)
}
