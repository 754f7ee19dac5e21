package domain

import "fmt"

// MaxAmount bounds any single money amount (in minor units) perkflow accepts: 10^13 minor units (a hundred billion
// euros) is far beyond any purchase, and keeps every product of amount and earn rate inside int64.
const MaxAmount int64 = 10_000_000_000_000

// Money is an amount in integer minor units (cents) of an ISO 4217 currency. Never a float.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// ValidCurrency reports whether c has the shape of an ISO 4217 code: three upper-case letters.
func ValidCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}

// validate checks a non-negative amount and the currency's shape, reporting under field.
func (m Money) validate(v *Validation, field string) {
	v.Check(ValidCurrency(m.Currency), field+".currency", "must be an ISO 4217 code such as EUR")
	v.Check(m.Amount >= 0, field+".amount", "must not be negative")
	v.Check(m.Amount <= MaxAmount, field+".amount", "must be at most %d", MaxAmount)
}

// RequireCurrency refuses m unless it is in currency: perkflow never converts between currencies, so an amount in
// one cannot count against a program, a price or a purchase in another. The refusal (ErrUnprocessable) says why in
// detail and names field.currency.
func RequireCurrency(m Money, currency, field, detail string) error {
	if m.Currency == currency {
		return nil
	}
	return &Error{Code: ErrUnprocessable, Message: detail,
		Fields: []FieldError{{Field: field + ".currency", Message: "must be " + currency}}}
}

func (m Money) String() string {
	return fmt.Sprintf("%d %s", m.Amount, m.Currency)
}
