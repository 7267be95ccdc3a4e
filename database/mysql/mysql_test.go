package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/database/drivertest"
	"github.com/runwaydb/runway/internal/testdb"
	"github.com/runwaydb/runway/migration"
)

func TestConformance(t *testing.T) {
	drivertest.Run(t, func(t *testing.T) (database.Driver, drivertest.Session) {
		dbURL := testdb.MySQL(t)
		session := func(t *testing.T) database.Driver {
			d, err := Open(context.Background(), dbURL, database.Config{Identity: "runway test pid=1"})
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		return session(t), session
	})
}

func open(t *testing.T, rawURL string, cfg database.Config) *Driver {
	t.Helper()
	ctx := context.Background()
	d, err := Open(ctx, rawURL, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close(ctx) })
	return d
}

func withPassword(t *testing.T, rawURL, password string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), password)
	return u.String()
}

func TestParseURL(t *testing.T) {
	mc, err := ParseURL("mysql://app:p%40ss@db.example:3307/shop?tls=skip-verify&readTimeout=5s&sql_mode=%27ANSI%27")
	if err != nil {
		t.Fatal(err)
	}
	if mc.User != "app" || mc.Passwd != "p@ss" || mc.Net != "tcp" || mc.Addr != "db.example:3307" || mc.DBName != "shop" {
		t.Errorf("got user %q pass %q net %q addr %q db %q", mc.User, mc.Passwd, mc.Net, mc.Addr, mc.DBName)
	}
	if mc.TLSConfig != "skip-verify" || mc.ReadTimeout != 5*time.Second || mc.Params["sql_mode"] != "'ANSI'" {
		t.Errorf("params not passed through: tls %q readTimeout %v params %v", mc.TLSConfig, mc.ReadTimeout, mc.Params)
	}
	if !mc.ParseTime || mc.Timeout != DefaultDialTimeout || !mc.InterpolateParams {
		t.Errorf("defaults: parseTime %v timeout %v interpolateParams %v", mc.ParseTime, mc.Timeout, mc.InterpolateParams)
	}

	mc, err = ParseURL("mariadb://root@db/app?timeout=2s")
	if err != nil {
		t.Fatal(err)
	}
	if mc.Addr != "db:3306" || mc.Timeout != 2*time.Second {
		t.Errorf("mariadb://: addr %q timeout %v", mc.Addr, mc.Timeout)
	}

	mc, err = ParseURL("mysql://root@/app?socket=%2Frun%2Fmysqld%2Fmysqld.sock")
	if err != nil {
		t.Fatal(err)
	}
	if mc.Net != "unix" || mc.Addr != "/run/mysqld/mysqld.sock" || len(mc.Params) != 0 {
		t.Errorf("socket: net %q addr %q params %v", mc.Net, mc.Addr, mc.Params)
	}

	mc, err = ParseURL("mysql://root@[::1]/app")
	if err != nil {
		t.Fatal(err)
	}
	if mc.Addr != "[::1]:3306" {
		t.Errorf("IPv6 addr %q", mc.Addr)
	}
}

func TestParseURLErrors(t *testing.T) {
	const secret = "hunter2"
	for _, tc := range []struct{ url, want string }{
		{"mysql://root:hunter2@db:3306", "names no database"},
		{"mysql://root:hunter2@db:3306/", "names no database"},
		{"postgres://root:hunter2@db/app", "want a mysql:// or mariadb:// URL"},
		{"mysql://root:hunter2/x@db/app", "does not parse"},
		{"mysql://root:hunter2%zz@db/app", "does not parse"},
		{"mysql://root:hunter2@db/app?parseTime=maybe", "invalid bool value"},
		{"mysql://root@db/app?password=hunter2", "not in a query parameter"},
		{"root:hunter2@tcp(127.0.0.1:3306)/app", "want a mysql:// or mariadb:// URL"}, // the Go driver's own DSN form
	} {
		_, err := ParseURL(tc.url)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseURL(%q) = %v, want error containing %q", tc.url, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("ParseURL(%q): error shows the password: %v", tc.url, err)
		}
	}
}

