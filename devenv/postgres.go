package devenv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// defaultLocalDatabaseURL is where perkflow dev looks for Postgres when
// DATABASE_URL is not set.
const defaultLocalDatabaseURL = "postgres://postgres@127.0.0.1:5432/perkflow?sslmode=disable"

// PostgresOptions says where perkflow dev finds Postgres.
type PostgresOptions struct {
	DatabaseURL    string // value of DATABASE_URL (or the default local URL)
	DatabaseURLSet bool   // true when DATABASE_URL was set in the environment
	DataDir        string // throwaway cluster lives in DataDir/postgres
	Logger         *slog.Logger
}

// Postgres is the database perkflow dev uses.
type Postgres struct {
	url     string
	source  string
	cluster *pgCluster // non-nil for the throwaway cluster

	stopOnce sync.Once
	stopErr  error
}

// URL is a DSN ready for pgxpool.
func (p *Postgres) URL() string { return p.url }

// Source says in human words where the database is: "DATABASE_URL", "local
// server on 127.0.0.1:5432" or "throwaway cluster in .perkflow/postgres".
func (p *Postgres) Source() string { return p.source }

// Stop stops the throwaway cluster (whether this process started it or found
// it still running from an earlier run); it does nothing for a database
// given by DATABASE_URL or found on localhost. It is safe to call twice.
func (p *Postgres) Stop() error {
	if p == nil || p.cluster == nil {
		return nil
	}
	p.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		p.stopErr = p.cluster.stop(ctx)
	})
	return p.stopErr
}

// probeTimeout bounds the look for a server on localhost.
const probeTimeout = time.Second

// EnsurePostgres finds or starts the Postgres perkflow dev uses:
//
//  1. DATABASE_URL when set; the database named in it is created (through the
//     server's "postgres" database) when missing.
//  2. Otherwise DatabaseURL (default postgres://postgres@127.0.0.1:5432/perkflow)
//     when a server answers there within a second; the database is created
//     when missing.
//  3. Otherwise a throwaway cluster under DataDir/postgres, made with the
//     machine's initdb and pg_ctl, listening on 127.0.0.1 on a free port that
//     is remembered for the next run, trust auth, database perkflow. A cluster
//     still running from an earlier run is reused. Stop stops it.
func EnsurePostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.DatabaseURLSet {
		if strings.TrimSpace(opts.DatabaseURL) == "" {
			return nil, errors.New("devenv: DATABASE_URL is set but empty")
		}
		if err := ensureDatabase(ctx, opts.DatabaseURL); err != nil {
			return nil, fmt.Errorf("devenv: DATABASE_URL: %w", err)
		}
		return &Postgres{url: opts.DatabaseURL, source: "DATABASE_URL"}, nil
	}

	local := opts.DatabaseURL
	if local == "" {
		local = defaultLocalDatabaseURL
	}
	localCfg, err := pgx.ParseConfig(local)
	if err != nil {
		return nil, fmt.Errorf("devenv: local database URL: %w", err)
	}
	where := net.JoinHostPort(localCfg.Host, strconv.Itoa(int(localCfg.Port)))
	answered, err := probe(ctx, localCfg)
	switch {
	case answered && err == nil:
		if err := ensureDatabase(ctx, local); err != nil {
			return nil, fmt.Errorf("devenv: Postgres on %s: %w", where, err)
		}
		return &Postgres{url: local, source: "local server on " + where}, nil
	case answered:
		logger.Warn("a Postgres server answers on "+where+" but cannot be used; starting a throwaway cluster instead (set DATABASE_URL to use that server)",
			"error", err)
	}

	if opts.DataDir == "" {
		return nil, fmt.Errorf("devenv: no Postgres: DATABASE_URL is not set, nothing usable answers on %s, and no DataDir was given for a throwaway cluster", where)
	}
	c, err := startCluster(ctx, opts.DataDir, logger)
	if err != nil {
		return nil, fmt.Errorf("devenv: no Postgres: DATABASE_URL is not set and nothing usable answers on %s, so perkflow dev tried a throwaway cluster: %w", where, err)
	}
	return &Postgres{url: c.url(), source: "throwaway cluster in " + displayPath(c.dir), cluster: c}, nil
}

