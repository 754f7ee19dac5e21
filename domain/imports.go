package domain

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Bulk imports (docs/imports.md): the kinds of file, their columns, and how one row of each is read and checked.

// ImportKind is what a file imports.
type ImportKind string

// Import kinds.
const (
	ImportMembers      ImportKind = "members"
	ImportTransactions ImportKind = "transactions"
	ImportBalances     ImportKind = "balances"
)

// Import formats.
const (
	ImportCSV    = "csv"
	ImportNDJSON = "ndjson"
)

// Import statuses.
const (
	ImportValidating = "validating"
	ImportRunning    = "running"
	ImportCompleted  = "completed"
	ImportFailed     = "failed"
	ImportCancelled  = "cancelled"
)

// MaxImportBytes is the largest file an import takes (2 GiB).
const MaxImportBytes int64 = 2 << 30

// memberKey is the column that names a row's member: either of external_id and member_id.
const memberKey = "external_id|member_id"

// importColumns are the columns of each kind, in order (docs/imports.md).
var importColumns = map[ImportKind][]string{
	ImportMembers:      {"external_id", "email", "phone", "name", "birthdate", "consent_email", "consent_sms", "joined_at"},
	ImportTransactions: {"transaction_id", memberKey, "store_id", "channel", "occurred_at", "currency", "total", "sku", "category", "quantity", "unit_price"},
	ImportBalances:     {memberKey, "points", "expires_at", "reason"},
}

// ValidImportKind reports whether k is a kind of import.
func ValidImportKind(k ImportKind) bool { _, ok := importColumns[k]; return ok }

// ImportColumns are the columns a kind's CSV header lists, in order ("external_id|member_id": either one).
func ImportColumns(k ImportKind) []string { return append([]string(nil), importColumns[k]...) }

// CheckImportHeader checks a CSV header against the kind's columns, exactly and in order, and returns the columns
// its rows are read by.
func CheckImportHeader(k ImportKind, header []string) ([]string, error) {
	want := importColumns[k]
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff") // a byte order mark
	}
	bad := len(header) != len(want)
	cols := make([]string, len(header))
	for i := 0; !bad && i < len(want); i++ {
		h := strings.TrimSpace(header[i])
		cols[i] = h
		if want[i] == memberKey {
			bad = h != "external_id" && h != "member_id"
		} else {
			bad = h != want[i]
		}
	}
	if bad {
		return nil, Errorf(ErrInvalid, "the header must be exactly %s", strings.Join(want, ","))
	}
	return cols, nil
}

// NDJSONImportColumns are the columns an NDJSON file's objects are read by: the kind's, with both member keys.
func NDJSONImportColumns(k ImportKind) []string {
	var out []string
	for _, c := range importColumns[k] {
		if c == memberKey {
			out = append(out, "external_id", "member_id")
			continue
		}
		out = append(out, c)
	}
	return out
}

// ImportRow is one row as read: its fields by column.
type ImportRow struct {
	cols   map[string]int
	fields []string
}

// NewImportRow reads fields by cols.
func NewImportRow(cols map[string]int, fields []string) ImportRow {
	return ImportRow{cols: cols, fields: fields}
}

// Get is the trimmed field of a column ("" when absent).
func (r ImportRow) Get(col string) string {
	if i, ok := r.cols[col]; ok && i < len(r.fields) {
		return strings.TrimSpace(r.fields[i])
	}
	return ""
}

// MemberRef names a row's member, by external id or member id.
type MemberRef struct {
	ExternalID string
	MemberID   string
}

func (r ImportRow) memberRef(v *Validation) MemberRef {
	m := MemberRef{ExternalID: r.Get("external_id"), MemberID: strings.ToLower(r.Get("member_id"))}
	switch {
	case m.ExternalID == "" && m.MemberID == "":
		v.Add("external_id", "or member_id is required")
	case m.ExternalID != "" && m.MemberID != "":
		v.Add("member_id", "must not be given with external_id")
	case m.MemberID != "":
		v.Check(ValidMemberID(m.MemberID), "member_id", "must be a member id (UUID)")
	default:
		v.Check(ValidIdentifier(m.ExternalID), "external_id", "must be 1-128 letters, digits or . _ : -")
	}
	return m
}

