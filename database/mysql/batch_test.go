package mysql

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/internal/rawconn"
	"github.com/runwaydb/runway/internal/testdb"
	"github.com/runwaydb/runway/migration"
)

// ExecRecorded applies a migration in one message; the row tells exactly how
// far a failing one got, and a resumed run continues from there.
func TestExecRecorded(t *testing.T) {
	ctx := context.Background()
	d := open(t, testdb.MySQL(t), database.Config{Identity: "runway test"})
	if err := d.EnsureHistory(ctx); err != nil {
		t.Fatal(err)
	}
	stmt := func(sql string, line int) migration.Statement { return migration.Statement{SQL: sql, Line: line} }
	sums := func(stmts []migration.Statement) string {
		var out []string
		for _, s := range stmts {
			out = append(out, s.Checksum())
		}
		return strings.Join(out, ",")
	}
	running := func(v string, applied int, prior []migration.Statement) database.Revision {
		r := database.Revision{Version: migration.MustParseVersion(v), Name: "m" + v, Checksum: "c" + v,
			State: database.StateRunning, AppliedBy: "test", StatementsApplied: applied}
		for _, s := range prior {
			r.StatementChecksums = append(r.StatementChecksums, s.Checksum())
		}
		return r
	}
	row := func(v string) database.Revision {
		t.Helper()
		revs, err := d.History(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range revs {
			if r.Version.String() == v {
				return r
			}
		}
		t.Fatalf("no row %s", v)
		return database.Revision{}
	}

	ok := []migration.Statement{
		stmt("CREATE TABLE rec_a (id int primary key, note text) -- ends in a comment", 1),
		stmt("INSERT INTO rec_a VALUES (1, 'semi;colon'), (2, 'it''s')", 2),
		stmt("CREATE INDEX rec_a_note ON rec_a (note(10))", 3),
	}
	r := running("1", 0, nil)
	n, err := d.ExecRecorded(ctx, ok, r, r)
	if err != nil || n != 3 {
		t.Fatalf("ExecRecorded = %d, %v", n, err)
	}
	got := row("1")
	if got.State != database.StateApplied || got.StatementsApplied != 3 || got.StatementsTotal != 3 || strings.Join(got.StatementChecksums, ",") != sums(ok) {
		t.Fatalf("row after success: %+v", got)
	}

	bad := []migration.Statement{
		stmt("CREATE TABLE rec_b (id int primary key)", 1),
		stmt("INSERT INTO rec_b VALUES (1), (1)", 4),
		stmt("CREATE TABLE rec_c (id int)", 7),
	}
	r = running("2", 0, nil)
	n, err = d.ExecRecorded(ctx, bad, r, r)
	var ee *database.ExecError
	if n != 1 || !errors.As(err, &ee) || ee.Line != 4 || ee.Code != "1062" {
		t.Fatalf("failing migration: n=%d, %#v (%v); want 1 and the duplicate key on line 4", n, ee, err)
	}
	if got := row("2"); got.State != database.StateRunning || got.StatementsApplied != 1 || strings.Join(got.StatementChecksums, ",") != sums(bad[:1]) {
		t.Fatalf("row after failure: %+v", got)
	}
	if err := d.Exec(ctx, stmt("SELECT 1 FROM rec_c", 1)); err == nil {
		t.Fatal("the statement after the failing one ran")
	}

	// Fixed, it resumes at the failing statement.
	bad[1] = stmt("INSERT INTO rec_b VALUES (1), (2)", 4)
	r = running("2", 1, bad[:1])
	if n, err := d.ExecRecorded(ctx, bad, r, r); err != nil || n != 3 {
		t.Fatalf("resume: %d, %v", n, err)
	}
	if got := row("2"); got.State != database.StateApplied || got.StatementsApplied != 3 || strings.Join(got.StatementChecksums, ",") != sums(bad) {
		t.Fatalf("row after resume: %+v", got)
	}

	// Too many statements for one message: the caller goes one by one.
	many := make([]migration.Statement, maxRecordedStatements+1)
	for i := range many {
		many[i] = stmt("SELECT 1", i+1)
	}
	r = running("3", 0, nil)
	if _, err := d.ExecRecorded(ctx, many, r, r); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("a migration of %d statements: %v, want ErrUnsupported", len(many), err)
	}
}

