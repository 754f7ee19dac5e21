package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/perkflow/perkflow/internal/testkit/itest"
	"github.com/perkflow/perkflow/store"
	"github.com/perkflow/perkflow/workflows"
)

const membersHeader = "external_id,email,phone,name,birthdate,consent_email,consent_sms,joined_at\n"

// membersFile is a members CSV of n rows, one in every n/bad with an email that is not one (bad = 0: none).
func membersFile(prefix string, n, bad int) []byte {
	var b bytes.Buffer
	b.WriteString(membersHeader)
	every := 0
	if bad > 0 {
		every = n / bad
	}
	for i := range n {
		email := fmt.Sprintf("%s-%d@example.com", strings.ToLower(prefix), i)
		if every > 0 && i%every == every-1 {
			email = "not-an-email-" + fmt.Sprint(i)
		}
		fmt.Fprintf(&b, "%s-%d,%s,,Member %d,1980-%02d-%02d,true,false,2020-01-02\n", prefix, i, email, i, i%12+1, i%28+1)
	}
	return b.Bytes()
}

type importAnswer struct {
	ImportID     string   `json:"import_id"`
	Status       string   `json:"status"`
	RowsTotal    int64    `json:"rows_total"`
	RowsRead     int64    `json:"rows_read"`
	RowsImported int64    `json:"rows_imported"`
	RowsSkipped  int64    `json:"rows_skipped"`
	RowsFailed   int64    `json:"rows_failed"`
	Rate         float64  `json:"rate_per_second"`
	ETA          *float64 `json:"eta_seconds"`
	Failure      string   `json:"failure"`
}

func upload(t *testing.T, s *itest.Stack, query string, body []byte) importAnswer {
	t.Helper()
	res := s.Do("POST", "/v1/imports?"+query, s.Keys["admin"], body, "Content-Type", "text/csv")
	if res.Status != http.StatusAccepted {
		t.Fatalf("upload: %d %s", res.Status, res.Body)
	}
	var im importAnswer
	res.Decode(t, &im)
	if res.Header.Get("Location") != "/v1/imports/"+im.ImportID {
		t.Fatalf("Location %q for %s", res.Header.Get("Location"), im.ImportID)
	}
	return im
}

func getImport(t *testing.T, s *itest.Stack, id string) importAnswer {
	t.Helper()
	res := s.Do("GET", "/v1/imports/"+id, s.Keys["admin"], nil)
	if res.Status != http.StatusOK {
		t.Fatalf("get import: %d %s", res.Status, res.Body)
	}
	var im importAnswer
	res.Decode(t, &im)
	return im
}

func awaitImport(t *testing.T, s *itest.Stack, id string) importAnswer {
	t.Helper()
	var im importAnswer
	eventually(t, 10*time.Minute, "import "+id+" to end", func() bool {
		im = getImport(t, s, id)
		return im.Status == "completed" || im.Status == "failed" || im.Status == "cancelled"
	})
	return im
}

// membersDigest sums up every member as stored, to tell whether anything changed.
func membersDigest(t *testing.T, s *itest.Stack) (int, string) {
	t.Helper()
	var n int
	var digest string
	err := s.DB.Pool.QueryRow(context.Background(), `
		SELECT count(*), COALESCE(md5(string_agg(id::text || email || name || COALESCE(birthdate::text, '') || updated_at::text, ',' ORDER BY id)), '')
		FROM members`).Scan(&n, &digest)
	if err != nil {
		t.Fatal(err)
	}
	return n, digest
}

