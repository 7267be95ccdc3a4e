package runway_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/runwaydb/runway"
	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/migration"
)

// A script written for a tool that runs files as they are (golang-migrate)
// often wraps itself in BEGIN … COMMIT. Runway runs it in its own
// transaction instead, so the history row commits with it; a script with
// any other transaction control is refused before anything runs, where
// run as written its COMMIT would have ended Runway's transaction half way:
// the first part kept, the failure reported as "nothing applied", the
// first part applied again by the next run.
func TestScriptsWithTheirOwnTransactions(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		drv := tg.open(t)
		count := func() int {
			t.Helper()
			q, ok := drv.(database.Querier)
			if !ok {
				t.Fatal("the driver cannot query")
			}
			rows, err := q.QueryStrings(ctx, "SELECT COUNT(*) FROM t")
			if err != nil {
				t.Fatal(err)
			}
			n, _ := strconv.Atoi(*rows[0][0])
			return n
		}
		wrapped := files(
			"0001_t.up.sql", "CREATE TABLE t (id integer);\n",
			"0002_data.up.sql", "BEGIN;\nINSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);\nCOMMIT;\n",
			"0002_data.down.sql", "START TRANSACTION;\nDELETE FROM t;\nCOMMIT;\n",
		)
		rep := mustUp(t, drv, wrapped)
		if len(rep.Applied) != 2 || count() != 2 {
			t.Fatalf("wrapped script: applied %+v, %d rows", rep.Applied, count())
		}
		if tg.transactional() && rep.Applied[1].Statements != 2 {
			t.Errorf("wrapped script ran %d statements, want its 2 inserts without BEGIN and COMMIT", rep.Applied[1].Statements)
		}
		r, err := runway.New(drv, wrapped)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Down(ctx, runway.DownOptions{Steps: 1}); err != nil || count() != 0 {
			t.Fatalf("wrapped down script: %v, %d rows left", err, count())
		}
		if !tg.transactional() {
			return // MySQL runs scripts statement by statement, as written
		}

		blocks := files(
			"0001_t.up.sql", "CREATE TABLE t (id integer);\n",
			"0002_data.up.sql", "BEGIN;\nINSERT INTO t VALUES (1);\nCOMMIT;\n\nBEGIN;\nINSERT INTO nope VALUES (2);\nCOMMIT;\n",
		)
		_, err = up(t, drv, blocks)
		var fe *migration.FileError
		if !errors.Is(err, runway.ErrSource) || !errors.As(err, &fe) || fe.File != "0002_data.up.sql" || fe.Line != 3 ||
			!strings.Contains(err.Error(), "runway:no-transaction") {
			t.Fatalf("two BEGIN … COMMIT blocks: %v; want ErrSource at 0002_data.up.sql:3 naming runway:no-transaction", err)
		}
		if n := count(); n != 0 {
			t.Fatalf("the refused script inserted %d rows", n)
		}
		if h := history(t, drv); h["2"].State != "" {
			t.Fatalf("the refused script has a history row: %+v", h["2"])
		}
		// validate finds what up refuses, with a database and without.
		r, err = runway.New(drv, blocks)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Validate(ctx); !errors.Is(err, runway.ErrValidation) || !strings.Contains(err.Error(), "0002_data.up.sql:3") {
			t.Fatalf("validate of two BEGIN … COMMIT blocks: %v; want a finding at 0002_data.up.sql:3", err)
		}
		ms, err := migration.Load(blocks)
		if err != nil {
			t.Fatal(err)
		}
		if ps := runway.ValidateFiles(ms, drv.Dialect(), false); len(ps) != 1 || ps[0].File != "0002_data.up.sql" {
			t.Fatalf("the files alone: %+v; want one finding in 0002_data.up.sql", ps)
		}
		if ps := runway.ValidateFiles(ms, migration.MySQL, false); len(ps) != 0 {
			t.Fatalf("the files alone, for MySQL (statement by statement): %+v; want none", ps)
		}
		// Marked no-transaction, it runs as written.
		marked := files(
			"0001_t.up.sql", "CREATE TABLE t (id integer);\n",
			"0002_data.up.sql", "-- runway:no-transaction\nBEGIN;\nINSERT INTO t VALUES (1);\nCOMMIT;\n\nBEGIN;\nINSERT INTO t VALUES (2);\nCOMMIT;\n",
		)
		if rep := mustUp(t, drv, marked); len(rep.Applied) != 1 || count() != 2 {
			t.Fatalf("no-transaction script: %+v, %d rows", rep.Applied, count())
		}
		for _, c := range []struct{ sql, want string }{
			{"begin", "BEGIN"}, {"BEGIN ISOLATION LEVEL SERIALIZABLE", "BEGIN"}, {"begin immediate transaction", "BEGIN"},
			{"START TRANSACTION READ ONLY", "START TRANSACTION"}, {"commit work", "COMMIT"}, {"END", "END"},
			{"rollback", "ROLLBACK"}, {"ABORT", "ABORT"},
		} {
			_, err := up(t, drv, files("0001_t.up.sql", "CREATE TABLE t (id integer);\n", "0003_x.up.sql", "SELECT 1;\n"+c.sql+";\nSELECT 2;\n"))
			if !errors.Is(err, runway.ErrSource) || !strings.Contains(err.Error(), c.want+":") {
				t.Errorf("%q inside a script: %v; want it refused by name", c.sql, err)
			}
		}
		for _, sql := range []string{"ROLLBACK TO SAVEPOINT s", "SAVEPOINT s", "RELEASE SAVEPOINT s"} {
			set := files("0001_t.up.sql", "CREATE TABLE t (id integer);\n", "0003_x.up.sql", "SAVEPOINT s;\nINSERT INTO t VALUES (3);\n"+sql+";\n")
			if _, err := up(t, drv, set); err != nil && errors.Is(err, runway.ErrSource) {
				t.Errorf("%q refused: %v", sql, err)
			}
		}
	})
}