// ExecRecordedEach sends several migrations in one message, reports each as
// it is applied, and stops at a failing statement as ExecRecorded does:
// with the markers MariaDB's INSERT … RETURNING gives, and with the SELECT
// markers MySQL needs.
func TestExecRecordedEach(t *testing.T) {
	for _, returning := range []bool{true, false} {
		name := "SELECT markers"
		if returning {
			name = "RETURNING"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			d := open(t, testdb.MySQL(t), database.Config{Identity: "runway test"})
			conn, err := d.session(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if r, err := d.serverReturns(ctx, conn); err != nil || !r {
				t.Fatalf("serverReturns = %v, %v; the test server is MariaDB ≥ 10.5", r, err)
			}
			d.returning = returning
			testExecRecordedEach(t, d)
		})
	}
}

func testExecRecordedEach(t *testing.T, d *Driver) {
	ctx := context.Background()
	if err := d.EnsureHistory(ctx); err != nil {
		t.Fatal(err)
	}
	stmt := func(sql string, line int) migration.Statement { return migration.Statement{SQL: sql, Line: line} }
	item := func(v string, stmts ...migration.Statement) database.Recorded {
		r := database.Revision{Version: migration.MustParseVersion(v), Name: "m" + v, Checksum: "c" + v,
			State: database.StateRunning, AppliedBy: "test"}
		done := r
		done.State = database.StateApplied
		done.Checksum = "d" + v // the applied row takes Done's checksum
		return database.Recorded{Statements: stmts, Running: r, Done: done}
	}
	sums := func(stmts []migration.Statement) []string {
		var out []string
		for _, st := range stmts {
			out = append(out, st.Checksum())
		}
		return out
	}
	rows := func() map[string]database.Revision {
		t.Helper()
		revs, err := d.History(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]database.Revision{}
		for _, r := range revs {
			out[r.Version.String()] = r
		}
		return out
	}
	each := func(ms []database.Recorded) ([]int, []time.Time, int, int, error) {
		var got []int
		var at []time.Time
		n, ran, err := d.ExecRecordedEach(ctx, ms, func(i int) { got = append(got, i); at = append(at, time.Now()) })
		if len(got) != n {
			t.Errorf("ExecRecordedEach returned %d applied but reported %v", n, got)
		}
		return got, at, n, ran, err
	}

	// Three migrations, the last one slow: the first two are reported
	// applied as they end, not when the message is done.
	ms := []database.Recorded{
		item("1", stmt("CREATE TABLE each_a (id int primary key) -- ends in a comment", 1), stmt("INSERT INTO each_a VALUES (1)", 2)),
		item("2", stmt("CREATE TABLE each_b (id int primary key)", 1)),
		item("3", stmt("SELECT SLEEP(1)", 1), stmt("CREATE TABLE each_c (id int)", 3)),
	}
	got, at, n, ran, err := each(ms)
	end := time.Now()
	if err != nil || n != 3 || ran != 0 || !slices.Equal(got, []int{0, 1, 2}) {
		t.Fatalf("ExecRecordedEach = %d, %d, %v; reported %v", n, ran, err, got)
	}
	if gap := end.Sub(at[1]); gap < 900*time.Millisecond {
		t.Errorf("migration 2 was reported %v before the end, want ≥ 1 s (migration 3 sleeps 1 s after it)", gap)
	}
	h := rows()
	for v, m := range map[string]database.Recorded{"1": ms[0], "2": ms[1], "3": ms[2]} {
		r := h[v]
		if r.State != database.StateApplied || r.Checksum != "d"+v || r.StatementsApplied != len(m.Statements) ||
			r.StatementsTotal != len(m.Statements) || !slices.Equal(r.StatementChecksums, sums(m.Statements)) {
			t.Errorf("row %s: %+v", v, r)
		}
	}
	if r := h["3"]; r.Duration < time.Second {
		t.Errorf("row 3 duration %v, want its own ≥ 1 s", r.Duration)
	}
	// One statement finishes a row and starts the next: the finished row
	// keeps the time it started.
	if !h["1"].AppliedAt.Before(h["2"].AppliedAt) || !h["2"].AppliedAt.Before(h["3"].AppliedAt) {
		t.Errorf("applied_at: 1 %v, 2 %v, 3 %v; want each migration's own start, in order", h["1"].AppliedAt, h["2"].AppliedAt, h["3"].AppliedAt)
	}

	// A failing statement in the second: the first is applied, the second
	// stops after its first statement, the third never runs.
	ms = []database.Recorded{
		item("4", stmt("CREATE TABLE each_d (id int)", 1)),
		item("5", stmt("CREATE TABLE each_e (id int primary key)", 1), stmt("INSERT INTO each_e VALUES (1), (1)", 6), stmt("CREATE TABLE each_f (id int)", 9)),
		item("6", stmt("CREATE TABLE each_g (id int)", 1)),
	}
	got, _, n, ran, err = each(ms)
	var ee *database.ExecError
	if n != 1 || ran != 1 || !slices.Equal(got, []int{0}) || !errors.As(err, &ee) || ee.Line != 6 || ee.Code != "1062" {
		t.Fatalf("failing migration: applied %d, ran %d, reported %v, %v; want 1, 1 and the duplicate key on line 6", n, ran, got, err)
	}
	h = rows()
	if h["4"].State != database.StateApplied || h["5"].State != database.StateRunning || h["5"].StatementsApplied != 1 {
		t.Errorf("rows after the failure: 4 %+v, 5 %+v", h["4"], h["5"])
	}
	if _, ok := h["6"]; ok {
		t.Error("the migration after the failing one has a row")
	}
	if err := d.Exec(ctx, stmt("SELECT 1 FROM each_g", 1)); err == nil {
		t.Error("the migration after the failing one ran")
	}

	// Fixed, the failing one resumes at its failing statement, in a batch
	// after another: the statement that finishes that one replaces the
	// failed attempt's row with a running one that keeps what ran.
	ms[1].Statements[1] = stmt("INSERT INTO each_e VALUES (1), (2)", 6)
	ms[1].Running.StatementsApplied = 1
	ms[1].Running.StatementChecksums = []string{ms[1].Statements[0].Checksum()}
	got, _, n, _, err = each([]database.Recorded{item("4.5", stmt("CREATE TABLE each_i (id int)", 1)), ms[1], ms[2]})
	if err != nil || n != 3 || !slices.Equal(got, []int{0, 1, 2}) {
		t.Fatalf("resume: %d, %v, reported %v", n, err, got)
	}
	h = rows()
	if r := h["5"]; r.State != database.StateApplied || r.StatementsApplied != 3 || !slices.Equal(r.StatementChecksums, sums(ms[1].Statements)) {
		t.Errorf("row 5 after resume: %+v", r)
	}
	if h["4.5"].State != database.StateApplied || h["6"].State != database.StateApplied {
		t.Errorf("rows around the resumed one: 4.5 %+v, 6 %+v", h["4.5"], h["6"])
	}

	// A message of many statements takes its answers a tick at a time
	// (gather): each migration is still reported as it ends, a failing
	// statement still stops the message where it failed, and the socket
	// wakes on each answer again afterwards. A small message is not
	// gathered.
	d.mu.Lock()
	nc := d.sessionNet
	d.mu.Unlock()
	gathering := func() bool { return rawconn.Gathering(nc) }
	gathers := runtime.GOOS == "linux" && nc.RemoteAddr().Network() == "tcp" // where Gather does anything
	var big []database.Recorded
	for i := range gatherMinStatements/2 + 4 { // two statements each
		v := strconv.Itoa(20 + i)
		second := stmt("INSERT INTO each_g"+v+" VALUES (1)", 2)
		switch i {
		case 5:
			second = stmt("SELECT SLEEP(1)", 2)
		case 9:
			second = stmt("INSERT INTO each_g"+v+" VALUES (1), (1)", 2)
		}
		big = append(big, item(v, stmt("CREATE TABLE each_g"+v+" (id int primary key)", 1), second))
	}
	var marks []bool
	var at2 []time.Time
	n, ran, err = d.ExecRecordedEach(ctx, big, func(i int) { marks = append(marks, gathering()); at2 = append(at2, time.Now()) })
	end = time.Now()
	if n != 9 || ran != 1 || !errors.As(err, &ee) || ee.Line != 2 || ee.Code != "1062" {
		t.Fatalf("gathered message: applied %d, ran %d, %v; want 9, 1 and the duplicate key on line 2", n, ran, err)
	}
	if len(marks) != 9 || (gathers && slices.Contains(marks, false)) {
		t.Errorf("gathering as each migration was reported: %v; want 9 reports, all while gathering", marks)
	}
	if gap := end.Sub(at2[4]); gap < 900*time.Millisecond {
		t.Errorf("migration 5 of the gathered message was reported %v before the end, want ≥ 1 s (the next one sleeps 1 s)", gap)
	}
	if h = rows(); h["28"].State != database.StateApplied || h["29"].State != database.StateRunning || h["29"].StatementsApplied != 1 {
		t.Errorf("rows after the gathered failure: 28 %+v, 29 %+v", h["28"], h["29"])
	}
	if gathering() {
		t.Error("still gathering after the message")
	}
	marks = nil
	if _, _, err := d.ExecRecordedEach(ctx, []database.Recorded{item("99", stmt("CREATE TABLE each_j (id int)", 1))}, func(int) { marks = append(marks, gathering()) }); err != nil || !slices.Equal(marks, []bool{false}) {
		t.Errorf("a message of one statement: %v, gathering %v; want it not gathered", err, marks)
	}

	// What does not fit in one message: a first migration too big is
	// refused whole; a later one is left for the next call.
	many := make([]migration.Statement, maxRecordedStatements+1)
	for i := range many {
		many[i] = stmt("SELECT 1", i+1)
	}
	if _, _, _, _, err := each([]database.Recorded{item("7", many...)}); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("a first migration of %d statements: %v, want ErrUnsupported", len(many), err)
	}
	got, _, n, _, err = each([]database.Recorded{item("7", stmt("CREATE TABLE each_h (id int)", 1)), item("8", many...)})
	if err != nil || n != 1 || !slices.Equal(got, []int{0}) {
		t.Fatalf("a second migration too big: %d, %v, reported %v; want the first alone applied", n, err, got)
	}
	if _, ok := rows()["8"]; ok {
		t.Error("the migration left for the next call has a row")
	}
}