func TestImportHundredThousandMembersWithBadRowsAndAgain(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	file := membersFile("BULK", 100_000, 100)
	im := awaitImport(t, s, upload(t, s, "kind=members", file).ImportID)
	if im.Status != "completed" || im.RowsTotal != 100_000 || im.RowsRead != 100_000 || im.RowsImported != 99_900 ||
		im.RowsFailed != 100 || im.RowsSkipped != 0 {
		t.Fatalf("import: %+v", im)
	}
	n, digest := membersDigest(t, s)
	if n != 99_900 {
		t.Fatalf("%d members, want 99900", n)
	}

	// The error file: the original rows, with their line and why.
	res := s.Do("GET", "/v1/imports/"+im.ImportID+"/errors", s.Keys["admin"], nil)
	if res.Status != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("errors: %d %v", res.Status, res.Header)
	}
	recs, err := csv.NewReader(bytes.NewReader(res.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 101 || strings.Join(recs[0], ",") != strings.TrimSpace(membersHeader)+",error_line,error" {
		t.Fatalf("error file: %d rows, header %v", len(recs), recs[0])
	}
	first := recs[1]
	// Row 999 (line 1001) is the first bad one.
	if first[0] != "BULK-999" || first[1] != "not-an-email-999" || first[8] != "1001" || !strings.Contains(first[9], "email") {
		t.Fatalf("first failed row: %v", first)
	}

	// No member workflow was started by the import.
	if _, err := s.Temporal.DescribeWorkflowExecution(context.Background(), workflows.MemberWorkflowID(store.ImportedMemberID("BULK-0")), ""); err == nil {
		t.Fatal("the import started a member workflow")
	}

	// The same file again: nothing changes.
	again := awaitImport(t, s, upload(t, s, "kind=members", file).ImportID)
	if again.Status != "completed" || again.RowsImported != 0 || again.RowsSkipped != 99_900 || again.RowsFailed != 100 {
		t.Fatalf("the same file again: %+v", again)
	}
	if n2, d2 := membersDigest(t, s); n2 != n || d2 != digest {
		t.Fatalf("the same file again changed the members: %d %s → %d %s", n, digest, n2, d2)
	}
	if res := s.Do("POST", "/v1/imports/"+again.ImportID+"/cancel", s.Keys["admin"], nil); res.Status != http.StatusConflict {
		t.Fatalf("cancel a finished import: %d %s", res.Status, res.Body)
	}
}

func TestImportSurvivesItsWorkerStopping(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{NoWorker: true})
	const rows = 30_000
	im := upload(t, s, "kind=members", membersFile("CRASH", rows, 0))
	if im.Status != "validating" || im.RowsTotal != rows {
		t.Fatalf("stored: %+v", im)
	}
	s.StartWorker()
	eventually(t, 5*time.Minute, "the first batches", func() bool { return getImport(t, s, im.ImportID).RowsRead > 0 })
	s.StopWorker()
	mid := getImport(t, s, im.ImportID)
	if mid.RowsRead >= rows || mid.Status != "running" {
		t.Fatalf("the worker was not stopped mid-import: %+v", mid)
	}
	s.StartWorker()
	done := awaitImport(t, s, im.ImportID)
	if done.Status != "completed" || done.RowsRead != rows || done.RowsImported != rows || done.RowsSkipped != 0 || done.RowsFailed != 0 {
		t.Fatalf("after the restart: %+v (stopped at %d rows)", done, mid.RowsRead)
	}
	var batches, read int64
	if err := s.DB.Pool.QueryRow(context.Background(), `SELECT count(*), sum(rows_read) FROM import_batches WHERE import_id = $1`,
		im.ImportID).Scan(&batches, &read); err != nil {
		t.Fatal(err)
	}
	if n, _ := membersDigest(t, s); n != rows || read != rows || batches != rows/2000 {
		t.Fatalf("%d members, %d rows in %d batches; want each of %d once", n, read, batches, rows)
	}
	s.RecordHistory(workflows.ImportWorkflowID(im.ImportID), "", "import_members_worker_stopped")
	// The state query answers too, after the workflow completed (a worker is running to answer it).
	v, err := s.Temporal.QueryWorkflow(context.Background(), workflows.ImportWorkflowID(im.ImportID), "", workflows.QueryState)
	if err != nil {
		t.Fatalf("state query of the completed import: %v", err)
	}
	var st workflows.ImportState
	if err := v.Get(&st); err != nil || st.Status != "completed" || st.Read != rows {
		t.Fatalf("state query: %+v %v", st, err)
	}
}

func TestImportedMemberEarnsThroughThePOS(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	im := awaitImport(t, s, upload(t, s, "kind=members", membersFile("LAZY", 3, 0)).ImportID)
	if im.RowsImported != 3 {
		t.Fatalf("import: %+v", im)
	}
	bal := awaitImport(t, s, upload(t, s, "kind=balances",
		[]byte("external_id,points,expires_at,reason\nLAZY-1,300,2099-12-31,migrated\n")).ImportID)
	if bal.RowsImported != 1 {
		t.Fatalf("balances: %+v", bal)
	}
	id := store.ImportedMemberID("LAZY-1")
	res := s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], purchase("T-LAZY-1", id, 1_000))
	if res.Status != http.StatusCreated {
		t.Fatalf("an imported member's first purchase: %d %s", res.Status, res.Body)
	}
	var acc struct {
		PointsEarned int64 `json:"points_earned"`
		Balance      struct {
			Total int64 `json:"total"`
		} `json:"balance"`
	}
	res.Decode(t, &acc)
	if acc.PointsEarned <= 0 || acc.Balance.Total != 300+acc.PointsEarned {
		t.Fatalf("accrual: %s", res.Body)
	}
	// The purchase started the member's workflow.
	if _, err := s.Temporal.DescribeWorkflowExecution(context.Background(), workflows.MemberWorkflowID(id), ""); err != nil {
		t.Fatalf("member workflow: %v", err)
	}
}

