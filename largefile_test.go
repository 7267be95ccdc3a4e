package runway_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/runwaydb/runway"
	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/migration"
)

// A large file that runs statement by statement (MySQL always, and
// no-transaction files everywhere) is read from its file as it runs, after
// one reading that counts and checks it: a file that does not split stops
// the run before anything of it runs, the history row counts every
// statement from the start, and a failure resumes at the failing
// statement, refused when a statement that ran was edited since.
func TestLargeMigrationStatementByStatement(t *testing.T) {
	lowerLargeFile(t)
	// Statement k is on line k+1: the directive takes line 1.
	head := "-- runway:no-transaction\nCREATE TABLE big (id integer primary key, note varchar(200));\n"
	for _, c := range []struct {
		name     string
		rows     int    // the rows before the failing statement
		pad      string // makes the file large with few statements
		edit     string // an applied statement, edited
		editSays string // what the refusal says
	}{
		// Past database.ListedSums statements the row keeps one digest.
		{"digest", 100, strings.Repeat("x", 40), "'row 5;", "statements 1–101 were applied by an earlier run, and one of them has changed since (line 2 to line 102)"},
		{"listed", 40, strings.Repeat("x", 120), "'row 5;", "statement 6 (line 7) was applied by an earlier run and has changed since"},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := bigScript(head, "INSERT INTO big (id, note) VALUES (%d, 'row %d; not the end"+c.pad+"');\n", c.rows)
			if len(body) <= migration.LargeFile {
				t.Fatalf("the test file is %d bytes, not large", len(body))
			}
			n := c.rows + 1 // statements before the failing one
			after := "INSERT INTO big (id, note) VALUES (9000, 'after');\n"
			eachDB(t, func(t *testing.T, tg target) {
				drv := tg.open(t)
				small := "CREATE TABLE small (id integer);\n"

				// A file that does not split: nothing runs, not even the
				// migration before it.
				_, err := up(t, drv, files("0001_small.up.sql", small, "0002_big.up.sql", body+"INSERT INTO big VALUES (0, 'no end);\n"))
				var fe *migration.FileError
				if !errors.Is(err, runway.ErrSource) || !errors.As(err, &fe) || fe.File != "0002_big.up.sql" || fe.Line != n+2 || !errors.Is(err, migration.ErrUnterminated) {
					t.Fatalf("unterminated string at the end: %v; want ErrSource naming 0002_big.up.sql:%d", err, n+2)
				}
				if exists(t, drv, "small") || exists(t, drv, "big") || len(history(t, drv)) != 0 {
					t.Fatalf("a file that does not split: something ran (history %+v)", history(t, drv))
				}

				// A statement fails: named, with its line and SQL; the row
				// counts every statement of the file.
				dup := "INSERT INTO big (id, note) VALUES (7, 'duplicate');\n"
				_, err = up(t, drv, files("0001_small.up.sql", small, "0002_big.up.sql", body+dup+after))
				var me *runway.MigrationError
				if !errors.As(err, &me) || me.Statement != n+1 || me.Line != n+2 || !strings.Contains(me.SQL, "'duplicate'") {
					t.Fatalf("failing statement: %v (%+v); want statement %d on line %d", err, me, n+1, n+2)
				}
				h := history(t, drv)["2"]
				if h.State != database.StateFailed || h.StatementsApplied != n || h.StatementsTotal != n+2 {
					t.Fatalf("history after the failure: %+v; want failed, %d of %d statements", h, n, n+2)
				}

				// plan shows what a resumed run would run: from the failing
				// statement on.
				fixed := body + "INSERT INTO big (id, note) VALUES (8000, 'fixed');\n" + after
				r, err := runway.New(drv, files("0001_small.up.sql", small, "0002_big.up.sql", fixed))
				if err != nil {
					t.Fatal(err)
				}
				pl, err := r.Plan(context.Background(), runway.UpOptions{})
				if err != nil || len(pl.Plan) != 1 || pl.Plan[0].ResumeAt != n || len(pl.Plan[0].Statements) != 2 ||
					pl.Plan[0].Statements[0].Line != n+2 || !strings.Contains(pl.Plan[0].Statements[0].SQL, "'fixed'") {
					t.Fatalf("plan of the resumed large file: %v %+v; want statements %d and %d", err, pl, n+1, n+2)
				}

				// An applied statement edited: refused before anything runs.
				edited := strings.Replace(body, c.edit, "'row five;", 1)
				_, err = up(t, drv, files("0001_small.up.sql", small, "0002_big.up.sql", edited+"INSERT INTO big (id, note) VALUES (8000, 'fixed');\n"+after))
				var ve *runway.ValidationError
				if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Kind != "resume-edited" || !strings.Contains(ve.Problems[0].Detail, c.editSays) {
					t.Fatalf("resume with an applied statement edited: %v; want resume-edited saying %q", err, c.editSays)
				}

				// The failing statement fixed: the run resumes at it.
				rep := mustUp(t, drv, files("0001_small.up.sql", small, "0002_big.up.sql", fixed))
				if len(rep.Applied) != 1 || rep.Applied[0].Resumed != n || rep.Applied[0].Statements != n+2 {
					t.Fatalf("resumed run: %+v; want statements %d–%d of %d", rep.Applied, n+1, n+2, n+2)
				}
				h = history(t, drv)["2"]
				if h.State != database.StateApplied || h.StatementsApplied != n+2 || h.StatementsTotal != n+2 {
					t.Fatalf("history after the resumed run: %+v", h)
				}
			})
		})
	}
}

