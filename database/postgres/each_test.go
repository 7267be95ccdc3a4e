package postgres

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/internal/rawconn"
	"github.com/runwaydb/runway/migration"
)

// eachSteps returns n steps, step i creating table rw_each_i and recording version i+1.
func eachSteps(n int) []database.Step {
	steps := make([]database.Step, n)
	for i := range steps {
		r := rev(strconv.Itoa(i + 1))
		r.StatementsApplied, r.StatementsTotal = 2, 2
		steps[i] = database.Step{Statements: []migration.Statement{
			st("CREATE TABLE rw_each_"+strconv.Itoa(i)+" (id bigserial PRIMARY KEY, name text NOT NULL)", 1),
			st("CREATE INDEX ON rw_each_"+strconv.Itoa(i)+" (name)", 2),
		}, Record: r}
	}
	return steps
}

// applyEach runs ApplyEach and returns the steps reported committed, in order.
func applyEach(t *testing.T, d *Driver, steps []database.Step) ([]int, int, error) {
	t.Helper()
	var got []int
	n, err := d.ApplyEach(context.Background(), steps, func(i int) { got = append(got, i) })
	if len(got) != n {
		t.Errorf("ApplyEach returned %d but reported %v committed", n, got)
	}
	return got, n, err
}

func historyVersions(t *testing.T, d *Driver) []string {
	t.Helper()
	revs, err := d.History(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var vs []string
	for _, r := range revs {
		vs = append(vs, r.Version.String())
	}
	slices.SortFunc(vs, func(a, b string) int {
		return migration.MustParseVersion(a).Compare(migration.MustParseVersion(b))
	})
	return vs
}

func TestApplyEach(t *testing.T) {
	d := newDriver(t)
	steps := eachSteps(5)
	got, n, err := applyEach(t, d, steps)
	if err != nil || n != 5 || !slices.Equal(got, []int{0, 1, 2, 3, 4}) {
		t.Fatalf("ApplyEach = %d, %v; committed %v", n, err, got)
	}
	if vs := historyVersions(t, d); !slices.Equal(vs, []string{"1", "2", "3", "4", "5"}) {
		t.Fatalf("history %v", vs)
	}
	for i := range 5 {
		if query(t, d, "SELECT to_regclass('rw_each_"+strconv.Itoa(i)+"') IS NOT NULL") != "t" {
			t.Errorf("table rw_each_%d missing", i)
		}
	}
	if st := d.pg.TxStatus(); st != 'I' {
		t.Errorf("session left in transaction status %q", st)
	}
	// Each row was written in its own transaction: their xmin differ.
	if got := query(t, d, "SELECT count(DISTINCT xmin::text) FROM "+d.table); got != "5" {
		t.Errorf("the 5 rows were written by %s transactions, want 5", got)
	}
}

// TestApplyEachServerTimes: each row records when its step started and how
// long it ran, by the server's clock, whatever the Record carried.
func TestApplyEachServerTimes(t *testing.T) {
	d := newDriver(t)
	steps := eachSteps(3)
	steps[1].Statements = append(steps[1].Statements, st("SELECT pg_sleep(0.3)", 3))
	for _, s := range steps {
		s.Record.AppliedAt = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
		s.Record.Duration = 42 * time.Hour
	}
	before := query(t, d, "SELECT extract(epoch FROM clock_timestamp())")
	if _, _, err := applyEach(t, d, steps); err != nil {
		t.Fatal(err)
	}
	revs, err := d.History(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := strconv.ParseFloat(before, 64)
	start := time.Unix(0, int64(b*1e9))
	at := map[string]time.Time{}
	for _, r := range revs {
		at[r.Version.String()] = r.AppliedAt
		if r.AppliedAt.Before(start.Add(-time.Millisecond)) || r.AppliedAt.After(start.Add(time.Minute)) {
			t.Errorf("version %s: applied_at %v, want the server's time of the run (after %v)", r.Version, r.AppliedAt, start)
		}
		switch v := r.Version.String(); {
		case v == "2" && r.Duration < 300*time.Millisecond:
			t.Errorf("version 2 slept 0.3 s: duration %v", r.Duration)
		case v != "2" && r.Duration >= 300*time.Millisecond:
			t.Errorf("version %s: duration %v, want its own step's", v, r.Duration)
		}
	}
	if !at["1"].Before(at["2"]) || at["3"].Sub(at["2"]) < 300*time.Millisecond {
		t.Errorf("applied_at 1 %v, 2 %v, 3 %v: want each step's start", at["1"], at["2"], at["3"])
	}
}

// TestApplyEachReportsEachCommit: the caller hears of a step's commit as it
// happens, not when the whole query ends: the server is made to send its
// results after each commit.
func TestApplyEachReportsEachCommit(t *testing.T) {
	d := newDriver(t)
	steps := eachSteps(3)
	steps[2].Statements = append(steps[2].Statements, st("SELECT pg_sleep(1)", 3))
	var at []time.Time
	_, err := d.ApplyEach(context.Background(), steps, func(int) { at = append(at, time.Now()) })
	end := time.Now()
	if err != nil || len(at) != 3 {
		t.Fatalf("ApplyEach: %v, %d commits reported", err, len(at))
	}
	// Step 2 sleeps a second after step 1 committed: hearing of step 1 a
	// second before the end is possible only if it was sent then.
	if gap := end.Sub(at[1]); gap < 900*time.Millisecond {
		t.Errorf("step 1's commit was reported %v before the end, want ≥ 1 s (step 2 sleeps 1 s after it)", gap)
	}
}

// TestApplyEachGathers: a query of many steps takes its answers a tick at
// a time (rawconn.Gather): each commit is still reported as it happens, a
// failure still stops the query where it is, and the socket wakes on each
// answer again afterwards. A query of a few steps is not gathered.
func TestApplyEachGathers(t *testing.T) {
	d := newDriver(t)
	nc := d.pg.Conn()
	gathering := func() bool { return rawconn.Gathering(nc) }
	gathers := runtime.GOOS == "linux" && nc.RemoteAddr().Network() == "tcp" // where Gather does anything
	steps := eachSteps(gatherMinSteps + 8)
	steps[19].Statements = append(steps[19].Statements, st("SELECT pg_sleep(1)", 3))
	steps[30].Statements = append(steps[30].Statements, st("INSERT INTO rw_missing VALUES (1)", 4))
	var marks []bool
	var at []time.Time
	n, err := d.ApplyEach(context.Background(), steps, func(int) { marks = append(marks, gathering()); at = append(at, time.Now()) })
	end := time.Now()
	var ee *database.ExecError
	if n != 30 || !errors.As(err, &ee) || ee.Step != 30 || ee.Line != 4 || ee.Code != "42P01" {
		t.Fatalf("ApplyEach = %d, %v; want 30 committed and step 30's missing table on line 4", n, err)
	}
	if len(marks) != 30 || (gathers && slices.Contains(marks, false)) {
		t.Errorf("gathering as each commit was reported: %v; want 30 reports, all while gathering", marks)
	}
	if gap := end.Sub(at[18]); gap < 900*time.Millisecond {
		t.Errorf("step 18's commit was reported %v before the end, want ≥ 1 s (step 19 sleeps 1 s after it)", gap)
	}
	if gathering() {
		t.Error("still gathering after the query")
	}
	if vs := historyVersions(t, d); len(vs) != 30 || vs[29] != "30" {
		t.Errorf("history %v, want 1 to 30", vs)
	}
	marks = nil
	rest := eachSteps(gatherMinSteps + 8)[30:] // fewer than gatherMinSteps
	if _, err := d.ApplyEach(context.Background(), rest, func(int) { marks = append(marks, gathering()) }); err != nil || len(marks) != len(rest) || slices.Contains(marks, true) {
		t.Errorf("a query of the %d steps left: %v, gathering %v; want %d commits, not gathered", len(rest), err, marks, len(rest))
	}
}

func TestApplyEachFailure(t *testing.T) {
	d := newDriver(t)
	steps := eachSteps(4)
	steps[2].Statements = append(steps[2].Statements, st("INSERT INTO rw_missing (id)\nVALUES (1)", 7))
	got, n, err := applyEach(t, d, steps)
	var ee *database.ExecError
	if !errors.As(err, &ee) {
		t.Fatalf("ApplyEach: %v (%T), want an ExecError", err, err)
	}
	if n != 2 || !slices.Equal(got, []int{0, 1}) {
		t.Errorf("committed %d %v, want steps 0 and 1", n, got)
	}
	if ee.Step != 2 || ee.Statement != 2 || ee.Line != 7 || ee.Code != "42P01" || ee.Position == 0 {
		t.Errorf("ExecError step %d statement %d line %d code %s position %d, want step 2 statement 2 line 7 42P01 with a position",
			ee.Step, ee.Statement, ee.Line, ee.Code, ee.Position)
	}
	if vs := historyVersions(t, d); !slices.Equal(vs, []string{"1", "2"}) {
		t.Errorf("history %v, want 1 and 2", vs)
	}
	// The failing step rolled back and the one after it never ran.
	if query(t, d, "SELECT to_regclass('rw_each_2') IS NULL AND to_regclass('rw_each_3') IS NULL") != "t" {
		t.Error("tables of the failed step or of the step after it exist")
	}
	if st := d.pg.TxStatus(); st != 'I' {
		t.Errorf("session left in transaction status %q", st)
	}
	// The session goes on: the steps not applied apply now.
	if _, n, err := applyEach(t, d, eachSteps(4)[2:]); err != nil || n != 2 {
		t.Fatalf("applying the rest: %d, %v", n, err)
	}
	if vs := historyVersions(t, d); !slices.Equal(vs, []string{"1", "2", "3", "4"}) {
		t.Errorf("history %v, want 1 to 4", vs)
	}
}

// TestApplyEachFailureAtCommit: a deferred constraint fails at a middle
// step's COMMIT: that step is named, and no statement of it.
func TestApplyEachFailureAtCommit(t *testing.T) {
	d := newDriver(t)
	steps := eachSteps(3)
	steps[1].Statements = []migration.Statement{
		st("CREATE TABLE rw_p (id integer PRIMARY KEY)", 1),
		st("CREATE TABLE rw_c (p integer REFERENCES rw_p DEFERRABLE INITIALLY DEFERRED)", 2),
		st("INSERT INTO rw_c VALUES (7)", 5),
	}
	got, n, err := applyEach(t, d, steps)
	var ee *database.ExecError
	if !errors.As(err, &ee) || ee.Code != "23503" || ee.Step != 1 || !ee.AtCommit || ee.Statement != -1 || ee.Line != 0 {
		t.Fatalf("got %v (%+v), want an ExecError 23503 at step 1's COMMIT", err, ee)
	}
	if n != 1 || !slices.Equal(got, []int{0}) {
		t.Errorf("committed %d %v, want step 0", n, got)
	}
	if vs := historyVersions(t, d); !slices.Equal(vs, []string{"1"}) {
		t.Errorf("history %v, want 1", vs)
	}
}

// TestApplyEachWithoutPLpgSQL: a server without PL/pgSQL cannot raise the
// notice that reports each commit; every step is applied all the same.
func TestApplyEachWithoutPLpgSQL(t *testing.T) {
	d := newDriver(t)
	query(t, d, "DROP EXTENSION plpgsql")
	got, n, err := applyEach(t, d, eachSteps(4))
	if err != nil || n != 4 || !slices.Equal(got, []int{0, 1, 2, 3}) {
		t.Fatalf("ApplyEach = %d, %v; committed %v", n, err, got)
	}
	if vs := historyVersions(t, d); !slices.Equal(vs, []string{"1", "2", "3", "4"}) {
		t.Errorf("history %v", vs)
	}
	if !d.noFlush {
		t.Error("the driver did not note that the server cannot raise the notice")
	}
	// A failure among them is still the failing step's.
	steps := eachSteps(7)[4:]
	steps[1].Statements = append(steps[1].Statements, st("SELECT 1/0", 9))
	got, n, err = applyEach(t, d, steps)
	var ee *database.ExecError
	if !errors.As(err, &ee) || ee.Step != 1 || ee.Line != 9 || n != 1 || !slices.Equal(got, []int{0}) {
		t.Fatalf("got %d %v, %v (%+v), want step 0 committed and step 1 failing at line 9", n, got, err, ee)
	}
}

// TestApplyEachCancelled: cancelled while a step runs, the steps before it
// stay committed and are reported so; the session and its lock remain.
func TestApplyEachCancelled(t *testing.T) {
	d := newDriver(t)
	ctx := context.Background()
	if ok, err := d.Lock(ctx, 0); !ok || err != nil {
		t.Fatalf("Lock: %v %v", ok, err)
	}
	steps := eachSteps(3)
	steps[1].Statements = append(steps[1].Statements, st("SELECT pg_sleep(30)", 3))
	cctx, cancel := context.WithCancel(ctx)
	var got []int
	n, err := d.ApplyEach(cctx, steps, func(i int) {
		got = append(got, i)
		if i == 0 {
			time.AfterFunc(300*time.Millisecond, cancel)
		}
	})
	cancel()
	if err == nil || n != 1 || !slices.Equal(got, []int{0}) {
		t.Fatalf("ApplyEach = %d, %v; committed %v, want step 0 then a failure", n, err, got)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not say the run was cancelled", err)
	}
	if vs := historyVersions(t, d); !slices.Equal(vs, []string{"1"}) {
		t.Errorf("history %v, want 1", vs)
	}
	if err := d.Unlock(ctx); err != nil {
		t.Errorf("Unlock after the cancel: %v", err)
	}
}

func TestServerMajor(t *testing.T) {
	for v, want := range map[string]int{"15.4 (Debian 15.4-1.pgdg120+1)": 15, "12.17": 12, "9.6.24": 9, "13beta2": 0, "": 0} {
		got, ok := serverMajor(v)
		if ok != (want > 0) || got != want {
			t.Errorf("serverMajor(%q) = %d, %v; want %d", v, got, ok, want)
		}
	}
}

// TestApplyEachQueryTimeout: where statement_timeout would count a whole
// query (before PostgreSQL 13), each step goes in a query of its own, with
// the same results. statement_timestamp() tells queries apart: it is when
// the server received the query, shared by all the statements in it.
func TestApplyEachQueryTimeout(t *testing.T) {
	d := newDriver(t)
	query(t, d, "CREATE TABLE rw_ts (t timestamptz)")
	stamped := func() []database.Step {
		steps := eachSteps(4)
		for i := range steps {
			steps[i].Statements = append(steps[i].Statements, st("INSERT INTO rw_ts VALUES (statement_timestamp())", 3))
		}
		return steps
	}
	// All in one query: one receipt time.
	if _, n, err := applyEach(t, d, stamped()[:2]); err != nil || n != 2 {
		t.Fatalf("ApplyEach = %d, %v", n, err)
	}
	if got := query(t, d, "SELECT count(DISTINCT t) FROM rw_ts"); got != "1" {
		t.Fatalf("one query: %s receipt times, want 1", got)
	}
	// A query a step: a receipt time each.
	d.queryTimeout = true
	query(t, d, "TRUNCATE rw_ts")
	if got, n, err := applyEach(t, d, stamped()[2:]); err != nil || n != 2 || !slices.Equal(got, []int{0, 1}) {
		t.Fatalf("ApplyEach a query a step = %d, %v; committed %v", n, err, got)
	}
	if got := query(t, d, "SELECT count(DISTINCT t) FROM rw_ts"); got != "2" {
		t.Fatalf("a query a step: %s receipt times for 2 steps, want 2", got)
	}
	// A failure is the failing step's, counted in the whole list.
	steps := eachSteps(7)[4:]
	steps[1].Statements = append(steps[1].Statements, st("SELECT 1/0", 4))
	got, n, err := applyEach(t, d, steps)
	var ee *database.ExecError
	if !errors.As(err, &ee) || ee.Step != 1 || ee.Line != 4 || ee.Code != "22012" || n != 1 || !slices.Equal(got, []int{0}) {
		t.Fatalf("got %d %v, %v; want step 0 committed and step 1 failing on line 4 (division by zero)", n, got, err)
	}
	if vs := historyVersions(t, d); !slices.Equal(vs, []string{"1", "2", "3", "4", "5"}) {
		t.Errorf("history %v, want 1 to 5", vs)
	}
}

// TestApplyEachSyntaxError: the server rejects a query with a syntax error
// whole, before running any of it; the steps before the bad one are
// applied all the same, and the error names the bad one's statement.
func TestApplyEachSyntaxError(t *testing.T) {
	d := newDriver(t)
	steps := eachSteps(4)
	steps[2].Statements = append(steps[2].Statements, st("CREAT TABLE rw_typo (id int)", 8))
	got, n, err := applyEach(t, d, steps)
	var ee *database.ExecError
	if !errors.As(err, &ee) || ee.Step != 2 || ee.Statement != 2 || ee.Line != 8 || ee.Code != "42601" || ee.Position != 1 {
		t.Fatalf("ApplyEach: %v (%+v), want the syntax error of step 2's statement 2 (line 8) at its first character", err, ee)
	}
	if n != 2 || !slices.Equal(got, []int{0, 1}) {
		t.Errorf("committed %d %v, want steps 0 and 1", n, got)
	}
	if vs := historyVersions(t, d); !slices.Equal(vs, []string{"1", "2"}) {
		t.Errorf("history %v, want 1 and 2", vs)
	}
	// A syntax error in the first step: nothing to apply before it.
	steps = eachSteps(2)
	steps[0].Statements[0] = st("CREATE TABLE rw_bad (id int,)", 3)
	got, n, err = applyEach(t, d, steps)
	if !errors.As(err, &ee) || ee.Step != 0 || ee.Line != 3 || ee.Code != "42601" || n != 0 || len(got) != 0 {
		t.Fatalf("ApplyEach: %d %v, %v; want step 0's syntax error on line 3", n, got, err)
	}
}

// TestApplyEachOwnCommit: a migration that commits by itself (as
// ALTER TYPE … ADD VALUE once required) is applied and recorded, as one
// sent alone was; its row's times are then the server's at recording.
func TestApplyEachOwnCommit(t *testing.T) {
	d := newDriver(t)
	steps := eachSteps(3)
	steps[1].Statements = []migration.Statement{
		st("CREATE TABLE rw_own (id int)", 1),
		st("COMMIT", 2),
		st("INSERT INTO rw_own VALUES (1)", 3),
	}
	got, n, err := applyEach(t, d, steps)
	if err != nil || n != 3 || !slices.Equal(got, []int{0, 1, 2}) {
		t.Fatalf("ApplyEach = %d, %v; committed %v", n, err, got)
	}
	revs, err := d.History(context.Background())
	if err != nil || len(revs) != 3 {
		t.Fatalf("history %v, %v", revs, err)
	}
	for _, r := range revs {
		if r.AppliedAt.IsZero() || time.Since(r.AppliedAt) > time.Hour || r.AppliedAt.Year() == 2001 {
			t.Errorf("version %s: applied_at %v", r.Version, r.AppliedAt)
		}
	}
	if query(t, d, "SELECT count(*) FROM rw_own") != "1" {
		t.Error("the migration's insert is missing")
	}
}

// A migration that may set the search_path is followed by a RESET, in any
// case the statement spells it.
func TestSetsSearchPath(t *testing.T) {
	for sql, want := range map[string]bool{
		"SET search_path TO app":                                 true,
		"SET SEARCH_PATH TO app":                                 true,
		"set Search_Path = app, public":                          true,
		"SELECT pg_catalog.set_config('search_path', '', false)": true,
		"SET search_path":                                        true,
		"search_path":                                            true,
		"SET searchXpath TO app":                                 false,
		"SET search-path TO app":                                 false,
		"SET search\x7fpath TO app":                              false,
		"SET search_pat":                                         false,
		"CREATE TABLE t (search_paths text)":                     true, // may: a RESET costs nothing
		"SET SCHEMA 'app'":                                       true,
		"set local schema 'app'":                                 true,
		"CREATE TABLE t (id int)":                                false,
		"":                                                       false,
	} {
		if got := setsSearchPath([]migration.Statement{st("SELECT 1", 1), st(sql, 2)}); got != want {
			t.Errorf("setsSearchPath(%q) = %v, want %v", sql, got, want)
		}
	}
}