func TestImportRefusesBadFilesWritingNothing(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{NoWorker: true, MaxImportBytes: 64 << 10})
	admin := s.Keys["admin"]
	post := func(query string, body []byte) itest.Response {
		t.Helper()
		return s.Do("POST", "/v1/imports?"+query, admin, body, "Content-Type", "text/csv")
	}
	row := "E-1,a@example.com,,Ann,,,,\n"
	cases := []struct {
		name, query string
		body        []byte
		status      int
		detail      string
	}{
		{"no kind", "", []byte(membersHeader + row), 400, "invalid"},
		{"unknown format", "kind=members&format=xml", []byte(membersHeader + row), 400, "invalid"},
		{"wrong header", "kind=members", []byte("external_id,mail,phone\n" + row), 400, "header must be exactly"},
		{"header of another kind", "kind=balances", []byte(membersHeader + row), 400, "header must be exactly"},
		{"empty", "kind=members", nil, 400, "empty"},
		{"header only", "kind=members", []byte(membersHeader), 400, "no rows"},
		{"Latin-1", "kind=members", []byte(membersHeader + row + "E-2,b@example.com,,Ren\xe9,,,,\n"), 400, "line 3: not valid UTF-8"},
		{"malformed CSV", "kind=members", []byte(membersHeader + row + "E-2,\"b@example.com,,Bo,,,,\n"), 400, "line 3"},
		{"short row", "kind=members", []byte(membersHeader + row + "E-2,b@example.com\n"), 400, "line 3"},
		{"NDJSON not an object", "kind=members&format=ndjson", []byte(`{"external_id":"E-1","email":"a@example.com","name":"A"}` + "\n[1]\n"), 400, "line 2"},
		{"NDJSON unknown field", "kind=members&format=ndjson", []byte(`{"external_id":"E-1","mail":"a@example.com"}` + "\n"), 400, "unknown field"},
		{"too large, streamed", "kind=members", append([]byte(membersHeader), bytes.Repeat([]byte(row), 4000)...), 413, "at most"},
	}
	for _, c := range cases {
		res := post(c.query, c.body)
		if res.Status != c.status || !strings.Contains(string(res.Body), c.detail) {
			t.Errorf("%s: %d %s, want %d naming %q", c.name, res.Status, res.Body, c.status, c.detail)
		}
	}
	// A body announced over the limit (a 3 GiB file) is refused before it is read.
	u, _ := url.Parse(s.API.URL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/imports?kind=members HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: text/csv\r\n"+
		"Content-Length: %d\r\n\r\n%s", u.Host, admin, int64(3)<<30, membersHeader)
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "body-too-large") {
		t.Fatalf("3 GiB announced: %d %s", resp.StatusCode, b)
	}
	var imports, rows, members int
	if err := s.DB.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM imports), (SELECT count(*) FROM import_rows), (SELECT count(*) FROM members)`).
		Scan(&imports, &rows, &members); err != nil {
		t.Fatal(err)
	}
	if imports != 0 || rows != 0 || members != 0 {
		t.Fatalf("refused files wrote %d imports, %d rows, %d members", imports, rows, members)
	}
	if res := s.Do("GET", "/v1/imports/00000000-0000-4000-8000-000000000000", admin, nil); res.Status != http.StatusNotFound {
		t.Fatalf("unknown import: %d", res.Status)
	}
	if res := s.Do("GET", "/v1/imports/not-a-uuid/errors", admin, nil); res.Status != http.StatusNotFound {
		t.Fatalf("malformed import id: %d", res.Status)
	}
}

func TestImportDryRunWritesNoMember(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	im := awaitImport(t, s, upload(t, s, "kind=members&dry_run=true", membersFile("DRY", 500, 5)).ImportID)
	if im.Status != "completed" || im.RowsImported != 495 || im.RowsFailed != 5 {
		t.Fatalf("dry run: %+v", im)
	}
	if n, _ := membersDigest(t, s); n != 0 {
		t.Fatalf("a dry run wrote %d members", n)
	}
	s.RecordHistory(workflows.ImportWorkflowID(im.ImportID), "", "import_members_dry_run")
}

// The daily wake-up starts the workflows of imported members whose timers fall due, with their tier review date,
// and marks them; members with nothing due keep waiting for their first need.
func TestWakeUpStartsTheWorkflowsOfImportedMembersWithTimersDue(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	ctx := context.Background()
	im := awaitImport(t, s, upload(t, s, "kind=members", []byte(membersHeader+
		"WAKE-1,wake1@example.com,,One,,,,\nWAKE-2,wake2@example.com,,Two,,,,\n")).ImportID)
	if im.RowsImported != 2 {
		t.Fatalf("import: %+v", im)
	}
	due := store.ImportedMemberID("WAKE-1")
	review := time.Date(2021, 6, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.DB.Pool.Exec(ctx, `INSERT INTO member_tiers (member_id, tier_code, achieved_at, review_at) VALUES ($1, 'gold', $2, $3)`,
		due, review.AddDate(-1, 0, 0), review); err != nil {
		t.Fatal(err)
	}
	run, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "wake-test", TaskQueue: s.TaskQueue},
		workflows.WakeMembersWorkflowName, workflows.WakeMembersInput{})
	if err != nil {
		t.Fatal(err)
	}
	var woken int
	if err := run.Get(ctx, &woken); err != nil || woken != 1 {
		t.Fatalf("woke %d: %v", woken, err)
	}
	d, err := s.Temporal.DescribeWorkflowExecution(ctx, workflows.MemberWorkflowID(due), "")
	if err != nil || d.GetWorkflowExecutionInfo().GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("the due member's workflow: %v %v", d, err)
	}
	if _, err := s.Temporal.DescribeWorkflowExecution(ctx, workflows.MemberWorkflowID(store.ImportedMemberID("WAKE-2")), ""); err == nil {
		t.Fatal("a member with nothing due was woken")
	}
	var pending int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM members WHERE workflow_pending`).Scan(&pending); err != nil || pending != 1 {
		t.Fatalf("%d members still pending: %v", pending, err)
	}
	// The member's workflow took the review date from the wake-up, and reviewed the tier past due: gold without
	// the points falls one tier, to silver, reviewed a year on.
	eventually(t, time.Minute, "the tier review", func() bool {
		t, err := s.Store.GetMemberTier(ctx, due)
		return err == nil && t.Code == "silver" && t.ReviewAt != nil && t.ReviewAt.After(review)
	})
	s.RecordHistory("wake-test", "", "wake_imported_members")
	// Run again: nothing more to wake.
	run, err = s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "wake-test-2", TaskQueue: s.TaskQueue},
		workflows.WakeMembersWorkflowName, workflows.WakeMembersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, &woken); err != nil || woken != 0 {
		t.Fatalf("second wake-up woke %d: %v", woken, err)
	}
}