// Settings before a script's BEGIN (sqlite3's .dump writes PRAGMA
// foreign_keys=OFF; BEGIN TRANSACTION; … COMMIT;) stay, inside Runway's
// transaction; the wrapper goes. A BEGIN after anything else is still the
// script's own.
func TestSettingsBeforeTheWrapper(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		drv := tg.open(t)
		set := map[string]string{"sqlite": "PRAGMA foreign_keys=OFF", "postgres": "SET statement_timeout = 0", "mysql": "SET @x = 1"}[tg.name]
		begin := map[string]string{"sqlite": "BEGIN TRANSACTION", "postgres": "BEGIN TRANSACTION", "mysql": "START TRANSACTION"}[tg.name]
		dump := files("0001_t.up.sql", "CREATE TABLE t (id integer);\n",
			"0002_dump.up.sql", set+";\n"+begin+";\nINSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);\nCOMMIT;\n")
		rep := mustUp(t, drv, dump)
		if len(rep.Applied) != 2 {
			t.Fatalf("settings, then BEGIN … COMMIT: applied %+v", rep.Applied)
		}
		if tg.transactional() && rep.Applied[1].Statements != 3 {
			t.Errorf("settings, then BEGIN … COMMIT ran %d statements, want the setting and the two inserts", rep.Applied[1].Statements)
		}
		if !tg.transactional() {
			return // MySQL runs scripts statement by statement, as written
		}
		dump["0003_late.up.sql"] = &fstest.MapFile{Data: []byte(set + ";\nINSERT INTO t VALUES (3);\nBEGIN;\nINSERT INTO t VALUES (4);\nCOMMIT;\n")}
		_, err := up(t, drv, dump)
		if !errors.Is(err, runway.ErrSource) || !strings.Contains(err.Error(), "0003_late.up.sql:3") || !strings.Contains(err.Error(), "BEGIN:") {
			t.Fatalf("a BEGIN after an insert: %v; want it refused at 0003_late.up.sql:3", err)
		}
		// What acts otherwise inside a transaction is no setting: refused
		// before anything runs, as the script's own transaction control.
		delete(dump, "0003_late.up.sql")
		for _, other := range map[string][]string{"sqlite": {"PRAGMA journal_mode=WAL", "PRAGMA foreign_keys = ON"},
			"postgres": {"SET LOCAL lock_timeout = 0", "SET CONSTRAINTS ALL DEFERRED", "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
				"set session characteristics as transaction read only", "SET transaction_read_only = on", "SET SESSION default_transaction_isolation = 'serializable'"}}[tg.name] {
			dump["0003_other.up.sql"] = &fstest.MapFile{Data: []byte(other + ";\nBEGIN;\nINSERT INTO t VALUES (4);\nCOMMIT;\n")}
			if _, err := up(t, drv, dump); !errors.Is(err, runway.ErrSource) || !strings.Contains(err.Error(), "0003_other.up.sql:2") {
				t.Errorf("%s before BEGIN: %v; want the BEGIN refused at line 2", other, err)
			}
		}
	})
}

