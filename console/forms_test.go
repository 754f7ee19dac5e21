package console

import (
	"net/url"
	"testing"
	"time"
)

// TestFormsReadTimesInTheProgramsTimeZone: a time typed in the console is the program's local time.
func TestFormsReadTimesInTheProgramsTimeZone(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	f := &form{v: url.Values{"at": {"2026-01-10T09:00"}, "summer": {"2026-07-10T09:00"}, "bad": {"10/01/2026"}, "n": {"1 200"},
		"price": {"12,5"}, "list": {" coffee, , tea "}}, loc: paris, errors: map[string]string{}}
	if got := f.time("at"); got == nil || !got.Equal(time.Date(2026, 1, 10, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("winter 09:00 in Paris: %v", got)
	}
	if got := f.time("summer"); got == nil || !got.Equal(time.Date(2026, 7, 10, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("summer 09:00 in Paris: %v", got)
	}
	if f.time("bad") != nil || f.errors["bad"] == "" {
		t.Error("a date in another form was read")
	}
	if n := f.int("n"); n == nil || *n != 1200 {
		t.Errorf("1 200: %v", n)
	}
	if m := f.minor("price"); m == nil || *m != 1250 {
		t.Errorf("12,5: %v", m)
	}
	if l := f.list("list"); len(l) != 2 || l[0] != "coffee" || l[1] != "tea" {
		t.Errorf("list: %q", l)
	}
	if got := localInput(paris, time.Date(2026, 1, 10, 8, 0, 0, 0, time.UTC)); got != "2026-01-10T09:00" {
		t.Errorf("shown as %q", got)
	}
}
