package testdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

// db is a connection to a test database of either engine.
type db interface {
	exec(t *testing.T, q string)
	count(t *testing.T, q string) int
	close()
}

type pgDB struct{ c *pgx.Conn }

func (d pgDB) exec(t *testing.T, q string) {
	t.Helper()
	if _, err := d.c.Exec(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (d pgDB) count(t *testing.T, q string) int {
	t.Helper()
	var n int
	if err := d.c.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func (d pgDB) close() { d.c.Close(context.Background()) }

type myDB struct{ db *sql.DB }

func (d myDB) exec(t *testing.T, q string) {
	t.Helper()
	if _, err := d.db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (d myDB) count(t *testing.T, q string) int {
	t.Helper()
	var n int
	if err := d.db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func (d myDB) close() { d.db.Close() }

// connect opens the database at a URL of this package's forms, or returns
// the error.
func connect(rawURL string) (db, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "postgres":
		c, err := pgx.Connect(ctx, rawURL)
		if err != nil {
			return nil, err
		}
		return pgDB{c}, nil
	case "mysql":
		d, err := sql.Open("mysql", mysqlConfig(u, strings.TrimPrefix(u.Path, "/")).FormatDSN())
		if err != nil {
			return nil, err
		}
		if err := d.PingContext(ctx); err != nil {
			d.Close()
			return nil, err
		}
		return myDB{d}, nil
	}
	return nil, fmt.Errorf("unknown scheme in %s", rawURL)
}

func mustConnect(t *testing.T, rawURL string) db {
	t.Helper()
	d, err := connect(rawURL)
	if err != nil {
		t.Fatalf("connect %s: %v", rawURL, err)
	}
	t.Cleanup(d.close)
	return d
}

type engineCase struct {
	engine  Engine
	env     string
	fresh   func(testing.TB) string
	start   func(testing.TB, ...Option) *Server
	shared  *sharedServer
	existsQ string // counts databases named %s
	tablesQ string // counts tables in the current database
}

var engines = []engineCase{
	{
		engine: PostgreSQL, env: EnvPostgres, fresh: Postgres, start: StartPostgres, shared: &sharedPG,
		existsQ: "SELECT count(*) FROM pg_database WHERE datname = '%s'",
		tablesQ: "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
	},
	{
		engine: MariaDB, env: EnvMySQL, fresh: MySQL, start: StartMySQL, shared: &sharedMy,
		existsQ: "SELECT count(*) FROM information_schema.schemata WHERE schema_name = '%s'",
		tablesQ: "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE()",
	},
}

func dbOf(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// withDB returns rawURL pointing at database name instead.
func withDB(t *testing.T, rawURL, name string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// TestShared checks the per-test databases on the shared server: fresh,
// empty, distinct, usable, dropped at the end of their test, and all on one
// server started once.
func TestShared(t *testing.T) {
	for _, e := range engines {
		t.Run(string(e.engine), func(t *testing.T) {
			t.Parallel()
			var first string
			t.Run("create", func(t *testing.T) {
				first = e.fresh(t)
				second := e.fresh(t)
				if dbOf(t, first) == dbOf(t, second) {
					t.Fatalf("two calls gave the same database: %s", first)
				}
				d := mustConnect(t, first)
				if n := d.count(t, e.tablesQ); n != 0 {
					t.Fatalf("fresh database has %d tables", n)
				}
				d.exec(t, "CREATE TABLE t (id INT PRIMARY KEY)")
				d.exec(t, "INSERT INTO t VALUES (1), (2)")
				if n := d.count(t, "SELECT count(*) FROM t"); n != 2 {
					t.Fatalf("got %d rows, want 2", n)
				}
				if n := mustConnect(t, second).count(t, e.tablesQ); n != 0 {
					t.Fatalf("second database sees %d tables of the first", n)
				}
			})
			if t.Failed() {
				return
			}
			// The subtest's cleanup has dropped its databases.
			admin := mustConnect(t, withDB(t, first, map[Engine]string{PostgreSQL: "postgres", MariaDB: ""}[e.engine]))
			if n := admin.count(t, fmt.Sprintf(e.existsQ, dbOf(t, first))); n != 0 {
				t.Errorf("database %s still exists after its test", dbOf(t, first))
			}

			if os.Getenv(e.env) != "" {
				t.Logf("%s is set: using %s", e.env, first)
				return
			}
			srv := e.shared.srv
			if srv == nil {
				t.Fatal("no shared server recorded")
			}
			if got := first; !strings.Contains(got, fmt.Sprintf("@127.0.0.1:%d/", srv.Port())) {
				t.Errorf("URL %s is not on the shared server (port %d)", got, srv.Port())
			}
			e.fresh(t)
			if e.shared.srv != srv {
				t.Error("a second call started another server")
			}
			if !strings.HasPrefix(filepath.Base(srv.Dir()), dirPrefix+strconv.Itoa(os.Getpid())+"-") {
				t.Errorf("server directory %s lacks the prefix", srv.Dir())
			}
		})
	}
}

// TestURLForms pins the URL forms other packages rely on.
func TestURLForms(t *testing.T) {
	pg := &Server{engine: PostgreSQL, port: 5555}
	if got, want := pg.URL("x"), "postgres://postgres@127.0.0.1:5555/x?sslmode=disable"; got != want {
		t.Errorf("PostgreSQL URL = %s, want %s", got, want)
	}
	my := &Server{engine: MariaDB, port: 3333}
	if got, want := my.URL("x"), "mysql://root@127.0.0.1:3333/x"; got != want {
		t.Errorf("MariaDB URL = %s, want %s", got, want)
	}
}

// TestDedicated takes a server of its own through a clean stop and restart
// and through a crash and recovery, checking committed data survives both.
func TestDedicated(t *testing.T) {
	for _, e := range engines {
		t.Run(string(e.engine), func(t *testing.T) {
			t.Parallel()
			began := time.Now()
			srv := e.start(t)
			t.Logf("%s started in %v", e.engine, time.Since(began).Round(time.Millisecond))
			port, dir := srv.Port(), srv.Dir()
			dbURL := srv.NewDatabase(t)
			if want := srv.URL(dbOf(t, dbURL)); dbURL != want {
				t.Errorf("NewDatabase = %s, want %s", dbURL, want)
			}
			d := mustConnect(t, dbURL)
			d.exec(t, "CREATE TABLE t (id INT PRIMARY KEY)")
			d.exec(t, "INSERT INTO t VALUES (1)")
			d.close()

			srv.Stop()
			if c, err := connect(dbURL); err == nil {
				c.close()
				t.Fatal("connected to a stopped server")
			}
			began = time.Now()
			srv.Start()
			t.Logf("%s restarted in %v", e.engine, time.Since(began).Round(time.Millisecond))
			if srv.Port() != port || srv.Dir() != dir {
				t.Errorf("restarted on port %d dir %s, want %d %s", srv.Port(), srv.Dir(), port, dir)
			}
			d = mustConnect(t, dbURL)
			if n := d.count(t, "SELECT count(*) FROM t"); n != 1 {
				t.Fatalf("after restart: %d rows, want 1", n)
			}
			d.exec(t, "INSERT INTO t VALUES (2)")
			d.close()

			srv.Kill()
			if c, err := connect(dbURL); err == nil {
				c.close()
				t.Fatal("connected to a killed server")
			}
			began = time.Now()
			srv.Start()
			t.Logf("%s recovered from a kill in %v", e.engine, time.Since(began).Round(time.Millisecond))
			d = mustConnect(t, dbURL)
			if n := d.count(t, "SELECT count(*) FROM t"); n != 2 {
				t.Fatalf("after kill and restart: %d rows, want 2", n)
			}
			// A second database on the same server, after the restarts.
			mustConnect(t, srv.NewDatabase(t)).exec(t, "CREATE TABLE u (id INT)")
		})
	}
}

// TestClose checks a closed server leaves no process and no files.
func TestClose(t *testing.T) {
	for _, e := range engines {
		t.Run(string(e.engine), func(t *testing.T) {
			t.Parallel()
			srv, err := Launch(e.engine)
			if err != nil {
				t.Fatal(err)
			}
			pid := srv.cmd.Process.Pid
			dir := srv.Dir()
			if err := srv.Close(); err != nil {
				t.Fatal(err)
			}
			if err := srv.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			if groupAlive(pid) {
				t.Errorf("processes of group %d still running", pid)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("directory %s still there: %v", dir, err)
			}
		})
	}
}

// TestSweep checks that what a dead test process left behind is removed,
// its server killed, and that live processes' directories are left alone.
func TestSweep(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadPid := dead.Process.Pid
	stale, err := os.MkdirTemp("", fmt.Sprintf("%s%d-postgres-", dirPrefix, deadPid))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(stale) })
	// A "server" left running from the stale directory.
	orphan := exec.Command("sleep", "60", stale)
	orphan.SysProcAttr = sysProcAttr(nil, 0)
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { orphan.Wait(); close(exited) }()
	t.Cleanup(func() { orphan.Process.Kill() })
	os.WriteFile(filepath.Join(stale, "server.pid"), []byte(strconv.Itoa(orphan.Process.Pid)), 0o644)

	mine, err := os.MkdirTemp("", fmt.Sprintf("%s%d-postgres-", dirPrefix, os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(mine) })

	sweep()

	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale directory %s not removed: %v", stale, err)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Error("the stale directory's server was not killed")
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("this process's directory was removed: %v", err)
	}
}
