package activities

import (
	"testing"
	"time"

	"github.com/perkflow/perkflow/domain"
)

// TestBirthdayOnlyArmsTheSameTimer: the lifecycle activity answers the day of the birthdate, never the birthdate
// itself (its answer is kept in the member workflow's history), and the member workflow's birthday timer falls on
// the same day either way — 29 February included.
func TestBirthdayOnlyArmsTheSameTimer(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Paris")
	for _, b := range []string{"1985-07-23", "1992-02-29", "1970-01-01", "2001-12-31"} {
		day := birthdayOnly(b)
		if day == b || day[:4] != "2000" {
			t.Errorf("birthdayOnly(%s) = %s: the year must not leave the activity", b, day)
		}
		for _, after := range []time.Time{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 2, 27, 0, 0, 0, 0, time.UTC)} {
			want, ok1 := domain.NextBirthday(b, after, loc)
			got, ok2 := domain.NextBirthday(day, after, loc)
			if !ok1 || !ok2 || !got.Equal(want) {
				t.Errorf("%s after %s: timer on %v, want %v", b, after, got, want)
			}
		}
	}
	if birthdayOnly("") != "" || birthdayOnly("not a date") != "" {
		t.Error("no birthdate must stay none")
	}
}
