package runway_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/runwaydb/runway"
	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/migration"
	"github.com/runwaydb/runway/report"
)

// A migration that changes where the session's unqualified names point
// (PostgreSQL SET search_path, MySQL USE) does not move Runway's history:
// its rows are written where the history was when the lock was taken.
func TestMigrationsThatMoveTheSession(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"postgres", "mysql"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tg := newTarget(t, name)
			drv := tg.open(t)
			var set map[string]string
			if name == "postgres" {
				set = map[string]string{
					"0001_schema.up.sql": "CREATE SCHEMA app;\nSET search_path TO app;\nCREATE TABLE t (id int);\n",
					"0002_more.up.sql":   "-- runway:no-transaction\nSET search_path TO app;\nCREATE TABLE u (id int);\nINSERT INTO u VALUES (1);\n",
				}
			} else {
				other := fmt.Sprintf("rw_moved_%d", time.Now().UnixNano()%1e9)
				t.Cleanup(func() { drv.Exec(ctx, migration.Statement{SQL: "DROP DATABASE IF EXISTS " + other}) })
				set = map[string]string{
					"0001_schema.up.sql": "CREATE DATABASE " + other + ";\nUSE " + other + ";\nCREATE TABLE t (id int);\n",
					"0002_more.up.sql":   "USE " + other + ";\nCREATE TABLE u (id int);\nINSERT INTO u VALUES (1);\n",
				}
			}
			var kv []string
			for k, v := range set {
				kv = append(kv, k, v)
			}
			src := files(kv...)
			rep := mustUp(t, tg.open(t), src)
			if len(rep.Applied) != 2 {
				t.Fatalf("applied %+v", rep.Applied)
			}
			h := history(t, drv)
			for _, v := range []string{"1", "2"} {
				if h[v].State != database.StateApplied {
					t.Errorf("history row %s: %+v, want applied where the history is", v, h[v])
				}
			}
			if rep := mustUp(t, tg.open(t), src); rep.Status != report.StatusNoop {
				t.Errorf("second up: %s, want noop", rep.Status)
			}
			if q, ok := drv.(database.Querier); ok {
				rows, err := q.QueryStrings(ctx, "SELECT COUNT(*) FROM runway_migrations")
				if err != nil || *rows[0][0] != "2" {
					t.Errorf("the history table where it was: %v %v", rows, err)
				}
			}
		})
	}
}

// A migration's SET search_path does not reach the next migration, however
// the migrations are batched: each starts from the session's own path.
func TestSearchPathDoesNotCarryOver(t *testing.T) {
	ctx := context.Background()
	set := files(
		"0001_app.up.sql", "CREATE SCHEMA app;\nSET search_path TO app;\nCREATE TABLE a (id int);\n",
		"0002_next.up.sql", "CREATE TABLE b (id int);\n",
		// SET SCHEMA is SET search_path spelt otherwise.
		"0003_alias.up.sql", "SET SCHEMA 'app';\nCREATE TABLE c (id int);\n",
		"0004_next.up.sql", "CREATE TABLE d (id int);\n",
	)
	for _, steps := range []int{0, 1} {
		t.Run(fmt.Sprintf("steps %d", steps), func(t *testing.T) {
			tg := newTarget(t, "postgres")
			drv := tg.open(t)
			for {
				r, err := runway.New(tg.open(t), set)
				if err != nil {
					t.Fatal(err)
				}
				rep, err := r.Up(ctx, runway.UpOptions{Steps: steps})
				if err != nil {
					t.Fatal(err)
				}
				if rep.Status == report.StatusNoop || steps == 0 {
					break
				}
			}
			q := drv.(database.Querier)
			rows, err := q.QueryStrings(ctx, "SELECT string_agg(table_schema, ',' ORDER BY table_name) FROM information_schema.tables WHERE table_name IN ('b', 'd')")
			if err != nil || len(rows) != 1 || *rows[0][0] != "public,public" {
				t.Errorf("tables b and d of migrations 2 and 4 are in %v (%v), want public,public", rows, err)
			}
		})
	}
}

