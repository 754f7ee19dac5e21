package domain

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// DisplayName is how a member appears to other members (the leaderboard): the first name and the initial of the
// last, such as "Ada L.", never the email or the full name.
func DisplayName(name string) string {
	f := strings.Fields(name)
	switch len(f) {
	case 0:
		return "Member"
	case 1:
		return f[0]
	}
	r, _ := utf8.DecodeRuneInString(f[len(f)-1])
	return f[0] + " " + string(unicode.ToUpper(r)) + "."
}

// Leaderboard periods.
const (
	PeriodWeek  = "week"
	PeriodMonth = "month"
	PeriodAll   = "all"
)

// PeriodStart is the first day (UTC) of the leaderboard period holding t: the Monday of its week, the first of its
// month, or the epoch for all time. ok is false for an unknown period.
func PeriodStart(period string, t time.Time) (time.Time, bool) {
	d := time.Date(t.UTC().Year(), t.UTC().Month(), t.UTC().Day(), 0, 0, 0, 0, time.UTC)
	switch period {
	case PeriodWeek:
		return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7)), true
	case PeriodMonth:
		return time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC), true
	case PeriodAll:
		return time.Unix(0, 0).UTC(), true
	}
	return time.Time{}, false
}

// LeaderboardEntry is one rank of the leaderboard.
type LeaderboardEntry struct {
	Rank        int    `json:"rank"`
	DisplayName string `json:"display_name"`
	Points      int64  `json:"points"`
}

// NextBirthday is the first birthday (midnight in loc) strictly after after, for a birthdate "YYYY-MM-DD"; a
// 29 February birthday falls on 28 February in other years. ok is false when the birthdate is missing or invalid.
func NextBirthday(birthdate string, after time.Time, loc *time.Location) (time.Time, bool) {
	b, err := time.Parse("2006-01-02", birthdate)
	if err != nil {
		return time.Time{}, false
	}
	a := after.In(loc)
	for y := a.Year(); y <= a.Year()+1; y++ {
		m, d := b.Month(), b.Day()
		if m == time.February && d == 29 && !isLeap(y) {
			d = 28
		}
		t := time.Date(y, m, d, 0, 0, 0, 0, loc)
		if t.After(after) {
			return t, true
		}
	}
	return time.Time{}, false
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// BirthdayBonusKey is the idempotency key of a member's birthday bonus: once a year.
func BirthdayBonusKey(memberID string, year int) string {
	return "birthday:" + memberID + ":" + strconv.Itoa(year)
}

// WinbackKey is the key of the win-back message for an inactivity that began with the purchase at lastPurchase:
// one per stretch of inactivity.
func WinbackKey(memberID string, lastPurchase time.Time) string {
	return TemplateWinback + ":" + memberID + ":" + lastPurchase.UTC().Format("20060102T150405")
}

// ExpiryNoticeKey is the key of a run's reminder to one member of points expiring soon.
func ExpiryNoticeKey(memberID string, runDay time.Time) string {
	return TemplateExpiryReminder + ":" + memberID + ":" + runDay.UTC().Format("20060102")
}

// MemberLifecycle is what the member workflow needs to arm its birthday and win-back timers.
type MemberLifecycle struct {
	Birthdate           string     `json:"birthdate,omitempty"`
	Active              bool       `json:"active"`
	BirthdayBonusPoints int64      `json:"birthday_bonus_points"`
	WinbackDays         int        `json:"winback_days"`
	TimeZone            string     `json:"time_zone"`
	LastPurchaseAt      *time.Time `json:"last_purchase_at,omitempty"`
}

// ExpiryCursor is where a chunked expiry run stands: lots are taken in (expires_at, lot id) order after it.
type ExpiryCursor struct {
	ExpiresAt time.Time `json:"expires_at"`
	LotID     int64     `json:"lot_id"`
}

// ExpiryStats counts what an expiry run did.
type ExpiryStats struct {
	LotsExpired    int64 `json:"lots_expired"`
	PointsExpired  int64 `json:"points_expired"`
	LotsSkipped    int64 `json:"lots_skipped"`
	LotsReminded   int64 `json:"lots_reminded"`
	NoticesSent    int64 `json:"notices_sent"`
	MembersExpired int64 `json:"members_expired"`
	Chunks         int64 `json:"chunks"`
}

// Add sums two stats.
func (s ExpiryStats) Add(o ExpiryStats) ExpiryStats {
	return ExpiryStats{
		LotsExpired: s.LotsExpired + o.LotsExpired, PointsExpired: s.PointsExpired + o.PointsExpired,
		LotsSkipped: s.LotsSkipped + o.LotsSkipped, LotsReminded: s.LotsReminded + o.LotsReminded,
		NoticesSent: s.NoticesSent + o.NoticesSent, MembersExpired: s.MembersExpired + o.MembersExpired,
		Chunks: s.Chunks + o.Chunks,
	}
}

// ExpireLotsRequest asks for lots past their date at Now to be expired in chunks after Cursor.
type ExpireLotsRequest struct {
	Now       time.Time    `json:"now"`
	Cursor    ExpiryCursor `json:"cursor"`
	ChunkSize int          `json:"chunk_size"`
	// MaxChunks bounds one activity call, so that the workflow records progress between calls.
	MaxChunks int `json:"max_chunks"`
	// Partition of Partitions restricts the request to the members whose id falls in its range (Partitions <= 1: every member), so
	// that the run can expire disjoint member sets side by side, each with its own cursor.
	Partition  int `json:"partition,omitempty"`
	Partitions int `json:"partitions,omitempty"`
}

// ExpireLotsResult is where an ExpireLotsRequest stopped and what it did.
type ExpireLotsResult struct {
	Cursor ExpiryCursor `json:"cursor"`
	Stats  ExpiryStats  `json:"stats"`
	Done   bool         `json:"done"`
}

// RemindExpiringRequest asks for reminders of points expiring within the program's reminder days after Now.
type RemindExpiringRequest struct {
	Now       time.Time `json:"now"`
	ChunkSize int       `json:"chunk_size"`
}

// ChallengeMatch is a challenge a purchase counts for, and whether the member is enrolled already (else the
// challenge enrols them automatically).
type ChallengeMatch struct {
	Challenge Challenge `json:"challenge"`
	Enrolled  bool      `json:"enrolled"`
}
