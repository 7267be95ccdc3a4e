package mysql

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/internal/testdb"
	"github.com/runwaydb/runway/migration"
)

// A data change travels in one transaction with the update that records
// it: when the update fails, the change is rolled back with it, and a
// failing change leaves the session outside any transaction, so that the
// failure's own record commits. Once a statement of the run has touched the
// session's transactions, statements travel without one (Runway's START
// TRANSACTION would commit the script's): a failing update then leaves the
// change in place, database.ErrNotRecorded.
func TestExecProgressDataChangeIsAtomic(t *testing.T) {
	ctx := context.Background()
	d, other := twoSessions(t)
	rev := startRow(t, d, "data")
	exec := func(sql string) {
		t.Helper()
		if err := d.Exec(ctx, migration.Statement{SQL: sql, Line: 1}); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec("CREATE TABLE pr (id int primary key)")
	// The history refuses to record a third statement.
	exec("CREATE TRIGGER pr_refuse BEFORE UPDATE ON " + d.HistoryTable() + " FOR EACH ROW BEGIN IF NEW.statements_applied = 3 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused'; END IF; END")
	progress := func(n int) database.Revision {
		p := rev
		p.StatementsApplied = n
		return p
	}
	insert := func(id string) migration.Statement {
		return migration.Statement{SQL: "INSERT INTO pr VALUES (" + id + ")", Line: 7}
	}
	rows := func() string { t.Helper(); return ids(t, other, "pr") }
	committed := func() database.Revision { t.Helper(); return committedRow(t, other) }

	for i, id := range []string{"1", "2"} {
		if err := d.ExecProgress(ctx, insert(id), progress(i+1)); err != nil {
			t.Fatalf("ExecProgress(%s): %v", id, err)
		}
	}
	err := d.ExecProgress(ctx, insert("3"), progress(3))
	if err == nil || errors.Is(err, database.ErrNotRecorded) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("update refused: %v; want the trigger's error, not ErrNotRecorded", err)
	}
	if got := rows(); got != "1,2" {
		t.Fatalf("rows %s; want 1,2: the change whose record failed stays rolled back", got)
	}
	if r := committed(); r.StatementsApplied != 2 {
		t.Fatalf("row says %d statements; want 2", r.StatementsApplied)
	}
	record := func(state database.State) {
		t.Helper()
		r := progress(2)
		r.State = state
		if err := d.WriteRevision(ctx, r); err != nil {
			t.Fatal(err)
		}
		if r := committed(); r.State != state {
			t.Fatalf("a record written after the failure did not commit (the session was left in a transaction): %+v", r)
		}
	}
	record(database.StateFailed)

	// A failing change: its error, and no transaction left open.
	err = d.ExecProgress(ctx, insert("1"), progress(3))
	var ee *database.ExecError
	if !errors.As(err, &ee) || ee.Code != "1062" || ee.Line != 7 {
		t.Fatalf("duplicate key: %v; want the ExecError 1062 on line 7", err)
	}
	record(database.StateRunning)

	// The script opens a transaction: no statement of Runway's own in one
	// after that.
	exec("START TRANSACTION")
	err = d.ExecProgress(ctx, insert("3"), progress(3))
	if !errors.Is(err, database.ErrNotRecorded) {
		t.Fatalf("after the script's START TRANSACTION: %v; want ErrNotRecorded (the change ran in the script's transaction)", err)
	}
	exec("COMMIT")
	if got := rows(); got != "1,2,3" {
		t.Fatalf("rows %s; want 1,2,3: the script's transaction committed the change", got)
	}

	// DDL commits by itself: a failing update leaves it done, and says so.
	err = d.ExecProgress(ctx, migration.Statement{SQL: "CREATE TABLE pr_ddl (id int)", Line: 9}, progress(3))
	if !errors.Is(err, database.ErrNotRecorded) {
		t.Fatalf("DDL whose update fails: %v; want ErrNotRecorded", err)
	}
	if err := other.Exec(ctx, migration.Statement{SQL: "SELECT * FROM pr_ddl"}); err != nil {
		t.Fatalf("the DDL did not stay: %v", err)
	}
}