// A migration resumed after a failure runs its remaining statements in a
// new session: the statements that ran before the failure and set the
// session (SET search_path, set_config, USE, SET @var, SET
// FOREIGN_KEY_CHECKS in a mysqldump comment, PRAGMA, ATTACH) are sent again
// first, and only those, so the rest runs as it would have in one run.
func TestResumeSendsTheSessionSettingsAgain(t *testing.T) {
	ctx := context.Background()
	eachDB(t, func(t *testing.T, tg target) {
		drv := tg.open(t)
		var script func(fixed bool) string
		var replayed []int
		var check func(t *testing.T)
		query := func(t *testing.T, sql string) string {
			t.Helper()
			rows, err := drv.(database.Querier).QueryStrings(ctx, sql)
			if err != nil || len(rows) != 1 || rows[0][0] == nil {
				t.Fatalf("%s: %v %v", sql, rows, err)
			}
			return *rows[0][0]
		}
		pick := func(fixed bool, good, bad string) string {
			if fixed {
				return good
			}
			return bad
		}
		switch tg.name {
		case "postgres":
			script = func(fixed bool) string {
				// A comment in the SET (its parentheses are no function call).
				return "-- runway:no-transaction\nCREATE SCHEMA rs_app;\nSET search_path TO rs_app, -- tenant tables (see ADR-12)\n  public;\n" +
					"SELECT pg_catalog.set_config('lock_timeout', '3s', false);\n" +
					"CREATE TABLE log (n int);\nINSERT INTO log VALUES (1);\n" +
					pick(fixed, "CREATE TABLE u (id int, lt text);\n", "CREATE TABLE u (id nosuchtype);\n") +
					"INSERT INTO u VALUES (1, current_setting('lock_timeout'));\n"
			}
			replayed = []int{2, 3}
			check = func(t *testing.T) {
				if got := query(t, "SELECT lt FROM rs_app.u"); got != "3s" {
					t.Errorf("lock_timeout after the resume: %q, want 3s", got)
				}
				if got := query(t, "SELECT count(*) FROM rs_app.log"); got != "1" {
					t.Errorf("rows in log: %s, want 1 (the INSERT before the failure is not sent again)", got)
				}
			}
		case "mysql":
			other := fmt.Sprintf("rw_resume_%d", time.Now().UnixNano()%1e9)
			t.Cleanup(func() { drv.Exec(ctx, migration.Statement{SQL: "DROP DATABASE IF EXISTS " + other}) })
			script = func(fixed bool) string {
				// @parent, set again from LAST_INSERT_ID(), which a new
				// session answers otherwise, is unset after the resume, not
				// 1, although SET @parent = 1 is sent again for @label: plan
				// shows a SET @parent = NULL under statement 9's number.
				return "CREATE DATABASE " + other + ";\nUSE " + other + ";\nSET @tag = 'x';\n" +
					"/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;\n" +
					"SET @parent = 1;\nSET @label = @parent;\nCREATE TABLE log (n int);\nINSERT INTO log VALUES (1);\nSET @parent = LAST_INSERT_ID();\n" +
					pick(fixed, "CREATE TABLE u (id int, p int, FOREIGN KEY (p) REFERENCES no_parent_yet (id)) ENGINE=InnoDB;\n", "INSERT INTO nope VALUES (1);\n") +
					"CREATE TABLE v AS SELECT @tag AS tag, @@foreign_key_checks AS fk, @parent AS parent, @label AS label;\n"
			}
			replayed = []int{2, 3, 4, 5, 6}
			check = func(t *testing.T) {
				if got := query(t, "SELECT concat(tag, ' ', fk, ' ', coalesce(parent, 'unset'), ' ', label) FROM "+other+".v"); got != "x 0 unset 1" {
					t.Errorf("@tag, FOREIGN_KEY_CHECKS, @parent and @label after the resume: %q, want \"x 0 unset 1\"", got)
				}
				if got := query(t, "SELECT count(*) FROM "+other+".log"); got != "1" {
					t.Errorf("rows in log: %s, want 1 (the INSERT before the failure is not sent again)", got)
				}
			}
		case "sqlite":
			aux := filepath.Join(t.TempDir(), "aux.db")
			script = func(fixed bool) string {
				return "-- runway:no-transaction\nPRAGMA case_sensitive_like = ON;\n" +
					"ATTACH DATABASE '" + aux + "' AS aux;\n" +
					"CREATE TABLE log (n int);\nINSERT INTO log VALUES (1);\n" +
					pick(fixed, "CREATE TABLE aux.u (id int);\n", "INSERT INTO nope VALUES (1);\n") +
					"CREATE TABLE v AS SELECT ('a' LIKE 'A') AS ci;\n"
			}
			replayed = []int{1, 2}
			check = func(t *testing.T) {
				if got := query(t, "SELECT ci FROM v"); got != "0" {
					t.Errorf("'a' LIKE 'A' after the resume: %s, want 0 (case_sensitive_like on)", got)
				}
				if got := query(t, "SELECT count(*) FROM log"); got != "1" {
					t.Errorf("rows in log: %s, want 1 (the INSERT before the failure is not sent again)", got)
				}
			}
		}
		if _, err := up(t, tg.open(t), files("0001_s.up.sql", script(false))); !errors.Is(err, runway.ErrMigrationFailed) {
			t.Fatalf("first run: %v", err)
		}
		r, err := runway.New(tg.open(t), files("0001_s.up.sql", script(true)))
		if err != nil {
			t.Fatal(err)
		}
		plan, err := r.Plan(ctx, runway.UpOptions{})
		if err != nil {
			t.Fatalf("plan: %v", err)
		}
		if len(plan.Plan) != 1 {
			t.Fatalf("plan: %+v", plan.Plan)
		}
		var planned []int
		for _, st := range plan.Plan[0].Replayed {
			if unset := tg.name == "mysql" && st.Number == 9; st.Unset != unset || unset && st.SQL != "SET @`parent` = NULL" {
				t.Errorf("plan's statement %d sent again: %+v", st.Number, st)
			}
			if !st.Unset {
				planned = append(planned, st.Number)
			}
		}
		if !slices.Equal(planned, replayed) {
			t.Fatalf("plan: %+v, want statements %v sent again", plan.Plan, replayed)
		}
		var started []runway.Event
		rep, err := up(t, tg.open(t), files("0001_s.up.sql", script(true)), runway.WithObserver(func(e runway.Event) {
			if e.Kind == runway.EventMigrationStart {
				started = append(started, e)
			}
		}))
		if err != nil {
			t.Fatalf("rerun after the fix: %v", err)
		}
		if len(rep.Applied) != 1 || !slices.Equal(rep.Applied[0].Replayed, replayed) {
			t.Fatalf("applied: %+v, want statements %v sent again", rep.Applied, replayed)
		}
		if len(started) != 1 || !slices.Equal(started[0].Replayed, replayed) {
			t.Errorf("start events: %+v", started)
		}
		if rev := history(t, drv)["1"]; rev.State != database.StateApplied {
			t.Errorf("row after the resume: %+v", rev)
		}
		check(t)
	})
}