// A wrapper BEGIN that sets its transaction's mode is refused, as SET
// TRANSACTION before it is: dropped with the wrapper, the mode was lost
// without a word (a serializable backfill ran at read committed, a
// read-only script wrote). One that sets the default, or SQLite's locking
// mode, which Runway's transaction takes anyway, goes as before.
func TestWrapperWithATransactionMode(t *testing.T) {
	drv := newTarget(t, "postgres").open(t)
	for _, begin := range []string{"BEGIN ISOLATION LEVEL SERIALIZABLE", "START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
		"begin transaction read only", "BEGIN READ ONLY, DEFERRABLE, ISOLATION LEVEL SERIALIZABLE", "BEGIN DEFERRABLE"} {
		_, err := up(t, drv, files("0001_m.up.sql", begin+";\nCREATE TABLE m AS SELECT current_setting('transaction_isolation') AS iso;\nCOMMIT;\n"))
		if !errors.Is(err, runway.ErrSource) || !strings.Contains(err.Error(), "0001_m.up.sql:1") || !strings.Contains(err.Error(), "where that mode would be lost") {
			t.Errorf("%s: %v; want it refused at line 1", begin, err)
		}
		if exists(t, drv, "m") {
			t.Fatalf("%s: the refused script ran", begin)
		}
	}
	mustUp(t, drv, files("0001_m.up.sql", "BEGIN ISOLATION LEVEL READ COMMITTED, READ WRITE, NOT DEFERRABLE;\nCREATE TABLE m (id int);\nCOMMIT;\n"))
	mustUp(t, newTarget(t, "sqlite").open(t), files("0001_m.up.sql", "BEGIN IMMEDIATE TRANSACTION;\nCREATE TABLE m (id int);\nCOMMIT;\n"))

	// Read as it is sent (a large file), the same.
	lowerLargeFile(t)
	body := bigScript("CREATE TABLE big (id integer primary key);\n", "INSERT INTO big (id) VALUES (%d); -- %d\n", 500)
	_, err := up(t, drv, files("0002_big.up.sql", "BEGIN ISOLATION LEVEL SERIALIZABLE;\n"+body+"COMMIT;\n"))
	if !errors.Is(err, runway.ErrSource) || !strings.Contains(err.Error(), "where that mode would be lost") || exists(t, drv, "big") {
		t.Fatalf("a streamed script with BEGIN ISOLATION LEVEL SERIALIZABLE: %v; want it refused", err)
	}
}

// The same for a script large enough to be read as it is sent.
func TestStreamedScriptsWithTheirOwnTransactions(t *testing.T) {
	lowerLargeFile(t)
	body := bigScript("CREATE TABLE big (id integer primary key);\n", "INSERT INTO big (id) VALUES (%d); -- %d\n", 500)
	eachDB(t, func(t *testing.T, tg target) {
		if !tg.transactional() {
			return
		}
		drv := tg.open(t)
		_, err := up(t, drv, files("0001_big.up.sql", body+"COMMIT;\nINSERT INTO big (id) VALUES (501);\n"))
		if !errors.Is(err, runway.ErrSource) || !strings.Contains(err.Error(), "COMMIT:") || !strings.Contains(err.Error(), "0001_big.up.sql:502") {
			t.Fatalf("a COMMIT inside a streamed script: %v; want it refused at line 502", err)
		}
		if exists(t, drv, "big") {
			t.Fatal("the refused streamed script left its table")
		}
		set := map[string]string{"sqlite": "PRAGMA foreign_keys=OFF", "postgres": "SET statement_timeout = 0"}[tg.name]
		rep := mustUp(t, drv, files("0001_big.up.sql", set+";\nBEGIN;\n"+body+"COMMIT;\n"))
		if len(rep.Applied) != 1 || rep.Applied[0].Statements != 502 {
			t.Fatalf("a wrapped streamed script after a setting: %+v, want 502 statements", rep.Applied)
		}
	})
}

