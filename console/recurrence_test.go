package console

import (
	"testing"
	"time"
)

func TestRecurrenceInWordsBecomesCron(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	winter := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		rc         recurrence
		loc        *time.Location
		cron, word string
	}{
		{recurrence{Every: "day", At: "09:30"}, time.UTC, "30 9 * * *", "every day at 09:30"},
		{recurrence{Every: "week", Weekday: 5, At: "18:00"}, paris, "0 17 * * 5", "every Friday at 18:00"},
		{recurrence{Every: "week", Weekday: 1, At: "00:30"}, paris, "30 23 * * 0", "every Monday at 00:30"},
		{recurrence{Every: "week", Weekday: 7, At: "12:00"}, time.UTC, "0 12 * * 0", "every Sunday at 12:00"},
		{recurrence{Every: "month", MonthDay: 1, At: "08:00"}, paris, "0 7 1 * *", "every month on the 1st at 08:00"},
	} {
		cron, words, field, problem := c.rc.cron(c.loc, winter)
		if cron != c.cron || words != c.word || problem != "" {
			t.Errorf("%+v: %q %q (%s %s), want %q %q", c.rc, cron, words, field, problem, c.cron, c.word)
		}
	}
	for _, rc := range []recurrence{{Every: "week", At: "09:00"}, {Every: "month", MonthDay: 31, At: "09:00"}, {Every: "day", At: "9h"},
		{Every: "month", MonthDay: 1, At: "00:30"}, {Every: "year", At: "09:00"}} {
		if _, _, field, problem := rc.cron(paris, winter); field == "" || problem == "" {
			t.Errorf("%+v was accepted", rc)
		}
	}
	if cron, _, _, _ := (recurrence{}).cron(paris, winter); cron != "" {
		t.Error("no recurrence made a cron expression")
	}
}
