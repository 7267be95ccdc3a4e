package mysql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/migration"
)

// ExecProgressEach sends many statements with their records in one
// message, and leaves the rows as ExecProgress, one statement at a time,
// would: after a failure the committed row counts exactly the statements
// that took effect, the failing data change is rolled back with its
// transaction, a DDL statement whose record failed is reported as run
// (ErrNotRecorded), and no transaction is left open for the failure's own
// record.
func TestExecProgressEach(t *testing.T) {
	ctx := context.Background()
	d, other := twoSessions(t)
	rev := startRow(t, d, "each")
	// applied counts the statements recorded so far; steps gives the next
	// statements their rows, as the engine does.
	applied := 0
	var sums database.Sums
	steps := func(sqls ...string) []database.Progress {
		out := make([]database.Progress, len(sqls))
		s := sums
		for i, q := range sqls {
			st := migration.Statement{SQL: q, Line: 100 + applied + i}
			s.Add(st.Checksum())
			row := rev
			row.StatementsApplied = applied + i + 1
			row.StatementChecksums = s.Column()
			out[i] = database.Progress{Statement: st, Row: row}
		}
		return out
	}
	// took moves applied past the first n steps.
	took := func(ss []database.Progress, n int) {
		for _, s := range ss[:n] {
			sums.Add(s.Statement.Checksum())
		}
		applied += n
	}
	committed := func() database.Revision { t.Helper(); return committedRow(t, other) }
	// each calls ExecProgressEach and checks what it says it sends: the
	// statements it reports run, and more after a failure; nothing when it
	// sends nothing.
	each := func(ss []database.Progress) (int, error) {
		t.Helper()
		sent := -1
		n, err := d.ExecProgressEach(ctx, ss, func(k int) {
			if sent >= 0 {
				t.Fatalf("sending called twice: %d and %d", sent, k)
			}
			sent = k
		})
		switch {
		case errors.Is(err, errors.ErrUnsupported) && sent != -1:
			t.Fatalf("sending(%d) for a message not sent", sent)
		case !errors.Is(err, errors.ErrUnsupported) && (sent < n || sent > len(ss) || err == nil && sent != n):
			t.Fatalf("sending(%d), then %d statements ran (err %v)", sent, n, err)
		}
		return n, err
	}
	check := func(what string, want int) {
		t.Helper()
		r := committed()
		if r.StatementsApplied != want {
			t.Fatalf("%s: the row counts %d statements; want %d", what, r.StatementsApplied, want)
		}
		if got, wantSums := strings.Join(r.StatementChecksums, ","), strings.Join(sums.Column(), ","); got != wantSums {
			t.Fatalf("%s: the row's checksums %q; want %q", what, got, wantSums)
		}
		// A record written now commits: no transaction was left open.
		r.Error = what
		if err := d.WriteRevision(ctx, r); err != nil {
			t.Fatal(err)
		}
		if c := committed(); c.Error != what {
			t.Fatalf("%s: a record written after it did not commit (a transaction was left open)", what)
		}
	}

	// DDL and data changes, all sent at once.
	var sqls []string
	sqls = append(sqls, "CREATE TABLE pe (id int primary key, note text) -- ends in a comment")
	for i := 1; i <= 100; i++ {
		sqls = append(sqls, fmt.Sprintf("INSERT INTO pe VALUES (%d, 'semi;colon')", i))
	}
	sqls = append(sqls, "CREATE INDEX pe_note ON pe (note(10))", "INSERT INTO pe VALUES (101, 'x')")
	ss := steps(sqls...)
	n, err := each(ss)
	if err != nil || n != len(ss) {
		t.Fatalf("ExecProgressEach: %d, %v; want %d, nil", n, err, len(ss))
	}
	took(ss, n)
	check("all sent", applied)

	// A data change fails in the middle: the ones before stand, it does
	// not, and the rest are not run.
	ss = steps("INSERT INTO pe VALUES (102, 'a')", "INSERT INTO pe VALUES (103, 'b')", "INSERT INTO pe VALUES (1, 'dup')", "INSERT INTO pe VALUES (104, 'c')")
	n, err = each(ss)
	var ee *database.ExecError
	if n != 2 || !errors.As(err, &ee) || ee.Code != "1062" || ee.Line != ss[2].Statement.Line || errors.Is(err, database.ErrNotRecorded) {
		t.Fatalf("a duplicate key third: %d, %v; want 2 and the ExecError 1062 on line %d", n, err, ss[2].Statement.Line)
	}
	took(ss, n)
	check("duplicate key", applied)
	if got := ids(t, other, "pe"); !strings.HasSuffix(got, ",101,102,103") {
		t.Fatalf("rows end %s; want …101,102,103: the failing change and those after it did not stay", got[max(0, len(got)-20):])
	}

	// A failing DDL statement: the same.
	ss = steps("INSERT INTO pe VALUES (104, 'c')", "ALTER TABLE missing ADD c int", "INSERT INTO pe VALUES (105, 'd')")
	n, err = each(ss)
	if n != 1 || !errors.As(err, &ee) || ee.Code != "1146" || errors.Is(err, database.ErrNotRecorded) {
		t.Fatalf("a missing table second: %d, %v; want 1 and the ExecError 1146", n, err)
	}
	took(ss, n)
	check("failing DDL", applied)

	// The history refuses a record. After a data change, the change goes
	// with it; after DDL, which commits by itself, the DDL stays and the
	// error says it ran.
	refuse := func(at int) {
		t.Helper()
		if err := d.Exec(ctx, migration.Statement{SQL: "DROP TRIGGER IF EXISTS pe_refuse"}); err != nil {
			t.Fatal(err)
		}
		if err := d.Exec(ctx, migration.Statement{SQL: fmt.Sprintf("CREATE TRIGGER pe_refuse BEFORE UPDATE ON %s FOR EACH ROW BEGIN IF NEW.statements_applied = %d THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused'; END IF; END", d.HistoryTable(), at)}); err != nil {
			t.Fatal(err)
		}
	}
	refuse(applied + 2)
	ss = steps("INSERT INTO pe VALUES (105, 'd')", "INSERT INTO pe VALUES (106, 'e')", "INSERT INTO pe VALUES (107, 'f')")
	n, err = each(ss)
	if n != 1 || err == nil || errors.Is(err, database.ErrNotRecorded) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("the second record refused: %d, %v; want 1 and the trigger's error, not ErrNotRecorded", n, err)
	}
	took(ss, n)
	check("record refused after a data change", applied)
	if got := ids(t, other, "pe"); !strings.HasSuffix(got, ",104,105") {
		t.Fatalf("rows end %s; want …104,105: the change whose record failed is rolled back", got[max(0, len(got)-20):])
	}
	refuse(applied + 2)
	ss = steps("INSERT INTO pe VALUES (106, 'e')", "CREATE TABLE pe_ddl (id int)", "INSERT INTO pe VALUES (107, 'f')")
	n, err = each(ss)
	if n != 1 || !errors.Is(err, database.ErrNotRecorded) {
		t.Fatalf("DDL whose record is refused: %d, %v; want 1 and ErrNotRecorded", n, err)
	}
	took(ss, n)
	check("record refused after DDL", applied)
	if err := other.Exec(ctx, migration.Statement{SQL: "SELECT * FROM pe_ddl"}); err != nil {
		t.Fatalf("the DDL did not stay: %v", err)
	}
	if err := d.Exec(ctx, migration.Statement{SQL: "DROP TRIGGER pe_refuse"}); err != nil {
		t.Fatal(err)
	}

	// It stops before a statement that goes alone: a body, or one that
	// may turn autocommit off.
	for _, alone := range []string{"CREATE PROCEDURE pe_p() BEGIN SELECT 1; END", "SET autocommit = 1"} {
		ss = steps("INSERT INTO pe VALUES (1000, 'g')", alone, "INSERT INTO pe VALUES (1001, 'h')")
		n, err = each(ss)
		if n != 1 || err != nil {
			t.Fatalf("before %q: %d, %v; want 1, nil", alone, n, err)
		}
		took(ss, n)
		if err := d.Exec(ctx, migration.Statement{SQL: "DELETE FROM pe WHERE id = 1000"}); err != nil {
			t.Fatal(err)
		}
	}
	check("stopped before what goes alone", applied)
	// A body first is not taken; a body followed by others neither.
	for _, ss := range [][]database.Progress{steps("CREATE PROCEDURE pe_p() BEGIN SELECT 1; END"),
		steps("CREATE PROCEDURE pe_p() BEGIN SELECT 1; END", "INSERT INTO pe VALUES (1000, 'g')")} {
		if n, err := each(ss); n != 0 || !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("a body first, of %d: %d, %v; want 0, ErrUnsupported", len(ss), n, err)
		}
	}

	// A message stays within maxEachMessage, and takes at least one.
	big := "INSERT INTO pe VALUES (%d, '" + strings.Repeat("x", maxEachMessage/3-100) + "')"
	ss = steps(fmt.Sprintf(big, 2001), fmt.Sprintf(big, 2002), fmt.Sprintf(big, 2003), fmt.Sprintf(big, 2004))
	n, err = each(ss)
	if n != 3 || err != nil {
		t.Fatalf("four statements of a third of a message each: %d, %v; want 3, nil", n, err)
	}
	took(ss, n)
	huge := steps("INSERT INTO pe VALUES (3001, 'y') /* "+strings.Repeat("y", maxEachMessage)+" */", "INSERT INTO pe VALUES (3002, 'z')")
	n, err = each(huge)
	if n != 1 || err != nil {
		t.Fatalf("a statement bigger than a message first: %d, %v; want 1, nil", n, err)
	}
	took(huge, n)
	check("sized messages", applied)

	// Once a statement may have turned autocommit off, every one goes
	// alone, where ExecProgress adds the COMMITs its records need.
	ss = steps("SET autocommit = 1")
	if n, err := each(ss); n != 1 || err != nil {
		t.Fatalf("SET autocommit alone: %d, %v; want 1, nil (sent as ExecProgress sends it)", n, err)
	}
	took(ss, 1)
	if n, err := each(steps("INSERT INTO pe VALUES (4001, 'a')", "INSERT INTO pe VALUES (4002, 'b')")); n != 0 || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("after SET autocommit: %d, %v; want 0, ErrUnsupported", n, err)
	}
	check("autocommit", applied)
}

