package devenv

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

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