// probe reports whether a Postgres server answers at cfg (answered), and if it
// does, why it cannot be used (err); a missing database is fine, it gets
// created.
func probe(ctx context.Context, cfg *pgx.ConnConfig) (answered bool, err error) {
	cfg = cfg.Copy()
	cfg.ConnectTimeout = probeTimeout
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		_ = conn.Close(ctx)
		return true, nil
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false, err // nothing there (or not a Postgres server)
	}
	if pgErr.Code == "3D000" { // invalid_catalog_name: the database does not exist yet
		return true, nil
	}
	return true, err
}

// ensureDatabase makes sure the database named in dsn exists, creating it
// through the server's "postgres" maintenance database when it does not.
func ensureDatabase(ctx context.Context, dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return conn.Close(ctx)
	}
	if !isPgCode(err, "3D000") {
		return err
	}
	var admin *pgx.Conn
	for _, maint := range []string{"postgres", "template1"} {
		acfg := cfg.Copy()
		acfg.Database = maint
		if admin, err = pgx.ConnectConfig(ctx, acfg); err == nil || !isPgCode(err, "3D000") {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("database %q does not exist and the maintenance database is unreachable: %w", cfg.Database, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{cfg.Database}.Sanitize()); err != nil && !isPgCode(err, "42P04") { // duplicate_database: created meanwhile
		return fmt.Errorf("create database %q: %w", cfg.Database, err)
	}
	return nil
}

func isPgCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

// displayPath shows p relative to the working directory when it is inside it.
func displayPath(p string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, p); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return rel
		}
	}
	return p
}

// pgCluster is a throwaway Postgres cluster: PGDATA is dir/data, the server
// log dir/postgres.log, the remembered port dir/port.
type pgCluster struct {
	dir    string
	data   string
	bin    string // directory holding initdb, pg_ctl and postgres
	port   int
	cred   *syscall.Credential // run the binaries as this user (when we are root)
	logger *slog.Logger
}

const clusterDatabase = "perkflow"

func (c *pgCluster) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, clusterDatabase)
}

func (c *pgCluster) logFile() string  { return filepath.Join(c.dir, "postgres.log") }
func (c *pgCluster) portFile() string { return filepath.Join(c.dir, "port") }

// errNoPostgresBinaries explains how to get Postgres.
var errNoPostgresBinaries = errors.New("no PostgreSQL binaries (initdb, pg_ctl, postgres) on PATH or in /usr/lib/postgresql/*/bin. " +
	"Install PostgreSQL (Debian/Ubuntu: `apt-get install postgresql`; Fedora/RHEL: `dnf install postgresql-server`; macOS: `brew install postgresql`), " +
	"or set DATABASE_URL to a server you have (e.g. DATABASE_URL=postgres://user:password@host:5432/perkflow?sslmode=disable)")

func startCluster(ctx context.Context, dataDir string, logger *slog.Logger) (*pgCluster, error) {
	base, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, err
	}
	c := &pgCluster{dir: filepath.Join(base, "postgres"), logger: logger}
	c.data = filepath.Join(c.dir, "data")

	dataVersion := ""
	if b, err := os.ReadFile(filepath.Join(c.data, "PG_VERSION")); err == nil {
		dataVersion = strings.TrimSpace(string(b))
	}
	if c.bin, err = findPostgresBin(ctx, dataVersion); err != nil {
		return nil, err
	}
	var groups []uint32
	if c.cred, groups, err = clusterUser(c.data); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return nil, err
	}
	if c.cred != nil {
		if err := c.prepareForUser(base, groups); err != nil {
			return nil, err
		}
	}

	// Still running from an earlier run? Reuse it.
	if port, ok := c.runningPort(ctx); ok {
		c.port = port
		if err := ensureDatabase(ctx, c.url()); err != nil {
			return nil, fmt.Errorf("a cluster is running in %s (postmaster.pid) but does not answer on 127.0.0.1:%d: %w; "+
				"if no postgres process is really running there, delete %s",
				c.data, port, err, filepath.Join(c.data, "postmaster.pid"))
		}
		logger.Info("reusing running throwaway Postgres cluster", "dir", c.dir, "port", port)
		return c, nil
	}

	if dataVersion == "" {
		if err := c.initdb(ctx); err != nil {
			return nil, err
		}
	}
	if err := c.choosePort(); err != nil {
		return nil, err
	}
	out, err := c.pgctl(ctx, "start", "-D", c.data, "-l", c.logFile(), "-w", "-t", "60", "-o", "-p "+strconv.Itoa(c.port))
	if err != nil {
		return nil, fmt.Errorf("start the cluster in %s: %w\n%s%s", c.data, err, out, c.logTail())
	}
	if err := ensureDatabase(ctx, c.url()); err != nil {
		_ = c.stop(context.Background())
		return nil, fmt.Errorf("create database %s in the throwaway cluster: %w", clusterDatabase, err)
	}
	logger.Info("started throwaway Postgres cluster", "dir", c.dir, "port", c.port)
	return c, nil
}