// A statement sent again before the resume that fails (the database a USE
// names was dropped by hand since) stops the run before anything else runs,
// names the statement, and leaves the row as it was.
func TestResumeStopsWhenASessionSettingFails(t *testing.T) {
	ctx := context.Background()
	tg := newTarget(t, "mysql")
	drv := tg.open(t)
	other := fmt.Sprintf("rw_gone_%d", time.Now().UnixNano()%1e9)
	t.Cleanup(func() { drv.Exec(ctx, migration.Statement{SQL: "DROP DATABASE IF EXISTS " + other}) })
	script := func(last string) fstest.MapFS {
		return files("0001_s.up.sql", "CREATE DATABASE "+other+";\nUSE "+other+";\nCREATE TABLE a (id int);\n"+last)
	}
	if _, err := up(t, tg.open(t), script("INSERT INTO nope VALUES (1);\n")); !errors.Is(err, runway.ErrMigrationFailed) {
		t.Fatalf("first run: %v", err)
	}
	before := history(t, drv)["1"]
	if err := drv.Exec(ctx, migration.Statement{SQL: "DROP DATABASE " + other}); err != nil {
		t.Fatal(err)
	}
	_, err := up(t, tg.open(t), script("CREATE TABLE b (id int);\n"))
	if !errors.Is(err, runway.ErrMigrationFailed) || !strings.Contains(err.Error(), "0001_s.up.sql:2: statement 2") ||
		!strings.Contains(err.Error(), "resuming at statement 4") {
		t.Fatalf("rerun: %v, want the failed USE named", err)
	}
	after := history(t, drv)["1"]
	if after.State != before.State || after.StatementsApplied != 3 || after.Error != before.Error {
		t.Errorf("row: %+v, want it as the first run left it: %+v", after, before)
	}
}