// ImportedMember is a member row of a members file.
type ImportedMember struct {
	Registration
	JoinedAt *time.Time
}

// ParseImportedMember reads and checks a members row; now bounds the dates.
func ParseImportedMember(r ImportRow, now time.Time) (ImportedMember, error) {
	var v Validation
	m := ImportedMember{Registration: Registration{
		ExternalID: r.Get("external_id"), Email: r.Get("email"), Phone: r.Get("phone"), Name: r.Get("name"),
		Birthdate: r.Get("birthdate"),
	}}
	m.Normalize()
	m.Consent.Email = parseBool(&v, "consent_email", r.Get("consent_email"))
	m.Consent.SMS = parseBool(&v, "consent_sms", r.Get("consent_sms"))
	if j := r.Get("joined_at"); j != "" {
		t, ok := parseTime(j)
		switch {
		case !ok:
			v.Add("joined_at", "must be a date (YYYY-MM-DD) or an RFC 3339 time")
		case t.Before(earliestPurchase) || t.After(now.Add(MaxClockSkew)):
			v.Add("joined_at", "must be between 2000-01-01 and now")
		default:
			m.JoinedAt = &t
		}
	}
	v.Check(m.ExternalID != "", "external_id", "is required")
	if err := errors.Join(v.Err(), m.Validate(now)); err != nil {
		return m, rowError(err)
	}
	return m, nil
}

// ImportedBalance is an opening balance row: a lot for the member, with its expiry and reason.
type ImportedBalance struct {
	Member    MemberRef
	Points    int64
	ExpiresAt *time.Time
	Reason    string
}

// MaxImportedBalance bounds the points of one opening balance row.
const MaxImportedBalance = 1_000_000_000

// ParseImportedBalance reads and checks a balances row; a lot that expires at or before now is refused.
func ParseImportedBalance(r ImportRow, now time.Time) (ImportedBalance, error) {
	var v Validation
	b := ImportedBalance{Member: r.memberRef(&v), Reason: r.Get("reason")}
	p, err := strconv.ParseInt(r.Get("points"), 10, 64)
	switch {
	case err != nil:
		v.Add("points", "must be a whole number")
	case p <= 0 || p > MaxImportedBalance:
		v.Add("points", "must be between 1 and %d", MaxImportedBalance)
	default:
		b.Points = p
	}
	if e := r.Get("expires_at"); e != "" {
		t, ok := parseTime(e)
		switch {
		case !ok:
			v.Add("expires_at", "must be a date (YYYY-MM-DD) or an RFC 3339 time")
		case !t.After(now):
			v.Add("expires_at", "is in the past: the points would have expired")
		default:
			b.ExpiresAt = &t
		}
	}
	if b.Reason == "" {
		b.Reason = "opening balance"
	}
	v.Check(len(b.Reason) <= 200, "reason", "must be at most 200 characters")
	if err := v.Err(); err != nil {
		return b, rowError(err)
	}
	return b, nil
}

// ImportedLine is one item line of a transactions file; the lines of one transaction are consecutive.
type ImportedLine struct {
	TransactionID string
	Member        MemberRef
	StoreID       string
	Channel       string
	OccurredAt    time.Time
	Total         Money
	Item          LineItem
}