// The message marks each migration applied once: after the statement that
// finishes its row, by that upsert's RETURNING clause where the server has
// one and the upsert commits by itself, and otherwise by a SELECT (after the
// COMMIT, where the upsert joins a data change's transaction).
func TestWriteEachMarkers(t *testing.T) {
	stmt := func(sql string) migration.Statement { return migration.Statement{SQL: sql, Line: 1} }
	item := func(v string, stmts ...migration.Statement) database.Recorded {
		r := database.Revision{Version: migration.MustParseVersion(v), Name: "m" + v, Checksum: "c" + v, State: database.StateRunning}
		done := r
		done.State = database.StateApplied
		return database.Recorded{Statements: stmts, Running: r, Done: done}
	}
	ms := []database.Recorded{
		item("1", stmt("CREATE TABLE a (id int)"), stmt("CREATE INDEX ai ON a (id)")),
		item("2", stmt("CREATE TABLE b (id int)"), stmt("INSERT INTO b VALUES (1)")),
		item("3", stmt("CREATE TABLE c (id int)")),
	}
	wrap := func(sql string) bool { return changesData(sql) }
	for _, c := range []struct {
		returning bool
		want      []string // what marks migrations 0, 1 and 2, in order
	}{
		{false, []string{"SELECT 0 AS " + appliedMarker + ";", "SELECT 1 AS " + appliedMarker + ";", "SELECT 2 AS " + appliedMarker + ";"}},
		// Migration 1 ends in a data change: its upsert joins the
		// transaction, and the SELECT after the COMMIT marks it.
		{true, []string{"RETURNING 0 AS " + appliedMarker + ";", "COMMIT;\nSELECT 1 AS " + appliedMarker + ";", "SELECT 2 AS " + appliedMarker + ";"}},
	} {
		var b strings.Builder
		writeEach(&b, "`h`", ms, c.returning, wrap)
		msg := b.String()
		if n := strings.Count(msg, appliedMarker); n != len(ms) {
			t.Errorf("returning=%v: %d markers, want %d:\n%s", c.returning, n, len(ms), msg)
		}
		at := 0
		for i, w := range c.want {
			j := strings.Index(msg[at:], w)
			if j < 0 {
				t.Errorf("returning=%v: migration %d is not marked by %q after byte %d:\n%s", c.returning, i, w, at, msg)
				break
			}
			at += j + len(w)
		}
		// Each migration's mark comes after its last statement.
		for i, m := range ms {
			last := m.Statements[len(m.Statements)-1].SQL
			if strings.Index(msg, last) > strings.Index(msg, strconv.Itoa(i)+" AS "+appliedMarker) {
				t.Errorf("returning=%v: migration %d is marked before its last statement:\n%s", c.returning, i, msg)
			}
		}
	}
}