// A down script resumed after a failure gets its session settings back too.
func TestResumedDownSendsTheSessionSettingsAgain(t *testing.T) {
	ctx := context.Background()
	tg := newTarget(t, "postgres")
	drv := tg.open(t)
	set := func(down string) fstest.MapFS {
		return files("0001_s.up.sql", "CREATE SCHEMA rd_app;\nCREATE TABLE rd_app.t (id int);\nCREATE TABLE rd_app.u (id int);\n",
			"0001_s.down.sql", "-- runway:no-transaction\nSET search_path TO rd_app;\nDROP TABLE u;\n"+down+"DROP TABLE t;\n")
	}
	mustUp(t, tg.open(t), set(""))
	down := func(fsys fstest.MapFS) (*report.Report, error) {
		r, err := runway.New(tg.open(t), fsys)
		if err != nil {
			t.Fatal(err)
		}
		return r.Down(ctx, runway.DownOptions{Steps: 1})
	}
	if _, err := down(set("DROP TABLE nosuch;\n")); !errors.Is(err, runway.ErrMigrationFailed) {
		t.Fatalf("first down: %v", err)
	}
	rep, err := down(set("DROP TABLE IF EXISTS nosuch;\n"))
	if err != nil {
		t.Fatalf("down after the fix: %v", err)
	}
	if len(rep.Applied) != 1 || rep.Applied[0].Resumed != 2 || !slices.Equal(rep.Applied[0].Replayed, []int{1}) {
		t.Errorf("reverted: %+v, want resumed after 2 with statement 1 sent again", rep.Applied)
	}
	if exists(t, drv, "rd_app.t") {
		t.Error("rd_app.t is still there: the resumed DROP TABLE t looked elsewhere")
	}
}

// A large file, read as it runs (migration.LargeFile), gets its session
// settings back too: they are picked up by the reading that counts it.
func TestResumedLargeFileSendsTheSessionSettingsAgain(t *testing.T) {
	lowerLargeFile(t)
	tg := newTarget(t, "postgres")
	drv := tg.open(t)
	body := bigScript("-- runway:no-transaction\nCREATE SCHEMA rl_app;\nSET search_path TO rl_app;\nCREATE TABLE big (id int, note text);\n",
		"INSERT INTO big VALUES (%d, 'row %d "+strings.Repeat("x", 100)+"');\n", 60)
	if len(body) <= migration.LargeFile {
		t.Fatalf("the test file is %d bytes, not large", len(body))
	}
	if _, err := up(t, tg.open(t), files("0001_big.up.sql", body+"INSERT INTO nope VALUES (1);\nCREATE TABLE after (id int);\n")); !errors.Is(err, runway.ErrMigrationFailed) {
		t.Fatalf("first run: %v", err)
	}
	rep := mustUp(t, tg.open(t), files("0001_big.up.sql", body+"INSERT INTO big VALUES (0, 'fixed');\nCREATE TABLE after (id int);\n"))
	if len(rep.Applied) != 1 || rep.Applied[0].Resumed != 63 || !slices.Equal(rep.Applied[0].Replayed, []int{2}) {
		t.Fatalf("applied: %+v, want resumed after 63 with statement 2 sent again", rep.Applied)
	}
	if !exists(t, drv, "rl_app.after") {
		t.Error("rl_app.after missing: the resumed statements ran elsewhere")
	}
}

