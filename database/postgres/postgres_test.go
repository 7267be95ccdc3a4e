package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/runwaydb/runway/adopt"
	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/database/drivertest"
	"github.com/runwaydb/runway/internal/testdb"
	"github.com/runwaydb/runway/migration"
)

func TestConformance(t *testing.T) {
	drivertest.Run(t, func(t *testing.T) (database.Driver, drivertest.Session) {
		url := testdb.Postgres(t)
		session := func(t *testing.T) database.Driver {
			return open(t, url, database.Config{Identity: "runway conformance"})
		}
		return session(t), session
	})
}

// open connects to url and closes the session when the test ends.
func open(t testing.TB, url string, cfg database.Config) *Driver {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := Open(ctx, url, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

func newDriver(t testing.TB) *Driver {
	t.Helper()
	d := open(t, testdb.Postgres(t), database.Config{Identity: "runway test"})
	if err := d.EnsureHistory(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

func st(sql string, line int) migration.Statement { return migration.Statement{SQL: sql, Line: line} }

func rev(v string) *database.Revision {
	return &database.Revision{
		Version:   migration.MustParseVersion(v),
		Name:      "m" + v,
		State:     database.StateApplied,
		AppliedAt: time.Now(),
	}
}

// query returns the first column of the first row of sql, as text.
// withSearchPath is url with the session's search_path set, through the
// options parameter; path is URL-encoded.
func withSearchPath(url, path string) string {
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "options=-csearch_path%3D" + path
}

func query(t testing.TB, d *Driver, sql string) string {
	t.Helper()
	res, err := d.pg.Exec(context.Background(), sql).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if len(res) == 0 || len(res[0].Rows) == 0 {
		return ""
	}
	return string(res[0].Rows[0][0])
}

func TestDollarQuotedFunction(t *testing.T) {
	d := newDriver(t)
	ctx := context.Background()
	fn := `CREATE FUNCTION rw_add(a integer, b integer) RETURNS integer AS $body$
BEGIN
	-- a semicolon; inside; the body
	RETURN a + b; -- 'quote' "double" \ backslash
END;
$body$ LANGUAGE plpgsql;`
	err := d.ApplyTx(ctx, []database.Step{{
		Statements: []migration.Statement{st(fn, 1), st("CREATE TABLE rw_sum AS SELECT rw_add(40, 2) AS n -- trailing comment", 8)},
		Record:     rev("1"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := query(t, d, "SELECT n FROM rw_sum"); got != "42" {
		t.Fatalf("rw_add(40, 2) = %s", got)
	}

	// A runtime error inside a function is reported at the calling statement.
	err = d.ApplyTx(ctx, []database.Step{{
		Statements: []migration.Statement{
			st(`CREATE FUNCTION rw_fail() RETURNS void AS $$ BEGIN RAISE EXCEPTION 'nope: %', 'it''s' USING ERRCODE = 'P0001', HINT = 'try again'; END $$ LANGUAGE plpgsql`, 3),
			st("SELECT rw_fail()", 9),
		},
		Record: rev("2"),
	}})
	var ee *database.ExecError
	if !errors.As(err, &ee) {
		t.Fatalf("got %v, want an ExecError", err)
	}
	if ee.Statement != 1 || ee.Line != 9 || ee.Code != "P0001" || ee.Message != "nope: it's\nHINT: try again" {
		t.Errorf("ExecError = %+v", *ee)
	}
}

func TestCreateIndexConcurrently(t *testing.T) {
	d := newDriver(t)
	ctx := context.Background()
	if err := d.ApplyTx(ctx, []database.Step{{Statements: []migration.Statement{
		st("CREATE TABLE rw_big (id integer primary key, v text)", 1),
		st("INSERT INTO rw_big SELECT g, md5(g::text) FROM generate_series(1, 1000) g", 2),
	}}}); err != nil {
		t.Fatal(err)
	}
	// Inside a transaction it is refused…
	err := d.ApplyTx(ctx, []database.Step{{Statements: []migration.Statement{st("CREATE INDEX CONCURRENTLY rw_big_v ON rw_big (v)", 5)}}})
	var ee *database.ExecError
	if !errors.As(err, &ee) || ee.Code != "25001" {
		t.Fatalf("CREATE INDEX CONCURRENTLY in ApplyTx: %v, want 25001", err)
	}
	// …and Exec runs it.
	if err := d.Exec(ctx, st("CREATE INDEX CONCURRENTLY rw_big_v ON rw_big (v);", 5)); err != nil {
		t.Fatalf("Exec CREATE INDEX CONCURRENTLY: %v", err)
	}
	if got := query(t, d, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'rw_big_v'::regclass"); got != "t" {
		t.Fatalf("index valid = %q", got)
	}
	// An error from Exec carries the position in the statement.
	err = d.Exec(ctx, st("SELECT v FROM rw_big WHERE nope = 1", 12))
	if !errors.As(err, &ee) || ee.Code != "42703" || ee.Line != 12 || ee.Position != strings.Index("SELECT v FROM rw_big WHERE nope = 1", "nope")+1 {
		t.Fatalf("Exec error = %#v", err)
	}
}

// failure is a failing transaction and where the error must be reported.
type failure struct {
	name  string
	steps []database.Step
	step  int
	stmt  int
	code  string
	at    string // the text the error position points at, "" when the server gives none
	atEnd bool   // the position is just past the statement (it stops short)
}

func failures() []failure {
	ok := func(n int) []database.Step {
		var s []database.Step
		for i := range n {
			s = append(s, database.Step{
				Statements: []migration.Statement{
					st(fmt.Sprintf("CREATE TABLE rw_ok%d (id integer primary key, note text)", i), 1),
					st(fmt.Sprintf("INSERT INTO rw_ok%d VALUES (1, 'ünïcödé ✓ before the error')", i), 2),
				},
				Record: rev(fmt.Sprint(i + 1)),
			})
		}
		return s
	}
	withStep := func(n int, stmts ...migration.Statement) []database.Step {
		return append(ok(n), database.Step{Statements: stmts, Record: rev(fmt.Sprint(n + 1))})
	}
	return []failure{
		{name: "syntax error in step 2", steps: withStep(2,
			st("CREATE TABLE rw_a (id integer)", 1),
			st("SELEC 1", 4)),
			step: 2, stmt: 1, code: "42601", at: "SELEC"},
		{name: "missing column, multi-byte text before", steps: withStep(3,
			st("INSERT INTO rw_ok0 (id, note) VALUES (2, 'ça va ✓')", 3),
			st("UPDATE rw_ok1 SET note = 'é' WHERE missing_col = 1", 5)),
			step: 3, stmt: 1, code: "42703", at: "missing_col"},
		{name: "duplicate key has no position", steps: withStep(2,
			st("INSERT INTO rw_ok0 VALUES (2, 'x')", 3),
			st("INSERT INTO rw_ok1 VALUES (1, 'dup')", 4),
			st("CREATE TABLE rw_never (id integer)", 5)),
			step: 2, stmt: 1, code: "23505"},
		{name: "verbatim block with several commands", steps: withStep(1,
			st("CREATE TABLE rw_v (id integer primary key);\nINSERT INTO rw_v VALUES (1);\nINSERT INTO rw_v VALUES (2);", 10),
			st("INSERT INTO rw_v VALUES (3); INSERT INTO rw_v VALUES (1); INSERT INTO rw_v VALUES (4)", 20),
			st("SELECT 1", 30)),
			step: 1, stmt: 1, code: "23505"},
		{name: "error in the second command of a block", steps: withStep(1,
			st("CREATE TABLE rw_w (id integer);\nINSERT INTO rw_w (nope) VALUES (1);", 10),
			st("SELECT 1", 30)),
			step: 1, stmt: 0, code: "42703", at: "nope"},
		{name: "statement with its own semicolon and a trailing comment", steps: withStep(1,
			st("CREATE TABLE rw_s (id integer); -- done", 1),
			st("  SELECT 1;", 2),
			st("INSERT INTO rw_s VALUES ('x')", 3)),
			step: 1, stmt: 2, code: "22P02", at: "'x'"},
		{name: "statement that stops short, not the last", steps: withStep(1,
			st("CREATE TABLE rw_t (a integer)", 1),
			st("SELECT 1 +", 2),
			st("SELECT 2", 3)),
			step: 1, stmt: 1, code: "42601", atEnd: true},
		{name: "comment-only statement", steps: withStep(1,
			st("-- nothing to see", 1),
			st("SELECT 1/0", 2)),
			step: 1, stmt: 1, code: "22012"},
		{name: "first statement of the first step", steps: []database.Step{{Statements: []migration.Statement{
			st("DROP TABLE rw_absent", 7)}}},
			step: 0, stmt: 0, code: "42P01"},
	}
}

func TestErrorMapping(t *testing.T) {
	ctx := context.Background()
	for _, f := range failures() {
		t.Run(f.name, func(t *testing.T) {
			d := newDriver(t)
			err := d.ApplyTx(ctx, f.steps)
			var ee *database.ExecError
			if !errors.As(err, &ee) {
				t.Fatalf("ApplyTx: %v, want an ExecError", err)
			}
			want := f.steps[f.step].Statements[f.stmt]
			if ee.Step != f.step || ee.Statement != f.stmt || ee.Line != want.Line || ee.Code != f.code {
				t.Errorf("ExecError step %d statement %d line %d code %s (%v), want step %d statement %d line %d code %s",
					ee.Step, ee.Statement, ee.Line, ee.Code, ee, f.step, f.stmt, want.Line, f.code)
			}
			if f.atEnd {
				if n := len([]rune(want.SQL)); ee.Position != n+1 {
					t.Errorf("Position %d in %q, want %d (its end)", ee.Position, want.SQL, n+1)
				}
			} else if f.at != "" {
				r := []rune(want.SQL)
				if ee.Position < 1 || ee.Position > len(r) || !strings.HasPrefix(string(r[ee.Position-1:]), f.at) {
					t.Errorf("Position %d in %q, want it at %q", ee.Position, want.SQL, f.at)
				}
			} else if ee.Position != 0 {
				t.Errorf("Position %d, want 0", ee.Position)
			}
			// Nothing left behind, and the session still works.
			if revs, err := d.History(ctx); err != nil || len(revs) != 0 {
				t.Errorf("History after a failed ApplyTx = %d rows, %v", len(revs), err)
			}
			if got := query(t, d, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'rw_%'"); got != "0" {
				t.Errorf("%s tables left behind", got)
			}

			// The straightforward implementation agrees.
			n := newDriver(t)
			nerr := naiveApply(ctx, n, f.steps)
			var ne *database.ExecError
			if !errors.As(nerr, &ne) {
				t.Fatalf("naive: %v", nerr)
			}
			// Alone, a statement that stops short ends the input; sent with
			// others, the server names the ";" after it: the same place.
			sameMessage := ne.Message == ee.Message || f.atEnd
			if ne.Step != ee.Step || ne.Statement != ee.Statement || ne.Code != ee.Code || !sameMessage || ne.Position != ee.Position {
				t.Errorf("one round trip: %d/%d %s %q pos %d; per statement: %d/%d %s %q pos %d",
					ee.Step, ee.Statement, ee.Code, ee.Message, ee.Position, ne.Step, ne.Statement, ne.Code, ne.Message, ne.Position)
			}
		})
	}
}

// naiveApply is the straightforward ApplyTx: one round trip per statement and
// per history change. It is the reference for error mapping and the baseline
// of the benchmark.
func naiveApply(ctx context.Context, d *Driver, steps []database.Step) error {
	pg := d.pg
	if _, err := pg.Exec(ctx, "BEGIN").ReadAll(); err != nil {
		return err
	}
	for i, s := range steps {
		for j, stmt := range s.Statements {
			if _, err := pg.Exec(ctx, stmt.SQL).ReadAll(); err != nil {
				d.rollback(ctx)
				var pe *pgconn.PgError
				pos := 0
				if errors.As(err, &pe) {
					pos = int(pe.Position)
				}
				return execError(ctx, err, i, j, stmt, pos)
			}
		}
		if s.Record != nil {
			sql, err := d.upsertSQL(s.Record)
			if err != nil {
				return err
			}
			if _, err := pg.Exec(ctx, sql).ReadAll(); err != nil {
				d.rollback(ctx)
				return err
			}
		}
	}
	_, err := pg.Exec(ctx, "COMMIT").ReadAll()
	return err
}

func TestHistoryFailureIsNotAStatementError(t *testing.T) {
	d := newDriver(t)
	ctx := context.Background()
	// The migration drops the history table: recording it fails.
	err := d.ApplyTx(ctx, []database.Step{{Statements: []migration.Statement{st("DROP TABLE runway_migrations", 1)}, Record: rev("1")}})
	var ee *database.ExecError
	var pe *pgconn.PgError
	if err == nil || errors.As(err, &ee) || !errors.As(err, &pe) || pe.Code != "42P01" {
		t.Fatalf("got %v, want a plain error wrapping 42P01", err)
	}
	if revs, err := d.History(ctx); err != nil || len(revs) != 0 {
		t.Fatalf("History = %v, %v", revs, err)
	}
	if query(t, d, "SELECT to_regclass('runway_migrations') IS NOT NULL") != "t" {
		t.Fatal("the history table's DROP was not rolled back")
	}
}

func TestDeferredConstraintAtCommit(t *testing.T) {
	d := newDriver(t)
	ctx := context.Background()
	err := d.ApplyTx(ctx, []database.Step{{Statements: []migration.Statement{
		st("CREATE TABLE rw_p (id integer primary key)", 1),
		st("CREATE TABLE rw_c (p integer REFERENCES rw_p DEFERRABLE INITIALLY DEFERRED)", 2),
		st("INSERT INTO rw_c VALUES (7)", 3),
	}, Record: rev("1")}})
	var ee *database.ExecError
	if !errors.As(err, &ee) || ee.Code != "23503" || !ee.AtCommit || ee.Step != 0 || ee.Statement != -1 {
		t.Fatalf("got %v (%+v), want an ExecError 23503 at the COMMIT of step 0", err, ee)
	}
}

func TestLiteralsWithoutStandardConformingStrings(t *testing.T) {
	d := newDriver(t)
	ctx := context.Background()
	query(t, d, "SET standard_conforming_strings = off")
	r := rev("1")
	r.Name = `back\slash \' quote'' \\ end\`
	r.Error = "tab\there\x00nul, bad utf8 \xff"
	if err := d.WriteRevision(ctx, *r); err != nil {
		t.Fatal(err)
	}
	revs, err := d.History(ctx)
	if err != nil || len(revs) != 1 {
		t.Fatal(revs, err)
	}
	if revs[0].Name != r.Name || revs[0].Error != "tab\therenul, bad utf8 \uFFFD" {
		t.Errorf("got name %q error %q", revs[0].Name, revs[0].Error)
	}
}

// TestAppliedAtExact: History reads applied_at to the microsecond, as UTC,
// whatever the session's DateStyle and TimeZone, before and after 2000
// (where PostgreSQL's binary timestamps count from).
func TestAppliedAtExact(t *testing.T) {
	d := newDriver(t)
	ctx := context.Background()
	query(t, d, "SET DateStyle = 'SQL, DMY'")
	query(t, d, "SET TimeZone = 'Asia/Kathmandu'")
	kathmandu := time.FixedZone("+0545", 5*3600+45*60)
	want := map[string]time.Time{
		"1": time.Date(2026, 11, 21, 23, 5, 9, 123456000, time.UTC),
		"2": time.Date(1999, 12, 31, 23, 59, 59, 999999000, kathmandu),
		"3": time.Date(1970, 1, 1, 0, 0, 0, 1000, time.UTC),
		"4": time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		"5": time.Date(2262, 4, 12, 0, 0, 0, 1000, time.UTC), // past time.Duration's range from 2000
	}
	for v, at := range want {
		r := rev(v)
		r.AppliedAt = at
		if err := d.WriteRevision(ctx, *r); err != nil {
			t.Fatal(err)
		}
	}
	revs, err := d.History(ctx)
	if err != nil || len(revs) != len(want) {
		t.Fatal(revs, err)
	}
	for _, r := range revs {
		w := want[r.Version.String()]
		if !r.AppliedAt.Equal(w) || r.AppliedAt.Location() != time.UTC {
			t.Errorf("version %s: AppliedAt = %v, want %v in UTC", r.Version, r.AppliedAt, w.UTC())
		}
	}
}

// TestAppliedAtInfinity: a row edited by hand to infinity is named, with
// what to do, instead of read as some time.
func TestAppliedAtInfinity(t *testing.T) {
	d := newDriver(t)
	if err := d.WriteRevision(context.Background(), *rev("7")); err != nil {
		t.Fatal(err)
	}
	query(t, d, "UPDATE "+d.table+" SET applied_at = 'infinity'")
	_, err := d.History(context.Background())
	if err == nil || !strings.Contains(err.Error(), "version 7: applied_at: it is ±infinity") || !strings.Contains(err.Error(), "set applied_at in that row") {
		t.Fatalf("History: %v", err)
	}
}

func TestSchemaQualifiedTable(t *testing.T) {
	url := testdb.Postgres(t)
	ctx := context.Background()
	cfg := database.Config{Table: `Rw Schema.history "t"`, Identity: "runway schema"}
	d := open(t, url, cfg)
	if revs, err := d.History(ctx); err != nil || len(revs) != 0 {
		t.Fatalf("History with a missing schema: %v, %v", revs, err)
	}
	if err := d.EnsureHistory(ctx); err == nil || !strings.Contains(err.Error(), "schema") {
		t.Fatalf("EnsureHistory with a missing schema: %v", err)
	}
	query(t, d, `CREATE SCHEMA "Rw Schema"`)
	if err := d.EnsureHistory(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.ApplyTx(ctx, []database.Step{{Statements: []migration.Statement{st("CREATE TABLE rw_q (id int)", 1)}, Record: rev("1")}}); err != nil {
		t.Fatal(err)
	}
	if got := query(t, d, `SELECT version FROM "Rw Schema"."history ""t"""`); got != "1" {
		t.Fatalf("row in the schema's table: %q", got)
	}
	// Another table is another history with another lock.
	other := open(t, url, database.Config{})
	for _, x := range []*Driver{d, other} {
		if ok, err := x.Lock(ctx, 0); !ok || err != nil {
			t.Fatalf("Lock on %s: %v %v", x.table, ok, err)
		}
	}
	if revs, err := other.History(ctx); err != nil || len(revs) != 0 {
		t.Fatalf("default table's History = %v, %v", revs, err)
	}

	for _, bad := range []string{"a.b.c", ".t", "s.", ""} {
		if bad == "" {
			continue // empty means the default table
		}
		if _, err := Open(ctx, url, database.Config{Table: bad}); err == nil {
			t.Errorf("Open with table %q succeeded", bad)
		}
	}
}

func TestLockHolderText(t *testing.T) {
	url := testdb.Postgres(t)
	ctx := context.Background()
	a := open(t, url, database.Config{Identity: "runway web-1 pid=42"})
	b := open(t, url, database.Config{Identity: "runway web-2 pid=7"})
	if ok, err := a.Lock(ctx, 0); !ok || err != nil {
		t.Fatal(ok, err)
	}
	h, err := b.LockHolder(ctx)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^runway web-1 pid=42 \(pid \d+ on 127\.0\.0\.1\) since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
	if !re.MatchString(h) {
		t.Fatalf("LockHolder = %q, want %s", h, re)
	}
	if got := query(t, a, "SHOW application_name"); !strings.HasPrefix(got, "runway web-1 pid=42 locked since ") {
		t.Errorf("application_name while locked = %q", got)
	}
	if err := a.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if got := query(t, a, "SHOW application_name"); got != "runway web-1 pid=42" {
		t.Errorf("application_name after Unlock = %q", got)
	}

	// A long identity is cut so the time survives the 63-byte limit.
	long := open(t, url, database.Config{Identity: "runway ip-10-0-12-34.eu-west-1.compute.internal pid=123456"})
	if ok, err := long.Lock(ctx, time.Second); !ok || err != nil {
		t.Fatal(ok, err)
	}
	h, _ = b.LockHolder(ctx)
	if !regexp.MustCompile(`^runway ip-10-0-12-34\.eu-west- \(pid \d+ on 127\.0\.0\.1\) since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(h) {
		t.Errorf("LockHolder with a long identity = %q", h)
	}
	t.Log(h)

	// The URL's application_name wins over Identity.
	c := open(t, url+"&application_name=deployer", database.Config{Identity: "ignored"})
	if got := query(t, c, "SHOW application_name"); got != "deployer" {
		t.Errorf("application_name = %q, want the URL's", got)
	}
}

// Lock(ctx, 0) tries once, in both lock modes: it takes a free lock, holds
// the one this driver took, and fails without error while another session
// holds the lock, exclusively (a runner) or shared (a waiter being let
// through as the holder lets go), which LockHolder then names.
func TestLockAttempt(t *testing.T) {
	url := testdb.Postgres(t)
	ctx := context.Background()
	for name, mode := range map[string]database.LockMode{"session": database.LockModeSession, "table": database.LockModeTable} {
		t.Run(name, func(t *testing.T) {
			a := open(t, url, database.Config{Identity: "runway web-1 pid=42", LockMode: mode, LeaseTTL: testTTL})
			b := open(t, url, database.Config{Identity: "runway web-2 pid=7", LockMode: mode, LeaseTTL: testTTL})
			if ok, err := b.Lock(ctx, 0); !ok || err != nil {
				t.Fatalf("Lock(0) of a free lock = %v, %v; want true", ok, err)
			}
			if ok, err := b.Lock(ctx, 0); !ok || err != nil {
				t.Fatalf("Lock(0) of a lock this driver holds = %v, %v; want true", ok, err)
			}
			if err := b.Unlock(ctx); err != nil {
				t.Fatal(err)
			}
			if ok, err := a.Lock(ctx, 0); !ok || err != nil {
				t.Fatal(ok, err)
			}
			if ok, err := b.Lock(ctx, 0); ok || err != nil {
				t.Fatalf("Lock(0) while another session holds the lock = %v, %v; want false", ok, err)
			}
			if h, err := b.LockHolder(ctx); err != nil || !strings.HasPrefix(h, "runway web-1 pid=42") {
				t.Errorf("LockHolder = %q, %v; want runway web-1 pid=42", h, err)
			}
			if err := a.Unlock(ctx); err != nil {
				t.Fatal(err)
			}
			if mode == database.LockModeSession {
				// A session holding the lock shared passes the first, shared
				// look; the attempt proper must still fail.
				query(t, a, fmt.Sprintf("SELECT pg_advisory_lock_shared(%d)", a.key))
				if ok, err := b.Lock(ctx, 0); ok || err != nil {
					t.Fatalf("Lock(0) while another session holds the lock shared = %v, %v; want false", ok, err)
				}
				query(t, a, fmt.Sprintf("SELECT pg_advisory_unlock_shared(%d)", a.key))
			}
			if ok, err := b.Lock(ctx, 0); !ok || err != nil {
				t.Fatalf("Lock(0) after the holder let go = %v, %v; want true", ok, err)
			}
			if mode == database.LockModeSession {
				if got := query(t, b, "SHOW application_name"); !strings.HasPrefix(got, "runway web-2 pid=7 locked since ") {
					t.Errorf("application_name after Lock(0) = %q", got)
				}
			}
			if err := b.Unlock(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLockWithoutWaitKeepsSettings(t *testing.T) {
	url := testdb.Postgres(t)
	ctx := context.Background()
	a := open(t, url, database.Config{})
	b := open(t, url, database.Config{})
	query(t, b, "SET lock_timeout = '7s'")
	a.Lock(ctx, 0)
	if ok, err := b.Lock(ctx, 100*time.Millisecond); ok || err != nil {
		t.Fatal(ok, err)
	}
	if got := query(t, b, "SHOW lock_timeout"); got != "7s" {
		t.Errorf("lock_timeout after a timed-out wait = %q, want 7s", got)
	}
	a.Unlock(ctx)
	if ok, err := b.Lock(ctx, time.Second); !ok || err != nil {
		t.Fatal(ok, err)
	}
	// After a success RESET restores the session's default (the URL's
	// options or the role's), which is the only lock_timeout Runway sets.
	if got := query(t, b, "SHOW lock_timeout"); got != "0" {
		t.Errorf("lock_timeout after Lock = %q, want the default 0", got)
	}
}

// fakeServer accepts one connection, asks for a cleartext password and
// rejects it with message(password).
func fakeServer(t *testing.T, message func(pw string) string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				be := pgproto3.NewBackend(c, c)
				if _, err := be.ReceiveStartupMessage(); err != nil {
					return
				}
				be.Send(&pgproto3.AuthenticationCleartextPassword{})
				be.Flush()
				be.SetAuthType(pgproto3.AuthTypeCleartextPassword)
				msg, err := be.Receive()
				if err != nil {
					return
				}
				pw := ""
				if m, ok := msg.(*pgproto3.PasswordMessage); ok {
					pw = m.Password
				}
				be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01", Message: message(pw)})
				be.Flush()
			}()
		}
	}()
	return ln.Addr().String()
}

func TestWrongPassword(t *testing.T) {
	ctx := context.Background()
	const pw = "s3cr3t-Pa55word"
	for _, tc := range []struct {
		name string
		msg  func(string) string
	}{
		{"server", func(string) string { return `password authentication failed for user "runway"` }},
		{"server echoing the password", func(p string) string { return "password " + p + " is wrong" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := fakeServer(t, tc.msg)
			for _, url := range []string{
				"postgres://runway:" + pw + "@" + addr + "/app?sslmode=disable",
				"postgresql://runway:" + pw + "@" + addr + "/app?sslmode=disable&connect_timeout=5",
				"host=" + strings.Split(addr, ":")[0] + " port=" + strings.Split(addr, ":")[1] + " user=runway password=" + pw + " sslmode=disable",
			} {
				_, err := Open(ctx, url, database.Config{})
				if !errors.Is(err, database.ErrConnect) || !errors.Is(err, database.ErrAuth) {
					t.Fatalf("Open: %v, want ErrConnect and ErrAuth", err)
				}
				var pe *pgconn.PgError
				if !errors.As(err, &pe) || pe.Code != "28P01" {
					t.Errorf("the server's error is not reachable: %v", err)
				}
				if strings.Contains(err.Error(), pw) || strings.Contains(fmt.Sprintf("%+v", err), pw) {
					t.Errorf("error shows the password: %v", err)
				}
				t.Log(err)
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, url := range []string{
		"postgres://runway:hunter22@127.0.0.1:1/app?sslmode=disable",
		"postgres://runway:hunter22@no-such-host.invalid:5432/app?sslmode=disable&connect_timeout=5",
	} {
		start := time.Now()
		_, err := Open(ctx, url, database.Config{})
		if !errors.Is(err, database.ErrConnect) {
			t.Fatalf("Open(%s): %v, want ErrConnect", url, err)
		}
		if strings.Contains(err.Error(), "hunter22") {
			t.Errorf("error shows the password: %v", err)
		}
		if el := time.Since(start); el > 10*time.Second {
			t.Errorf("Open took %v", el)
		}
		t.Log(err)
	}
	// A malformed URL is not a connection failure, and does not leak either.
	_, err := Open(ctx, "postgres://runway:hunter22@127.0.0.1:notaport/app", database.Config{})
	if err == nil || errors.Is(err, database.ErrConnect) || strings.Contains(err.Error(), "hunter22") {
		t.Errorf("malformed URL: %v", err)
	}
	t.Log(err)
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"":           "E''",
		"it's":       `E'it''s'`,
		`a\b`:        `E'a\\b'`,
		"nul\x00":    "E'nul'",
		"\xffok":     "E'\uFFFDok'",
		"$$ $x$ --;": "E'$$ $x$ --;'",
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestMain(m *testing.M) {
	// Re-executed as the lease holder of TestLeaseExpiresWhenHolderKilled.
	if url := os.Getenv(leaseHolderEnv); url != "" {
		os.Exit(leaseHolder(url))
	}
	testdb.Main(m)
}

// TestCloseAtExit: the session's Terminate waits in the kernel for the
// process's exit (here, in a process that goes on, for TCP_CORK's 200 ms
// ceiling) and then ends the session as Close does; a lease is deleted
// first, so another runner may take the lock at once.
func TestCloseAtExit(t *testing.T) {
	for name, mode := range map[string]database.LockMode{"session": database.LockModeSession, "table": database.LockModeTable} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			url := testdb.Postgres(t)
			cfg := database.Config{Identity: "runway test", LockMode: mode}
			d, err := Open(ctx, url, cfg)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if ok, err := d.Lock(ctx, 0); !ok || err != nil {
				t.Fatalf("Lock: %v, %v", ok, err)
			}
			pid := d.pg.PID()
			other := open(t, url, cfg)
			alive := func() bool {
				rows, err := other.QueryStrings(ctx, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid)
				if err != nil {
					t.Fatal(err)
				}
				return *rows[0][0] == "1"
			}
			// The socket, kept reachable until the check below: its
			// finalizer would close it, and send the held Terminate, when
			// a collection (under a loaded test run) finds it unreachable.
			nc := d.pg.Conn()
			start := time.Now()
			if err := d.CloseAtExit(ctx); err != nil {
				t.Fatalf("CloseAtExit: %v", err)
			}
			if mode == database.LockModeTable {
				// The lease is gone: the lock is free although the
				// session is not over yet.
				if ok, err := other.Lock(ctx, 0); !ok || err != nil {
					t.Fatalf("another runner's Lock after CloseAtExit: %v, %v; want the lock", ok, err)
				}
				if err := other.Unlock(ctx); err != nil {
					t.Fatal(err)
				}
			}
			runtime.GC()
			time.Sleep(50 * time.Millisecond)
			still := alive()
			runtime.KeepAlive(nc)
			if held := time.Since(start); held < 150*time.Millisecond && !still {
				t.Errorf("the session ended %v after CloseAtExit: its Terminate was not held for the exit", held)
			}
			deadline := time.Now().Add(10 * time.Second)
			for alive() {
				if time.Now().After(deadline) {
					t.Fatal("the session is still there 10 s after CloseAtExit: its Terminate never reached the server")
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// Other tools' history tables are looked for in the current schema, where
// Runway's own would go: one in another schema is not found until the
// search path names that schema; a relation of a tool's name that is not a
// table (an index) is not a tool's, nor is a table under the name in
// another case.
func TestDetectOtherToolsInTheCurrentSchema(t *testing.T) {
	url := testdb.Postgres(t)
	ctx := context.Background()
	d := open(t, url, database.Config{Identity: "public"})
	for _, sql := range []string{
		`CREATE SCHEMA "App S"`,
		`CREATE TABLE "App S".goose_db_version (id serial primary key, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp)`,
		`CREATE INDEX schema_migrations ON "App S".goose_db_version (version_id)`,
		`CREATE TABLE "App S"."GORP_MIGRATIONS" (id text primary key, applied_at timestamptz)`,
	} {
		query(t, d, sql)
	}
	detect := func(d *Driver) []adopt.Tool {
		t.Helper()
		tools, err := adopt.Detect(ctx, d, migration.Postgres)
		if err != nil {
			t.Fatal(err)
		}
		return tools
	}
	if got := detect(d); len(got) != 0 {
		t.Errorf("with the tables in another schema: Detect = %v, want none", got)
	}
	// search_path="App\ S" (the options' words are split at spaces).
	onApp := open(t, withSearchPath(url, "%22App%5C%20S%22"), database.Config{Identity: "on App S"})
	if got := query(t, onApp, "SELECT current_schema()"); got != "App S" {
		t.Fatalf("current_schema() = %q, want App S", got)
	}
	if got, want := detect(onApp), []adopt.Tool{adopt.Goose}; !slices.Equal(got, want) {
		t.Errorf("with the search path on the tables' schema: Detect = %v, want %v", got, want)
	}
}
