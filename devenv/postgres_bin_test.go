package devenv

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestPostgresBinariesErrors(t *testing.T) {
	msg := errNoPostgresBinaries.Error()
	for _, want := range []string{"apt-get install postgresql", "DATABASE_URL"} {
		if !strings.Contains(msg, want) {
			t.Errorf("no-binaries error does not mention %q: %s", want, msg)
		}
	}
	if _, err := findPostgresBin(context.Background(), ""); errors.Is(err, errNoPostgresBinaries) {
		t.Skip("no Postgres binaries on this machine")
	}
	// A cluster made by a version that is not installed is not started with
	// the wrong binaries.
	_, err := findPostgresBin(context.Background(), "7.4")
	if err == nil || !strings.Contains(err.Error(), "PostgreSQL 7.4") {
		t.Fatalf("findPostgresBin(7.4): err = %v", err)
	}
}

func TestVersionLess(t *testing.T) {
	dirs := []string{"/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/9.6/bin", "/usr/lib/postgresql/17/bin"}
	if !versionLess(dirs[1], dirs[0]) || !versionLess(dirs[0], dirs[2]) || versionLess(dirs[2], dirs[0]) {
		t.Fatal("versionLess orders versions wrongly")
	}
}