func TestInsertReturning(t *testing.T) {
	for v, want := range map[string]bool{
		"10.11.19-MariaDB-0+deb12u1": true,
		"11.4.2-MariaDB-log":         true,
		"10.5.1-MariaDB":             true,
		"10.5.0-MariaDB":             false,
		"10.4.34-MariaDB":            false,
		"10.6.0-mariadb":             true,
		"8.0.36":                     false,
		"8.4.0-MySQL":                false,
		"5.7.44-log":                 false,
		"MariaDB":                    false,
		"":                           false,
	} {
		if got := insertReturning(v); got != want {
			t.Errorf("insertReturning(%q) = %v, want %v", v, got, want)
		}
	}
}

// A statement that opens a body is sent alone. Were the splitter to cut a
// trigger short, the piece, sent in one message with the history updates
// after it, would take them into the trigger's body (the server reads on
// to the END) and run them on every insert; alone it is a syntax error at
// its own statement.
func TestBodyStatementsAreSentAlone(t *testing.T) {
	ctx := context.Background()
	d := open(t, testdb.MySQL(t), database.Config{Identity: "runway test"})
	if err := d.EnsureHistory(ctx); err != nil {
		t.Fatal(err)
	}
	// A cut the splitter once made: NEW.end read as the END of the block.
	stmts := []migration.Statement{
		{SQL: "CREATE TABLE periods (id INT, end DATETIME)", Line: 1},
		{SQL: "CREATE TRIGGER periods_bi BEFORE INSERT ON periods FOR EACH ROW\nBEGIN\n  SET NEW.end = NOW()", Line: 2},
		{SQL: "END", Line: 5},
	}
	r := database.Revision{Version: migration.MustParseVersion("1"), Name: "periods", Checksum: "c",
		State: database.StateRunning, AppliedBy: "test"}
	done := r
	done.State = database.StateApplied
	if n, err := d.ExecRecorded(ctx, stmts, r, done); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("ExecRecorded of a migration with a trigger: %d, %v; want ErrUnsupported (statement by statement)", n, err)
	}
	each := []database.Recorded{{Statements: stmts, Running: r, Done: done}}
	if _, _, err := d.ExecRecordedEach(ctx, each, func(int) {}); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("ExecRecordedEach of a migration with a trigger: %v; want ErrUnsupported", err)
	}
	for _, c := range []struct {
		sql  string
		body bool
	}{
		{"CREATE TRIGGER t BEFORE INSERT ON p FOR EACH ROW SET NEW.a = 1", true},
		{"/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER t BEFORE INSERT ON p FOR EACH ROW BEGIN END */", true},
		{"create or replace definer = app@'%' procedure p() begin select 1; end", true},
		{"ALTER EVENT e DO BEGIN DELETE FROM t; END", true},
		{"BEGIN NOT ATOMIC SELECT 1; END", true},
		{"CREATE TABLE events (id int)", false},
		{"INSERT INTO log (event) VALUES ('trigger')", false},
		{"CREATE INDEX i ON t (a)", false},
	} {
		if got := mayHoldBody(c.sql); got != c.body {
			t.Errorf("mayHoldBody(%q) = %v, want %v", c.sql, got, c.body)
		}
	}
}

