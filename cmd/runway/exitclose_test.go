package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/runwaydb/runway/internal/testdb"
)

// asMainEnv makes the test binary run main (TestMain).
const asMainEnv = "RUNWAY_TEST_AS_MAIN"

// runMain runs the test binary as the runway command, a process of its own as
// a user's is, and fails t unless it exits 0.
func runMain(t *testing.T, dbURL string, args ...string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asMainEnv+"=1", "DATABASE_URL="+dbURL, "AWS_EC2_METADATA_DISABLED=true")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("runway %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestSessionsEndCleanlyAtExit: the runway process leaves its session's
// socket for the exit to close (CloseAtExit); the server must still see the
// session ended by the client's goodbye, not by a dropped connection, which
// it would log.
func TestSessionsEndCleanlyAtExit(t *testing.T) {
	dir := t.TempDir()
	for name, sql := range map[string]string{
		"1_a.up.sql": "CREATE TABLE a (id int);\n",
		"2_b.up.sql": "CREATE TABLE b (id int);\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(sql), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Each engine: how to make the server log every session's end and every
	// dropped connection, what it logs for a session that ended, and what for
	// one dropped (which the test first provokes itself, so that it would
	// see one).
	for name, opts := range map[string][]testdb.Option{"postgres": nil, "postgres-tls": {testdb.WithTLS()}} {
		t.Run(name, func(t *testing.T) { pgEndsCleanly(t, dir, opts...) })
	}
	t.Run("mariadb", func(t *testing.T) {
		srv := testdb.StartMySQL(t)
		db := srv.NewDatabase(t)
		u, err := url.Parse(db)
		if err != nil {
			t.Fatal(err)
		}
		cfg := mysql.NewConfig()
		cfg.User, cfg.Net, cfg.Addr, cfg.DBName = u.User.Username(), "tcp", u.Host, strings.TrimPrefix(u.Path, "/")
		var last net.Conn
		cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			last = c
			return c, err
		}
		connector, err := mysql.NewConnector(cfg)
		if err != nil {
			t.Fatal(err)
		}
		admin := sql.OpenDB(connector)
		defer admin.Close()
		admin.SetMaxIdleConns(0)
		ctx := context.Background()
		// Aborted connections are logged from log_warnings 2 (MariaDB's
		// default), set here in case the default changes.
		if _, err := admin.ExecContext(ctx, "SET GLOBAL log_warnings = 2"); err != nil {
			t.Fatal(err)
		}
		dropped := regexp.MustCompile(`Aborted connection`)
		// A dropped session, to show the log would tell.
		conn, err := admin.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.PingContext(ctx); err != nil {
			t.Fatal(err)
		}
		last.Close()
		conn.Raw(func(any) error { return driver.ErrBadConn }) // discard it
		conn.Close()
		waitLog(t, srv.LogPath(), dropped, 1)
		before := countLog(t, srv.LogPath(), dropped)
		connections := func() int {
			var name string
			var n int
			if err := admin.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Connections'").Scan(&name, &n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		opened := connections()
		runMain(t, db, "--dir", dir, "up")
		runMain(t, db, "--dir", dir, "up")
		runMain(t, db, "--dir", dir, "status")
		if n := connections() - opened; n < 4 { // the 3 runs' sessions and this query's
			t.Fatalf("%d connections for 3 runs", n-1)
		}
		// A session's end is logged, if at all, as its thread ends: wait
		// for the runs' threads to be gone.
		deadline := time.Now().Add(10 * time.Second)
		for {
			var n int
			if err := admin.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND DB = ?", cfg.DBName).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d session(s) on %s still open 10 s after the runs", n, cfg.DBName)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if n := countLog(t, srv.LogPath(), dropped); n != before {
			t.Errorf("the server logged %d aborted connection(s) for runway's runs:\n%s", n-before, tailLog(t, srv.LogPath()))
		}
	})
}

// pgEndsCleanly is TestSessionsEndCleanlyAtExit on a PostgreSQL server
// started with opts.
func pgEndsCleanly(t *testing.T, dir string, opts ...testdb.Option) {
	srv := testdb.StartPostgres(t, opts...)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, srv.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	for _, q := range []string{
		"ALTER SYSTEM SET log_min_messages = 'debug1'", // "unexpected EOF on client connection" is DEBUG1 outside a transaction
		"ALTER SYSTEM SET log_disconnections = on",
		"SELECT pg_reload_conf()",
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db := srv.NewDatabase(t)
	u, err := url.Parse(db)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	ended := regexp.MustCompile(`disconnection: .*database=` + regexp.QuoteMeta(name) + `\b`)
	dropped := regexp.MustCompile(`unexpected EOF on client connection|could not receive data from client`)
	// A dropped session, to show the log would tell.
	c, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	c.PgConn().Conn().Close()
	waitLog(t, srv.LogPath(), dropped, 1)
	before := countLog(t, srv.LogPath(), dropped)
	sessions := countLog(t, srv.LogPath(), ended)
	runMain(t, db, "--dir", dir, "up")
	runMain(t, db, "--dir", dir, "up")
	runMain(t, db, "--dir", dir, "status")
	waitLog(t, srv.LogPath(), ended, sessions+3)
	if n := countLog(t, srv.LogPath(), dropped); n != before {
		t.Errorf("the server logged %d dropped session(s) for runway's runs:\n%s", n-before, tailLog(t, srv.LogPath()))
	}
}

// countLog counts the lines of the log at path that re matches.
func countLog(t *testing.T, path string, re *regexp.Regexp) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return len(re.FindAllIndex(b, -1))
}

// waitLog waits until the log at path has n lines that re matches.
func waitLog(t *testing.T, path string, re *regexp.Regexp, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for countLog(t, path, re) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the server's log has %d line(s) matching %q after 10 s, want %d:\n%s", countLog(t, path, re), re, n, tailLog(t, path))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tailLog returns the last lines of the log at path.
func tailLog(t *testing.T, path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-30):], "\n")
}
