package devenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// errNoPostgresBinaries explains how to get Postgres.
var errNoPostgresBinaries = errors.New("no PostgreSQL binaries (initdb, pg_ctl, postgres) on PATH or in /usr/lib/postgresql/*/bin. " +
	"Install PostgreSQL (Debian/Ubuntu: `apt-get install postgresql`; Fedora/RHEL: `dnf install postgresql-server`; macOS: `brew install postgresql`), " +
	"or set DATABASE_URL to a server you have (e.g. DATABASE_URL=postgres://user:password@host:5432/perkflow?sslmode=disable)")

// findPostgresBin finds a directory with initdb, pg_ctl and postgres: the
// one on PATH, then /usr/lib/postgresql/*/bin (newest first) and a few other
// usual places. When the data dir already exists (version is its PG_VERSION),
// only binaries of that major version will do.
func findPostgresBin(ctx context.Context, version string) (string, error) {
	var candidates []string
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
	}
	for _, pattern := range []string{
		"/usr/lib/postgresql/*/bin",
		"/usr/pgsql-*/bin",
		"/usr/local/pgsql/bin",
		"/opt/homebrew/opt/postgresql*/bin",
		"/usr/local/opt/postgresql*/bin",
	} {
		matches, _ := filepath.Glob(pattern)
		sort.Slice(matches, func(i, j int) bool { return versionLess(matches[j], matches[i]) })
		candidates = append(candidates, matches...)
	}
	var found []string
	seen := map[string]bool{}
	for _, dir := range candidates {
		if seen[dir] || !hasPostgresBinaries(dir) {
			continue
		}
		seen[dir] = true
		if version == "" {
			return dir, nil
		}
		v := binaryVersion(ctx, dir)
		if v == version {
			return dir, nil
		}
		found = append(found, fmt.Sprintf("%s (PostgreSQL %s)", dir, v))
	}
	if len(found) > 0 {
		return "", fmt.Errorf("the existing cluster was made by PostgreSQL %s, but only these binaries were found: %s; install PostgreSQL %s or delete the cluster to start over",
			version, strings.Join(found, ", "), version)
	}
	return "", errNoPostgresBinaries
}

func hasPostgresBinaries(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

var pgVersionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)(?:\.(\d+))?`)

// binaryVersion is the major version of the postgres binary in dir, spelled
// like PG_VERSION ("15", or "9.6" before version 10).
func binaryVersion(ctx context.Context, dir string) string {
	out, err := exec.CommandContext(ctx, filepath.Join(dir, "postgres"), "--version").Output()
	if err != nil {
		return "unknown"
	}
	m := pgVersionRE.FindSubmatch(out)
	if m == nil {
		return "unknown"
	}
	if major, _ := strconv.Atoi(string(m[1])); major < 10 && len(m[2]) > 0 {
		return string(m[1]) + "." + string(m[2])
	}
	return string(m[1])
}

var digitsRE = regexp.MustCompile(`\d+`)

// versionLess orders paths by the numbers in them (".../9.6/bin" < ".../15/bin").
func versionLess(a, b string) bool {
	na, nb := digitsRE.FindAllString(a, -1), digitsRE.FindAllString(b, -1)
	for i := 0; i < len(na) && i < len(nb); i++ {
		x, _ := strconv.Atoi(na[i])
		y, _ := strconv.Atoi(nb[i])
		if x != y {
			return x < y
		}
	}
	if len(na) != len(nb) {
		return len(na) < len(nb)
	}
	return a < b
}
