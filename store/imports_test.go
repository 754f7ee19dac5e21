package store_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
)

// sliceSource is an upload of rows already read (line 2 on, after a header), grouped as the API groups them.
type sliceSource struct {
	kind  domain.ImportKind
	rows  [][]string
	i     int
	grp   int64
	seen  map[string]int32
	last  string
	occ   int32
	bytes int64
}

func (s *sliceSource) Next() bool {
	if s.i >= len(s.rows) {
		return false
	}
	s.i++
	line := int64(s.i + 1)
	r := s.rows[s.i-1]
	if s.kind != domain.ImportTransactions || r[0] != s.last {
		s.grp = line
	}
	s.last = r[0]
	if s.seen == nil {
		s.seen = map[string]int32{}
	}
	k := strings.Join(r, "\x1f")
	s.seen[k]++
	s.occ = s.seen[k]
	return true
}
func (s *sliceSource) Row() (int64, int64, []string, int32) {
	return int64(s.i + 1), s.grp, s.rows[s.i-1], s.occ
}
func (s *sliceSource) Err() error   { return nil }
func (s *sliceSource) Bytes() int64 { return s.bytes }

// importRows stores an import of rows and loads it in batches of batch lines, as the import workflow does; it
// returns the import as it ends.
func importRows(t *testing.T, st *store.Store, kind domain.ImportKind, dry bool, cols []string, rows [][]string, batch int64) store.Import {
	t.Helper()
	ctx := context.Background()
	im, err := st.CreateImport(ctx, store.ImportUpload{ID: uuid.NewString(), Kind: kind, Format: "csv", DryRun: dry, Columns: cols,
		CreatedBy: "test"}, &sliceSource{kind: kind, rows: rows})
	if err != nil {
		t.Fatal(err)
	}
	for from := im.FirstLine; from <= im.LastLine; from += batch {
		if _, err := st.LoadImportBatch(ctx, im.ID, from, from+batch); err != nil {
			t.Fatal(err)
		}
		// A batch run again (a retried activity) changes nothing and counts once.
		if _, err := st.LoadImportBatch(ctx, im.ID, from, from+batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetImportStatus(ctx, im.ID, domain.ImportCompleted, ""); err != nil {
		t.Fatal(err)
	}
	im, err = st.GetImport(ctx, im.ID)
	if err != nil {
		t.Fatal(err)
	}
	return im
}

func importErrors(t *testing.T, st *store.Store, id string) map[int64]string {
	t.Helper()
	out := map[int64]string{}
	if err := st.ImportErrors(context.Background(), id, func(e store.ImportError) error {
		out[e.Line] = e.Error
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func counts(im store.Import) domain.ImportCounts { return im.ImportCounts }

var memberCols = domain.ImportColumns(domain.ImportMembers)

func TestImportMembersUpsertsOnExternalID(t *testing.T) {
	st, db := setup(t)
	ctx := context.Background()
	taken := newMember(t, st, "taken@example.com")
	rows := [][]string{
		{"EXT-1", "one@example.com", "+33612345678", "One", "1990-03-01", "true", "false", "2020-05-01"},
		{"EXT-2", "Two@Example.com", "", "Two", "", "", "", ""},
		{"EXT-3", "taken@example.com", "", "Three", "", "", "", ""},         // email held by another member
		{"EXT-1", "again@example.com", "", "Again", "", "", "", ""},         // the same external id twice in a batch
		{"EXT-4", "not-an-email", "", "Four", "", "", "", ""},               // invalid
		{"EXT-5", "five@example.com", "", "Five", "2999-01-01", "", "", ""}, // birthdate in the future
	}
	// A dry run reports what would happen and writes no member.
	dry := importRows(t, st, domain.ImportMembers, true, memberCols, rows, 100)
	if c := counts(dry); c.Read != 6 || c.Imported != 2 || c.Failed != 4 {
		t.Fatalf("dry run: %+v", c)
	}
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM members`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("a dry run wrote members: %d %v", n, err)
	}

	im := importRows(t, st, domain.ImportMembers, false, memberCols, rows, 2)
	if c := counts(im); c.Read != 6 || c.Imported != 2 || c.Skipped != 0 || c.Failed != 4 {
		t.Fatalf("first import: %+v", c)
	}
	errs := importErrors(t, st, im.ID)
	if !strings.Contains(errs[4], "another member holds this email") || !strings.Contains(errs[6], "email") ||
		!strings.Contains(errs[7], "birthdate") || len(errs) != 4 {
		t.Fatalf("errors: %v", errs)
	}
	id := store.ImportedMemberID("EXT-1")
	m, err := st.GetMember(ctx, id)
	if err != nil || m.Email != "one@example.com" || m.Phone != "+33612345678" || m.Birthdate != "1990-03-01" ||
		!m.Consent.Email || m.Consent.SMS || !m.JoinedAt.Equal(time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("imported member: %+v %v", m, err)
	}
	if b, err := st.GetBalance(ctx, id); err != nil || b.Total != 0 {
		t.Fatalf("imported member's balance: %+v %v", b, err)
	}
	if two, err := st.GetMember(ctx, store.ImportedMemberID("EXT-2")); err != nil || two.Email != "two@example.com" {
		t.Fatalf("email normalised: %+v %v", two, err)
	}

	// The same file again changes nothing.
	again := importRows(t, st, domain.ImportMembers, false, memberCols, rows, 3)
	if c := counts(again); c.Imported != 0 || c.Skipped != 2 || c.Failed != 4 || len(importErrors(t, st, again.ID)) != 4 {
		t.Fatalf("the same file again: %+v", c)
	}
	// A changed row updates its member, keyed on external_id.
	changed := importRows(t, st, domain.ImportMembers, false, memberCols, [][]string{
		{"EXT-1", "one@example.com", "", "One Renamed", "1990-03-01", "true", "false", ""},
	}, 10)
	if c := counts(changed); c.Imported != 1 {
		t.Fatalf("a changed row: %+v", c)
	}
	if m, _ := st.GetMember(ctx, id); m.Name != "One Renamed" || m.Phone != "" || !m.JoinedAt.Equal(time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("updated member: %+v", m)
	}
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM members WHERE workflow_pending`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("imported members waiting for their workflow: %d %v", n, err)
	}
	if _, err := st.GetMember(ctx, taken); err != nil {
		t.Fatal(err)
	}
}

func TestImportedTransactionsArePricedByTheRulesInForceAtTheirDates(t *testing.T) {
	st, db := setup(t)
	ctx := context.Background()
	member := newMember(t, st, "history@example.com")
	// A double-points rule was in force for January 2027 only.
	double := domain.Rule{ID: "double", Name: "Double", Priority: 5, Mode: domain.RuleStackable, Action: domain.Action{Type: domain.ActionMultiplier, Percent: 200}}
	jan, feb := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)
	if _, err := st.SaveRule(ctx, double, true, jan, "test"); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteRule(ctx, "double", feb, "test"); err != nil {
		t.Fatal(err)
	}
	cols := domain.ImportColumns(domain.ImportTransactions)
	cols[1] = "member_id"
	line := func(tx, at string, total int64, sku string, qty, unit int64) []string {
		return []string{tx, member, "s1", "store", at, "EUR", itoa(total), sku, "x", itoa(qty), itoa(unit)}
	}
	rows := [][]string{
		line("H-DEC", "2026-12-15T10:00:00Z", 1_000, "A", 1, 1_000),
		line("H-JAN", "2027-01-15T10:00:00Z", 1_500, "A", 1, 1_000), // two lines, one transaction
		line("H-JAN", "2027-01-15T10:00:00Z", 1_500, "B", 1, 500),
		line("H-FEB", "2027-02-15T10:00:00Z", 1_000, "A", 1, 1_000),
		line("H-BAD", "2027-02-16T10:00:00Z", 1_000, "A", 1, 1_000),
		{"H-BAD", member, "s1", "store", "2027-02-16T10:00:00Z", "EUR", "999", "B", "x", "1", "1"}, // disagrees on total
		{"H-NOONE", uuid.NewString(), "s1", "store", "2027-02-16T10:00:00Z", "EUR", "100", "A", "x", "1", "100"},
	}
	im := importRows(t, st, domain.ImportTransactions, false, cols, rows, 2)
	if c := counts(im); c.Read != 7 || c.Imported != 4 || c.Failed != 3 {
		t.Fatalf("import: %+v (errors %v)", c, importErrors(t, st, im.ID))
	}
	for id, want := range map[string]int64{"H-DEC": 10, "H-JAN": 30, "H-FEB": 10} {
		tx, err := st.GetTransaction(ctx, id)
		if err != nil || tx.PointsEarned != want || !tx.OccurredAt.Before(feb.AddDate(0, 1, 0)) {
			t.Fatalf("%s earned %d (%v), want %d", id, tx.PointsEarned, err, want)
		}
	}
	if jt, _ := st.GetTransaction(ctx, "H-JAN"); len(jt.Items) != 2 {
		t.Fatalf("H-JAN's lines: %+v", jt.Items)
	}
	if errs := importErrors(t, st, im.ID); !strings.Contains(errs[7], "must agree") || !strings.Contains(errs[6], "line 7") ||
		!strings.Contains(errs[8], "no such member") {
		t.Fatalf("errors: %v", errs)
	}
	b, _ := st.BalanceAt(ctx, member, testNow)
	if b.Total != 50 {
		t.Fatalf("balance %+v, want 50", b)
	}
	// The same file again changes nothing; a historical import sends nothing.
	again := importRows(t, st, domain.ImportTransactions, false, cols, rows, 3)
	if c := counts(again); c.Imported != 0 || c.Skipped != 4 || c.Failed != 3 {
		t.Fatalf("again: %+v", c)
	}
	var entries, notes int
	if err := db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM ledger_entries), (SELECT count(*) FROM notifications)`).Scan(&entries, &notes); err != nil ||
		entries != 3 || notes != 0 {
		t.Fatalf("%d ledger entries (want 3), %d notifications (want 0): %v", entries, notes, err)
	}
	checkLedger(t, db, member)
}

func TestOpeningBalancesBecomeLotsThatExpireAtTheirDates(t *testing.T) {
	st, db := setup(t)
	ctx := context.Background()
	a := newMember(t, st, "a@example.com")
	if _, err := st.CreateMember(ctx, domain.Registration{MemberID: uuid.NewString(), ExternalID: "OLD-B", Email: "b@example.com", Name: "B"}); err != nil {
		t.Fatal(err)
	}
	cols := []string{"external_id", "points", "expires_at", "reason"}
	colsByID := []string{"member_id", "points", "expires_at", "reason"}
	byExt := [][]string{
		{"OLD-B", "500", "2028-06-30", "migrated from LoyaltyCo"},
		{"OLD-B", "500", "2028-06-30", "migrated from LoyaltyCo"}, // an identical second lot: both count
		{"OLD-B", "200", "2028-12-31T12:00:00Z", ""},
		{"OLD-B", "100", "2028-01-31", "already expired"},
		{"NOBODY", "100", "", ""},
		{"OLD-B", "-5", "", ""},
	}
	im := importRows(t, st, domain.ImportBalances, false, cols, byExt, 2)
	if c := counts(im); c.Imported != 3 || c.Failed != 3 {
		t.Fatalf("import: %+v %v", c, importErrors(t, st, im.ID))
	}
	byID := importRows(t, st, domain.ImportBalances, false, colsByID, [][]string{{a, "70", "", "welcome back"}}, 10)
	if c := counts(byID); c.Imported != 1 {
		t.Fatalf("by member id: %+v %v", c, importErrors(t, st, byID.ID))
	}
	var bID string
	if err := db.Pool.QueryRow(ctx, `SELECT id::text FROM members WHERE external_id = 'OLD-B'`).Scan(&bID); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Pool.Query(ctx, `
		SELECT l.points, l.expires_at, e.reason, e.kind FROM ledger_lots l JOIN ledger_entries e ON e.id = l.entry_id
		WHERE l.member_id = $1 ORDER BY l.expires_at, l.entry_id`, bID)
	if err != nil {
		t.Fatal(err)
	}
	type lot struct {
		points  int64
		expires time.Time
		reason  string
		kind    string
	}
	var lots []lot
	for rows.Next() {
		var l lot
		if err := rows.Scan(&l.points, &l.expires, &l.reason, &l.kind); err != nil {
			t.Fatal(err)
		}
		lots = append(lots, l)
	}
	june, dec := time.Date(2028, 6, 30, 0, 0, 0, 0, time.UTC), time.Date(2028, 12, 31, 12, 0, 0, 0, time.UTC)
	if len(lots) != 3 || !lots[0].expires.Equal(june) || !lots[1].expires.Equal(june) || !lots[2].expires.Equal(dec) ||
		lots[0].reason != "migrated from LoyaltyCo" || lots[2].reason != "opening balance" || lots[0].kind != "adjustment" {
		t.Fatalf("lots: %+v", lots)
	}
	// The points are available until their dates, and gone after.
	for at, want := range map[time.Time]int64{testNow: 1_200, june.Add(time.Hour): 200, dec.Add(time.Hour): 0} {
		if bal, _ := st.BalanceAt(ctx, bID, at); bal.Available != want {
			t.Errorf("available at %s: %d, want %d", at, bal.Available, want)
		}
	}
	again := importRows(t, st, domain.ImportBalances, false, cols, byExt, 4)
	if c := counts(again); c.Imported != 0 || c.Skipped != 3 || c.Failed != 3 {
		t.Fatalf("the same file again: %+v", c)
	}
	if bal, _ := st.GetBalance(ctx, bID); bal.Total != 1_200 {
		t.Fatalf("balance after the file again: %+v", bal)
	}
	checkLedger(t, db, bID)
	checkLedger(t, db, a)
}

func TestMembersToWakeByBirthdayAndTierReview(t *testing.T) {
	st, db := setup(t)
	ctx := context.Background()
	rows := [][]string{
		{"W-SOON", "soon@example.com", "", "Soon", "1990-03-03", "", "", ""},
		{"W-LATER", "later@example.com", "", "Later", "1990-04-20", "", "", ""},
		{"W-LEAP", "leap@example.com", "", "Leap", "1988-02-29", "", "", ""},
		{"W-NONE", "none@example.com", "", "None", "", "", "", ""},
	}
	importRows(t, st, domain.ImportMembers, false, memberCols, rows, 10)
	review := testNow.AddDate(0, 0, 3)
	if _, err := db.Pool.Exec(ctx, `INSERT INTO member_tiers (member_id, tier_code, achieved_at, review_at) VALUES ($1, 'silver', $2, $3)`,
		store.ImportedMemberID("W-NONE"), testNow.AddDate(-1, 0, 3), review); err != nil {
		t.Fatal(err)
	}
	due, err := st.MembersToWake(ctx, testNow, testNow.AddDate(0, 0, 7), 100)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*time.Time{}
	for _, m := range due {
		got[m.MemberID] = m.TierReviewAt
	}
	if len(got) != 3 || got[store.ImportedMemberID("W-NONE")] == nil || !got[store.ImportedMemberID("W-NONE")].Equal(review) {
		t.Fatalf("due: %+v", due)
	}
	if _, ok := got[store.ImportedMemberID("W-SOON")]; !ok {
		t.Fatalf("a birthday in 3 days not due: %+v", due)
	}
	if _, ok := got[store.ImportedMemberID("W-LEAP")]; !ok {
		t.Fatalf("a leap-day birthday today not due: %+v", due)
	}
	if err := st.MarkMembersWoken(ctx, []string{store.ImportedMemberID("W-SOON")}); err != nil {
		t.Fatal(err)
	}
	if due, _ := st.MembersToWake(ctx, testNow, testNow.AddDate(0, 0, 7), 100); len(due) != 2 {
		t.Fatalf("after waking one: %+v", due)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