// What the script undid itself is not sent again (a USE of a database it
// dropped since, superseded by its USE of another), and neither is a SET
// whose value a new session would compute otherwise (LAST_INSERT_ID()): the
// resume goes on, with that variable unset rather than wrong.
func TestResumeSkipsWhatTheScriptUndid(t *testing.T) {
	ctx := context.Background()
	tg := newTarget(t, "mysql")
	drv := tg.open(t)
	home := tg.url[strings.LastIndex(tg.url, "/")+1:]
	home, _, _ = strings.Cut(home, "?")
	tmp := fmt.Sprintf("rw_tmp_%d", time.Now().UnixNano()%1e9)
	t.Cleanup(func() { drv.Exec(ctx, migration.Statement{SQL: "DROP DATABASE IF EXISTS " + tmp}) })
	script := func(stmt string) fstest.MapFS {
		return files("0001_s.up.sql", "CREATE DATABASE "+tmp+";\nUSE "+tmp+";\nCREATE TABLE x (id int);\nUSE "+home+";\nDROP DATABASE "+tmp+";\n"+
			"CREATE TABLE a (id int auto_increment primary key);\nINSERT INTO a VALUES (NULL);\nSET @id = LAST_INSERT_ID();\nSET @k = 'kept';\n"+
			stmt+"CREATE TABLE v AS SELECT @k AS k, @id AS id;\n")
	}
	if _, err := up(t, tg.open(t), script("INSERT INTO nope VALUES (1);\n")); !errors.Is(err, runway.ErrMigrationFailed) {
		t.Fatalf("first run: %v", err)
	}
	rep, err := up(t, tg.open(t), script("CREATE TABLE b (id int);\n"))
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if len(rep.Applied) != 1 || !slices.Equal(rep.Applied[0].Replayed, []int{4, 9}) {
		t.Fatalf("applied: %+v, want statements 4 and 9 sent again", rep.Applied)
	}
	rows, err := drv.(database.Querier).QueryStrings(ctx, "SELECT k, id FROM "+home+".v")
	if err != nil || len(rows) != 1 || rows[0][0] == nil || *rows[0][0] != "kept" || rows[0][1] != nil {
		t.Errorf("v: %v %v, want kept and NULL", rows, err)
	}
}

// A MySQL migration that failed inside the transaction a SET autocommit = 0
// opened (mariadb-dump --no-autocommit wraps each table's rows so) resumes
// after that SET, which is sent again: the resumed rows go into its
// transaction again, @OLD_AUTOCOMMIT holds what it read, and the dump's SET
// AUTOCOMMIT=@OLD_AUTOCOMMIT works. Before, the rerun ran the rows with
// autocommit on and then failed on that SET, @OLD_AUTOCOMMIT being unset.
func TestResumeInsideAutocommitOff(t *testing.T) {
	ctx := context.Background()
	tg := newTarget(t, "mysql")
	drv := tg.open(t)
	script := func(second string) fstest.MapFS {
		return files("0001_dump.up.sql", "CREATE TABLE ac_t (id int) ENGINE=InnoDB;\n"+
			"SET @OLD_AUTOCOMMIT=@@AUTOCOMMIT, @@AUTOCOMMIT=0;\n"+
			"/*!40000 ALTER TABLE ac_t DISABLE KEYS */;\n"+ // commits: the rows' transaction opens after it
			"INSERT INTO ac_t VALUES (1);\n"+
			"INSERT INTO ac_t VALUES ("+second+");\n"+
			"COMMIT;\n"+
			"SET AUTOCOMMIT=@OLD_AUTOCOMMIT;\n"+
			"CREATE TABLE ac_v AS SELECT @@autocommit AS ac, (SELECT count(*) FROM ac_t) AS n;\n")
	}
	if _, err := up(t, tg.open(t), script("nosuchcol")); !errors.Is(err, runway.ErrMigrationFailed) {
		t.Fatalf("first run: %v", err)
	}
	if rev := history(t, drv)["1"]; rev.StatementsApplied != 3 {
		t.Fatalf("row after the failure: %+v, want the rows' transaction rolled back (3 statements applied)", rev)
	}
	rep, err := up(t, tg.open(t), script("2"))
	if err != nil {
		t.Fatalf("rerun after the fix: %v", err)
	}
	if len(rep.Applied) != 1 || !slices.Equal(rep.Applied[0].Replayed, []int{2}) {
		t.Fatalf("applied: %+v, want statement 2 sent again", rep.Applied)
	}
	rows, err := drv.(database.Querier).QueryStrings(ctx, "SELECT concat(ac, ' ', n) FROM ac_v")
	if err != nil || len(rows) != 1 || *rows[0][0] != "1 2" {
		t.Errorf("autocommit and rows after the resume: %v %v, want \"1 2\"", rows, err)
	}
	if rev := history(t, drv)["1"]; rev.State != database.StateApplied {
		t.Errorf("row after the resume: %+v", rev)
	}
}

