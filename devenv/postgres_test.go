package devenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// closedPortURL is a Postgres URL on a port nothing listens on, so that
// EnsurePostgres's localhost probe fails without touching port 5432.
func closedPortURL(t *testing.T, db string) string {
	t.Helper()
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", freeAddr(t), db)
}

func queryInt(t *testing.T, ctx context.Context, dsn, sql string) int {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func execSQL(t *testing.T, ctx context.Context, dsn, sql string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestEnsurePostgresThrowawayCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Postgres cluster")
	}
	if _, err := findPostgresBin(context.Background(), ""); errors.Is(err, errNoPostgresBinaries) {
		t.Skip("no initdb on this machine: ", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	dataDir := t.TempDir()
	if os.Geteuid() == 0 {
		// The cluster runs as the postgres OS user, which must be able to
		// enter the test's temp dirs (0700). EnsurePostgres itself opens up
		// DataDir; the directory above it is ours to open.
		if err := os.Chmod(filepath.Dir(dataDir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := PostgresOptions{DatabaseURL: closedPortURL(t, "perkflow"), DataDir: dataDir, Logger: testLogger(t)}

	// 1. Nothing answers: a throwaway cluster is created and started.
	began := time.Now()
	pg, err := EnsurePostgres(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first start (initdb + start) took %v: %s", time.Since(began), pg.Source())
	t.Cleanup(func() { _ = pg.Stop() })
	if !strings.HasPrefix(pg.Source(), "throwaway cluster in ") || !strings.HasSuffix(pg.Source(), "postgres") {
		t.Errorf("Source() = %q", pg.Source())
	}
	if n := queryInt(t, ctx, pg.URL(), "SELECT 1"); n != 1 {
		t.Fatalf("SELECT 1 = %d", n)
	}
	if !strings.Contains(pg.URL(), "/perkflow?") {
		t.Errorf("URL() = %q, want database perkflow", pg.URL())
	}
	execSQL(t, ctx, pg.URL(), "CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")

	// 2. While it runs, a second EnsurePostgres reuses it.
	again, err := EnsurePostgres(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.URL() != pg.URL() {
		t.Fatalf("reuse of running cluster: URL %q, want %q", again.URL(), pg.URL())
	}
	if n := queryInt(t, ctx, again.URL(), "SELECT n FROM kept"); n != 42 {
		t.Fatalf("kept = %d", n)
	}

	// 3 and 4. A server answering at DatabaseURL, and DATABASE_URL, are used as they are.
	port := strings.TrimPrefix(pg.URL(), "postgres://postgres@127.0.0.1:")
	port = port[:strings.Index(port, "/")]
	checkGivenServersAreUsed(t, ctx, pg, port)

	// 5. Stop stops the cluster.
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	if conn, err := pgx.Connect(ctx, pg.URL()); err == nil {
		conn.Close(ctx)
		t.Fatal("cluster still answers after Stop")
	}
	if err := again.Stop(); err != nil { // already stopped: fine
		t.Fatal(err)
	}

	// 6 and 7. Starting again reuses the cluster, and moves it off a remembered port that is taken.
	checkRestartKeepsTheCluster(t, ctx, opts, pg, port)
}

// checkGivenServersAreUsed: a server answering at DatabaseURL (DATABASE_URL unset) is used and its database
// created, DATABASE_URL is used as is with its database created, and Stop leaves both alone. The throwaway cluster pg
// on port plays the server.
func checkGivenServersAreUsed(t *testing.T, ctx context.Context, pg *Postgres, port string) {
	t.Helper()
	// 3. A server answering at DatabaseURL (DATABASE_URL unset) is used, and
	//    its database created; Stop leaves it alone.
	localURL := "postgres://postgres@127.0.0.1:" + port + "/probed?sslmode=disable"
	local, err := EnsurePostgres(ctx, PostgresOptions{DatabaseURL: localURL, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if want := "local server on 127.0.0.1:" + port; local.Source() != want || local.URL() != localURL {
		t.Fatalf("local: Source %q URL %q, want %q and %q", local.Source(), local.URL(), want, localURL)
	}
	if err := local.Stop(); err != nil {
		t.Fatal(err)
	}

	// 4. DATABASE_URL is used as is, its database created; Stop leaves it alone.
	envURL := "postgres://postgres@127.0.0.1:" + port + "/from_env?sslmode=disable"
	env, err := EnsurePostgres(ctx, PostgresOptions{DatabaseURL: envURL, DatabaseURLSet: true})
	if err != nil {
		t.Fatal(err)
	}
	if env.Source() != "DATABASE_URL" || env.URL() != envURL {
		t.Fatalf("env: Source %q URL %q", env.Source(), env.URL())
	}
	if err := env.Stop(); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, ctx, envURL, "SELECT 1"); n != 1 {
		t.Fatal("database from DATABASE_URL not usable")
	}
	if n := queryInt(t, ctx, pg.URL(), "SELECT count(*) FROM pg_database WHERE datname IN ('probed', 'from_env')"); n != 2 {
		t.Fatalf("%d of the databases probed and from_env exist, want 2", n)
	}
}

// checkRestartKeepsTheCluster: once the cluster pg (on port) is stopped, starting again reuses the cluster, its port
// and its data; when the remembered port is taken, the cluster moves to another one.
func checkRestartKeepsTheCluster(t *testing.T, ctx context.Context, opts PostgresOptions, pg *Postgres, port string) {
	t.Helper()
	// 6. Starting again reuses the cluster, its port and its data.
	began := time.Now()
	pg2, err := EnsurePostgres(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second start took %v", time.Since(began))
	t.Cleanup(func() { _ = pg2.Stop() })
	if pg2.URL() != pg.URL() {
		t.Errorf("restart: URL %q, want the remembered %q", pg2.URL(), pg.URL())
	}
	if n := queryInt(t, ctx, pg2.URL(), "SELECT n FROM kept"); n != 42 {
		t.Fatalf("kept after restart = %d", n)
	}
	if err := pg2.Stop(); err != nil {
		t.Fatal(err)
	}

	// 7. When the remembered port is taken, the cluster moves to another one.
	l, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	pg3, err := EnsurePostgres(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg3.Stop() })
	if pg3.URL() == pg.URL() {
		t.Fatalf("cluster started on the taken port: %s", pg3.URL())
	}
	if n := queryInt(t, ctx, pg3.URL(), "SELECT n FROM kept"); n != 42 {
		t.Fatalf("kept after moving port = %d", n)
	}
	if err := pg3.Stop(); err != nil {
		t.Fatal(err)
	}
}

func TestEnsurePostgresEmptyDatabaseURL(t *testing.T) {
	_, err := EnsurePostgres(context.Background(), PostgresOptions{DatabaseURLSet: true})
	if err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("err = %v", err)
	}
}