// ParseImportedLine reads a transactions row (the purchase it belongs to is checked whole, by Purchase.Validate).
func ParseImportedLine(r ImportRow) (ImportedLine, error) {
	var v Validation
	l := ImportedLine{TransactionID: r.Get("transaction_id"), Member: r.memberRef(&v), StoreID: r.Get("store_id"),
		Channel: r.Get("channel")}
	if t, ok := parseTime(r.Get("occurred_at")); ok {
		l.OccurredAt = t
	} else {
		v.Add("occurred_at", "must be an RFC 3339 time")
	}
	cur := strings.ToUpper(r.Get("currency"))
	l.Total = Money{Amount: parseInt(&v, "total", r.Get("total")), Currency: cur}
	l.Item = LineItem{SKU: r.Get("sku"), Category: r.Get("category"), Quantity: parseInt(&v, "quantity", r.Get("quantity")),
		UnitPrice: Money{Amount: parseInt(&v, "unit_price", r.Get("unit_price")), Currency: cur}}
	if err := v.Err(); err != nil {
		return l, rowError(err)
	}
	return l, nil
}

// SameTransaction reports whether two lines describe the same transaction (all but their item).
func (l ImportedLine) SameTransaction(o ImportedLine) bool {
	return l.TransactionID == o.TransactionID && l.Member == o.Member && l.StoreID == o.StoreID &&
		l.Channel == o.Channel && l.OccurredAt.Equal(o.OccurredAt) && l.Total == o.Total
}

// rowError flattens a validation into one line for the error file ("email: is required; name: …").
func rowError(err error) error {
	var parts []string
	var de *Error
	for _, e := range flatten(err) {
		if errors.As(e, &de) && len(de.Fields) > 0 {
			for _, f := range de.Fields {
				parts = append(parts, f.Field+": "+f.Message)
			}
			continue
		}
		parts = append(parts, e.Error())
	}
	return Errorf(ErrInvalid, "%s", strings.Join(parts, "; "))
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

func parseBool(v *Validation, field, s string) bool {
	switch strings.ToLower(s) {
	case "", "false", "0", "no", "n":
		return false
	case "true", "1", "yes", "y":
		return true
	}
	v.Add(field, "must be true or false")
	return false
}

func parseInt(v *Validation, field, s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		v.Add(field, "must be a whole number (amounts in minor units)")
	}
	return n
}

// parseTime reads a date (midnight UTC) or an RFC 3339 time.
func parseTime(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), true
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// ImportLineError is a file that cannot be read at a line (bad encoding, malformed CSV or JSON).
func ImportLineError(line int64, format string, args ...any) error {
	return Errorf(ErrInvalid, "line %d: %s", line, fmt.Sprintf(format, args...))
}

// ImportCounts are the rows an import (or a batch of it) has read, and what became of them. In a dry run, imported
// and skipped are what would be.
type ImportCounts struct {
	Read     int64 `json:"rows_read"`
	Imported int64 `json:"rows_imported"`
	Skipped  int64 `json:"rows_skipped"`
	Failed   int64 `json:"rows_failed"`
}

// Add sums counts.
func (c *ImportCounts) Add(o ImportCounts) {
	c.Read += o.Read
	c.Imported += o.Imported
	c.Skipped += o.Skipped
	c.Failed += o.Failed
}

// ImportPlan is what the import workflow loads: the file's lines and what kind of rows they are.
type ImportPlan struct {
	ImportID  string     `json:"import_id"`
	Kind      ImportKind `json:"kind"`
	DryRun    bool       `json:"dry_run"`
	RowsTotal int64      `json:"rows_total"`
	FirstLine int64      `json:"first_line"`
	LastLine  int64      `json:"last_line"`
}

// ImportChunk is a stretch of an import's lines [From, To) loaded by one activity, in batches of BatchLines.
type ImportChunk struct {
	ImportID   string `json:"import_id"`
	From       int64  `json:"from"`
	To         int64  `json:"to"`
	BatchLines int64  `json:"batch_lines"`
}

// ImportChunkResult is what a chunk did.
type ImportChunkResult struct {
	ImportCounts
	Next int64 `json:"next"`
}

// MemberToWake is an imported member whose workflow must start before a timer falls due.
type MemberToWake struct {
	MemberID     string     `json:"member_id"`
	TierReviewAt *time.Time `json:"tier_review_at,omitempty"`
}
