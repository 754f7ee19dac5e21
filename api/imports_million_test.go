package api_test

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/perkflow/perkflow/internal/testkit/itest"
)

// TestImportAMillionRows measures a bulk import through the API and the worker on an in-process Temporal server:
// PERKFLOW_IMPORT_ROWS rows of PERKFLOW_IMPORT_KIND (members, the default, or transactions: two lines per
// transaction, over members imported first, one per 10 lines). It is a measurement, not part of `make test`:
//
//	PERKFLOW_IMPORT_ROWS=1000000 go test ./api -run TestImportAMillionRows -v -timeout 3h
//	PERKFLOW_IMPORT_ROWS=1000000 PERKFLOW_IMPORT_KIND=transactions go test ./api -run TestImportAMillionRows -v -timeout 3h
func TestImportAMillionRows(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PERKFLOW_IMPORT_ROWS"))
	if n <= 0 {
		t.Skip("set PERKFLOW_IMPORT_ROWS (such as 1000000) to measure")
	}
	kind := os.Getenv("PERKFLOW_IMPORT_KIND")
	if kind == "" {
		kind = "members"
	}
	s := itest.NewStack(t, temporal, itest.Options{})
	measure := func(what, kind string, file []byte, rows int) {
		start := time.Now()
		im := upload(t, s, "kind="+kind, file)
		uploaded := time.Since(start)
		done := awaitImport(t, s, im.ImportID)
		took := time.Since(start)
		t.Logf("%s: %d rows (%d MB): uploaded in %v, completed in %v: %.0f rows/s; %d imported, %d skipped, %d failed (%s)",
			what, rows, len(file)>>20, uploaded.Round(time.Millisecond), took.Round(time.Millisecond), float64(rows)/took.Seconds(),
			done.RowsImported, done.RowsSkipped, done.RowsFailed, done.Status)
		if done.Status != "completed" || done.RowsImported != int64(rows) {
			t.Fatalf("%s: %+v", what, done)
		}
	}
	if kind == "members" {
		measure("members", "members", membersFile("M", n, 0), n)
		return
	}
	members := max(n/10, 1)
	measure("members first", "members", membersFile("M", members, 0), members)
	var b bytes.Buffer
	b.WriteString("transaction_id,external_id,store_id,channel,occurred_at,currency,total,sku,category,quantity,unit_price\n")
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i += 2 {
		when := at.Add(time.Duration(i) * time.Second).Format(time.RFC3339)
		m := (i / 2) % members
		fmt.Fprintf(&b, "TX-%d,M-%d,s1,store,%s,EUR,1500,A,books,1,1000\n", i, m, when)
		if i+1 < n {
			fmt.Fprintf(&b, "TX-%d,M-%d,s1,store,%s,EUR,1500,B,food,1,500\n", i, m, when)
		}
	}
	measure("transaction lines", "transactions", b.Bytes(), n)
}
