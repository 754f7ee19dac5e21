package privacy_test

import (
	"testing"
	"time"

	"go.temporal.io/sdk/converter"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/privacy"
)

// BenchmarkPurchasePayload measures what the codec adds to one purchase payload, the member workflow's signal:
// encoding it as the API does (JSON, then encrypted), and decoding it as the worker does, against the same without
// the codec (`go test -bench PurchasePayload ./privacy`; see BENCHMARKS.md).
func BenchmarkPurchasePayload(b *testing.B) {
	p := domain.Purchase{TransactionID: "T-000123", MemberID: "11111111-1111-4111-8111-111111111111", StoreID: "store-1",
		Channel: "store", OccurredAt: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)}
	keys, err := privacy.NewKeyring(oldKey)
	if err != nil {
		b.Fatal(err)
	}
	for name, dc := range map[string]converter.DataConverter{"plain": converter.GetDefaultDataConverter(), "codec": privacy.DataConverter(keys)} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				pl, err := dc.ToPayload(p)
				if err != nil {
					b.Fatal(err)
				}
				var back domain.Purchase
				if err := dc.FromPayload(pl, &back); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