// What a down run logs says it reverts, not that it applies.
func TestDownEventsSayRevert(t *testing.T) {
	drv := newTarget(t, "sqlite").open(t)
	mustUp(t, drv, basic)
	var lines []string
	r, err := runway.New(drv, basic, runway.WithObserver(func(e runway.Event) { lines = append(lines, e.String()) }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Down(context.Background(), runway.DownOptions{Steps: 1}); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(lines, "\n")
	if !strings.Contains(got, "reverting 3_tags") || !strings.Contains(got, "reverted 3_tags in") || strings.Contains(got, "applying") {
		t.Errorf("down's events:\n%s", got)
	}
}

// A script run statement by statement (no-transaction, or any script on
// MySQL) that leaves a transaction open, or MySQL's autocommit off, is
// refused before anything runs, up and down, and validate finds it. Run,
// its open transaction, and the history row written after it in the same
// session, were rolled back when the session closed, while the run
// reported the migration applied (exit 0). Scripts that end what they open
// run as written, data included.
func TestScriptsLeavingATransactionOpen(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		drv := tg.open(t)
		mark := "-- runway:no-transaction\n"
		begin := "BEGIN"
		if !tg.transactional() {
			mark, begin = "SET @x = 1;\n", "START TRANSACTION" // a line, as the mark is
		}
		src := files("0001_t.up.sql", "CREATE TABLE t (id integer);\n")
		mustUp(t, drv, src)
		count := func() int {
			t.Helper()
			rows, err := drv.(database.Querier).QueryStrings(ctx, "SELECT COUNT(*) FROM t")
			if err != nil {
				t.Fatal(err)
			}
			n, _ := strconv.Atoi(*rows[0][0])
			return n
		}
		type refusal struct{ name, script, at, what string }
		refused := []refusal{
			{"begin without commit", mark + "INSERT INTO t VALUES (1);\n" + begin + ";\nINSERT INTO t VALUES (2);\n", ":3", begin + " opens a transaction"},
			{"two blocks, the second open", mark + begin + ";\nINSERT INTO t VALUES (1);\nCOMMIT;\n" + begin + ";\nINSERT INTO t VALUES (2);\n", ":5", begin + " opens"},
		}
		if !tg.transactional() {
			refused = append(refused,
				refusal{"autocommit off", "SET autocommit = 0;\nINSERT INTO t VALUES (1);\nCOMMIT;\nINSERT INTO t VALUES (2);\n", ":1", "SET autocommit = 0 is in force"},
				refusal{"commit and chain", "START TRANSACTION;\nINSERT INTO t VALUES (1);\nCOMMIT AND CHAIN;\nINSERT INTO t VALUES (2);\n", ":3", "COMMIT AND CHAIN opens"},
				refusal{"opened after DDL", "START TRANSACTION;\nINSERT INTO t VALUES (1);\nCREATE TABLE u (id int);\nBEGIN WORK;\nINSERT INTO t VALUES (2);\n", ":4", "BEGIN opens"},
			)
		}
		check := func(name string, src fstest.MapFS, file, at, what string, run func(r *runway.Runner) error) {
			t.Helper()
			r, err := runway.New(drv, src)
			if err != nil {
				t.Fatal(err)
			}
			before := count()
			if err := run(r); !errors.Is(err, runway.ErrSource) || !strings.Contains(err.Error(), file+at+":") || !strings.Contains(err.Error(), what) {
				t.Errorf("%s: %v; want ErrSource at %s%s saying %q", name, err, file, at, what)
			}
			if n := count(); n != before {
				t.Errorf("%s: the refused script changed the rows of t: %d, then %d", name, before, n)
			}
			if _, err := r.Validate(ctx); !errors.Is(err, runway.ErrValidation) || !strings.Contains(err.Error(), file+at) {
				t.Errorf("validate, %s: %v; want a finding at %s%s", name, err, file, at)
			}
		}
		for _, c := range refused {
			up := maps.Clone(src)
			up["0002_x.up.sql"] = &fstest.MapFile{Data: []byte(c.script)}
			check(c.name, up, "0002_x.up.sql", c.at, c.what, func(r *runway.Runner) error {
				_, err := r.Up(ctx, runway.UpOptions{})
				return err
			})
			if h := history(t, drv)["2"]; h.State != "" {
				t.Fatalf("%s: the refused script has a history row: %+v", c.name, h)
			}
		}
		// The same as a down script.
		c := refused[0]
		down := maps.Clone(src)
		down["0002_x.up.sql"] = &fstest.MapFile{Data: []byte("INSERT INTO t VALUES (9);\n")}
		down["0002_x.down.sql"] = &fstest.MapFile{Data: []byte(c.script)}
		mustUp(t, drv, down)
		check(c.name+" (down)", down, "0002_x.down.sql", c.at, c.what, func(r *runway.Runner) error {
			_, err := r.Down(ctx, runway.DownOptions{Steps: 1})
			return err
		})
		if h := history(t, drv)["2"]; h.State != database.StateApplied {
			t.Fatalf("the refused down script changed the history row: %+v", h)
		}
		// Ended, they run as written.
		fine := mark + begin + ";\nINSERT INTO t VALUES (1);\nCOMMIT;\n" + begin + ";\nINSERT INTO t VALUES (2);\nROLLBACK;\n"
		want := 2 // with 9
		if !tg.transactional() {
			fine += "SET autocommit = 0;\nINSERT INTO t VALUES (3);\nCOMMIT;\nSET autocommit = 1;\n" +
				"START TRANSACTION;\nINSERT INTO t VALUES (4);\nCREATE TABLE u (id int);\n" + // the DDL commits
				// phpMyAdmin's exports leave autocommit off after their COMMIT.
				"SET AUTOCOMMIT = 0;\nSTART TRANSACTION;\nSET time_zone = '+00:00';\nINSERT INTO t VALUES (5);\nCOMMIT;\n"
			want = 5
		}
		src["0002_x.up.sql"] = &fstest.MapFile{Data: []byte("INSERT INTO t VALUES (9);\n")}
		src["0003_y.up.sql"] = &fstest.MapFile{Data: []byte(fine)}
		src["0004_z.up.sql"] = &fstest.MapFile{Data: []byte("INSERT INTO t VALUES (10);\n")}
		rep := mustUp(t, drv, src)
		drv.Close(ctx) // what follows is what committed
		drv = tg.open(t)
		if len(rep.Applied) != 2 || count() != want+1 {
			t.Fatalf("a script that ends its transactions, and one after it: applied %+v, %d rows, want %d", rep.Applied, count(), want+1)
		}
		for _, v := range []string{"3", "4"} {
			if h := history(t, drv)[v]; h.State != database.StateApplied {
				t.Fatalf("history row %s: %+v", v, h)
			}
		}
	})
}

