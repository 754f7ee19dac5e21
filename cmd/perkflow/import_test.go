//go:build !nodev

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perkflow/perkflow/internal/testkit/itest"
)

// TestImportCommandUploadsAndFollows runs importFile (what `perkflow import` does) against a stack: a file with bad
// rows ends in an error, with the failed rows saved beside it; a good one ends well; a refused upload says why.
func TestImportCommandUploadsAndFollows(t *testing.T) {
	tmp, err := itest.StartTemporal()
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Stop()
	s := itest.NewStack(t, tmp, itest.Options{})
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var rows strings.Builder
	rows.WriteString("external_id,email,phone,name,birthdate,consent_email,consent_sms,joined_at\n")
	for i := range 50 {
		email := fmt.Sprintf("cli-%d@example.com", i)
		if i%25 == 0 {
			email = "broken"
		}
		fmt.Fprintf(&rows, "CLI-%d,%s,,Member %d,,,,\n", i, email, i)
	}
	o := importOptions{APIURL: s.API.URL, APIKey: s.Keys["admin"], Kind: "members", File: write("members.csv", rows.String())}
	var out bytes.Buffer
	st, err := importFile(context.Background(), o, &out)
	if err == nil || !strings.Contains(err.Error(), "2 rows failed") || st.Status != "completed" || st.RowsImported != 48 {
		t.Fatalf("with bad rows: %+v %v\n%s", st, err, out.String())
	}
	if !strings.Contains(out.String(), "[##############################] 100%") {
		t.Fatalf("no progress bar:\n%s", out.String())
	}
	saved, err := os.ReadFile(o.File + ".errors.csv")
	if err != nil || strings.Count(string(saved), "\n") != 3 || !strings.Contains(string(saved), "error_line,error") {
		t.Fatalf("saved errors: %q %v", saved, err)
	}

	o.File = write("more.ndjson", `{"external_id":"CLI-X","email":"x@example.com","name":"X"}`+"\n")
	if st, err := importFile(context.Background(), o, &out); err != nil || st.RowsImported != 1 {
		t.Fatalf("a good NDJSON file: %+v %v", st, err)
	}
	o.File = write("bad.csv", "id,mail\n1,a@example.com\n")
	if _, err := importFile(context.Background(), o, &out); err == nil || !strings.Contains(err.Error(), "header must be exactly") {
		t.Fatalf("a bad header: %v", err)
	}
	o.APIKey = s.Keys["pos"]
	if _, err := importFile(context.Background(), o, &out); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("a till's key: %v", err)
	}
	var stderr strings.Builder
	if code := execute(context.Background(), []string{"import", "--kind", "members"}, io.Discard, &stderr); code != exitUsage {
		t.Fatalf("no file: exit %d, %s", code, stderr.String())
	}
}