// mayBeSkipped tells the statements that are one executable comment some
// server skips whole (TestSkippedExecutableCommentsApply runs them).
func TestMayBeSkipped(t *testing.T) {
	for _, c := range []struct {
		sql  string
		skip bool
	}{
		{"/*!80000 SET SESSION information_schema_stats_expiry = 0 */", true},
		{"/*!50717 SELECT COUNT(*) INTO @n FROM t */", true},
		{"/*!50700 SET @a = 1 */", true},
		{"/*!100100 SET @a = 1 */", true},
		{"/*M!100100 SET @a = 1 */", true},
		{"-- a comment\n# another\n/* a third */ /*!80000 SET @a = 1 */ -- after\n", true},
		{"/*!80000 SET @a = 1 */ /*!80000 SET @b = 1 */", true},
		{"/*!80000 SET @a = 1 /* inner */ */", true},
		{"/*!80000 SET @a = 1 /* x /* y */ */", true}, // one level of nesting, as MariaDB reads it
		{"/*!80000 SET @a = 1 /* inner */ */ /*M!999999 x */ -- end", true},
		{"/* plain /* not nested */ /*!80000 SET @a = 1 */", true},
		{"/*!80000 SET @a = 1 */ /*!40101 SET @b = 1 */", false},
		{"/*!80000 SET @a = 1 /* inner */", false},
		{"/* only a comment */", false},
		{"/*!50699 SET @a = 1 */", false},
		{"/*!40101 SET NAMES utf8mb4 */", false},
		{"/*! SET @a = 1 */", false},
		{"/*!80000 SET @a = 1 */, @b = 2", false},
		{"CREATE TABLE t (id int) /*!80016 ENCRYPTION='N' */", false},
		{"/*!80000 SET @a = 1", false},
		{"SELECT 1", false},
	} {
		if got := mayBeSkipped(c.sql); got != c.skip {
			t.Errorf("mayBeSkipped(%q) = %v, want %v", c.sql, got, c.skip)
		}
	}
}
