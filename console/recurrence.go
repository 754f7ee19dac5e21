package console

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A recurrence in words — every day, every week on a day, every month on a date, at a local time — becomes the
// five-field cron expression the API takes for a recurring campaign. Temporal reads the expression in UTC, so the
// local time is converted at the campaign's start (a change of daylight-saving time later moves the runs by the
// hour it shifts).

type recurrence struct {
	Every    string // "", "day", "week" or "month"
	Weekday  int    // 1 = Monday … 7 = Sunday, for "week"
	MonthDay int    // 1 … 28, for "month"
	At       string // HH:MM, local time
}

var weekdayNames = []string{"", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}

// cron is the expression of the recurrence in UTC for a campaign starting at start, and the recurrence in words;
// problem names the field and why when it cannot be made.
func (rc recurrence) cron(loc *time.Location, start time.Time) (expr, words string, field, problem string) {
	if rc.Every == "" {
		return "", "", "", ""
	}
	hm, err := time.Parse("15:04", rc.At)
	if err != nil {
		return "", "", "recurrence.at", "must be a time such as 09:00"
	}
	if start.IsZero() {
		start = time.Now()
	}
	s := start.In(loc)
	local := time.Date(s.Year(), s.Month(), s.Day(), hm.Hour(), hm.Minute(), 0, 0, loc)
	utc := local.UTC()
	shift := dayShift(local, utc)
	at := fmt.Sprintf("%02d:%02d", hm.Hour(), hm.Minute())
	switch rc.Every {
	case "day":
		return fmt.Sprintf("%d %d * * *", utc.Minute(), utc.Hour()), "every day at " + at, "", ""
	case "week":
		if rc.Weekday < 1 || rc.Weekday > 7 {
			return "", "", "recurrence.weekday", "choose a day of the week"
		}
		dow := ((rc.Weekday+shift)%7 + 7) % 7 // cron: 0 = Sunday
		return fmt.Sprintf("%d %d * * %d", utc.Minute(), utc.Hour(), dow), "every " + weekdayNames[rc.Weekday] + " at " + at, "", ""
	case "month":
		if rc.MonthDay < 1 || rc.MonthDay > 28 {
			return "", "", "recurrence.month_day", "choose a day between 1 and 28"
		}
		d := rc.MonthDay + shift
		if d < 1 || d > 28 {
			return "", "", "recurrence.at", "this day and time fall in another month in UTC: choose another day or time"
		}
		return fmt.Sprintf("%d %d %d * *", utc.Minute(), utc.Hour(), d), "every month on the " + ordinal(rc.MonthDay) + " at " + at, "", ""
	}
	return "", "", "recurrence.every", "choose day, week or month"
}

// dayShift is how many days the UTC time is after the local one's date (-1, 0 or 1).
func dayShift(local, utc time.Time) int {
	l := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, time.UTC)
	u := time.Date(utc.Year(), utc.Month(), utc.Day(), 0, 0, 0, 0, time.UTC)
	return int(u.Sub(l).Hours() / 24)
}

func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}

func (f *form) recurrence() recurrence {
	rc := recurrence{Every: f.str("recurrence.every"), At: strings.TrimSpace(f.str("recurrence.at"))}
	rc.Weekday, _ = strconv.Atoi(f.str("recurrence.weekday"))
	rc.MonthDay, _ = strconv.Atoi(f.str("recurrence.month_day"))
	if rc.At == "" {
		rc.At = "00:00"
	}
	return rc
}