// The same for a script large enough to be read as it runs.
func TestLargeScriptLeavingATransactionOpen(t *testing.T) {
	lowerLargeFile(t)
	body := bigScript("CREATE TABLE big (id integer primary key);\n", "INSERT INTO big (id) VALUES (%d); -- %d\n", 500)
	eachDB(t, func(t *testing.T, tg target) {
		drv := tg.open(t)
		mark := "-- runway:no-transaction\n"
		if !tg.transactional() {
			mark = "SET @x = 1;\n"
		}
		_, err := up(t, drv, files("0001_big.up.sql", mark+body+"BEGIN;\nINSERT INTO big (id) VALUES (501);\n"))
		if !errors.Is(err, runway.ErrSource) || !strings.Contains(err.Error(), "0001_big.up.sql:503:") || !strings.Contains(err.Error(), "BEGIN opens") {
			t.Fatalf("a large script whose last BEGIN is not committed: %v; want it refused at line 503", err)
		}
		if exists(t, drv, "big") {
			t.Fatal("the refused script ran")
		}
		rep := mustUp(t, drv, files("0001_big.up.sql", mark+body+"BEGIN;\nINSERT INTO big (id) VALUES (501);\nCOMMIT;\n"))
		if len(rep.Applied) != 1 {
			t.Fatalf("the same script, committed: %+v", rep.Applied)
		}
	})
}