func TestTouchesTx(t *testing.T) {
	for _, c := range []struct {
		sql           string
		touches, data bool
	}{
		{"INSERT INTO t VALUES (1)", false, true},
		{"  -- a note\n/* and */ replace into t values (1)", false, true},
		{"# hash\nDELETE FROM t", false, true},
		{"update t set a = 1", false, true},
		{"CREATE TABLE t (id int)", false, false},
		{"WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", false, false},
		{"/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE */", false, false},
		{"/*!40000 ALTER TABLE `t` DISABLE KEYS */", false, false},
		{"/*!40101 SET autocommit=0 */", true, false},
		{"START TRANSACTION", true, false},
		{"begin", true, false},
		{"BEGIN WORK", true, false},
		{"Commit", true, false},
		{"ROLLBACK TO SAVEPOINT a", true, false},
		{"SAVEPOINT a", true, false},
		{"XA START 'x'", true, false},
		{"SET autocommit = 0", true, false},
		{"SET @@session.autocommit = 0", true, false},
		{"SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE", true, false},
		{"SET foreign_key_checks = 0", false, false},
		{"CALL refresh()", true, false},
		{"/*M!100616 SET @OLD_NOTE_VERBOSITY=@@NOTE_VERBOSITY, NOTE_VERBOSITY=0 */", false, false},
		{"/*M!100616 SET autocommit=0 */", true, false},
		{"SET completion_type = 'RELEASE'", true, false},
		{"PREPARE s FROM 'COMMIT'", true, false},
		{"EXECUTE IMMEDIATE 'START TRANSACTION'", true, false},
		{"lbl: BEGIN NOT ATOMIC SELECT 1; END", true, false},
		{"FLUSH TABLES WITH READ LOCK", true, false},
		{"LOAD DATA INFILE 'x' INTO TABLE t", false, false},
		{"ALTER TABLE t ADD COLUMN c int", false, false},
	} {
		if got := touchesTx(c.sql); got != c.touches {
			t.Errorf("touchesTx(%q) = %v, want %v", c.sql, got, c.touches)
		}
		if got := changesData(c.sql); got != c.data {
			t.Errorf("changesData(%q) = %v, want %v", c.sql, got, c.data)
		}
	}
}

