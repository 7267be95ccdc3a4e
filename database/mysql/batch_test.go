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
