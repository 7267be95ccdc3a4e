package testdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PgBouncer is a throw-away PgBouncer in front of a Server of this package,
// started by StartPgBouncer for one test and stopped when it ends.
type PgBouncer struct {
	t        testing.TB
	pg       *Server
	poolMode string
	bin      string
	dir      string // configuration, log and pid file
	port     int
	runAs    *syscall.Credential

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// pgbouncerDirs are where distributions put pgbouncer when it is not on $PATH.
var pgbouncerDirs = []string{"/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin", "/opt/homebrew/bin"}

// findPgBouncer finds the pgbouncer program on $PATH or in dirs.
func findPgBouncer(dirs []string) (string, error) {
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p, nil
	}
	for _, d := range dirs {
		if p := filepath.Join(d, "pgbouncer"); executable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("pgbouncer not found on $PATH or in %s; install it (Debian: apt-get install pgbouncer; scripts/test.sh installs it when missing)",
		strings.Join(dirs, ", "))
}

// StartPgBouncer starts PgBouncer for this test, on a free loopback port, in
// front of pg: every database of pg is reachable by name (URL), as the
// superuser, without a password (auth_type trust). poolMode is PgBouncer's
// pool_mode: "session", "transaction" or "statement". Each database's pool
// has up to 5 server connections. It returns once PgBouncer accepts
// connections, fails the test when it cannot start (or is not installed),
// and stops it when the test ends.
func StartPgBouncer(t testing.TB, pg *Server, poolMode string) *PgBouncer {
	t.Helper()
	switch poolMode {
	case "session", "transaction", "statement":
	default:
		t.Fatalf("testdb: StartPgBouncer: pool mode %q: want session, transaction or statement", poolMode)
	}
	if pg == nil || pg.engine != PostgreSQL {
		t.Fatalf("testdb: StartPgBouncer needs a PostgreSQL server from StartPostgres")
	}
	bin, err := findPgBouncer(pgbouncerDirs)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	b := &PgBouncer{t: t, pg: pg, poolMode: poolMode, bin: bin}
	if os.Geteuid() == 0 {
		// PgBouncer refuses to run as root.
		if b.runAs, err = unprivileged(); err != nil {
			t.Fatalf("testdb: pgbouncer: %v", err)
		}
	}
	sweepOnce.Do(sweep)
	// Named like the servers' directories, so that the next run's sweep
	// kills a PgBouncer this process left behind (see server.pid).
	b.dir, err = os.MkdirTemp("", fmt.Sprintf("%s%d-pgbouncer-", dirPrefix, os.Getpid()))
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("testdb: %v", err)
		}
	})
	if b.runAs != nil {
		if err := os.Chown(b.dir, int(b.runAs.Uid), int(b.runAs.Gid)); err != nil {
			t.Fatalf("testdb: %v", err)
		}
	}
	began := time.Now()
	for range 3 {
		if b.port, err = freePort(); err != nil {
			t.Fatalf("testdb: %v", err)
		}
		if err = b.start(); err == nil || !errors.Is(err, errPortTaken) {
			break
		}
	}
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Logf("testdb: pgbouncer (pool_mode=%s) on 127.0.0.1:%d in front of 127.0.0.1:%d ready in %v (%s)",
		poolMode, b.port, pg.Port(), time.Since(began).Round(time.Millisecond), b.dir)
	return b
}

// Port returns the TCP port PgBouncer listens on, on 127.0.0.1.
func (b *PgBouncer) Port() int { return b.port }

// Dir returns the directory holding PgBouncer's configuration and log.
func (b *PgBouncer) Dir() string { return b.dir }

// URL returns the URL of database db on the server, through PgBouncer, as
// the server's superuser.
func (b *PgBouncer) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", b.port, db)
}

// config is pgbouncer.ini. The startup parameters PgBouncer does not track
// itself and clients such as pgx or psql may send are ignored rather than
// refused; application_name, which PgBouncer tracks, reaches the server.
func (b *PgBouncer) config() string {
	return fmt.Sprintf(`[databases]
* = host=127.0.0.1 port=%d

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = %s
default_pool_size = 5
max_client_conn = 200
ignore_startup_parameters = extra_float_digits,options,search_path,statement_timeout,lock_timeout
server_login_retry = 1
log_connections = 0
log_disconnections = 0
`, b.pg.Port(), b.port, filepath.Join(b.dir, "userlist.txt"), b.poolMode)
}

func (b *PgBouncer) iniPath() string { return filepath.Join(b.dir, "pgbouncer.ini") }
func (b *PgBouncer) logPath() string { return filepath.Join(b.dir, "pgbouncer.log") }

// start writes the configuration, runs PgBouncer and waits until it
// accepts connections.
func (b *PgBouncer) start() error {
	files := map[string]string{
		b.iniPath(): b.config(),
		// auth_type trust still wants the user listed.
		filepath.Join(b.dir, "userlist.txt"): `"postgres" ""` + "\n",
	}
	for path, text := range files {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return err
		}
	}
	logFile, err := os.OpenFile(b.logPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "\n%s%s %s\n", logMarker, b.bin, b.iniPath())
	cmd := exec.Command(b.bin, b.iniPath())
	cmd.Dir = b.dir
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = sysProcAttr(b.runAs, syscall.SIGKILL)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgbouncer: %v", err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	b.mu.Lock()
	b.cmd, b.done = cmd, done
	b.mu.Unlock()
	os.WriteFile(filepath.Join(b.dir, "server.pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)

	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	for {
		err = b.ping(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-done:
			b.mu.Lock()
			b.cmd, b.done = nil, nil
			b.mu.Unlock()
			waitGroupGone(cmd.Process.Pid, 5*time.Second)
			log, _ := os.ReadFile(b.logPath())
			if portTaken(string(log)) {
				os.Truncate(b.logPath(), 0)
				return fmt.Errorf("pgbouncer: %w: %d", errPortTaken, b.port)
			}
			return fmt.Errorf("pgbouncer exited at start-up (%v); log %s:\n%s", cmd.ProcessState, b.logPath(), tail(b.logPath(), 40))
		case <-ctx.Done():
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
			b.mu.Lock()
			b.cmd, b.done = nil, nil
			b.mu.Unlock()
			return fmt.Errorf("pgbouncer not accepting connections on port %d after %v (last error: %v); log %s:\n%s",
				b.port, readyTimeout, err, b.logPath(), tail(b.logPath(), 40))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ping connects through PgBouncer and runs a query on the server.
func (b *PgBouncer) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, b.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

// Close stops PgBouncer (immediate shutdown: client connections are cut)
// and removes its directory. It is safe to call more than once.
func (b *PgBouncer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var err error
	if b.cmd != nil {
		pid := b.cmd.Process.Pid
		b.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-b.done:
		case <-time.After(10 * time.Second):
			err = fmt.Errorf("pgbouncer did not stop within 10s of SIGTERM; killed it; log %s:\n%s", b.logPath(), tail(b.logPath(), 40))
			syscall.Kill(-pid, syscall.SIGKILL)
			<-b.done
		}
		waitGroupGone(pid, 10*time.Second)
		b.cmd, b.done = nil, nil
	}
	if b.dir != "" {
		if rmErr := os.RemoveAll(b.dir); rmErr != nil && err == nil {
			err = rmErr
		}
		b.dir = ""
	}
	return err
}