// TestImportCancelStopsAfterTheCurrentChunk: a cancel asked before the worker took the import answers 202; the
// workflow stops at the next chunk boundary and ends cancelled, with what it loaded kept and the rest not read;
// cancelling it again answers 409.
func TestImportCancelStopsAfterTheCurrentChunk(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{NoWorker: true})
	const rows = 50_000 // three chunks of 20,000 lines at most
	im := upload(t, s, "kind=members", membersFile("CANCEL", rows, 0))
	res := s.Do("POST", "/v1/imports/"+im.ImportID+"/cancel", s.Keys["admin"], nil)
	if res.Status != http.StatusAccepted {
		t.Fatalf("cancel: %d %s", res.Status, res.Body)
	}
	s.StartWorker()
	done := awaitImport(t, s, im.ImportID)
	if done.Status != "cancelled" || done.RowsRead >= rows {
		t.Fatalf("after the cancel: %+v", done)
	}
	if chunk := int64(workflows.DefaultImportBatchLines * workflows.DefaultImportBatchesPerChunk); done.RowsRead%chunk != 0 {
		t.Fatalf("cancelled after %d rows: not a whole number of chunks of %d", done.RowsRead, chunk)
	}
	if n, _ := membersDigest(t, s); int64(n) != done.RowsImported {
		t.Fatalf("%d members stored, the import says %d imported", n, done.RowsImported)
	}
	if res := s.Do("POST", "/v1/imports/"+im.ImportID+"/cancel", s.Keys["admin"], nil); res.Status != http.StatusConflict {
		t.Fatalf("cancel a cancelled import: %d %s", res.Status, res.Body)
	}
}
