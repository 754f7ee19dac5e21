package domain

import (
	"errors"
	"testing"
)

// TestOneCurrencyRule: the program earns only on purchases in its currency, and Earn refuses the others with the
// same error the API answers before accepting a purchase — one rule, used by both.
func TestOneCurrencyRule(t *testing.T) {
	p := DefaultProgram()
	if err := p.EarnsOn(Money{Amount: 100, Currency: p.Currency}); err != nil {
		t.Fatalf("a purchase in the program's currency: %v", err)
	}
	other := Money{Amount: 100, Currency: "USD"}
	refused := p.EarnsOn(other)
	var de *Error
	if !errors.As(refused, &de) || de.Code != ErrUnprocessable || len(de.Fields) != 1 || de.Fields[0].Field != "total.currency" ||
		de.Fields[0].Message != "must be "+p.Currency {
		t.Fatalf("a purchase in another currency: %#v", refused)
	}
	_, err := Earn(EarnInput{Program: p, Rules: DefaultRules(), Purchase: Purchase{TransactionID: "T", Total: other}})
	if err == nil || err.Error() != refused.Error() {
		t.Fatalf("Earn: %v, want %v", err, refused)
	}
	if err := RequireCurrency(Money{Amount: 5, Currency: "EUR"}, "EUR", "amount", "why"); err != nil {
		t.Fatalf("same currency: %v", err)
	}
	if err := RequireCurrency(Money{Amount: 5, Currency: "GBP"}, "EUR", "amount", "paid in EUR"); err == nil ||
		!errors.As(err, &de) || de.Message != "paid in EUR" || de.Fields[0].Field != "amount.currency" {
		t.Fatalf("another currency: %v", err)
	}
}
