// Package testdb gives tests real database servers: a fresh, empty database per
// test on a PostgreSQL or MariaDB server. The server is the one named by
// RUNWAY_TEST_POSTGRES / RUNWAY_TEST_MYSQL when set, otherwise a throw-away
// server this test binary starts from the installed binaries, once, on first
// use. A test that needs a server and cannot get one fails; it never skips.
//
// A package whose tests use this package stops the throw-away servers at the
// end of its run with
//
//	func TestMain(m *testing.M) { testdb.Main(m) }
//
// or, when TestMain hands m to another runner, testdb.Wrap(m).
// Without it the servers still die with the test binary (on Linux the kernel
// signals them when their parent exits) and their files, under os.TempDir
// with the prefix "runway-testdb-", are removed by the next run.
package testdb

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// The environment variables naming an existing server to use instead of
// starting one. Their databases are created and dropped by the tests; the
// user must be allowed to CREATE and DROP DATABASE.
const (
	EnvPostgres = "RUNWAY_TEST_POSTGRES" // postgres://user@host:port/db?sslmode=disable
	EnvMySQL    = "RUNWAY_TEST_MYSQL"    // mysql://user:pass@host:port/
)

var seq atomic.Int64

func dbName(t testing.TB) string {
	return fmt.Sprintf("rw_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6, seq.Add(1))
}

// sharedServer is the throw-away server of one engine shared by every test
// of this binary, started on first use.
type sharedServer struct {
	once sync.Once
	srv  *Server
	err  error
}

var sharedPG, sharedMy sharedServer

func (s *sharedServer) url(e Engine) (string, error) {
	s.once.Do(func() {
		s.srv, s.err = Launch(e)
	})
	if s.err != nil {
		return "", s.err
	}
	return s.srv.ServerURL(), nil
}

// Postgres returns the URL of a new, empty database on a PostgreSQL server,
// dropped when the test ends: on the server named by RUNWAY_TEST_POSTGRES, or
// else on this test binary's throw-away server, started on first use.
func Postgres(t testing.TB) string {
	t.Helper()
	server := os.Getenv(EnvPostgres)
	if server == "" {
		var err error
		if server, err = sharedPG.url(PostgreSQL); err != nil {
			t.Fatalf("testdb: no PostgreSQL server (%s is not set and none could be started): %v", EnvPostgres, err)
		}
	}
	return newPostgresDB(t, server)
}

// MySQL returns the URL (mysql://user:pass@host:port/db) of a new, empty
// database on a MariaDB/MySQL server, dropped when the test ends: on the
// server named by RUNWAY_TEST_MYSQL, or else on this test binary's throw-away
// MariaDB server, started on first use.
func MySQL(t testing.TB) string {
	t.Helper()
	server := os.Getenv(EnvMySQL)
	if server == "" {
		var err error
		if server, err = sharedMy.url(MariaDB); err != nil {
			t.Fatalf("testdb: no MariaDB server (%s is not set and none could be started): %v", EnvMySQL, err)
		}
	}
	return newMySQLDB(t, server)
}

// Main runs the tests of a package, then stops the throw-away servers this
// test binary started and exits with the tests' status. An interrupt or
// termination signal stops them too.
func Main(m *testing.M) {
	os.Exit(Wrap(m).Run())
}

// TestingM is what a TestMain hands to its test runner; *testing.M is one.
type TestingM interface {
	Run() int
}

// Wrap returns m wrapped so that its Run, after the tests, stops the
// throw-away servers this test binary started, for a TestMain that hands m
// to another runner:
//
//	testscript.Main(testdb.Wrap(m), commands)
func Wrap(m TestingM) TestingM { return stopping{m} }

type stopping struct{ m TestingM }

func (w stopping) Run() int {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sig)
	go func() {
		fmt.Fprintf(os.Stderr, "testdb: %v: stopping test servers\n", <-sig)
		closeAll()
		os.Exit(1)
	}()
	code := w.m.Run()
	closeAll()
	return code
}

func newPostgresDB(t testing.TB, server string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("testdb: connect to PostgreSQL %s: %v", server, err)
	}
	defer conn.Close(ctx)
	name := dbName(t)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testdb: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, server)
		if err != nil {
			return // the server is gone (a fault test stopped it): nothing to drop
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("testdb: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// mysqlConfig turns a mysql://user:pass@host:port/db URL into the driver's
// configuration.
func mysqlConfig(u *url.URL, db string) *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.Net = "tcp"
	cfg.Addr = u.Host
	cfg.DBName = db
	cfg.Timeout = 5 * time.Second
	return cfg
}

func newMySQLDB(t testing.TB, server string) string {
	t.Helper()
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	dsn := mysqlConfig(u, "").FormatDSN()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	defer db.Close()
	name := dbName(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testdb: create database on %s: %v", u.Host, err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			return // the server is gone (a fault test stopped it): nothing to drop
		}
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Logf("testdb: drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
