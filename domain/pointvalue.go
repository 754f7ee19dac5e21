package domain

import "math/big"

// PointValue is what points are worth to the program, for reporting its liability in money: Amount minor units of
// Currency (the program's) for every PerPoints points (1 when omitted), so that a point may be worth a fraction of
// a cent (5 per 10 points: half a cent each).
type PointValue struct {
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	PerPoints int64  `json:"per_points,omitempty"`
}

func (pv PointValue) validate(v *Validation, field, currency string) {
	v.Check(pv.Currency == currency, field+".currency", "must be the program's currency, %s", currency)
	v.Check(pv.Amount >= 0 && pv.Amount <= 1_000_000, field+".amount", "must be between 0 and 1000000 minor units")
	v.Check(pv.PerPoints >= 0 && pv.PerPoints <= 1_000_000, field+".per_points", "must be between 1 and 1000000 (0 or absent: 1)")
}

// Of is the money value of points: points × Amount / PerPoints, rounded towards zero to a whole minor unit (a
// liability of 3 points at half a cent is 1 cent, -3 points -1 cent), saturating at the bounds of an int64.
func (pv PointValue) Of(points int64) Money {
	per := pv.PerPoints
	if per <= 0 {
		per = 1
	}
	n := new(big.Int).Mul(big.NewInt(points), big.NewInt(pv.Amount))
	n.Quo(n, big.NewInt(per))
	amount := int64(1<<63 - 1)
	switch {
	case n.IsInt64():
		amount = n.Int64()
	case n.Sign() < 0:
		amount = -1 << 63
	}
	return Money{Amount: amount, Currency: pv.Currency}
}
