package console

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Forms are read into the API's JSON bodies: values are only parsed here (a number, a time in the program's time
// zone, a list); whether they are acceptable is the API's to say, and its field errors are shown beside the fields.

// form reads a submitted form, collecting the values that cannot even be parsed.
type form struct {
	v      url.Values
	loc    *time.Location
	errors map[string]string
}

func (q *request) form() *form {
	_ = q.r.ParseForm()
	return &form{v: q.r.PostForm, loc: q.loc, errors: map[string]string{}}
}

func (f *form) str(name string) string { return strings.TrimSpace(f.v.Get(name)) }

// int reads a whole number; "" is nil.
func (f *form) int(name string) *int64 {
	s := strings.ReplaceAll(f.str(name), " ", "")
	if s == "" {
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f.errors[name] = "must be a whole number"
		return nil
	}
	return &n
}

// intOr reads a whole number, def when empty.
func (f *form) intOr(name string, def int64) int64 {
	if n := f.int(name); n != nil {
		return *n
	}
	return def
}

// minor reads an amount of money written in major units (12.50) as minor units (1250); "" is nil.
func (f *form) minor(name string) *int64 {
	s := strings.ReplaceAll(f.str(name), ",", ".")
	if s == "" {
		return nil
	}
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 2 {
		f.errors[name] = "must have at most two decimals"
		return nil
	}
	frac += strings.Repeat("0", 2-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil || strings.HasPrefix(frac, "-") {
		f.errors[name] = "must be an amount such as 12.50"
		return nil
	}
	return &n
}

// time reads a datetime-local input, in the program's time zone; "" is nil.
func (f *form) time(name string) *time.Time {
	s := f.str(name)
	if s == "" {
		return nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, f.loc); err == nil {
			u := t.UTC()
			return &u
		}
	}
	f.errors[name] = "must be a date and time such as 2026-03-01 09:00"
	return nil
}

// list reads a comma-separated list (SKUs, categories); empty items are dropped.
func (f *form) list(name string) []string {
	var out []string
	for _, s := range strings.Split(f.v.Get(name), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// all reads every value of a repeated field (checkboxes).
func (f *form) all(name string) []string {
	var out []string
	for _, s := range f.v[name] {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (f *form) checked(name string) bool { return f.v.Get(name) != "" }

// failed reports whether some value could not be parsed; the errors then go beside their fields.
func (f *form) failed() bool { return len(f.errors) > 0 }

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