// A run cancelled while a message of statements and their records runs
// (Ctrl-C, SIGTERM) leaves a row that counts exactly the statements that
// took effect. Statements outside a transaction of Runway's own (here after
// the script's own START TRANSACTION … COMMIT, as the engine marks with
// userTx) are the case: a KILL that lands inside the message finds a short
// INSERT running, which finishes and commits, and the session stops before
// the INSERT's record; the rerun would insert it again. The message is let
// end by itself within recordsGrace, as it does here in milliseconds.
func TestCancelledMessageKeepsItsRecords(t *testing.T) {
	ctx := context.Background()
	for _, after := range []time.Duration{3, 7, 12, 20, 30} {
		d, other, rev := lockedOutsideTx(t, "cm")
		runCtx, cancel := context.WithCancel(ctx)
		time.AfterFunc(after*time.Millisecond, cancel)
		applied := 0
		for applied < 20000 && runCtx.Err() == nil {
			steps := make([]database.Progress, 200)
			for i := range steps {
				row := rev
				row.StatementsApplied = applied + i + 1
				steps[i] = database.Progress{
					Statement: migration.Statement{SQL: fmt.Sprintf("INSERT INTO cm VALUES (%d)", applied+i+1), Line: applied + i + 1},
					Row:       row,
				}
			}
			n, err := d.ExecProgressEach(runCtx, steps, func(int) {})
			applied += n
			if err != nil {
				break
			}
		}
		cancel()
		var rows int
		if err := other.conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM cm").Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if r := committedRow(t, other); r.StatementsApplied != rows {
			t.Fatalf("cancelled after %d ms: the row counts %d statements, the table holds %d rows (the driver said %d)", after, r.StatementsApplied, rows, applied)
		}
	}
}