// A statement that fails inside a transaction the script opened itself
// (no-transaction, or any script on MySQL): that transaction is rolled
// back, and the history row says the migration resumes at its BEGIN, not at
// the failing statement. Before, the row counted the rolled-back
// statements as applied: on PostgreSQL the rerun skipped them (an INSERT
// lost for good), and on MySQL and SQLite the failure's record was caught in
// the open transaction and rolled back with it (the row stayed running,
// and the error said the rolled-back statements had taken effect).
func TestFailureInsideTheScriptsTransaction(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		mark, begin := asWritten(tg)
		type failure struct {
			name          string
			script, fixed string // %[1]s: the table
			stmt          int    // the statement that fails
			undoneFrom    int    // the first statement rolled back, 0 for none
			applied       int    // what the row records
			rowsBefore    int    // rows of the table after the failure
			rowsAfter     int    // and after the fixed file's rerun
		}
		ins := func(v int) string { return fmt.Sprintf("INSERT INTO %%[1]s VALUES (%d);\n", v) }
		create := mark + "CREATE TABLE %[1]s (id integer primary key);\n"
		cases := []failure{
			{"begin", create + begin + ";\n" + ins(1) + ins(1) + ins(3) + "COMMIT;\n",
				create + begin + ";\n" + ins(1) + ins(2) + ins(3) + "COMMIT;\n", 4, 2, 1, 0, 3},
		}
		switch tg.name {
		case "mysql":
			cases = append(cases,
				failure{"autocommit off", create + "SET autocommit = 0;\n" + ins(1) + ins(1) + ins(3) + "COMMIT;\nSET autocommit = 1;\n",
					create + "SET autocommit = 0;\n" + ins(1) + ins(2) + ins(3) + "COMMIT;\nSET autocommit = 1;\n", 4, 2, 1, 0, 3},
				// Statements Runway does not know stay in the transaction:
				// the row read back after the rollback says what stands.
				failure{"prepared", create + begin + ";\n" + ins(1) + "PREPARE s FROM 'INSERT INTO %[1]s VALUES (2)';\nEXECUTE s;\n" + ins(1) + "COMMIT;\n",
					create + begin + ";\n" + ins(1) + "PREPARE s FROM 'INSERT INTO %[1]s VALUES (2)';\nEXECUTE s;\n" + ins(3) + "COMMIT;\n", 6, 2, 1, 0, 3},
				// With autocommit off, the record of a statement that
				// committed implicitly commits too: the rollback after the
				// failure takes nothing back, and the rerun does not run
				// the CREATE statements again (sent with its record, and
				// alone: a body).
				failure{"autocommit off, DDL", "SET AUTOCOMMIT = 0;\n" + begin + ";\nCREATE TABLE %[1]s (id integer primary key);\n" +
					"DELIMITER //\nCREATE PROCEDURE %[1]s_p() BEGIN SELECT 1; END//\nDELIMITER ;\nINSERT INTO %[1]s VALUES (1), (1);\nCOMMIT;\n",
					"SET AUTOCOMMIT = 0;\n" + begin + ";\nCREATE TABLE %[1]s (id integer primary key);\n" +
						"DELIMITER //\nCREATE PROCEDURE %[1]s_p() BEGIN SELECT 1; END//\nDELIMITER ;\nINSERT INTO %[1]s VALUES (1), (2);\nCOMMIT;\n", 5, 0, 4, 0, 2},
				// A failing DDL statement has committed the transaction
				// before it runs: nothing is rolled back.
				failure{"ddl commits", create + begin + ";\n" + ins(1) + "ALTER TABLE missing ADD c int;\n" + ins(2) + "COMMIT;\n",
					create + begin + ";\n" + ins(1) + "CREATE TABLE %[1]s_b (id int);\n" + ins(2) + "COMMIT;\n", 4, 0, 3, 1, 2},
			)
		case "postgres":
			cases = append(cases,
				// COMMIT AND CHAIN commits (with its own record) and opens
				// the next transaction.
				failure{"chain", create + begin + ";\n" + ins(1) + "COMMIT AND CHAIN;\n" + ins(2) + ins(2) + "COMMIT;\n",
					create + begin + ";\n" + ins(1) + "COMMIT AND CHAIN;\n" + ins(2) + ins(3) + "COMMIT;\n", 6, 5, 4, 1, 3},
			)
		case "sqlite":
			cases = append(cases,
				// A SAVEPOINT outside a transaction opens one.
				failure{"savepoint", create + "SAVEPOINT s;\n" + ins(1) + ins(1) + "RELEASE s;\n",
					create + "SAVEPOINT s;\n" + ins(1) + ins(2) + "RELEASE s;\n", 4, 2, 1, 0, 2},
			)
		}
		for i, c := range cases {
			table := fmt.Sprintf("rb%d", i)
			for _, size := range []string{"small", "large"} {
				if size == "large" {
					lowerLargeFile(t)
				}
				body := fmt.Sprintf(c.script, table)
				fixed := fmt.Sprintf(c.fixed, table)
				if size == "large" { // read as it runs: past migration.LargeFile
					pad := strings.Repeat("-- padding\n", 500)
					body, fixed = pad+body, pad+fixed
				}
				name := c.name + "/" + size
				fresh := newTarget(t, tg.name)
				drv := fresh.open(t)
				// A migration before it: on MySQL the two travel in one message.
				src := files("0001_pre.up.sql", "CREATE TABLE pre (id integer);\n", "0002_x.up.sql", body)
				_, err := up(t, drv, src)
				var me *runway.MigrationError
				if !errors.As(err, &me) || me.Statement != c.stmt || me.UndoneFrom != c.undoneFrom || me.Applied != c.applied {
					t.Fatalf("%s: %v (%+v); want statement %d failed, statements from %d undone, %d applied", name, err, me, c.stmt, c.undoneFrom, c.applied)
				}
				if hint := runway.FailureHint(me); c.undoneFrom > 0 && !strings.Contains(hint, fmt.Sprintf("it resumes at statement %d", c.undoneFrom)) {
					t.Errorf("%s: the hint does not say where the rerun resumes: %s", name, hint)
				}
				// What another session sees: the record committed, the
				// transaction's rows rolled back.
				other := fresh.open(t)
				h := history(t, other)["2"]
				if h.State != database.StateFailed || h.StatementsApplied != c.applied {
					t.Fatalf("%s: history row %+v; want failed with %d statements applied", name, h, c.applied)
				}
				rows, err := other.(database.Querier).QueryStrings(ctx, "SELECT COUNT(*) FROM "+table)
				if err != nil || *rows[0][0] != strconv.Itoa(c.rowsBefore) {
					t.Fatalf("%s: rows after the failure: %v %v; want %d", name, rows, err, c.rowsBefore)
				}
				drv.Close(ctx)
				// The fixed file resumes where the row says, and every row
				// is there once.
				src["0002_x.up.sql"] = &fstest.MapFile{Data: []byte(fixed)}
				mustUp(t, other, src)
				rows, err = other.(database.Querier).QueryStrings(ctx, "SELECT COUNT(*) FROM "+table)
				if err != nil || *rows[0][0] != strconv.Itoa(c.rowsAfter) {
					t.Fatalf("%s: after the rerun: %v %v; want %d rows", name, rows, err, c.rowsAfter)
				}
			}
		}
	})
}

