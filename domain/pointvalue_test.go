package domain

import (
	"math"
	"testing"
)

func TestPointValueOf(t *testing.T) {
	half := PointValue{Amount: 5, Currency: "EUR", PerPoints: 10}
	cent := PointValue{Amount: 1, Currency: "EUR"}
	for _, c := range []struct {
		pv     PointValue
		points int64
		want   int64
	}{
		{cent, 1234, 1234}, {half, 3, 1}, {half, -3, -1}, {half, 0, 0}, {half, 20, 10},
		{PointValue{Amount: 1_000_000, Currency: "EUR"}, math.MaxInt64, math.MaxInt64},
		{PointValue{Amount: 1_000_000, Currency: "EUR"}, math.MinInt64, math.MinInt64},
	} {
		if got := c.pv.Of(c.points); got.Amount != c.want || got.Currency != "EUR" {
			t.Errorf("%+v of %d points: %v, want %d", c.pv, c.points, got, c.want)
		}
	}
	p := DefaultProgram()
	p.PointValue = &PointValue{Amount: 1, Currency: "USD"}
	if err := p.Validate(); err == nil {
		t.Fatal("a point value in another currency than the program's was accepted")
	}
}