// A large file edited after the reading that counted it, once it runs
// statement by statement: the run stops with the file named, the statements
// it ran recorded, and the migration failed (not an input error: part of it
// ran).
func TestLargeMigrationEditedWhileRunning(t *testing.T) {
	lowerLargeFile(t)
	// Over two of the reader's 256 KiB pieces: the statements of the first
	// run before the end of the file shows the change.
	body := bigScript("-- runway:no-transaction\nCREATE TABLE big (id integer primary key, note text);\n",
		"INSERT INTO big (id, note) VALUES (%d, 'row %d "+strings.Repeat("x", 2000)+"');\n", 300)
	edited := strings.Replace(body, "(299, 'row 299", "(299, 'row two hundred and ninety-nine", 1)
	fsys := files("0001_big.up.sql", body)
	drv := &editOnStart{Driver: newTarget(t, "sqlite").open(t), edit: func() {
		fsys["0001_big.up.sql"] = &fstest.MapFile{Data: []byte(edited)}
	}}
	_, err := up(t, drv, fsys)
	var me *runway.MigrationError
	if !errors.As(err, &me) || !errors.Is(err, migration.ErrChanged) || errors.Is(err, runway.ErrSource) || me.File != "0001_big.up.sql" {
		t.Fatalf("file edited while it runs: %v; want a MigrationError for 0001_big.up.sql wrapping ErrChanged", err)
	}
	if me.Statement != 0 || me.Applied < 1 || me.Error() != "0001_big.up.sql: failed: the file changed while the run was reading it" ||
		!strings.Contains(runway.FailureHint(me), "could not be read to its end while migration 1 ran") {
		t.Fatalf("file edited while it runs: %q (statement %d, %d applied), hint %q; want no statement blamed and the file named", me.Error(), me.Statement, me.Applied, runway.FailureHint(me))
	}
	h := history(t, drv)["1"]
	if h.State != database.StateFailed || h.StatementsTotal != 301 || h.StatementsApplied < 1 || h.StatementsApplied >= 301 ||
		!strings.Contains(h.Error, "changed while the run was reading it") {
		t.Fatalf("history: %+v; want failed with some of its 301 statements applied", h)
	}
}

// editOnStart calls edit when the run records a migration as running: after
// it was planned, before its first statement.
type editOnStart struct {
	database.Driver
	edit func()
}

func (e *editOnStart) WriteRevision(ctx context.Context, r database.Revision) error {
	if r.State == database.StateRunning && e.edit != nil {
		e.edit()
		e.edit = nil
	}
	return e.Driver.WriteRevision(ctx, r)
}

// A resumed large file whose statements that ran were edited after the run
// checked them, before it got to that file: the run stops before its first
// statement, and runs none of them again.
func TestLargeMigrationResumeEditedWhileRunning(t *testing.T) {
	lowerLargeFile(t)
	// Over two of the reader's 256 KiB pieces, so that the statements at the
	// start come before the end of the file shows the change.
	row := "INSERT INTO big (id, note) VALUES (%d, 'row %d " + strings.Repeat("x", 2000) + "');\n"
	head := bigScript("-- runway:no-transaction\nCREATE TABLE big (id integer primary key, note text);\n", row, 10)
	rest := bigScript("", strings.Replace(row, "(%d,", "(1%d,", 1), 300) // ids 11…1300, not those of the head
	drv := newTarget(t, "sqlite").open(t)
	_, err := up(t, drv, files("0001_big.up.sql", head+"INSERT INTO big (id, note) VALUES (7, 'duplicate');\n"+rest))
	var me *runway.MigrationError
	if !errors.As(err, &me) || me.Statement != 12 {
		t.Fatalf("first run: %v; want statement 12 to fail", err)
	}
	fixed := head + "INSERT INTO big (id, note) VALUES (5000, 'fixed');\n" + rest
	// One more statement before those that ran: counting them, the rerun
	// would start at row 10, which ran.
	edited := strings.Replace(fixed, "VALUES (1, ", "VALUES (9000, 'new');\nINSERT INTO big (id, note) VALUES (1, ", 1)
	fsys := files("0001_big.up.sql", fixed)
	spy := &editOnStart{Driver: drv, edit: func() {
		fsys["0001_big.up.sql"] = &fstest.MapFile{Data: []byte(edited)}
	}}
	_, err = up(t, spy, fsys)
	if !errors.As(err, &me) || !errors.Is(err, migration.ErrChanged) || me.Applied != 11 {
		t.Fatalf("resumed file edited during the run: %v (%+v); want ErrChanged with the 11 statements that ran", err, me)
	}
	if h := history(t, drv)["1"]; h.StatementsApplied != 11 {
		t.Fatalf("history: %+v; want 11 statements still", h)
	}
	// Neither the new row nor the fixed one went in: each id is free.
	for _, id := range []string{"9000", "5000"} {
		if err := drv.Exec(context.Background(), migration.Statement{SQL: "INSERT INTO big (id, note) VALUES (" + id + ", 'probe')"}); err != nil {
			t.Fatalf("a statement of the edited file ran (id %s): %v", id, err)
		}
	}
}