// The same for a down script: the row (reverting) goes back to where the
// script's transaction opened, and the next down resumes there.
func TestDownFailureInsideTheScriptsTransaction(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		mark, begin := asWritten(tg)
		down := func(fourth string) string {
			return mark + "DELETE FROM dx WHERE id = 3;\n" + begin + ";\nDELETE FROM dx WHERE id = 2;\n" + fourth + ";\nDELETE FROM dx WHERE id = 1;\nCOMMIT;\nDROP TABLE dx;\n"
		}
		src := files("0001_x.up.sql", "CREATE TABLE dx (id integer primary key);\nINSERT INTO dx VALUES (1);\nINSERT INTO dx VALUES (2);\nINSERT INTO dx VALUES (3);\n",
			"0001_x.down.sql", down("INSERT INTO dx VALUES (1)"))
		drv := tg.open(t)
		mustUp(t, drv, src)
		r, err := runway.New(drv, src)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Down(ctx, runway.DownOptions{Steps: 1})
		var me *runway.MigrationError
		if !errors.As(err, &me) || me.Statement != 4 || me.UndoneFrom != 2 || me.Applied != 1 || !me.Down {
			t.Fatalf("down: %v (%+v); want statement 4 failed, statements from 2 undone, 1 applied", err, me)
		}
		if hint := runway.FailureHint(me); !strings.Contains(hint, "`runway down` again: it resumes at statement 2") {
			t.Errorf("the hint: %s", hint)
		}
		other := tg.open(t)
		if h := history(t, other)["1"]; h.State != database.StateReverting || h.StatementsApplied != 1 {
			t.Fatalf("history row %+v; want reverting with 1 statement applied", h)
		}
		rows, err := other.(database.Querier).QueryStrings(ctx, "SELECT COUNT(*) FROM dx")
		if err != nil || *rows[0][0] != "2" {
			t.Fatalf("rows of dx: %v %v; want 1 and 2 (the delete of 2 rolled back)", rows, err)
		}
		src["0001_x.down.sql"] = &fstest.MapFile{Data: []byte(down("SELECT 1"))}
		r, err = runway.New(other, src)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Down(ctx, runway.DownOptions{Steps: 1}); err != nil {
			t.Fatalf("down again: %v", err)
		}
		if exists(t, other, "dx") || history(t, other)["1"].State != "" {
			t.Fatal("down again did not finish the revert")
		}
	})
}