// A message that outlasts recordsGrace after a cancel is killed with the
// session, and what it recorded is read from another connection: the
// driver reports the statements the committed row counts, and the failure
// at the one that was running, not at the message's first.
func TestKilledMessageCountsWhatItRecorded(t *testing.T) {
	ctx := context.Background()
	d, other, rev := lockedOutsideTx(t, "km")
	steps := make([]database.Progress, 80)
	for i := range steps {
		sql := fmt.Sprintf("INSERT INTO km VALUES (%d)", i+1)
		if i == 50 {
			sql = "DO SLEEP(20)"
		}
		row := rev
		row.StatementsApplied = i + 1
		steps[i] = database.Progress{Statement: migration.Statement{SQL: sql, Line: 10 + i}, Row: row}
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	n, err := d.ExecProgressEach(runCtx, steps, func(int) {})
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("the cancelled message ran on for %v: not killed after the grace", took)
	}
	var ee *database.ExecError
	if n != 50 || !errors.Is(err, context.Canceled) || !errors.As(err, &ee) || ee.Line != 60 {
		t.Fatalf("killed in its 51st statement: %d statements said run, %v; want 50, and the error at line 60", n, err)
	}
	if r := committedRow(t, other); r.StatementsApplied != 50 {
		t.Fatalf("the row counts %d statements; want 50", r.StatementsApplied)
	}
}

// lockedOutsideTx opens twoSessions, takes the lock on d (so a cancel
// kills d's session), creates table (id int primary key) and a running row
// named after it, and has d send statements outside transactions of its
// own, as after the script's own START TRANSACTION … COMMIT.
func lockedOutsideTx(t *testing.T, table string) (d, other *Driver, rev database.Revision) {
	t.Helper()
	ctx := context.Background()
	d, other = twoSessions(t)
	if ok, err := d.Lock(ctx, time.Second); err != nil || !ok {
		t.Fatalf("Lock: %v, %v", ok, err)
	}
	if _, err := other.conn.ExecContext(ctx, "CREATE TABLE "+table+" (id int primary key)"); err != nil {
		t.Fatal(err)
	}
	rev = startRow(t, d, table)
	d.userTx = true
	return d, other, rev
}
