package domain

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// ParseISODuration reads an ISO 8601 duration of fixed-length units: weeks, days (24 hours), hours, minutes and
// seconds, such as P7D, PT36H, P1DT12H or P2W. Years and months are refused (their length varies), as are fractions
// and signs.
func ParseISODuration(s string) (time.Duration, error) {
	rest, ok := strings.CutPrefix(s, "P")
	if !ok || rest == "" || len(s) > 40 {
		return 0, errors.New("it must start with P and name at least one unit")
	}
	date, clock, hasT := strings.Cut(rest, "T")
	if hasT && clock == "" {
		return 0, errors.New("the time part after T must name hours, minutes or seconds")
	}
	var total time.Duration
	read := func(part, units string, sizes []time.Duration) error {
		next := 0 // units must come in order, each once
		for part != "" {
			i := strings.IndexFunc(part, func(r rune) bool { return r < '0' || r > '9' })
			if i <= 0 {
				return errors.New("each unit needs a whole number before it")
			}
			n, err := strconv.ParseInt(part[:i], 10, 64)
			if err != nil || n > 1_000_000 {
				return errors.New("a number is too large")
			}
			u := strings.IndexByte(units[next:], part[i])
			if u < 0 {
				return errors.New("unit " + string(part[i]) + " is not one of " + units + " in that order")
			}
			next += u
			total += time.Duration(n) * sizes[next]
			next++
			part = part[i+1:]
		}
		return nil
	}
	if err := read(date, "WD", []time.Duration{7 * 24 * time.Hour, 24 * time.Hour}); err != nil {
		return 0, err
	}
	if err := read(clock, "HMS", []time.Duration{time.Hour, time.Minute, time.Second}); err != nil {
		return 0, err
	}
	return total, nil
}