// initdb creates the cluster: superuser postgres, trust auth, listening on
// 127.0.0.1 only, no Unix socket (avoids socket path length and permission
// trouble), and durability traded for speed: it is a throwaway dev cluster.
func (c *pgCluster) initdb(ctx context.Context) error {
	if entries, err := os.ReadDir(c.data); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty but holds no Postgres cluster (no PG_VERSION); delete it to start over", c.data)
	}
	c.logger.Info("creating throwaway Postgres cluster", "dir", c.data)
	out, err := c.run(ctx, "initdb", "-D", c.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "-N")
	if err != nil {
		_ = os.RemoveAll(c.data) // so the next run does not mistake it for a cluster
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	f, err := os.OpenFile(filepath.Join(c.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(`
# Added by perkflow dev: a throwaway development cluster.
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
`)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// choosePort reuses the remembered port when it is free, else picks a free one
// and remembers it.
func (c *pgCluster) choosePort() error {
	if b, err := os.ReadFile(c.portFile()); err == nil {
		if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && p > 0 && p < 65536 {
			if portFree(net.JoinHostPort("127.0.0.1", strconv.Itoa(p))) == nil {
				c.port = p
				return nil
			}
			c.logger.Warn("the throwaway Postgres cluster's port is taken; picking another", "port", p)
		}
	}
	p, err := freePort("127.0.0.1")
	if err != nil {
		return err
	}
	c.port = p
	return os.WriteFile(c.portFile(), []byte(strconv.Itoa(p)+"\n"), 0o644)
}

// runningPort reports whether pg_ctl sees a running server in the data dir,
// and its port (from postmaster.pid).
func (c *pgCluster) runningPort(ctx context.Context) (int, bool) {
	if _, err := os.Stat(filepath.Join(c.data, "postmaster.pid")); err != nil {
		return 0, false
	}
	if _, err := c.pgctl(ctx, "status", "-D", c.data); err != nil {
		return 0, false // exit status 3: not running (stale pid file)
	}
	b, err := os.ReadFile(filepath.Join(c.data, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	// Line 4 of postmaster.pid is the port.
	lines := strings.Split(string(b), "\n")
	if len(lines) < 4 {
		return 0, false
	}
	p, err := strconv.Atoi(strings.TrimSpace(lines[3]))
	if err != nil {
		return 0, false
	}
	return p, true
}

func (c *pgCluster) stop(ctx context.Context) error {
	out, err := c.pgctl(ctx, "stop", "-D", c.data, "-m", "fast", "-w", "-t", "60")
	if err != nil {
		if _, running := c.runningPort(ctx); !running {
			return nil // already stopped
		}
		return fmt.Errorf("devenv: stop the throwaway Postgres cluster in %s: %w\n%s", c.data, err, out)
	}
	c.logger.Info("stopped throwaway Postgres cluster", "dir", c.dir)
	return nil
}

func (c *pgCluster) pgctl(ctx context.Context, args ...string) ([]byte, error) {
	return c.run(ctx, "pg_ctl", args...)
}

// run runs one of the Postgres binaries, as the cluster's user, in its own
// process group (so a Ctrl-C on perkflow dev does not hit it: Stop shuts the
// cluster down in order).
func (c *pgCluster) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	cmd.Env = pgEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.cred}
	cmd.WaitDelay = 5 * time.Second
	return cmd.CombinedOutput()
}

// pgEnv is the environment without PG* variables (PGPORT, PGDATA, ... would
// change what the binaries do) and with the C locale.
func pgEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C", "LANG=C")
}

func (c *pgCluster) logTail() string {
	b, err := os.ReadFile(c.logFile())
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return "server log (" + c.logFile() + "):\n" + strings.Join(lines, "\n")
}

// clusterUser decides which OS user runs the cluster. initdb and postgres
// refuse to run as root, so as root they run as the owner of an existing data
// dir, or else as the "postgres" OS user. Otherwise they run as ourselves.
func clusterUser(data string) (*syscall.Credential, []uint32, error) {
	if os.Geteuid() != 0 {
		return nil, nil, nil
	}
	if fi, err := os.Stat(data); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
			cred := &syscall.Credential{Uid: st.Uid, Gid: st.Gid}
			if u, err := user.LookupId(strconv.Itoa(int(st.Uid))); err == nil {
				cred.Groups = groupIDs(u)
			}
			return cred, cred.Groups, nil
		}
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, nil, fmt.Errorf("running as root, and initdb/postgres refuse to run as root, but there is no \"postgres\" OS user to run them as (%v). "+
			"Create one (`useradd --system --home /var/lib/postgresql postgres`; installing the postgresql package does this), run perkflow dev as a normal user, or set DATABASE_URL", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, nil, fmt.Errorf("user postgres has a non-numeric uid/gid %s/%s", u.Uid, u.Gid)
	}
	if uid == 0 {
		return nil, nil, errors.New("running as root and the \"postgres\" OS user is root too; initdb refuses to run as root. Run perkflow dev as a normal user or set DATABASE_URL")
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groupIDs(u)}
	return cred, cred.Groups, nil
}

func groupIDs(u *user.User) []uint32 {
	ids, _ := u.GroupIds()
	var out []uint32
	for _, s := range ids {
		if g, err := strconv.ParseUint(s, 10, 32); err == nil {
			out = append(out, uint32(g))
		}
	}
	return out
}

// prepareForUser hands c.dir to the cluster user and makes sure that user can
// reach it. DataDir (base) is perkflow's own directory, so it gets the search
// (o+x) bit if it lacks it; directories above it are the user's business: we
// say what to do instead of changing them.
func (c *pgCluster) prepareForUser(base string, groups []uint32) error {
	uid, gid := int(c.cred.Uid), int(c.cred.Gid)
	err := filepath.WalkDir(c.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == c.data && d.IsDir() {
			return fs.SkipDir // the cluster's files already belong to its user
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		return fmt.Errorf("hand %s to uid %d: %w", c.dir, uid, err)
	}
	for d := filepath.Dir(c.dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if !canSearch(fi, c.cred.Uid, c.cred.Gid, groups) {
			if d == base {
				if err := os.Chmod(d, fi.Mode().Perm()|0o001); err != nil {
					return err
				}
			} else {
				return fmt.Errorf("the throwaway cluster runs as uid %d (initdb refuses root), which cannot enter %s (mode %v). "+
					"Run `chmod o+x %s`, keep the project somewhere that user can reach, run perkflow dev as a normal user, or set DATABASE_URL",
					c.cred.Uid, d, fi.Mode().Perm(), d)
			}
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// canSearch reports whether uid/gid (with supplementary groups) may traverse
// directory fi according to its mode bits.
func canSearch(fi fs.FileInfo, uid, gid uint32, groups []uint32) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	perm := fi.Mode().Perm()
	if st.Uid == uid {
		return perm&0o100 != 0
	}
	inGroup := st.Gid == gid
	for _, g := range groups {
		inGroup = inGroup || g == st.Gid
	}
	if inGroup {
		return perm&0o010 != 0
	}
	return perm&0o001 != 0
}

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