func TestLockName(t *testing.T) {
	if got := lockNameFor("app", "runway_migrations"); got != "runway:app.runway_migrations" {
		t.Errorf("lock name %q", got)
	}
	if got := lockNameFor("app", "other.hist"); got != "runway:other.hist" {
		t.Errorf("qualified lock name %q", got)
	}
	long := lockNameFor(strings.Repeat("d", 64), strings.Repeat("t", 64))
	if len(long) > maxLockName || !strings.HasPrefix(long, "runway:") {
		t.Errorf("long lock name %q (%d chars)", long, len(long))
	}
	if long == lockNameFor(strings.Repeat("d", 64), strings.Repeat("t", 63)) {
		t.Error("hashed lock names collide")
	}
}

func TestWrongPassword(t *testing.T) {
	const secret = "Wr0ng-S3cret-pa55"
	_, err := Open(context.Background(), withPassword(t, testdb.MySQL(t), secret), database.Config{})
	if !errors.Is(err, database.ErrConnect) || !errors.Is(err, database.ErrAuth) {
		t.Fatalf("Open with a wrong password: %v, want ErrConnect and ErrAuth", err)
	}
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1045 {
		t.Errorf("server error not reachable: %v", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error shows the password: %v", err)
	}
	t.Log(err)
}

func TestUnreachable(t *testing.T) {
	const secret = "S3cret-pa55"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Open(ctx, "mysql://root:"+secret+"@127.0.0.1:1/app", database.Config{})
	if !errors.Is(err, database.ErrConnect) {
		t.Fatalf("Open of 127.0.0.1:1: %v, want ErrConnect", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error shows the password: %v", err)
	}
	if !strings.Contains(err.Error(), "root@127.0.0.1:1/app") {
		t.Errorf("error does not name the server: %v", err)
	}
	t.Log(err)
}

func TestUnknownDatabase(t *testing.T) {
	u, _ := url.Parse(testdb.MySQL(t))
	u.Path = "/no_such_database_here"
	_, err := Open(context.Background(), u.String(), database.Config{})
	if !errors.Is(err, database.ErrConnect) || !strings.Contains(err.Error(), "no_such_database_here") {
		t.Fatalf("Open of a missing database: %v", err)
	}
}

func TestProcedure(t *testing.T) {
	ctx := context.Background()
	d := open(t, testdb.MySQL(t), database.Config{})
	for _, sql := range []string{
		"CREATE TABLE counter (n INT NOT NULL)",
		"INSERT INTO counter VALUES (0)",
		`CREATE PROCEDURE bump(IN k INT)
BEGIN
  DECLARE i INT DEFAULT 0;
  WHILE i < k DO
    UPDATE counter SET n = n + 1;
    SET i = i + 1;
  END WHILE;
END`,
		"CALL bump(3)",
	} {
		if err := d.Exec(ctx, migration.Statement{SQL: sql, Line: 1}); err != nil {
			t.Fatalf("Exec(%q): %v", sql, err)
		}
	}
	var n int
	if err := d.conn.QueryRowContext(ctx, "SELECT n FROM counter").Scan(&n); err != nil || n != 3 {
		t.Fatalf("counter = %d, %v; want 3", n, err)
	}
}

func TestExecError(t *testing.T) {
	ctx := context.Background()
	d := open(t, testdb.MySQL(t), database.Config{})
	if err := d.Exec(ctx, migration.Statement{SQL: "CREATE TABLE t (id INT)", Line: 1}); err != nil {
		t.Fatal(err)
	}
	err := d.Exec(ctx, migration.Statement{SQL: "CREATE TABLE t (id INT)", Line: 7})
	var ee *database.ExecError
	if !errors.As(err, &ee) {
		t.Fatalf("Exec: %v, want *ExecError", err)
	}
	if ee.Code != "1050" || ee.Message != "Table 't' already exists" || ee.Line != 7 || ee.Step != 0 || ee.Statement != 0 {
		t.Errorf("ExecError %+v", ee)
	}
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1050 {
		t.Errorf("server error not reachable from %v", err)
	}
	if got, want := err.Error(), "Table 't' already exists (1050)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}

	// A syntax error on the second line of a statement: the position points at it.
	stmt := "SELECT 1,\n  2 FRM t"
	err = d.Exec(ctx, migration.Statement{SQL: stmt, Line: 3})
	if !errors.As(err, &ee) || ee.Code != "1064" {
		t.Fatalf("syntax error: %v", err)
	}
	if want := strings.Index(stmt, "t") + 1; ee.Position != want {
		t.Errorf("Position = %d, want %d (message %q)", ee.Position, want, ee.Message)
	}
}

func TestSyntaxErrorPosition(t *testing.T) {
	for _, tc := range []struct {
		sql, msg string
		want     int
	}{
		{"SELEC 1", "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near 'SELEC 1' at line 1", 1},
		{"SELECT 'é',\n x FRM t", "… near 'FRM t' at line 2", 16},
		{"SELECT 1 FROM", "… near '' at line 1", 0},
		{"SELECT 1", "something else", 0},
		// Shortened by the server ("..."), on the statement's 3rd line.
		{"CREATE TABLE t (\n a int,\n b int oops,\n c01 int, c02 int, c03 int, c04 int, c05 int, c06 int, c07 int, c08 int, c09 int)",
			"… near 'oops,\n c01 int, c02 int, c03 int, c04 int, c05 int, c06 int, c07 int, c08 int, c...' at line 3", 33},
		// Running past the statement into the next one of the message.
		{"SELEC 1", "… near 'SELEC 1\n;\nINSERT INTO `runway_migrations` (version, name, checksum, state, ap...' at line 1", 1},
		{"SELECT 1,\n 2 FRM", "… near 'FRM\n;\nUPDATE `runway_migrations` SET statements_applied = 1, statement_checksum...' at line 2", 14},
	} {
		if got := syntaxErrorPosition(tc.sql, tc.msg); got != tc.want {
			t.Errorf("syntaxErrorPosition(%q, %q) = %d, want %d", tc.sql, tc.msg, got, tc.want)
		}
	}
}

func TestNearWithinStatement(t *testing.T) {
	const pre = "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use "
	for _, tc := range []struct{ sql, msg, want string }{
		{"SELEC 1", pre + "near 'SELEC 1\n;\nINSERT INTO `runway_migrations` (version, name, checksum, state, ap...' at line 1", pre + "near 'SELEC 1' (the end of the statement)"},
		{"CREATE TABLE s2 (id INT", pre + "near ';\nINSERT INTO `runway_migrations` (version, name, checksum, state, applied_at...' at line 2", pre + "at the end of the statement"},
		{"SELECT 'é',\n x FRM t", pre + "near 'FRM t' at line 2", pre + "near 'FRM t' at line 2"},
		{"SELECT 1", "something else", "something else"},
	} {
		if got := nearWithinStatement(tc.sql, tc.msg); got != tc.want {
			t.Errorf("nearWithinStatement(%q, %q)\n = %q\nwant %q", tc.sql, tc.msg, got, tc.want)
		}
	}
}

func TestApplyTxRollsBack(t *testing.T) {
	ctx := context.Background()
	d := open(t, testdb.MySQL(t), database.Config{})
	if err := d.EnsureHistory(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Exec(ctx, migration.Statement{SQL: "CREATE TABLE t (id INT PRIMARY KEY) ENGINE=InnoDB"}); err != nil {
		t.Fatal(err)
	}
	v1, v2 := migration.MustParseVersion("1"), migration.MustParseVersion("2")
	err := d.ApplyTx(ctx, []database.Step{
		{Statements: []migration.Statement{{SQL: "INSERT INTO t VALUES (1)", Line: 1}},
			Record: &database.Revision{Version: v1, Name: "one", State: database.StateApplied}},
		{Statements: []migration.Statement{
			{SQL: "INSERT INTO t VALUES (2)", Line: 1},
			{SQL: "INSERT INTO t VALUES (1)", Line: 2},
		}, Record: &database.Revision{Version: v2, Name: "two", State: database.StateApplied}},
	})
	var ee *database.ExecError
	if !errors.As(err, &ee) || ee.Step != 1 || ee.Statement != 1 || ee.Line != 2 || ee.Code != "1062" {
		t.Fatalf("ApplyTx: %#v, want duplicate key at step 1 statement 1", err)
	}
	var n int
	if err := d.conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 0 {
		t.Errorf("rows after rollback: %d, %v", n, err)
	}
	if h, err := d.History(ctx); err != nil || len(h) != 0 {
		t.Errorf("history after rollback: %v, %v", h, err)
	}

	// And a successful one, with a removal.
	err = d.ApplyTx(ctx, []database.Step{
		{Statements: []migration.Statement{{SQL: "INSERT INTO t VALUES (1)"}},
			Record: &database.Revision{Version: v1, Name: "one", State: database.StateApplied}},
		{Statements: []migration.Statement{{SQL: "INSERT INTO t VALUES (2)"}},
			Record: &database.Revision{Version: v2, Name: "two", State: database.StateApplied}},
		{Remove: v1},
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := d.History(ctx)
	if err != nil || len(h) != 1 || !h[0].Version.Equal(v2) {
		t.Errorf("history: %+v, %v", h, err)
	}
}

func TestHistory(t *testing.T) {
	ctx := context.Background()
	d := open(t, testdb.MySQL(t), database.Config{Table: "schema_history"})
	if h, err := d.History(ctx); err != nil || h != nil {
		t.Fatalf("History without a table: %v, %v", h, err)
	}
	if err := d.EnsureHistory(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.EnsureHistory(ctx); err != nil {
		t.Fatalf("EnsureHistory twice: %v", err)
	}
	at := time.Date(2024, 3, 1, 10, 2, 3, 456789000, time.FixedZone("CET", 3600))
	r := database.Revision{
		Version: migration.MustParseVersion("20240301100000"), Name: "add_users", Checksum: strings.Repeat("ab", 32),
		State: database.StateRunning, AppliedAt: at, Duration: 1500 * time.Millisecond, AppliedBy: "web-1 pid=42",
		StatementsApplied: 1, StatementsTotal: 3, StatementChecksums: []string{"0011223344556677"},
	}
	if err := d.WriteRevision(ctx, r); err != nil {
		t.Fatal(err)
	}
	r.State, r.StatementsApplied, r.Error = database.StateFailed, 2, "Table 'x' already exists"
	r.StatementChecksums = append(r.StatementChecksums, "8899aabbccddeeff")
	if err := d.WriteRevision(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteRevision(ctx, database.Revision{Version: migration.MustParseVersion("1.2"), State: database.StateBaseline}); err != nil {
		t.Fatal(err)
	}
	h, err := d.History(ctx)
	if err != nil || len(h) != 2 {
		t.Fatalf("History: %+v, %v", h, err)
	}
	var got database.Revision
	for _, x := range h {
		if x.Version.Equal(r.Version) {
			got = x
		}
	}
	if !got.AppliedAt.Equal(at) || got.AppliedAt.Location() != time.UTC {
		t.Errorf("AppliedAt %v, want %v in UTC", got.AppliedAt, at)
	}
	got.AppliedAt = r.AppliedAt
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", r) {
		t.Errorf("History row\n got %+v\nwant %+v", got, r)
	}
	if err := d.RemoveRevision(ctx, r.Version); err != nil {
		t.Fatal(err)
	}
	if h, err := d.History(ctx); err != nil || len(h) != 1 || h[0].Version.String() != "1.2" || !h[0].AppliedAt.IsZero() {
		t.Errorf("History after remove: %+v, %v", h, err)
	}
}

func TestLockHolder(t *testing.T) {
	ctx := context.Background()
	dbURL := testdb.MySQL(t)
	a := open(t, dbURL, database.Config{Identity: "runway web-1 pid=42"})
	b := open(t, dbURL, database.Config{Identity: "runway web-2 pid=43"})

	if holder, err := b.LockHolder(ctx); err != nil || holder != "" {
		t.Fatalf("LockHolder of a free lock: %q, %v", holder, err)
	}
	if ok, err := a.Lock(ctx, 0); !ok || err != nil {
		t.Fatalf("a.Lock: %v, %v", ok, err)
	}
	if ok, err := a.Lock(ctx, 0); !ok || err != nil {
		t.Fatalf("a.Lock again: %v, %v", ok, err)
	}
	if ok, err := b.Lock(ctx, 0); ok || err != nil {
		t.Fatalf("b.Lock while a holds it: %v, %v", ok, err)
	}
	start := time.Now()
	if ok, err := b.Lock(ctx, 1500*time.Millisecond); ok || err != nil {
		t.Fatalf("b.Lock(1.5s) while a holds it: %v, %v", ok, err)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("b.Lock(1.5s) returned after %v", waited)
	}

	var aID int64
	if err := a.conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&aID); err != nil {
		t.Fatal(err)
	}
	holder, err := b.LockHolder(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("holder: %s", holder)
	if !strings.Contains(holder, fmt.Sprintf("connection %d root@", aID)) || !strings.Contains(holder, "idle for") {
		t.Errorf("LockHolder = %q", holder)
	}
	var perfSchema bool
	if err := b.conn.QueryRowContext(ctx, "SELECT @@performance_schema").Scan(&perfSchema); err != nil {
		t.Fatal(err)
	}
	if perfSchema != strings.HasPrefix(holder, "runway web-1 pid=42 (") {
		t.Errorf("performance_schema %v, LockHolder = %q", perfSchema, holder)
	}

	// A waiter gets the lock once the holder releases it.
	released := make(chan error, 1)
	go func() {
		time.Sleep(500 * time.Millisecond)
		released <- a.Unlock(ctx)
	}()
	if ok, err := b.Lock(ctx, 10*time.Second); !ok || err != nil {
		t.Fatalf("b.Lock(10s) while a releases: %v, %v", ok, err)
	}
	if err := <-released; err != nil {
		t.Fatalf("a.Unlock: %v", err)
	}
	if err := b.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Unlock(ctx); err == nil {
		t.Error("Unlock of a lock not held: no error")
	}
}

func TestLockReleasedWithConnection(t *testing.T) {
	ctx := context.Background()
	dbURL := testdb.MySQL(t)
	a, err := Open(ctx, dbURL, database.Config{})
	if err != nil {
		t.Fatal(err)
	}
	b := open(t, dbURL, database.Config{})
	if ok, err := a.Lock(ctx, 0); !ok || err != nil {
		t.Fatalf("a.Lock: %v, %v", ok, err)
	}
	// Kill a's session from outside, as a crashed runner's connection would end.
	var aID int64
	if err := a.conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&aID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.conn.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", aID)); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.Lock(ctx, 5*time.Second); !ok || err != nil {
		t.Fatalf("b.Lock after a's connection ended: %v, %v", ok, err)
	}
	a.Close(ctx)

	// And through Close.
	c, err := Open(ctx, dbURL, database.Config{Table: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := c.Lock(ctx, 0); !ok || err != nil {
		t.Fatalf("c.Lock of another table's lock: %v, %v", ok, err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// The server ends the closed session, and frees its lock, after Close
	// returns: a wait, not a single try (which failed now and then).
	e := open(t, dbURL, database.Config{Table: "other"})
	if ok, err := e.Lock(ctx, 5*time.Second); !ok || err != nil {
		t.Fatalf("Lock after the holder's Close: %v, %v", ok, err)
	}
}

func TestLockPerDatabase(t *testing.T) {
	ctx := context.Background()
	a := open(t, testdb.MySQL(t), database.Config{})
	b := open(t, testdb.MySQL(t), database.Config{})
	for _, d := range []*Driver{a, b} {
		if ok, err := d.Lock(ctx, 0); !ok || err != nil {
			t.Fatalf("Lock: %v, %v", ok, err)
		}
	}
}

func TestLockCancel(t *testing.T) {
	dbURL := testdb.MySQL(t)
	a := open(t, dbURL, database.Config{})
	b := open(t, dbURL, database.Config{})
	if ok, err := a.Lock(context.Background(), 0); !ok || err != nil {
		t.Fatalf("a.Lock: %v, %v", ok, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	ok, err := b.Lock(ctx, time.Minute)
	if ok || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock with a cancelled context: %v, %v", ok, err)
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Errorf("Lock returned %v after the context ended", waited)
	}
}

// TestNoPrepare checks that statements and history writes go to the server as
// plain queries: one round trip each, no server-side prepared statements.
func TestNoPrepare(t *testing.T) {
	ctx := context.Background()
	d := open(t, testdb.MySQL(t), database.Config{})
	if err := d.EnsureHistory(ctx); err != nil {
		t.Fatal(err)
	}
	prepares := func() int {
		var name string
		var n int
		if err := d.conn.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Com_stmt_prepare'").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := prepares()
	if err := d.Exec(ctx, migration.Statement{SQL: "CREATE TABLE q (s VARCHAR(10) DEFAULT '?')"}); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteRevision(ctx, database.Revision{Version: migration.MustParseVersion("1"), Name: "it's ?", State: database.StateApplied, AppliedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveRevision(ctx, migration.MustParseVersion("1")); err != nil {
		t.Fatal(err)
	}
	if after := prepares(); after != before {
		t.Errorf("Com_stmt_prepare went from %d to %d", before, after)
	}
}

func TestNew(t *testing.T) {
	ctx := context.Background()
	dbURL := testdb.MySQL(t)
	db := openPool(t, dbURL)
	db.SetMaxOpenConns(1)

	d := New(db, database.Config{})
	if ok, err := d.Lock(ctx, 0); !ok || err != nil {
		t.Fatalf("Lock: %v, %v", ok, err)
	}
	if err := d.Exec(ctx, migration.Statement{SQL: "SET SESSION foreign_key_checks = 0"}); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// The pool's next connection is a new session: no lock, no leftover settings.
	var fk int
	if err := db.QueryRowContext(ctx, "SELECT @@foreign_key_checks").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_key_checks on the pool after Close: %d, %v", fk, err)
	}
	// The server ends the discarded session, and frees its lock, after
	// Close returns: a wait, not a single try (which failed under load).
	other := open(t, dbURL, database.Config{})
	if ok, err := other.Lock(ctx, 5*time.Second); !ok || err != nil {
		t.Errorf("Lock after New's Close: %v, %v", ok, err)
	}

	// New does no I/O: a pool that cannot connect fails on first use, with ErrConnect.
	bad, err := mysql.NewConnector(&mysql.Config{Net: "tcp", Addr: "127.0.0.1:1", DBName: "x", Timeout: time.Second, AllowNativePasswords: true, Logger: &mysql.NopLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	badDB := sql.OpenDB(bad)
	defer badDB.Close()
	nd := New(badDB, database.Config{})
	if _, err := nd.History(ctx); !errors.Is(err, database.ErrConnect) {
		t.Errorf("History on an unreachable pool: %v, want ErrConnect", err)
	}
}

// BenchmarkExecCreateTable measures Exec of tiny DDL statements, one round trip each.
// go test -run '^$' -bench ExecCreateTable -benchtime 1000x ./database/mysql/
func BenchmarkExecCreateTable(b *testing.B) {
	ctx := context.Background()
	d, err := Open(ctx, testdb.MySQL(b), database.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close(ctx)
	b.ResetTimer()
	for i := range b.N {
		if err := d.Exec(ctx, migration.Statement{SQL: fmt.Sprintf("CREATE TABLE t%d (id INT PRIMARY KEY)", i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "stmts/s")
}

// BenchmarkExecTrivial measures the driver's own cost per statement: a round
// trip with no work on the server.
func BenchmarkExecTrivial(b *testing.B) { benchExecTrivial(b, context.Background()) }

// BenchmarkExecTrivialRunContext is BenchmarkExecTrivial under a context
// that can end, as every statement of a run is (the run's context, cancelled
// on a signal or when the lock is lost): what watching that context costs a
// statement.
// go test -run '^$' -bench ExecTrivial -benchtime 5000x ./database/mysql/
func BenchmarkExecTrivialRunContext(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	benchExecTrivial(b, ctx)
}

func benchExecTrivial(b *testing.B, ctx context.Context) {
	d, err := Open(ctx, testdb.MySQL(b), database.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close(ctx)
	stmt := migration.Statement{SQL: "DO 1"}
	b.ResetTimer()
	for range b.N {
		if err := d.Exec(ctx, stmt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "stmts/s")
}

// openPool opens an application's own pool on dbURL, as New's callers do,
// closed when the test ends.
func openPool(t *testing.T, dbURL string) *sql.DB {
	t.Helper()
	mc, err := ParseURL(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	connector, err := mysql.NewConnector(mc)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestDescribeHolder(t *testing.T) {
	for _, tc := range []struct {
		identity, user, host, command string
		secs                          int64
		info, want                    string
	}{
		{"", "", "", "", 0, "", "connection 7"},
		{"", "app", "10.0.0.3:5123", "Sleep", 12, "", "connection 7 app@10.0.0.3:5123, idle for 12s"},
		{"runway web-1 pid=42", "app", "10.0.0.3:5123", "Query", 95, "CREATE USER x IDENTIFIED BY 'secret'",
			"runway web-1 pid=42 (connection 7 app@10.0.0.3:5123), busy for 1m35s (CREATE USER)"},
	} {
		if got := describeHolder(7, tc.identity, tc.user, tc.host, tc.command, tc.secs, tc.info); got != tc.want {
			t.Errorf("describeHolder = %q, want %q", got, tc.want)
		}
	}
}

// TestDialTimeout: a host that never answers fails with ErrConnect once the
// dial timeout (here from the URL) runs out, not after the OS's TCP timeout.
func TestDialTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	_, err := Open(ctx, "mysql://root:pw@10.255.255.1:3306/app?timeout=1s", database.Config{})
	if !errors.Is(err, database.ErrConnect) {
		t.Fatalf("Open of a black-holed address: %v, want ErrConnect", err)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("Open gave up after %v with timeout=1s", el)
	}
	t.Log(err)
}

func TestMain(m *testing.M) { testdb.Main(m) }

// TestCloseAtExit: the session's COM_QUIT waits in the kernel for the
// process's exit (here, in a process that goes on, for TCP_CORK's 200 ms
// ceiling) and then ends the session as Close does.
func TestCloseAtExit(t *testing.T) {
	ctx := context.Background()
	dbURL := testdb.MySQL(t)
	d, err := Open(ctx, dbURL, database.Config{Identity: "runway test"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if ok, err := d.Lock(ctx, 0); !ok || err != nil {
		t.Fatalf("Lock: %v, %v", ok, err)
	}
	id := d.sessionID.Load()
	if id == 0 {
		t.Fatal("no session id recorded with the lock")
	}
	other := open(t, dbURL, database.Config{})
	alive := func() bool {
		var n int
		if err := other.conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?", id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	// The socket, kept reachable until the check below: its finalizer
	// would close it, and send the held COM_QUIT, when a collection (under
	// a loaded test run) finds it unreachable.
	nc := d.sessionNet
	start := time.Now()
	if err := d.CloseAtExit(ctx); err != nil {
		t.Fatalf("CloseAtExit: %v", err)
	}
	runtime.GC()
	time.Sleep(50 * time.Millisecond)
	still := alive()
	runtime.KeepAlive(nc)
	if held := time.Since(start); held < 150*time.Millisecond && !still {
		t.Errorf("the session ended %v after CloseAtExit: its COM_QUIT was not held for the exit", held)
	}
	deadline := time.Now().Add(10 * time.Second)
	for alive() {
		if time.Now().After(deadline) {
			t.Fatal("the session is still there 10 s after CloseAtExit: its COM_QUIT never reached the server")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ok, err := other.Lock(ctx, 0); !ok || err != nil {
		t.Errorf("another runner's Lock once the session ended: %v, %v; want the lock", ok, err)
	}
}

// An application's own pool, opened without parseTime=true (the Go driver's
// default): the history's applied_at comes back as text, and History reads
// it all the same. Before, the first run with work to do after the first
// deploy failed ("unsupported Scan … []uint8 into *time.Time").
func TestNewWithoutParseTime(t *testing.T) {
	ctx := context.Background()
	mc, err := ParseURL(testdb.MySQL(t))
	if err != nil {
		t.Fatal(err)
	}
	mc.ParseTime = false
	connector, err := mysql.NewConnector(mc)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	d := New(db, database.Config{})
	defer d.Close(ctx)
	if err := d.EnsureHistory(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 3, 10, 4, 5, 123456000, time.UTC)
	v, _ := migration.ParseVersion("7")
	if err := d.WriteRevision(ctx, database.Revision{Version: v, Name: "x", State: database.StateApplied, AppliedAt: at}); err != nil {
		t.Fatal(err)
	}
	revs, err := d.History(ctx)
	if err != nil || len(revs) != 1 || !revs[0].AppliedAt.Equal(at) {
		t.Fatalf("History without parseTime: %v %+v, want applied_at %v", err, revs, at)
	}
}