// In the messages of whole migrations (ExecRecorded, ExecRecordedEach) a
// data change goes in a transaction with its record too, the last one of
// a migration with the write that finishes its row and starts the next:
// a record that fails rolls the change back with it, and the row says how
// many statements took effect.
func TestRecordedDataChangeIsAtomic(t *testing.T) {
	ctx := context.Background()
	d, other := twoSessions(t)
	for _, sql := range []string{
		"CREATE TABLE rc (id int primary key)",
		// The history refuses the running row of version 3, and to record
		// the second statement of version 9.
		"CREATE TRIGGER rc_no3 BEFORE INSERT ON " + d.HistoryTable() + " FOR EACH ROW BEGIN IF NEW.version = '3' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'no 3'; END IF; END",
		"CREATE TRIGGER rc_no9 BEFORE UPDATE ON " + d.HistoryTable() + " FOR EACH ROW BEGIN IF NEW.version = '9' AND NEW.statements_applied = 2 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'no 9.2'; END IF; END",
	} {
		if err := d.Exec(ctx, migration.Statement{SQL: sql, Line: 1}); err != nil {
			t.Fatal(err)
		}
	}
	insert := func(id string) migration.Statement {
		return migration.Statement{SQL: "INSERT INTO rc VALUES (" + id + ")", Line: 1}
	}
	item := recordedItem
	rows := func() string { t.Helper(); return ids(t, other, "rc") }
	row := func(v string) database.Revision {
		t.Helper()
		revs, err := other.History(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range revs {
			if r.Version.String() == v {
				return r
			}
		}
		return database.Revision{}
	}

	// The write that finishes 2 and starts 3 fails: 2's last INSERT, in
	// its transaction, is rolled back.
	ms := []database.Recorded{item("1", insert("1")), item("2", insert("2"), insert("3")), item("3", insert("4"))}
	n, ran, err := d.ExecRecordedEach(ctx, ms, func(int) {})
	var ee *database.ExecError
	if n != 1 || ran != 1 || !errors.As(err, &ee) || !strings.Contains(err.Error(), "no 3") {
		t.Fatalf("ExecRecordedEach = %d, %d, %v; want 1 applied, 1 statement of the next, the trigger's error", n, ran, err)
	}
	if got := rows(); got != "1,2" {
		t.Fatalf("rows %s; want 1,2", got)
	}
	if r := row("2"); r.State != database.StateRunning || r.StatementsApplied != 1 {
		t.Fatalf("row 2: %+v; want running with 1 statement", r)
	}

	// One migration, the record of its second statement refused.
	m := item("9", insert("10"), insert("11"), insert("12"))
	got, err := d.ExecRecorded(ctx, m.Statements, m.Running, m.Done)
	if got != 1 || !errors.As(err, &ee) || !strings.Contains(err.Error(), "no 9.2") {
		t.Fatalf("ExecRecorded = %d, %v; want 1 and the trigger's error", got, err)
	}
	if got := rows(); got != "1,2,10" {
		t.Fatalf("rows %s; want 1,2,10", got)
	}
	// Nothing left open: a record written now commits.
	failed := m.Running
	failed.State, failed.StatementsApplied = database.StateFailed, 1
	if err := d.WriteRevision(ctx, failed); err != nil {
		t.Fatal(err)
	}
	if r := row("9"); r.State != database.StateFailed {
		t.Fatalf("row 9: %+v; the failure's record did not commit", r)
	}
}

// recordedItem is migration v for ExecRecordedEach: stmts, its running row
// and its applied row.
func recordedItem(v string, stmts ...migration.Statement) database.Recorded {
	r := database.Revision{Version: migration.MustParseVersion(v), Name: "m" + v, Checksum: "c" + v,
		State: database.StateRunning, AppliedBy: "test"}
	done := r
	done.State = database.StateApplied
	return database.Recorded{Statements: stmts, Running: r, Done: done}
}

// ids lists the id column of table, in order, as d's session sees it.
func ids(t *testing.T, d *Driver, table string) string {
	t.Helper()
	var out []string
	r, err := d.conn.QueryContext(context.Background(), "SELECT id FROM "+table+" ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for r.Next() {
		var id string
		if err := r.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	return strings.Join(out, ",")
}

// startRow writes version 1's history row, running, on d and returns it.
func startRow(t *testing.T, d *Driver, name string) database.Revision {
	t.Helper()
	rev := database.Revision{Version: migration.MustParseVersion("1"), Name: name, Checksum: "c",
		State: database.StateRunning, AppliedBy: "test"}
	if err := d.WriteRevision(context.Background(), rev); err != nil {
		t.Fatal(err)
	}
	return rev
}

// committedRow returns the one history row, as another session sees it.
func committedRow(t *testing.T, other *Driver) database.Revision {
	t.Helper()
	revs, err := other.History(context.Background())
	if err != nil || len(revs) != 1 {
		t.Fatalf("history from another session: %+v, %v", revs, err)
	}
	return revs[0]
}

// twoSessions opens a driver with its history table on a fresh database,
// and another on the same database that sees only what was committed.
func twoSessions(t *testing.T) (d, other *Driver) {
	t.Helper()
	url := testdb.MySQL(t)
	d = open(t, url, database.Config{Identity: "runway test"})
	other = open(t, url, database.Config{Identity: "runway test, other session"})
	if err := d.EnsureHistory(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d, other
}