// A statement that cannot run in a transaction block (VACUUM), inside a
// transaction a no-transaction script opened itself, fails, as in psql.
// Before, Runway ran it again alone after the failure had rolled back the
// script's transaction, and reported the migration applied without the
// INSERT before it.
func TestNoTransactionStatementInsideTheScriptsTransaction(t *testing.T) {
	tg := newTarget(t, "postgres")
	drv := tg.open(t)
	src := files("0001_v.up.sql", "-- runway:no-transaction\nCREATE TABLE v (id integer);\nBEGIN;\nINSERT INTO v VALUES (1);\nVACUUM v;\nCOMMIT;\n")
	_, err := up(t, drv, src)
	var me *runway.MigrationError
	if !errors.As(err, &me) || me.Statement != 4 || me.Code != "25001" || me.UndoneFrom != 2 || me.Applied != 1 {
		t.Fatalf("VACUUM inside the script's BEGIN: %v (%+v); want statement 4 failed (25001), statements from 2 undone", err, me)
	}
	if h := history(t, tg.open(t))["1"]; h.State != database.StateFailed || h.StatementsApplied != 1 {
		t.Fatalf("history row %+v; want failed after 1 statement", h)
	}
	// Outside the script's transaction it runs alone, as before.
	src["0001_v.up.sql"] = &fstest.MapFile{Data: []byte("-- runway:no-transaction\nCREATE TABLE v (id integer);\nBEGIN;\nINSERT INTO v VALUES (1);\nCOMMIT;\nVACUUM v;\n")}
	if _, err := up(t, tg.open(t), src); err != nil {
		t.Fatalf("VACUUM after the script's COMMIT: %v", err)
	}
}

// asWritten returns what makes a script run as written, statement by
// statement, on tg (the no-transaction mark; nothing on MySQL), and the
// statement that opens a transaction there.
func asWritten(tg target) (mark, begin string) {
	if !tg.transactional() {
		return "", "START TRANSACTION"
	}
	return "-- runway:no-transaction\n", "BEGIN"
}