// Under autocommit off, a statement that commits implicitly (ANALYZE TABLE,
// MariaDB's SET STATEMENT … FOR ALTER TABLE; GRANT, FLUSH, INSTALL PLUGIN …
// alike) has its record committed with it: a later failure rolls back only
// what followed it, and the rerun resumes after it. Before, only plain DDL
// counted, and the record went back with the next statement's transaction:
// the rerun ran the statement again (the ALTER then failed on its column).
func TestRecordAfterImplicitCommitUnderAutocommitOff(t *testing.T) {
	for name, committing := range map[string]string{
		"analyze":       "ANALYZE TABLE ic_t",
		"set statement": "SET STATEMENT lock_wait_timeout = 5 FOR ALTER TABLE ic_t ADD COLUMN j int",
		// The script's own COMMIT: its record, written after it, opened
		// a transaction the failure's rollback took back, and the rerun
		// resumed at the COMMIT.
		"commit": "COMMIT",
	} {
		t.Run(name, func(t *testing.T) {
			tg := newTarget(t, "mysql")
			script := func(last string) fstest.MapFS {
				return files("0001_a.up.sql", "CREATE TABLE ic_t (id int) ENGINE=InnoDB;\n"+
					"SET autocommit=0;\n"+
					"INSERT INTO ic_t (id) VALUES (1);\n"+
					committing+";\n"+
					"INSERT INTO ic_t (id) VALUES (2);\n"+
					"INSERT INTO ic_t (id) VALUES ("+last+");\n"+
					"COMMIT;\n")
			}
			if _, err := up(t, tg.open(t), script("nosuchcol")); !errors.Is(err, runway.ErrMigrationFailed) {
				t.Fatalf("first run: %v", err)
			}
			if rev := history(t, tg.open(t))["1"]; rev.StatementsApplied != 4 {
				t.Fatalf("row after the failure: %d statements applied, want 4 (through statement 4, which committed)", rev.StatementsApplied)
			}
			rep, err := up(t, tg.open(t), script("3"))
			if err != nil || len(rep.Applied) != 1 || rep.Applied[0].Resumed != 4 {
				t.Fatalf("rerun after the fix: %v %+v, want resumed after 4 statements", err, rep.Applied)
			}
			rows, err := tg.open(t).(database.Querier).QueryStrings(context.Background(), "SELECT group_concat(id ORDER BY id) FROM ic_t")
			if err != nil || len(rows) != 1 || *rows[0][0] != "1,2,3" {
				t.Errorf("rows: %v %v, want 1,2,3", rows, err)
			}
		})
	}
}

// A resumed MySQL migration whose SET autocommit = 0 is sent again runs the
// rest statement by statement, where its last record waits for autocommit
// to be on again: not in one message with autocommit off, which nothing
// would commit (the run said applied, the row stayed running, and the next
// migration's rows were lost when the session ended).
func TestResumeWithAutocommitOffThenMore(t *testing.T) {
	ctx := context.Background()
	tg := newTarget(t, "mysql")
	set := func(fourth string) fstest.MapFS {
		return files(
			"0001_a.up.sql", "SET autocommit=0;\nCREATE TABLE ao_t (id INT PRIMARY KEY) ENGINE=InnoDB;\nINSERT INTO ao_t VALUES (1);\n"+
				"INSERT INTO ao_t VALUES ("+fourth+");\nCOMMIT;\n",
			"0002_b.up.sql", "INSERT INTO ao_t VALUES (10);\nINSERT INTO ao_t VALUES (11);\n",
		)
	}
	if _, err := up(t, tg.open(t), set("nosuchcol")); !errors.Is(err, runway.ErrMigrationFailed) {
		t.Fatalf("first run: %v", err)
	}
	rep, err := up(t, tg.open(t), set("2"))
	if err != nil || len(rep.Applied) != 2 {
		t.Fatalf("rerun after the fix: %+v, %v", rep, err)
	}
	h := history(t, tg.open(t))
	if h["1"].State != database.StateApplied || h["1"].StatementsApplied != 5 || h["2"].State != database.StateApplied {
		t.Errorf("rows from a new session: 1 %+v, 2 %+v; want both applied", h["1"], h["2"])
	}
	rows, err := tg.open(t).(database.Querier).QueryStrings(ctx, "SELECT count(*) FROM ao_t")
	if err != nil || len(rows) != 1 || *rows[0][0] != "4" {
		t.Errorf("rows in ao_t from a new session: %v %v, want 4", rows, err)
	}
}
