package domain

import (
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func validPurchase() Purchase {
	return Purchase{
		TransactionID: "T-1", MemberID: "0b9b6c3e-8f7a-4d2b-9c1e-2f3a4b5c6d7e", StoreID: "store-1", Channel: "store",
		OccurredAt: now.Add(-time.Hour), Total: Money{Amount: 1999, Currency: "EUR"},
		Items: []LineItem{{SKU: "A", Quantity: 1, UnitPrice: Money{Amount: 1999, Currency: "EUR"}}},
	}
}

func testFieldsOf(err error) []string {
	e, ok := err.(*Error)
	if !ok {
		return nil
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestPurchaseValidate(t *testing.T) {
	if err := validPurchase().Validate(now); err != nil {
		t.Fatalf("valid purchase rejected: %v", err)
	}
	cases := map[string]struct {
		mut   func(*Purchase)
		field string
	}{
		"empty transaction id": {func(p *Purchase) { p.TransactionID = "" }, "transaction_id"},
		"slash in id":          {func(p *Purchase) { p.TransactionID = "a/b" }, "transaction_id"},
		"long id":              {func(p *Purchase) { p.TransactionID = strings.Repeat("a", 129) }, "transaction_id"},
		"member not uuid":      {func(p *Purchase) { p.MemberID = "bob" }, "member_id"},
		"no store":             {func(p *Purchase) { p.StoreID = "" }, "store_id"},
		"bad channel":          {func(p *Purchase) { p.Channel = "fax" }, "channel"},
		"no time":              {func(p *Purchase) { p.OccurredAt = time.Time{} }, "occurred_at"},
		"future":               {func(p *Purchase) { p.OccurredAt = now.Add(time.Hour) }, "occurred_at"},
		"ancient":              {func(p *Purchase) { p.OccurredAt = time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC) }, "occurred_at"},
		"negative total":       {func(p *Purchase) { p.Total.Amount = -1 }, "total.amount"},
		"huge total":           {func(p *Purchase) { p.Total.Amount = MaxAmount + 1 }, "total.amount"},
		"lower-case currency":  {func(p *Purchase) { p.Total.Currency = "eur" }, "total.currency"},
		"zero quantity":        {func(p *Purchase) { p.Items[0].Quantity = 0 }, "items[0].quantity"},
		"mixed currency":       {func(p *Purchase) { p.Items[0].UnitPrice.Currency = "USD" }, "items[0].unit_price.currency"},
		"no sku":               {func(p *Purchase) { p.Items[0].SKU = "" }, "items[0].sku"},
		"too many lines":       {func(p *Purchase) { p.Items = make([]LineItem, MaxLineItems+1) }, "items"},
		"total above lines":    {func(p *Purchase) { p.Total.Amount = 100_000; p.Items[0].UnitPrice.Amount = 100 }, "total.amount"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := validPurchase()
			c.mut(&p)
			err := p.Validate(now)
			if CodeOf(err) != ErrInvalid {
				t.Fatalf("got %v, want an invalid error", err)
			}
			found := false
			for _, f := range testFieldsOf(err) {
				found = found || f == c.field
			}
			if !found {
				t.Fatalf("fields %v do not name %s", testFieldsOf(err), c.field)
			}
		})
	}
}

func TestFingerprintTellsContentApart(t *testing.T) {
	a, b := validPurchase(), validPurchase()
	b.OccurredAt = b.OccurredAt.In(time.FixedZone("CET", 3600))
	if a.Fingerprint() != b.Fingerprint() {
		t.Fatal("the same instant in another zone changes the fingerprint")
	}
	b.Total.Amount++
	if a.Fingerprint() == b.Fingerprint() {
		t.Fatal("a different total has the same fingerprint")
	}
}

func TestProgramValidateAndTiers(t *testing.T) {
	p := DefaultProgram()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[int64]TierStatus{
		0:    {Code: "member", Name: "Member", NextCode: "silver", PointsToNext: 1000},
		999:  {Code: "member", Name: "Member", NextCode: "silver", PointsToNext: 1},
		1000: {Code: "member", Name: "Member", NextCode: "silver", PointsToNext: 0},
	} {
		if got := p.TierStatusFor(MemberTier{}, q); got != want {
			t.Errorf("qualifying %d: %+v, want %+v", q, got, want)
		}
	}
	if got := p.TierStatusFor(MemberTier{Code: "gold"}, 10); got.Code != "gold" || got.NextCode != "" {
		t.Errorf("a gold member with few qualifying points stays gold until review: %+v", got)
	}
	for q, want := range map[int64]int{0: 0, 999: 0, 1000: 1, 4999: 1, 5000: 2, 1 << 40: 2} {
		if got := p.TierFor(q); got != want {
			t.Errorf("TierFor(%d) = %d, want %d", q, got, want)
		}
	}
	bad := DefaultProgram()
	bad.Tiers[2].ThresholdPoints = 10
	bad.TimeZone = "Mars/Olympus"
	if got := testFieldsOf(bad.Validate()); len(got) != 2 {
		t.Fatalf("fields %v, want tiers[2].threshold_points and time_zone", got)
	}
}

func TestRegistrationValidate(t *testing.T) {
	r := Registration{Email: "  Ada@Example.COM ", Name: " Ada ", Phone: "+33612345678", Birthdate: "1990-02-03"}
	r.Normalize()
	if r.Email != "ada@example.com" || r.Name != "Ada" {
		t.Fatalf("normalize: %+v", r)
	}
	if err := r.Validate(now); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Registration{
		{Email: "not-an-email", Name: "A"},
		{Email: "a@b", Name: "A"},
		{Email: "a@example.com", Name: ""},
		{Email: "a@example.com", Name: "A\x00B"},
		{Email: "a@example.com", Name: "A", Phone: "0612"},
		{Email: "a@example.com", Name: "A", Birthdate: "1890-01-01"},
		{Email: "a@example.com", Name: "A", ExternalID: "has space"},
	} {
		if CodeOf(bad.Validate(now)) != ErrInvalid {
			t.Errorf("accepted %+v", bad)
		}
	}
}
