package runway_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"log/slog"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/runwaydb/runway"
	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/database/mysql"
	"github.com/runwaydb/runway/database/postgres"
	"github.com/runwaydb/runway/database/sqlite"
	"github.com/runwaydb/runway/internal/testdb"
	"github.com/runwaydb/runway/migration"
	"github.com/runwaydb/runway/report"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// target is one fresh database and a way to open sessions on it.
type target struct {
	name string
	url  string
	open func(t *testing.T) database.Driver
}

func (tg target) transactional() bool { return tg.name != "mysql" }

// eachDB runs the case on PostgreSQL, MariaDB and SQLite, each with a fresh database.
func eachDB(t *testing.T, fn func(t *testing.T, tg target)) {
	t.Helper()
	for _, name := range []string{"postgres", "mysql", "sqlite"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tg := newTarget(t, name)
			fn(t, tg)
		})
	}
}

func newTarget(t *testing.T, name string) target {
	t.Helper()
	tg := target{name: name}
	switch name {
	case "postgres":
		tg.url = testdb.Postgres(t)
	case "mysql":
		tg.url = testdb.MySQL(t)
	case "sqlite":
		tg.url = "sqlite:" + filepath.Join(t.TempDir(), "test.db")
	}
	tg.open = func(t *testing.T) database.Driver {
		t.Helper()
		drv, err := openURL(context.Background(), name, tg.url)
		if err != nil {
			t.Fatalf("open %s: %v", name, err)
		}
		t.Cleanup(func() { drv.Close(context.Background()) })
		return drv
	}
	return tg
}

func openURL(ctx context.Context, name, url string) (database.Driver, error) {
	cfg := database.Config{Identity: "runway-test"}
	switch name {
	case "postgres":
		return postgres.Open(ctx, url, cfg)
	case "mysql":
		return mysql.Open(ctx, url, cfg)
	default:
		return sqlite.Open(ctx, url, cfg)
	}
}

func files(kv ...string) fstest.MapFS {
	m := fstest.MapFS{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = &fstest.MapFile{Data: []byte(kv[i+1])}
	}
	return m
}

func up(t *testing.T, drv database.Driver, fsys fs.FS, opts ...runway.Option) (*report.Report, error) {
	t.Helper()
	r, err := runway.New(drv, fsys, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r.Up(context.Background(), runway.UpOptions{})
}

func mustUp(t *testing.T, drv database.Driver, fsys fs.FS, opts ...runway.Option) *report.Report {
	t.Helper()
	rep, err := up(t, drv, fsys, opts...)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	return rep
}

// exists tells whether a table exists, by selecting from it.
func exists(t *testing.T, drv database.Driver, table string) bool {
	t.Helper()
	return drv.Exec(context.Background(), migration.Statement{SQL: "SELECT 1 FROM " + table, Line: 1}) == nil
}

func history(t *testing.T, drv database.Driver) map[string]database.Revision {
	t.Helper()
	revs, err := drv.History(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]database.Revision{}
	for _, r := range revs {
		out[r.Version.String()] = r
	}
	return out
}

var basic = files(
	"0001_users.up.sql", "CREATE TABLE users (id integer primary key, name varchar(100));\nINSERT INTO users (id, name) VALUES (1, 'ada');\n",
	"0001_users.down.sql", "DROP TABLE users;\n",
	"0002_posts.up.sql", "CREATE TABLE posts (id integer primary key, user_id integer);\n",
	"0002_posts.down.sql", "DROP TABLE posts;\n",
	"0003_tags.up.sql", "CREATE TABLE tags (id integer primary key);\n",
	"0003_tags.down.sql", "DROP TABLE tags;\n",
)

// Version 0 is a version (DESIGN: VERSION is digits): applied, it is the
// newest, not "none", in every report, and --to 0 stops after it.
func TestVersionZero(t *testing.T) {
	fsys := files("0_init.up.sql", "CREATE TABLE z (id int);\n", "0_init.down.sql", "DROP TABLE z;\n",
		"1_one.up.sql", "CREATE TABLE o (id int);\n", "1_one.down.sql", "DROP TABLE o;\n")
	drv := newTarget(t, "sqlite").open(t)
	r, err := runway.New(drv, fsys)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rep, err := r.Up(ctx, runway.UpOptions{To: migration.MustParseVersion("0")})
	if err != nil || rep.FromVersion != "" || rep.ToVersion != "0" || len(rep.Applied) != 1 {
		t.Fatalf("up --to 0: %v, %s → %q, %d applied", err, rep.FromVersion, rep.ToVersion, len(rep.Applied))
	}
	if rep, err = r.Status(ctx, false); err != nil || rep.FromVersion != "0" || len(rep.Pending) != 1 {
		t.Fatalf("status: %v, at %q, %d pending", err, rep.FromVersion, len(rep.Pending))
	}
	if rep, err = r.Up(ctx, runway.UpOptions{}); err != nil || rep.FromVersion != "0" || rep.ToVersion != "1" {
		t.Fatalf("up: %v, %q → %q", err, rep.FromVersion, rep.ToVersion)
	}
	if rep, err = r.Down(ctx, runway.DownOptions{To: migration.MustParseVersion("0")}); err != nil || rep.FromVersion != "1" || rep.ToVersion != "0" {
		t.Fatalf("down --to 0: %v, %q → %q", err, rep.FromVersion, rep.ToVersion)
	}
	if rep, err = r.Down(ctx, runway.DownOptions{Steps: 1}); err != nil || rep.FromVersion != "0" || rep.ToVersion != "" {
		t.Fatalf("down: %v, %q → %q", err, rep.FromVersion, rep.ToVersion)
	}
}

func TestUpAppliesOnceThenNoop(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		drv := tg.open(t)
		rep := mustUp(t, drv, basic)
		if rep.Status != report.StatusApplied || len(rep.Applied) != 3 || rep.ToVersion != "3" || rep.FromVersion != "" {
			t.Fatalf("first up: %+v", rep)
		}
		for _, a := range rep.Applied {
			if a.Statements == 0 {
				t.Errorf("applied %s: statements not counted", a.Version)
			}
		}
		rep = mustUp(t, tg.open(t), basic)
		if rep.Status != report.StatusNoop || len(rep.Applied) != 0 || rep.FromVersion != "3" {
			t.Fatalf("second up: %+v", rep)
		}
		h := history(t, drv)
		if len(h) != 3 || h["1"].State != database.StateApplied || h["1"].Name != "users" || h["1"].AppliedBy != "runway-test" && h["1"].AppliedBy == "" {
			t.Fatalf("history: %+v", h)
		}
		for _, tb := range []string{"users", "posts", "tags"} {
			if !exists(t, drv, tb) {
				t.Errorf("table %s missing", tb)
			}
		}
	})
}

func TestConcurrentRunnersApplyEachMigrationOnce(t *testing.T) {
	const runners, migrations = 16, 12
	fsys := fstest.MapFS{}
	for i := 1; i <= migrations; i++ {
		fsys[fmt.Sprintf("%04d_t%d.up.sql", i, i)] = &fstest.MapFile{Data: []byte(fmt.Sprintf(
			"CREATE TABLE t%d (id integer primary key);\nINSERT INTO t%d (id) VALUES (1);\n", i, i))}
	}
	eachDB(t, func(t *testing.T, tg target) {
		var wg sync.WaitGroup
		errs := make([]error, runners)
		applied := make([]int, runners)
		for i := 0; i < runners; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				drv, err := openURL(context.Background(), tg.name, tg.url)
				if err != nil {
					errs[i] = err
					return
				}
				defer drv.Close(context.Background())
				r, err := runway.New(drv, fsys, runway.WithLockTimeout(2*time.Minute))
				if err != nil {
					errs[i] = err
					return
				}
				rep, err := r.Up(context.Background(), runway.UpOptions{})
				errs[i] = err
				if rep != nil {
					applied[i] = len(rep.Applied)
				}
			}(i)
		}
		wg.Wait()
		total := 0
		for i, err := range errs {
			if err != nil {
				t.Errorf("runner %d: %v", i, err)
			}
			total += applied[i]
		}
		if total != migrations {
			t.Errorf("runners applied %d migrations in all, want exactly %d", total, migrations)
		}
		if h := history(t, tg.open(t)); len(h) != migrations {
			t.Errorf("history has %d rows, want %d", len(h), migrations)
		}
	})
}

func TestFailingMigration(t *testing.T) {
	bad := files(
		"0001_ok.up.sql", "CREATE TABLE ok1 (id integer primary key);\n",
		"0002_bad.up.sql", "CREATE TABLE half (id integer primary key);\n\nINSERT INTO half (id) VALUES (1);\nINSERT INTO no_such_table (id) VALUES (1);\n",
	)
	eachDB(t, func(t *testing.T, tg target) {
		drv := tg.open(t)
		rep, err := up(t, drv, bad)
		var me *runway.MigrationError
		if !errors.As(err, &me) || !errors.Is(err, runway.ErrMigrationFailed) {
			t.Fatalf("want *MigrationError, got %T %v", err, err)
		}
		if me.File != "0002_bad.up.sql" || me.Statement != 3 || me.Line != 4 || me.Code == "" || me.Message == "" {
			t.Fatalf("error does not point at the statement: %+v", me)
		}
		if rep.Status != report.StatusFailed || rep.Error == nil || rep.Error.Line != 4 || rep.Error.Statement != 3 || rep.Error.File != "0002_bad.up.sql" {
			t.Fatalf("report error: %+v", rep.Error)
		}
		if len(rep.Applied) != 1 || rep.Applied[0].Version != "1" {
			t.Fatalf("applied before the failure: %+v", rep.Applied)
		}
		h := history(t, drv)
		if tg.transactional() {
			// Nothing of the failed migration is left behind.
			if exists(t, drv, "half") {
				t.Error("table of the failed migration exists: the transaction did not roll back")
			}
			if _, ok := h["2"]; ok || len(h) != 1 {
				t.Errorf("history after failure: %+v", h)
			}
			if me.Applied != 0 {
				t.Errorf("Applied = %d on a transactional database", me.Applied)
			}
			return
		}
		// MySQL: DDL committed; the row says how far it got.
		rev := h["2"]
		if rev.State != database.StateFailed || rev.StatementsApplied != 2 || rev.StatementsTotal != 3 || len(rev.StatementChecksums) != 2 || rev.Error == "" {
			t.Fatalf("failed row: %+v", rev)
		}
		if me.Applied != 2 || !strings.Contains(runway.FailureHint(me), "repair") {
			t.Errorf("failure does not explain the ways out: %+v / %s", me, runway.FailureHint(me))
		}
	})
}

// After a failure that could not roll back, fixing the failing statement and
// rerunning resumes at it; editing a statement that already ran is refused.
func TestResumeAfterFixingTheFile(t *testing.T) {
	first := "CREATE TABLE r1 (id integer primary key);\nCREATE TABLE r2 (id integer primary key);\nINSERT INTO nope (id) VALUES (1);\nCREATE TABLE r3 (id integer primary key);\n"
	fixed := "CREATE TABLE r1 (id integer primary key);\nCREATE TABLE r2 (id integer primary key);\nINSERT INTO r2 (id) VALUES (1);\nCREATE TABLE r3 (id integer primary key);\n"
	edited := "CREATE TABLE r1 (id integer primary key, x integer);\nCREATE TABLE r2 (id integer primary key);\nINSERT INTO r2 (id) VALUES (1);\nCREATE TABLE r3 (id integer primary key);\n"
	eachDB(t, func(t *testing.T, tg target) {
		directive := ""
		if tg.transactional() {
			directive = "-- runway:no-transaction\n" // the statement-by-statement path on every database
		}
		drv := tg.open(t)
		if _, err := up(t, drv, files("0001_r.up.sql", directive+first)); !errors.Is(err, runway.ErrMigrationFailed) {
			t.Fatalf("first run: %v", err)
		}
		// Editing a statement that ran is refused with a validation error,
		// and the refused run does not say it resumes.
		refused, err := up(t, drv, files("0001_r.up.sql", directive+edited))
		if !errors.Is(err, runway.ErrValidation) {
			t.Fatalf("edited earlier statement: want ErrValidation, got %v", err)
		}
		for _, w := range refused.Warnings {
			if strings.Contains(w, "resuming") {
				t.Errorf("the refused run warns %q", w)
			}
		}
		rep, err := up(t, drv, files("0001_r.up.sql", directive+fixed))
		if err != nil {
			t.Fatalf("rerun after fix: %v", err)
		}
		if len(rep.Applied) != 1 || rep.Applied[0].Resumed != 2 {
			t.Fatalf("rerun did not resume at statement 3: %+v", rep.Applied)
		}
		rev := history(t, drv)["1"]
		if rev.State != database.StateApplied || rev.StatementsApplied != 4 {
			t.Fatalf("row after resume: %+v", rev)
		}
		if !exists(t, drv, "r3") {
			t.Error("r3 not created")
		}
	})
}

// The same past database.ListedSums statements, where the row keeps one
// digest of the applied statements instead of listing them, so that it
// does not grow with every statement recorded: a rerun still resumes where
// the failure was, and still refuses an edit to any statement that ran.
// On MySQL, 104 statements go in one message, 240 one by one.
func TestResumeALongScript(t *testing.T) {
	for _, n := range []int{database.ListedSums + 40, 240} {
		t.Run(strconv.Itoa(n), func(t *testing.T) { testResumeALongScript(t, n, n-10) })
	}
}

func testResumeALongScript(t *testing.T, n, failAt int) {
	script := func(fail bool, edit int) string {
		var b strings.Builder
		b.WriteString("CREATE TABLE long_t (id integer primary key);\n")
		for i := 1; i < n; i++ {
			switch {
			case i == failAt-1 && fail:
				b.WriteString("INSERT INTO nope (id) VALUES (0);\n")
			case i == edit:
				fmt.Fprintf(&b, "INSERT INTO long_t (id) VALUES (%d); -- edited\n", -i)
			default:
				fmt.Fprintf(&b, "INSERT INTO long_t (id) VALUES (%d);\n", i)
			}
		}
		return b.String()
	}
	eachDB(t, func(t *testing.T, tg target) {
		directive := ""
		if tg.transactional() {
			directive = "-- runway:no-transaction\n"
		}
		drv := tg.open(t)
		if _, err := up(t, drv, files("0001_long.up.sql", directive+script(true, 0))); !errors.Is(err, runway.ErrMigrationFailed) {
			t.Fatalf("first run: %v", err)
		}
		rev := history(t, drv)["1"]
		if rev.State != database.StateFailed || rev.StatementsApplied != failAt-1 || len(rev.StatementChecksums) != 1 {
			t.Fatalf("failed row: %d applied, %d checksum(s); want %d applied and one digest", rev.StatementsApplied, len(rev.StatementChecksums), failAt-1)
		}
		_, err := up(t, drv, files("0001_long.up.sql", directive+script(false, 10)))
		if !errors.Is(err, runway.ErrValidation) || !strings.Contains(err.Error(), fmt.Sprintf("statements 1–%d were applied by an earlier run, and one of them has changed", failAt-1)) {
			t.Fatalf("statement 11 edited: %v; want ErrValidation saying one of the applied statements changed", err)
		}
		rep, err := up(t, drv, files("0001_long.up.sql", directive+script(false, 0)))
		if err != nil || len(rep.Applied) != 1 || rep.Applied[0].Resumed != failAt-1 {
			t.Fatalf("rerun after the fix: %v, %+v; want it resumed at statement %d", err, rep, failAt)
		}
		if rev := history(t, drv)["1"]; rev.State != database.StateApplied || rev.StatementsApplied != n || len(rev.StatementChecksums) != 1 {
			t.Fatalf("row after the resume: %s, %d applied, %d checksum(s)", rev.State, rev.StatementsApplied, len(rev.StatementChecksums))
		}
	})
}

func TestRepairClearsFailedRow(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		body := "-- runway:no-transaction\nCREATE TABLE p1 (id integer primary key);\nINSERT INTO nope (id) VALUES (1);\n"
		drv := tg.open(t)
		if _, err := up(t, drv, files("0001_p.up.sql", body)); !errors.Is(err, runway.ErrMigrationFailed) {
			t.Fatalf("first run: %v", err)
		}
		r, _ := runway.New(drv, files("0001_p.up.sql", body))
		st, err := r.Status(context.Background(), false)
		if err != nil || st.Migrations[0].State != "failed" {
			t.Fatalf("status: %v %+v", err, st)
		}
		// The operator undoes statement 1 by hand, then repairs.
		if err := drv.Exec(context.Background(), migration.Statement{SQL: "DROP TABLE p1", Line: 1}); err != nil {
			t.Fatal(err)
		}
		rep, err := r.Repair(context.Background(), runway.RepairOptions{})
		// The report says what repair did, and that the migration is now
		// pending, not applied.
		if err != nil || len(rep.Applied) != 0 || len(rep.Repaired) != 1 || rep.Repaired[0].Action != "cleared" ||
			rep.Repaired[0].State != "failed" || rep.Status != report.StatusOK || len(rep.Pending) != 1 || rep.Pending[0].Version != "1" || rep.ToVersion != "" {
			t.Fatalf("repair: %v %+v", err, rep)
		}
		if len(history(t, drv)) != 0 {
			t.Fatal("repair left the failed row")
		}
		fixed := "-- runway:no-transaction\nCREATE TABLE p1 (id integer primary key);\nINSERT INTO p1 (id) VALUES (1);\n"
		mustUp(t, drv, files("0001_p.up.sql", fixed))
	})
}

func TestEditedAppliedMigrationIsRefused(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		drv := tg.open(t)
		mustUp(t, drv, basic)
		edited := fstest.MapFS{}
		for k, v := range basic {
			edited[k] = v
		}
		edited["0002_posts.up.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE posts (id integer primary key, body text);\n")}
		edited["0004_more.up.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE more (id integer primary key);\n")}
		rep, err := up(t, drv, edited)
		var ve *runway.ValidationError
		if !errors.As(err, &ve) || !errors.Is(err, runway.ErrValidation) {
			t.Fatalf("want ValidationError, got %v", err)
		}
		if len(ve.Problems) != 1 || ve.Problems[0].Kind != "modified" || ve.Problems[0].File != "0002_posts.up.sql" {
			t.Fatalf("problems: %+v", ve.Problems)
		}
		if len(rep.Applied) != 0 || exists(t, drv, "more") {
			t.Fatal("up applied something despite the edited migration")
		}
		// repair --accept-checksums records the edit; then up proceeds.
		r, _ := runway.New(drv, edited)
		if _, err := r.Repair(context.Background(), runway.RepairOptions{AcceptChecksums: true}); err != nil {
			t.Fatal(err)
		}
		if rep := mustUp(t, drv, edited); len(rep.Applied) != 1 {
			t.Fatalf("after accepting checksums: %+v", rep)
		}
	})
}

// A database another tool migrates: up refuses before applying anything,
// names the tool and says how to take the database over. A table of that
// name with other columns is not the tool's.
func TestUpRefusesAnotherToolsDatabase(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		drv := tg.open(t)
		ctx := context.Background()
		// Not goose's shape (no is_applied): not a foreign history.
		if err := drv.Exec(ctx, migration.Statement{SQL: "CREATE TABLE goose_db_version (id integer primary key, version_id bigint)", Line: 1}); err != nil {
			t.Fatal(err)
		}
		r, err := runway.New(drv, basic)
		if err != nil {
			t.Fatal(err)
		}
		if tools, err := r.ForeignHistory(ctx); err != nil || len(tools) != 0 {
			t.Fatalf("ForeignHistory with a table of another shape = %v, %v; want none", tools, err)
		}
		if err := drv.Exec(ctx, migration.Statement{SQL: "DROP TABLE goose_db_version", Line: 1}); err != nil {
			t.Fatal(err)
		}
		if err := drv.Exec(ctx, migration.Statement{SQL: "CREATE TABLE goose_db_version (id integer primary key, version_id bigint NOT NULL, is_applied boolean NOT NULL)", Line: 1}); err != nil {
			t.Fatal(err)
		}
		rep, err := up(t, drv, basic)
		var ve *runway.ValidationError
		if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Kind != "foreign-history" {
			t.Fatalf("up on goose's database: %v, want a foreign-history ValidationError", err)
		}
		msg := err.Error()
		if !strings.Contains(msg, "\n  foreign-history: this database has goose's history table goose_db_version") ||
			!strings.Contains(msg, "runway adopt --from goose") {
			t.Errorf("message:\n%s", msg)
		}
		if len(rep.Applied) != 0 || exists(t, drv, "users") {
			t.Fatal("up applied something on another tool's database")
		}
		// The refusal left no Runway table: the next run refuses too.
		if _, err := up(t, drv, basic); !errors.As(err, &ve) || ve.Problems[0].Kind != "foreign-history" {
			t.Fatalf("second up on goose's database: %v, want the same refusal", err)
		}
		// Once Runway's history table exists (adopt made it, then down
		// emptied it), the database is Runway's: up applies.
		if err := drv.EnsureHistory(ctx); err != nil {
			t.Fatal(err)
		}
		if rep := mustUp(t, drv, basic); len(rep.Applied) == 0 || !exists(t, drv, "users") {
			t.Fatalf("up with Runway's empty history next to goose's: %+v", rep)
		}
	})
}

func TestLineEndingsAreNotAnEdit(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		drv := tg.open(t)
		mustUp(t, drv, basic)
		crlf := fstest.MapFS{}
		for k, v := range basic {
			crlf[k] = &fstest.MapFile{Data: []byte("\ufeff" + strings.ReplaceAll(string(v.Data), "\n", "\r\n"))}
		}
		rep, err := up(t, drv, crlf)
		if err != nil || rep.Status != report.StatusNoop {
			t.Fatalf("CRLF + BOM checkout counted as an edit: %v %+v", err, rep)
		}
	})
}

func TestLockTimeout(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		holder := tg.open(t)
		ok, err := holder.Lock(context.Background(), 0)
		if err != nil || !ok {
			t.Fatalf("take lock: %v %v", ok, err)
		}
		var events []runway.Event
		r, err := runway.New(tg.open(t), basic, runway.WithLockTimeout(1500*time.Millisecond),
			runway.WithObserver(func(e runway.Event) { events = append(events, e) }))
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Up(context.Background(), runway.UpOptions{})
		if !errors.Is(err, runway.ErrLockTimeout) {
			t.Fatalf("want ErrLockTimeout, got %v", err)
		}
		waiting := 0
		for _, e := range events {
			if e.Kind == runway.EventLockWaiting {
				waiting++
			}
		}
		if waiting == 0 {
			t.Error("no lock-waiting event while blocked")
		}
		holder.Unlock(context.Background())
		mustUp(t, tg.open(t), basic)
	})
}

// holderSpy counts LockHolder calls.
type holderSpy struct {
	database.Driver
	holderCalls atomic.Int32
}

func (s *holderSpy) LockHolder(ctx context.Context) (string, error) {
	s.holderCalls.Add(1)
	return s.Driver.LockHolder(ctx)
}

// lockWaitRunner returns a runner of basic on drv with lockTimeout, and the
// lock-waiting events it emits.
func lockWaitRunner(t *testing.T, drv database.Driver, lockTimeout time.Duration) (*runway.Runner, *[]runway.Event) {
	t.Helper()
	var waits []runway.Event
	r, err := runway.New(drv, basic, runway.WithLockTimeout(lockTimeout),
		runway.WithObserver(func(e runway.Event) {
			if e.Kind == runway.EventLockWaiting {
				waits = append(waits, e)
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	return r, &waits
}

// A runner that finds the lock taken says nothing about it, and does not ask
// who holds it, for its first second: a crowd of replicas behind the one
// that applies mostly waits less. Past that, it names the holder.
func TestLockWaitIsQuietThenNamesHolder(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		holder := tg.open(t)

		// A short wait: the holder lets go after 300 ms.
		if ok, err := holder.Lock(ctx, 0); err != nil || !ok {
			t.Fatalf("take lock: %v %v", ok, err)
		}
		s := &holderSpy{Driver: tg.open(t)}
		r, waits := lockWaitRunner(t, s, time.Minute)
		released := make(chan error, 1)
		time.AfterFunc(300*time.Millisecond, func() { released <- holder.Unlock(ctx) })
		rep, err := r.Up(ctx, runway.UpOptions{})
		if err != nil || rep.Status != report.StatusApplied {
			t.Fatalf("up behind a short-lived holder: %v %+v", err, rep)
		}
		if err := <-released; err != nil {
			t.Fatal(err)
		}
		if len(*waits) > 0 || s.holderCalls.Load() > 0 {
			t.Errorf("a 300 ms wait gave %d lock-waiting events and %d LockHolder calls; want none", len(*waits), s.holderCalls.Load())
		}

		// A long wait: the holder keeps the lock past the lock timeout.
		if ok, err := holder.Lock(ctx, 0); err != nil || !ok {
			t.Fatalf("take lock again: %v %v", ok, err)
		}
		defer holder.Unlock(ctx)
		s = &holderSpy{Driver: tg.open(t)}
		r, waits = lockWaitRunner(t, s, 2500*time.Millisecond)
		_, err = r.Down(ctx, runway.DownOptions{Steps: 1})
		if !errors.Is(err, runway.ErrLockTimeout) {
			t.Fatalf("want ErrLockTimeout, got %v", err)
		}
		if len(*waits) == 0 {
			t.Fatal("no lock-waiting event in a 2.5 s wait")
		}
		if (*waits)[0].Waited < time.Second {
			t.Errorf("the first lock-waiting event came after %s; want at least 1s", (*waits)[0].Waited)
		}
		if tg.name != "sqlite" && (*waits)[0].Holder == "" {
			t.Errorf("the first lock-waiting event names no holder")
		}
		if tg.name != "sqlite" && !strings.Contains(err.Error(), "held by ") {
			t.Errorf("the timeout does not name the holder: %v", err)
		}
		t.Logf("waiting for %q; %v", (*waits)[0].Holder, err)
	})
}

// releasingSpy lets the holder go just before it answers who holds the
// lock: the waiter asks after the holder finished, between two attempts.
type releasingSpy struct {
	database.Driver
	release func()
}

func (s *releasingSpy) LockHolder(ctx context.Context) (string, error) {
	s.release()
	return s.Driver.LockHolder(ctx)
}

// A runner that asks who holds the lock and hears "nobody" tries again at
// once: it neither reports a wait for no one nor sleeps a poll interval.
func TestLockFreedBeforeHolderLookup(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		holder := tg.open(t)
		if ok, err := holder.Lock(ctx, 0); err != nil || !ok {
			t.Fatalf("take lock: %v %v", ok, err)
		}
		var once sync.Once
		s := &releasingSpy{Driver: tg.open(t), release: func() {
			once.Do(func() {
				if err := holder.Unlock(ctx); err != nil {
					t.Errorf("release: %v", err)
				}
			})
		}}
		r, waits := lockWaitRunner(t, s, time.Minute)
		rep, err := r.Up(ctx, runway.UpOptions{})
		if err != nil || rep.Status != report.StatusApplied {
			t.Fatalf("up: %v %+v", err, rep)
		}
		for _, w := range *waits {
			if w.Holder == "" {
				t.Errorf("reported waiting for a lock nobody held (after %s)", w.Waited)
			}
		}
	})
}

func TestDown(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		drv := tg.open(t)
		mustUp(t, drv, basic)
		r, _ := runway.New(drv, basic)
		ctx := context.Background()
		rep, err := r.Down(ctx, runway.DownOptions{})
		if err != nil || len(rep.Applied) != 1 || rep.Applied[0].Version != "3" || rep.ToVersion != "2" {
			t.Fatalf("down one: %v %+v", err, rep)
		}
		if exists(t, drv, "tags") {
			t.Error("tags still exists after down")
		}
		rep, err = r.Down(ctx, runway.DownOptions{To: migration.MustParseVersion("1")})
		if err != nil || len(rep.Applied) != 1 || rep.ToVersion != "1" {
			t.Fatalf("down --to 1: %v %+v", err, rep)
		}
		mustUp(t, drv, basic)
		rep, err = r.Down(ctx, runway.DownOptions{All: true})
		if err != nil || len(rep.Applied) != 3 || rep.ToVersion != "" || len(history(t, drv)) != 0 {
			t.Fatalf("down --all: %v %+v", err, rep)
		}
		if _, err := r.Down(ctx, runway.DownOptions{All: true, Steps: 2}); !errors.Is(err, runway.ErrUsage) {
			t.Fatalf("conflicting options: %v", err)
		}
		// A migration without a down script is refused before anything is reverted.
		noDown := files("0001_a.up.sql", "CREATE TABLE a1 (id integer primary key);\n",
			"0001_a.down.sql", "DROP TABLE a1;\n",
			"0002_b.up.sql", "CREATE TABLE b1 (id integer primary key);\n")
		mustUp(t, drv, noDown)
		r2, _ := runway.New(drv, noDown)
		if _, err := r2.Down(ctx, runway.DownOptions{All: true}); !errors.Is(err, runway.ErrValidation) {
			t.Fatalf("down without a down script: %v", err)
		}
		if !exists(t, drv, "a1") || !exists(t, drv, "b1") {
			t.Error("down reverted something although it refused")
		}
	})
}

func TestOutOfOrderAndAhead(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		drv := tg.open(t)
		mustUp(t, drv, files("0001_a.up.sql", "CREATE TABLE a (id integer primary key);\n", "0003_c.up.sql", "CREATE TABLE c (id integer primary key);\n"))
		late := files("0001_a.up.sql", "CREATE TABLE a (id integer primary key);\n", "0002_b.up.sql", "CREATE TABLE b (id integer primary key);\n", "0003_c.up.sql", "CREATE TABLE c (id integer primary key);\n")
		if _, err := up(t, drv, late); !errors.Is(err, runway.ErrValidation) {
			t.Fatalf("out-of-order: want ErrValidation, got %v", err)
		}
		pr, _ := runway.New(drv, late, runway.WithAllowOutOfOrder())
		if plan, err := pr.Plan(context.Background(), runway.UpOptions{}); err != nil || len(plan.Plan) != 1 || plan.ToVersion != "3" {
			t.Fatalf("plan --allow-out-of-order: %v, to %q, want 3 as up reports", err, plan.ToVersion)
		}
		rep := mustUp(t, drv, late, runway.WithAllowOutOfOrder())
		if len(rep.Applied) != 1 || rep.Applied[0].Version != "2" || rep.ToVersion != "3" {
			t.Fatalf("allow out of order: %+v", rep)
		}
		// An older release (source without 0003) sees the database ahead.
		older := files("0001_a.up.sql", "CREATE TABLE a (id integer primary key);\n", "0002_b.up.sql", "CREATE TABLE b (id integer primary key);\n")
		rep = mustUp(t, drv, older)
		if rep.Status != report.StatusNoop || len(rep.Warnings) == 0 || !strings.Contains(rep.Warnings[0], "ahead") {
			t.Fatalf("ahead: %+v", rep)
		}
		if _, err := up(t, drv, older, runway.WithStrict()); !errors.Is(err, runway.ErrValidation) {
			t.Fatalf("ahead under --strict: %v", err)
		}
	})
}

func TestSingleTransaction(t *testing.T) {
	set := files(
		"0001_a.up.sql", "CREATE TABLE sa (id integer primary key);\n",
		"0002_b.up.sql", "CREATE TABLE sb (id integer primary key);\n",
		"0003_c.up.sql", "INSERT INTO nope VALUES (1);\n",
	)
	eachDB(t, func(t *testing.T, tg target) {
		drv := tg.open(t)
		_, err := runway.New(drv, set, runway.WithSingleTransaction())
		if !tg.transactional() {
			if !errors.Is(err, runway.ErrUsage) {
				t.Fatalf("MySQL --single-transaction: want ErrUsage, got %v", err)
			}
			return
		}
		_, err = up(t, drv, set, runway.WithSingleTransaction())
		var me *runway.MigrationError
		if !errors.As(err, &me) || me.File != "0003_c.up.sql" || me.RolledBack != 2 ||
			!strings.Contains(runway.FailureHint(me), "The 2 migration(s) before it in the same transaction (--single-transaction) were rolled back with it") {
			t.Fatalf("want failure in 0003 saying 2 were rolled back with it, got %v (%+v)", err, me)
		}
		if exists(t, drv, "sa") || len(history(t, drv)) != 0 {
			t.Fatal("single transaction left migrations applied after a failure")
		}
		rep := mustUp(t, drv, files("0001_a.up.sql", "CREATE TABLE sa (id integer primary key);\n", "0002_b.up.sql", "CREATE TABLE sb (id integer primary key);\n"), runway.WithSingleTransaction())
		if len(rep.Applied) != 2 {
			t.Fatalf("single transaction: %+v", rep)
		}
	})
}

func TestStatusPlanBaselineWait(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		drv := tg.open(t)
		r, _ := runway.New(drv, basic, runway.WithPollInterval(50*time.Millisecond))
		st, err := r.Status(ctx, true)
		if !errors.Is(err, runway.ErrPending) || len(st.Pending) != 3 {
			t.Fatalf("status --check on empty db: %v %+v", err, st)
		}
		pl, err := r.Plan(ctx, runway.UpOptions{Steps: 2})
		if err != nil || len(pl.Plan) != 2 || pl.Plan[0].Statements[1].Line != 2 || !strings.HasPrefix(pl.Plan[0].Statements[0].SQL, "CREATE TABLE users") {
			t.Fatalf("plan: %v %+v", err, pl)
		}
		if exists(t, drv, "users") {
			t.Fatal("plan changed the database")
		}
		// Wait times out while migrations are pending.
		wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		_, err = r.Wait(wctx)
		cancel()
		if !errors.Is(err, runway.ErrPending) {
			t.Fatalf("wait: %v", err)
		}
		// Baseline records 1 and 2 without running them.
		rep, err := r.Baseline(ctx, migration.MustParseVersion("2"))
		if err != nil || len(rep.Applied) != 2 {
			t.Fatalf("baseline: %v %+v", err, rep)
		}
		if exists(t, drv, "users") {
			t.Fatal("baseline ran a migration")
		}
		// Wait returns once another runner applies the rest.
		done := make(chan error, 1)
		go func() {
			_, err := r.Wait(ctx)
			done <- err
		}()
		time.Sleep(100 * time.Millisecond)
		rep = mustUp(t, tg.open(t), basic)
		if len(rep.Applied) != 1 || rep.Applied[0].Version != "3" {
			t.Fatalf("up after baseline: %+v", rep)
		}
		if err := <-done; err != nil {
			t.Fatalf("wait: %v", err)
		}
		st, err = r.Status(ctx, true)
		if err != nil || st.Status != report.StatusOK || st.Migrations[0].State != "baseline" {
			t.Fatalf("status after: %v %+v", err, st)
		}
	})
}

// A Wait cut short by its timeout while its query waits on the server
// leaves the Runner usable for the next command. MariaDB's client library
// closes the session under a cancelled query (the driver opens another, as
// it held no lock); PostgreSQL's cancels the query on the server.
func TestWaitCutShortMidQuery(t *testing.T) {
	for _, name := range []string{"postgres", "mysql"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tg := newTarget(t, name)
			ctx := context.Background()
			r, _ := runway.New(tg.open(t), basic, runway.WithPollInterval(50*time.Millisecond))
			b, _ := runway.New(tg.open(t), basic)
			if _, err := b.Baseline(ctx, migration.MustParseVersion("1")); err != nil {
				t.Fatal(err)
			}
			// Another session locks the history table: Wait's query waits.
			locker := tg.open(t)
			hold, release := "LOCK TABLES runway_migrations WRITE", "UNLOCK TABLES"
			if name == "postgres" {
				if err := locker.Exec(ctx, migration.Statement{SQL: "BEGIN", Line: 1}); err != nil {
					t.Fatal(err)
				}
				hold, release = "LOCK TABLE runway_migrations IN ACCESS EXCLUSIVE MODE", "COMMIT"
			}
			if err := locker.Exec(ctx, migration.Statement{SQL: hold, Line: 1}); err != nil {
				t.Fatal(err)
			}
			wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			_, err := r.Wait(wctx)
			cancel()
			if err == nil {
				t.Fatal("wait returned without error while the history table was locked")
			}
			if err := locker.Exec(ctx, migration.Statement{SQL: release, Line: 1}); err != nil {
				t.Fatal(err)
			}
			st, err := r.Status(ctx, false)
			if err != nil || len(st.Pending) != 2 {
				t.Fatalf("status after the cut-short wait: %v %+v", err, st)
			}
			rep, err := r.Up(ctx, runway.UpOptions{})
			if err != nil || len(rep.Applied) != 2 {
				t.Fatalf("up after the cut-short wait: %v %+v", err, rep)
			}
		})
	}
}

func TestUpToAndSteps(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		drv := tg.open(t)
		r, _ := runway.New(drv, basic)
		rep, err := r.Up(context.Background(), runway.UpOptions{Steps: 1})
		if err != nil || len(rep.Applied) != 1 || len(rep.Pending) != 2 {
			t.Fatalf("--steps 1: %v %+v", err, rep)
		}
		rep, err = r.Up(context.Background(), runway.UpOptions{To: migration.MustParseVersion("0002")})
		if err != nil || len(rep.Applied) != 1 || rep.ToVersion != "2" {
			t.Fatalf("--to 2: %v %+v", err, rep)
		}
		if _, err = r.Up(context.Background(), runway.UpOptions{To: migration.MustParseVersion("9")}); !errors.Is(err, runway.ErrUsage) {
			t.Fatalf("--to unknown: %v", err)
		}
	})
}

func TestEmptySourceIsAnInputError(t *testing.T) {
	drv := newTarget(t, "sqlite").open(t)
	if _, err := up(t, drv, fstest.MapFS{}); !errors.Is(err, runway.ErrNoMigrations) {
		t.Fatalf("empty source: %v", err)
	}
	if _, err := up(t, drv, files("abc.sql", "select 1;")); !errors.Is(err, runway.ErrSource) {
		t.Fatalf("bad file name: %v", err)
	}
}

func TestNoTransactionOnPostgres(t *testing.T) {
	tg := newTarget(t, "postgres")
	drv := tg.open(t)
	set := files(
		"0001_t.up.sql", "CREATE TABLE big (id integer primary key, name text);\n",
		"0002_idx.up.sql", "-- runway:no-transaction\nCREATE INDEX CONCURRENTLY big_name ON big (name);\n",
	)
	rep := mustUp(t, drv, set)
	if len(rep.Applied) != 2 {
		t.Fatalf("%+v", rep)
	}
	if h := history(t, drv); h["2"].State != database.StateApplied || h["2"].StatementsApplied != 1 {
		t.Fatalf("history: %+v", h["2"])
	}
}

// spy counts the engine's history reads and lock attempts on a real driver.
type spy struct {
	database.Driver
	scans, states, history, locks int
}

func (s *spy) ScanStates(ctx context.Context, fn func(version, checksum, state []byte) error) error {
	s.scans++
	return s.Driver.(database.StateScanner).ScanStates(ctx, fn)
}

func (s *spy) States(ctx context.Context) ([]database.Revision, error) {
	s.states++
	return s.Driver.(database.StateReader).States(ctx)
}

func (s *spy) History(ctx context.Context) ([]database.Revision, error) {
	s.history++
	return s.Driver.History(ctx)
}

func (s *spy) Lock(ctx context.Context, wait time.Duration) (bool, error) {
	s.locks++
	return s.Driver.Lock(ctx, wait)
}

// The no-op every deploy pays reads versions, checksums and states only, and
// takes no lock; anything short of an exact match is judged on the full
// history, with the same messages as before.
func TestNoopFastPath(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		drv := tg.open(t)
		mustUp(t, drv, basic)

		s := &spy{Driver: tg.open(t)}
		rep := mustUp(t, s, basic)
		if rep.Status != report.StatusNoop || rep.FromVersion != "3" || len(rep.Warnings) != 0 {
			t.Fatalf("no-op: %+v", rep)
		}
		if s.scans != 1 || s.states != 0 || s.history != 0 || s.locks != 0 {
			t.Fatalf("no-op scanned %d times, read States %d, History %d times and locked %d times; want 1, 0, 0, 0", s.scans, s.states, s.history, s.locks)
		}
		// wait on an applied database: the same single scan.
		s = &spy{Driver: tg.open(t)}
		r, _ := runway.New(s, basic)
		if rep, err := r.Wait(context.Background()); err != nil || rep.Status != report.StatusOK || rep.FromVersion != "3" || len(rep.Pending) != 0 {
			t.Fatalf("wait: %v %+v", err, rep)
		}
		if s.scans != 1 || s.history != 0 {
			t.Fatalf("wait scanned %d times and read History %d times; want 1, 0", s.scans, s.history)
		}

		// An edited file: refused without the lock, and the message carries
		// what only the full history has (when it was applied).
		edited := fstest.MapFS{}
		for k, v := range basic {
			edited[k] = v
		}
		edited["0002_posts.up.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE posts (id integer primary key, body text);\n")}
		s = &spy{Driver: tg.open(t)}
		_, err := up(t, s, edited)
		var ve *runway.ValidationError
		if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Kind != "modified" {
			t.Fatalf("edited: want one modified problem, got %v", err)
		}
		if year := fmt.Sprint(time.Now().UTC().Year()); !strings.Contains(ve.Problems[0].Detail, "applied on "+year) {
			t.Errorf("edited: detail %q lacks the applied time from the history", ve.Problems[0].Detail)
		}
		if s.history != 1 || s.locks != 0 {
			t.Errorf("edited: History read %d times, locked %d times; want 1, 0", s.history, s.locks)
		}

		// A file gone from the source: a warning naming it, from the full history.
		fewer := fstest.MapFS{}
		for k, v := range basic {
			if !strings.HasPrefix(k, "0002_") {
				fewer[k] = v
			}
		}
		s = &spy{Driver: tg.open(t)}
		rep = mustUp(t, s, fewer)
		if rep.Status != report.StatusNoop || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "2_posts is applied but its file is missing") {
			t.Fatalf("missing file: %+v", rep)
		}

		// A pending file: the full path, under the lock, where the full
		// history is read once (not also before the lock).
		more := fstest.MapFS{"0004_more.up.sql": &fstest.MapFile{Data: []byte("CREATE TABLE more (id integer primary key);\n")}}
		for k, v := range basic {
			more[k] = v
		}
		s = &spy{Driver: tg.open(t)}
		if rep := mustUp(t, s, more); len(rep.Applied) != 1 || s.locks == 0 || s.history != 1 {
			t.Fatalf("pending: applied %d, locked %d times, read History %d times (want 1)", len(rep.Applied), s.locks, s.history)
		}
	})
}

// A migration larger than migration.LargeFile is applied from its file as a
// stream, in one transaction on PostgreSQL and SQLite, statement by
// statement on MySQL, and fails as a small one does: the statement and line
// named, nothing of it left where it ran in a transaction.
func TestLargeMigration(t *testing.T) {
	lowerLargeFile(t)
	good := bigScript("CREATE TABLE big (id integer primary key, note varchar(100));\n",
		"INSERT INTO big (id, note) VALUES (%d, 'row %d; not the end');\n", 2000)
	eachDB(t, func(t *testing.T, tg target) {
		drv := tg.open(t)
		bad := files("0001_big.up.sql", good+"INSERT INTO big (id, note) VALUES (7, 'duplicate');\n")
		_, err := up(t, drv, bad)
		var me *runway.MigrationError
		if !errors.As(err, &me) || me.Statement != 2002 || me.Line != 2002 || !strings.Contains(me.SQL, "'duplicate'") {
			t.Fatalf("failing large migration: %v (%+v); want statement and line 2002 with its SQL", err, me)
		}
		if tg.transactional() && exists(t, drv, "big") {
			t.Fatal("the failed large migration was not rolled back")
		}
		if !tg.transactional() {
			r, _ := runway.New(drv, bad)
			if _, err := r.Repair(context.Background(), runway.RepairOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := drv.Exec(context.Background(), migration.Statement{SQL: "DROP TABLE big"}); err != nil {
				t.Fatal(err)
			}
		}
		rep := mustUp(t, drv, files("0001_big.up.sql", good))
		if len(rep.Applied) != 1 || rep.Applied[0].Statements != 2001 {
			t.Fatalf("large migration: %+v", rep.Applied)
		}
		if h := history(t, drv); h["1"].StatementsTotal != 2001 || h["1"].State != database.StateApplied {
			t.Fatalf("history: %+v", h["1"])
		}
	})
}

// waitSpy is spy with the driver's LockWaiter passed through.
type waitSpy struct{ spy }

func (s *waitSpy) WaitUnlocked(ctx context.Context, wait time.Duration) (bool, error) {
	return s.Driver.(database.LockWaiter).WaitUnlocked(ctx, wait)
}

// A runner queued behind one that applies everything wakes when the lock is
// released, sees nothing left and stops without taking the lock (PostgreSQL,
// whose session lock can be waited for in shared mode).
func TestWaiterFindsTheWorkDone(t *testing.T) {
	tg := newTarget(t, "postgres")
	holder := tg.open(t)
	if ok, err := holder.Lock(context.Background(), 0); !ok || err != nil {
		t.Fatalf("holder Lock: %v %v", ok, err)
	}
	w := &waitSpy{spy{Driver: tg.open(t)}}
	type result struct {
		rep *report.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := runway.New(w, basic, runway.WithLockTimeout(30*time.Second), runway.WithPollInterval(50*time.Millisecond))
		if err != nil {
			done <- result{nil, err}
			return
		}
		rep, err := r.Up(context.Background(), runway.UpOptions{})
		done <- result{rep, err}
	}()
	time.Sleep(300 * time.Millisecond)
	select {
	case res := <-done:
		t.Fatalf("the waiter did not wait: %+v %v", res.rep, res.err)
	default:
	}
	// The holder applies everything, then releases the lock.
	if rep := mustUp(t, holder, basic); len(rep.Applied) != 3 {
		t.Fatalf("holder applied %d", len(rep.Applied))
	}
	res := <-done
	if res.err != nil || res.rep.Status != report.StatusNoop {
		t.Fatalf("waiter: %+v, %v", res.rep, res.err)
	}
	if w.locks != 1 {
		t.Fatalf("the waiter tried to lock %d times; want only its first try", w.locks)
	}
}

// The source problems of a large file streamed in a transaction
// (PostgreSQL, SQLite) stop the run before anything is applied, as a small
// file's do: the file is read once before the run. One edited after that
// reading is found as it is sent, and its transaction rolled back. Either
// error is an input error naming the file (and line).
func TestLargeMigrationSourceErrors(t *testing.T) {
	lowerLargeFile(t)
	good := bigScript("CREATE TABLE big (id integer primary key, note text);\n",
		"INSERT INTO big VALUES (%d, 'row %d');\n", 1000)
	for _, name := range []string{"postgres", "sqlite"} {
		t.Run(name, func(t *testing.T) {
			largeSourceErrors(t, newTarget(t, name).open(t), good)
		})
	}
}

func largeSourceErrors(t *testing.T, drv database.Driver, good string) {
	small := "CREATE TABLE small (id integer);\n"
	// An unterminated string at the end: nothing runs, not even the
	// migration before it.
	fsys := files("0001_small.up.sql", small, "0002_big.up.sql", good+"INSERT INTO big VALUES (0, 'no end);\n")
	_, err := up(t, drv, fsys)
	var fe *migration.FileError
	if !errors.Is(err, runway.ErrSource) || !errors.As(err, &fe) || fe.File != "0002_big.up.sql" || fe.Line != 1002 || !errors.Is(err, migration.ErrUnterminated) {
		t.Fatalf("unterminated string at the end of a large file: %v; want ErrSource naming 0002_big.up.sql:1002", err)
	}
	// Transaction control Runway's transaction refuses, in the middle.
	fsys = files("0001_small.up.sql", small, "0002_big.up.sql", strings.Replace(good, "INSERT INTO big VALUES (500,", "COMMIT;\nINSERT INTO big VALUES (500,", 1))
	if _, err := up(t, drv, fsys); !errors.Is(err, runway.ErrSource) || !strings.Contains(err.Error(), "0002_big.up.sql:501") {
		t.Fatalf("COMMIT in the middle of a large file: %v; want ErrSource naming 0002_big.up.sql:501", err)
	}
	// Edited between loading and applying.
	fsys = files("0001_small.up.sql", small, "0002_big.up.sql", good)
	ms, err := runway.LoadSource(fsys)
	if err != nil {
		t.Fatal(err)
	}
	fsys["0002_big.up.sql"].Data = []byte(strings.Replace(good, "'row 7'", "'row seven'", 1))
	_, err = up(t, drv, fsys, runway.WithMigrations(ms))
	if !errors.Is(err, runway.ErrSource) || !errors.Is(err, migration.ErrChanged) {
		t.Fatalf("file edited before the run: %v; want ErrSource wrapping ErrChanged", err)
	}
	if exists(t, drv, "small") || exists(t, drv, "big") || len(history(t, drv)) != 0 {
		t.Fatalf("a large file that does not split or changed: something ran (history %+v)", history(t, drv))
	}

	// Edited once the run has read it, just before it is sent: rolled back
	// before COMMIT; the migration before it stays applied.
	fsys = files("0001_small.up.sql", small, "0002_big.up.sql", good)
	ts := &editBeforeStream{Driver: drv, edit: func() {
		fsys["0002_big.up.sql"] = &fstest.MapFile{Data: []byte(strings.Replace(good, "'row 7'", "'row seven'", 1))}
	}}
	_, err = up(t, ts, fsys)
	if !errors.Is(err, runway.ErrSource) || !errors.Is(err, migration.ErrChanged) || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("file edited during the run: %v; want ErrSource wrapping ErrChanged, rolled back", err)
	}
	if !exists(t, drv, "small") || exists(t, drv, "big") {
		t.Fatal("want 0001 applied and 0002 rolled back")
	}
}

// editBeforeStream calls edit before it streams a migration (a
// database.TxStreamer over the driver's own).
type editBeforeStream struct {
	database.Driver
	edit func()
}

func (e *editBeforeStream) ApplyTxStream(ctx context.Context, stmts iter.Seq2[migration.Statement, error], record database.Revision) (int, error) {
	e.edit()
	return e.Driver.(database.TxStreamer).ApplyTxStream(ctx, stmts, record)
}

// lowerLargeFile makes files over 4 KiB "large" (streamed) for the test, so
// that a test script of a few thousand lines takes the streaming path. The
// limit is the package's and parallel subtests lower it too: it is restored
// when the last of them ends, not by the first to end (which then left it
// lowered for every later test when another had saved the lowered value).
func lowerLargeFile(t *testing.T) {
	largeFile.Lock()
	if largeFile.lowered == 0 {
		largeFile.saved = migration.LargeFile
		migration.LargeFile = 4 << 10
	}
	largeFile.lowered++
	largeFile.Unlock()
	t.Cleanup(func() {
		largeFile.Lock()
		defer largeFile.Unlock()
		if largeFile.lowered--; largeFile.lowered == 0 {
			migration.LargeFile = largeFile.saved
		}
	})
}

// largeFile counts the tests that have lowered migration.LargeFile.
var largeFile struct {
	sync.Mutex
	lowered, saved int
}

// bigScript is header followed by n rows, row formatted with (i, i).
func bigScript(header, row string, n int) string {
	var b strings.Builder
	b.WriteString(header)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, row, i, i)
	}
	return b.String()
}

// TestBatchedMigrationsReportAsTheyCommit: on PostgreSQL and MySQL the
// pending migrations travel together (database.TxBatcher,
// database.RecordedBatcher), and each is still reported as it starts and as
// it ends, with its own duration in the report and in the history; a
// migration the batch cannot take runs on its own, in order.
func TestBatchedMigrationsReportAsTheyCommit(t *testing.T) {
	for _, c := range []struct{ name, sleep, alone string }{
		{"postgres", "SELECT pg_sleep(0.5)", "-- runway:no-transaction\nCREATE INDEX CONCURRENTLY c_id ON c (id);\n"},
		{"mysql", "SELECT SLEEP(0.5)", strings.Repeat("SELECT 1;\n", 201)}, // over the 200 statements of a message
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tg := newTarget(t, c.name)
			drv := tg.open(t)
			_, tx := drv.(database.TxBatcher)
			_, rec := drv.(database.RecordedBatcher)
			if !tx && !rec {
				t.Fatalf("the %s driver does not batch", c.name)
			}
			set := files(
				"0001_a.up.sql", "CREATE TABLE a (id integer primary key);\n",
				"0002_slow.up.sql", "CREATE TABLE b (id integer primary key);\n"+c.sleep+";\n",
				"0003_c.up.sql", "CREATE TABLE c (id integer primary key);\n",
				"0004_alone.up.sql", c.alone,
				"0005_d.up.sql", "CREATE TABLE d (id integer primary key);\n",
				"0006_e.up.sql", "CREATE TABLE e (id integer primary key);\n",
			)
			var events []runway.Event
			rep := mustUp(t, drv, set, runway.WithObserver(func(e runway.Event) {
				if e.Kind == runway.EventMigrationStart || e.Kind == runway.EventMigrationDone {
					events = append(events, e)
				}
			}))
			var seq []string
			for _, e := range events {
				seq = append(seq, e.Kind.String()+" "+e.Version)
			}
			var want []string
			for v := 1; v <= 6; v++ {
				want = append(want, fmt.Sprintf("migration-start %d", v), fmt.Sprintf("migration-done %d", v))
			}
			if !slices.Equal(seq, want) {
				t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(seq, "\n"), strings.Join(want, "\n"))
			}
			// 0002 started when 0001 ended and ended half a second later;
			// 0001 was reported done before, not when the batch ended.
			start2, done2 := events[2], events[3]
			if done2.Duration < 500*time.Millisecond || done2.Time.Sub(start2.Time) < 500*time.Millisecond {
				t.Errorf("0002 reported %v long, from %v to %v: want ≥ 0.5 s", done2.Duration, start2.Time, done2.Time)
			}
			if events[1].Duration >= 500*time.Millisecond || events[5].Duration >= 500*time.Millisecond {
				t.Errorf("0001 or 0003 took 0002's time: %v, %v", events[1].Duration, events[5].Duration)
			}
			if len(rep.Applied) != 6 || rep.Applied[1].DurationMS < 500 || rep.ToVersion != "6" {
				t.Errorf("report: %+v", rep)
			}
			h := history(t, drv)
			if len(h) != 6 || h["2"].Duration < 500*time.Millisecond || h["1"].Duration >= 500*time.Millisecond {
				t.Errorf("history durations: 1 %v, 2 %v (%d rows)", h["1"].Duration, h["2"].Duration, len(h))
			}
			if !h["1"].AppliedAt.Before(h["2"].AppliedAt) || h["3"].AppliedAt.Sub(h["2"].AppliedAt) < 500*time.Millisecond {
				t.Errorf("applied_at 1 %v, 2 %v, 3 %v: want each migration's own start", h["1"].AppliedAt, h["2"].AppliedAt, h["3"].AppliedAt)
			}
			for v, r := range h {
				if r.State != database.StateApplied {
					t.Errorf("row %s: state %s", v, r.State)
				}
			}
		})
	}
}

// TestSyntaxErrorAfterGoodMigrations: the migrations before one with a
// syntax error are applied, and the error names that file's line, on every
// engine (PostgreSQL rejects a query with a syntax error whole, before
// running any of it, so a batch must not carry the good ones down with it).
func TestSyntaxErrorAfterGoodMigrations(t *testing.T) {
	set := files(
		"0001_a.up.sql", "CREATE TABLE a (id integer primary key);\n",
		"0002_b.up.sql", "CREATE TABLE b (id integer primary key);\n",
		"0003_typo.up.sql", "CREATE TABLE c (id integer primary key);\n\nCREAT TABLE d (id integer);\n",
		"0004_e.up.sql", "CREATE TABLE e (id integer primary key);\n",
	)
	eachDB(t, func(t *testing.T, tg target) {
		drv := tg.open(t)
		rep, err := up(t, drv, set)
		var me *runway.MigrationError
		if !errors.As(err, &me) || me.File != "0003_typo.up.sql" || me.Statement != 2 || me.Line != 3 {
			t.Fatalf("up: %v (%+v), want the typo on line 3 of 0003", err, me)
		}
		if len(rep.Applied) != 2 || rep.Applied[0].Version != "1" || rep.Applied[1].Version != "2" {
			t.Errorf("applied %+v, want 1 and 2", rep.Applied)
		}
		if !exists(t, drv, "a") || !exists(t, drv, "b") || exists(t, drv, "e") {
			t.Error("want tables a and b, not e")
		}
	})
}

// A migration of thousands of statements (a seed file): MySQL records each
// one's checksum in the history row as it goes, which a TEXT column (64 KB)
// could not hold past ~3855 statements; the statement after that ran without
// being recorded, and every rerun ran it again.
func TestManyStatementsOneMigration(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		drv := tg.open(t)
		var b strings.Builder
		b.WriteString("CREATE TABLE seed (id integer primary key);\n")
		const n = 4500
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "INSERT INTO seed (id) VALUES (%d);\n", i)
		}
		rep := mustUp(t, drv, files("0001_seed.up.sql", b.String()))
		if len(rep.Applied) != 1 {
			t.Fatalf("applied %+v", rep.Applied)
		}
		h := history(t, drv)["1"]
		if h.State != database.StateApplied || h.StatementsTotal != n+1 {
			t.Fatalf("history row: state %s, %d of %d statements", h.State, h.StatementsApplied, h.StatementsTotal)
		}
	})
}

// A lease shorter than the keepalive (or with the keepalive off): the engine
// renews it every quarter of its time to live anyway. Before, a library caller
// with LeaseTTL 2s and the default 10s keepalive let the lease lapse mid-run,
// and the next runner took the lock while this one still worked.
func TestShortLeaseIsRenewed(t *testing.T) {
	url := testdb.Postgres(t)
	ctx := context.Background()
	for _, keepalive := range []time.Duration{0, 10 * time.Second} {
		drv, err := postgres.Open(ctx, url, database.Config{Identity: "runway-test", LockMode: database.LockModeTable,
			LeaseTTL: 1200 * time.Millisecond, Table: fmt.Sprintf("lease_renew_%d", keepalive/time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { drv.Close(context.Background()) })
		// 2.5 lease times: lapsed unless renewed (1.2 s, not 0.6: under a
		// loaded CI machine's scheduler, 600 ms without a renewal happened once).
		r, err := runway.New(drv, files("0001_slow.up.sql", "SELECT pg_sleep(3);\n"),
			runway.WithTable(fmt.Sprintf("lease_renew_%d", keepalive/time.Second)), runway.WithLockKeepalive(keepalive))
		if err != nil {
			t.Fatal(err)
		}
		if rep, err := r.Up(ctx, runway.UpOptions{}); err != nil || len(rep.Applied) != 1 {
			t.Fatalf("keepalive %v: a 3 s migration under a 1.2 s lease: %v", keepalive, err)
		}
	}
}

// A database slow to confirm the lock is not a lost lock: every renewal of
// the lease below takes 1.3 s (a trigger on the lease table sleeps), longer
// than the 1 s keepalive interval of a 4 s lease but well within the three
// intervals the engine waits. Before, each confirmation was cut at one
// interval, so every one failed and the run stopped "unlocked" after 3 s.
func TestSlowLockConfirmationKeepsTheRun(t *testing.T) {
	url := testdb.Postgres(t)
	ctx := context.Background()
	drv, err := postgres.Open(ctx, url, database.Config{Identity: "runway-test", LockMode: database.LockModeTable,
		LeaseTTL: 4 * time.Second, Table: "slow_renewal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { drv.Close(context.Background()) })
	slowTrigger := "0001_slow_renewals.up.sql"
	src := files(slowTrigger, `CREATE FUNCTION slow_renewal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_sleep(1.3);
	RETURN NEW;
END $$;
CREATE TRIGGER slow_renewal BEFORE UPDATE ON slow_renewal_lock FOR EACH ROW EXECUTE FUNCTION slow_renewal();
`)
	mustUp(t, drv, src, runway.WithTable("slow_renewal")) // the lease table exists once the lock was taken
	src["0002_long.up.sql"] = &fstest.MapFile{Data: []byte("SELECT pg_sleep(5);\n")}
	start := time.Now()
	rep, err := up(t, drv, src, runway.WithTable("slow_renewal"))
	if err != nil || len(rep.Applied) != 1 {
		t.Fatalf("a 5 s migration while each lease renewal takes 1.3 s (after %v): %v", time.Since(start).Round(time.Millisecond), err)
	}
}

// Down does not revert below an unfinished migration (it would stay half
// applied on a schema it was not written for), and says so before reverting
// anything. A down script without statements reverts with a warning.
func TestDownAroundUnfinishedAndEmpty(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		drv := tg.open(t)
		ctx := context.Background()
		src := files(
			"0001_a.up.sql", "CREATE TABLE da (id int);\n",
			"0001_a.down.sql", "DROP TABLE da;\n",
			"0002_b.up.sql", "-- runway:no-transaction\nCREATE TABLE db (id int);\nINSERT INTO no_such_table VALUES (1);\n",
			"0002_b.down.sql", "DROP TABLE db;\n",
		)
		if _, err := up(t, drv, src); err == nil {
			t.Fatal("up of 0002 should fail at its second statement")
		}
		r, err := runway.New(drv, src)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Down(ctx, runway.DownOptions{})
		var ve *runway.ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), "is unfinished (1 of 2 statements applied)") {
			t.Fatalf("down below a failed migration: %v", err)
		}
		if _, err := r.DownPlan(ctx, runway.DownOptions{}); !errors.As(err, &ve) {
			t.Fatalf("DownPlan below a failed migration: %v, want the same refusal", err)
		}
		if !exists(t, drv, "da") || history(t, drv)["1"].State != database.StateApplied {
			t.Fatal("down reverted 0001 below the failed 0002")
		}

		drv2 := newTarget(t, tg.name).open(t)
		empty := files(
			"0001_e.up.sql", "CREATE TABLE de (id int);\n",
			"0001_e.down.sql", "-- write the down migration here\n",
		)
		r2, err := runway.New(drv2, empty)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r2.Up(ctx, runway.UpOptions{}); err != nil {
			t.Fatal(err)
		}
		rep, err := r2.Down(ctx, runway.DownOptions{})
		if err != nil || len(rep.Applied) != 1 || len(rep.Warnings) != 1 ||
			!strings.Contains(rep.Warnings[0], "0001_e.down.sql has no statements: reverting 0001_e.up.sql only removes its history row") {
			t.Fatalf("down of an empty down script: %v %+v", err, rep)
		}
	})
}

// The history table is the driver's: WithTable is not needed with this
// module's drivers, and a different name is refused instead of reporting
// one table while the driver writes another. A nil option is an error.
func TestHistoryTableNamedOnce(t *testing.T) {
	ctx := context.Background()
	drv, err := sqlite.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "t.db"), database.Config{Table: "app_history"})
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close(ctx)
	r, err := runway.New(drv, basic)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := r.Up(ctx, runway.UpOptions{}); err != nil || rep.Table != "app_history" {
		t.Fatalf("report names table %q (err %v), want the driver's app_history", rep.Table, err)
	}
	if _, err := runway.New(drv, basic, runway.WithTable("other_history")); !errors.Is(err, runway.ErrUsage) || !strings.Contains(err.Error(), `the driver was opened with the history table "app_history"`) {
		t.Fatalf("WithTable different from the driver's: %v", err)
	}
	if _, err := runway.New(drv, basic, runway.WithTable("app_history")); err != nil {
		t.Fatalf("WithTable equal to the driver's: %v", err)
	}
	if _, err := runway.New(drv, basic, nil); !errors.Is(err, runway.ErrUsage) {
		t.Fatalf("a nil option: %v", err)
	}
}

// Wait does not sit out its timeout in silence on what up will not apply: an
// edited migration fails it at once, even with other work pending; a pending
// migration older than the newest applied one is said (a runner with
// --allow-out-of-order may still apply it), as is a database ahead.
func TestWaitOnWhatUpRefuses(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		drv := tg.open(t)
		mustUp(t, drv, files("0001_a.up.sql", "CREATE TABLE a (id int);\n", "0003_c.up.sql", "CREATE TABLE c (id int);\n"))
		wait := func(src fstest.MapFS) (*report.Report, error) {
			// A session of its own: a wait that times out in the middle of
			// a query ends its session (MySQL kills it), as a cancelled run does.
			r, err := runway.New(tg.open(t), src, runway.WithPollInterval(20*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			return r.Wait(ctx)
		}
		rep, err := wait(files("0001_a.up.sql", "CREATE TABLE a (id int);\n", "0002_b.up.sql", "CREATE TABLE b (id int);\n", "0003_c.up.sql", "CREATE TABLE c (id int);\n"))
		if !errors.Is(err, runway.ErrPending) || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "2_b is pending but older than the newest applied migration 3") {
			t.Fatalf("wait on an out-of-order file: %v %q", err, rep.Warnings)
		}
		// A rolling deploy: a newer release is applying 9 statement by
		// statement; this release's wait has all it needs and says so.
		v9, _ := migration.ParseVersion("9")
		if err := drv.WriteRevision(context.Background(), database.Revision{Version: v9, Name: "next", State: database.StateRunning, StatementsTotal: 2, AppliedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		rep, err = wait(files("0001_a.up.sql", "CREATE TABLE a (id int);\n", "0003_c.up.sql", "CREATE TABLE c (id int);\n"))
		if err != nil || rep.Status != report.StatusOK || len(rep.Warnings) == 0 {
			t.Fatalf("wait beside another release's running migration: %v %+v", err, rep)
		}
		start := time.Now()
		_, err = wait(files("0001_a.up.sql", "CREATE TABLE a (id bigint);\n", "0003_c.up.sql", "CREATE TABLE c (id int);\n", "0004_d.up.sql", "CREATE TABLE d (id int);\n"))
		if !errors.Is(err, runway.ErrValidation) || !strings.Contains(err.Error(), "modified") || time.Since(start) > 250*time.Millisecond {
			t.Fatalf("wait on an edited migration with work pending: %v after %v", err, time.Since(start))
		}
	})
}

// A down script that fails says what took effect: nothing where it ran in a
// transaction, the statements before the failure on MySQL, whose DDL commits
// by itself (TestDownResumesAfterAFailure follows the reverting row from there).
func TestFailedDownSaysWhatTookEffect(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		drv := tg.open(t)
		src := files("0001_a.up.sql", "CREATE TABLE fa (id int);\nCREATE TABLE fb (id int);\n",
			"0001_a.down.sql", "DROP TABLE fb;\nDROP TABLE no_such_table;\nDROP TABLE fa;\n")
		mustUp(t, drv, src)
		r, _ := runway.New(drv, src)
		_, err := r.Down(context.Background(), runway.DownOptions{})
		var me *runway.MigrationError
		if !errors.As(err, &me) {
			t.Fatalf("down: %v", err)
		}
		hint := runway.FailureHint(me)
		want := "nothing of the down migration 0001_a.down.sql took effect"
		if !drv.TransactionalDDL() {
			want = "1 statement(s) of the down migration 0001_a.down.sql took effect before the failure and could not be rolled back; the history records 1 as reverting"
		}
		if !strings.Contains(hint, want) {
			t.Fatalf("hint %q, want %q", hint, want)
		}
	})
}

// A down script run statement by statement (MySQL; a no-transaction down
// script elsewhere) records its progress: after a failure the row says
// reverting, status shows it, up refuses, and the next down resumes after
// the statements that ran once the failing one is fixed — unless those were
// edited. repair clears the row instead.
func TestDownResumesAfterAFailure(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		drv := tg.open(t)
		ctx := context.Background()
		up1 := "CREATE TABLE ra (id int);\nCREATE TABLE rb (id int);\n"
		broken := files("0001_a.up.sql", up1,
			"0001_a.down.sql", "-- runway:no-transaction\nDROP TABLE rb;\nDROP TABLE no_such_table;\nDROP TABLE ra;\n")
		mustUp(t, drv, broken)
		r, _ := runway.New(drv, broken)
		if _, err := r.Down(ctx, runway.DownOptions{}); err == nil {
			t.Fatal("down should fail at its second statement")
		}
		h := history(t, drv)["1"]
		if h.State != database.StateReverting || h.StatementsApplied != 1 || h.StatementsTotal != 3 || exists(t, drv, "rb") || !exists(t, drv, "ra") {
			t.Fatalf("after the failed down: %+v, rb exists %v", h, exists(t, drv, "rb"))
		}
		st, err := r.Status(ctx, false)
		if err != nil || st.Migrations[0].State != "reverting" || !strings.Contains(st.Migrations[0].Detail, "1 of 3 down statements applied") {
			t.Fatalf("status: %v %+v", err, st.Migrations)
		}
		var ve *runway.ValidationError
		if _, err := up(t, drv, broken); !errors.As(err, &ve) || ve.Problems[0].Kind != "reverting" {
			t.Fatalf("up over a half-reverted migration: %v", err)
		}
		// The statement that ran was edited: no resume.
		edited := files("0001_a.up.sql", up1, "0001_a.down.sql", "-- runway:no-transaction\nDROP TABLE IF EXISTS rb;\nDROP TABLE ra;\n")
		re, _ := runway.New(drv, edited)
		if _, err := re.Down(ctx, runway.DownOptions{}); !errors.As(err, &ve) || ve.Problems[0].Kind != "resume-edited" || ve.Problems[0].File != "0001_a.down.sql" {
			t.Fatalf("down with the statement that ran edited: %v; want resume-edited, naming the down file", err)
		}
		fixed := files("0001_a.up.sql", up1, "0001_a.down.sql", "-- runway:no-transaction\nDROP TABLE rb;\nDROP TABLE ra;\n")
		rf, _ := runway.New(drv, fixed)
		rep, err := rf.Down(ctx, runway.DownOptions{})
		if err != nil || len(rep.Applied) != 1 || exists(t, drv, "ra") || len(history(t, drv)) != 0 {
			t.Fatalf("down after the fix: %v %+v, ra exists %v, history %v", err, rep, exists(t, drv, "ra"), history(t, drv))
		}
		if rep.FromVersion != "1" || rep.ToVersion != "" {
			t.Errorf("the resumed down went %q → %q, want 1 → none", rep.FromVersion, rep.ToVersion)
		}
		// A first statement that fails leaves the row reverting 0/n with its
		// error: it ran outside a transaction and may have done part of its work.
		firstFails := files("0001_a.up.sql", up1, "0001_a.down.sql", "-- runway:no-transaction\nDROP TABLE no_such_table;\nDROP TABLE ra;\n")
		mustUp(t, drv, firstFails)
		r0, _ := runway.New(drv, firstFails)
		if _, err := r0.Down(ctx, runway.DownOptions{}); err == nil {
			t.Fatal("down should fail at its first statement")
		}
		if h := history(t, drv)["1"]; h.State != database.StateReverting || h.StatementsApplied != 0 || h.Error == "" {
			t.Fatalf("after a failed first down statement: %+v", h)
		}
		if _, err := r0.Repair(ctx, runway.RepairOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"ra", "rb"} { // the revert, finished by hand
			if err := drv.Exec(ctx, migration.Statement{SQL: "DROP TABLE " + table, Line: 1}); err != nil {
				t.Fatal(err)
			}
		}
		// Resumed with the no-transaction marker gone: still statement by
		// statement, after what ran.
		mustUp(t, drv, broken)
		if _, err := r.Down(ctx, runway.DownOptions{}); err == nil {
			t.Fatal("down should fail at its second statement")
		}
		unmarked := files("0001_a.up.sql", up1, "0001_a.down.sql", "DROP TABLE rb;\nDROP TABLE ra;\n")
		ru, _ := runway.New(drv, unmarked)
		if _, err := ru.Down(ctx, runway.DownOptions{}); err != nil || exists(t, drv, "ra") || len(history(t, drv)) != 0 {
			t.Fatalf("resume without the no-transaction marker: %v, history %v", err, history(t, drv))
		}
		// repair clears a reverting row: the migration counts as reverted.
		mustUp(t, drv, broken)
		if _, err := r.Down(ctx, runway.DownOptions{}); err == nil {
			t.Fatal("down should fail again")
		}
		if rep, err := r.Repair(ctx, runway.RepairOptions{}); err != nil || len(rep.Repaired) != 1 || rep.Repaired[0].State != "reverting" || len(rep.Pending) != 1 || len(history(t, drv)) != 0 {
			t.Fatalf("repair of a reverting row: %v %+v", err, rep)
		}
	})
}

// failingWrites is a driver whose history writes fail: the database took the
// statements but not the record of them.
type failingWrites struct{ database.Driver }

func (failingWrites) WriteRevision(context.Context, database.Revision) error {
	return errors.New("disk full")
}

// Every migration an observer sees start ends, also when what failed is the
// history write rather than a statement; warnings and failures reach a
// logger at their own levels, not at Debug.
func TestEventsEndAndLogLevels(t *testing.T) {
	drv, err := sqlite.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "e.db"), database.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close(context.Background())
	var kinds []runway.EventKind
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	r, err := runway.New(failingWrites{drv}, files(
		"0001_empty.up.sql", "-- nothing yet\n",
		"0002_nt.up.sql", "-- runway:no-transaction\nCREATE TABLE nt (id int);\n"),
		runway.WithObserver(func(e runway.Event) { kinds = append(kinds, e.Kind) }), runway.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Up(context.Background(), runway.UpOptions{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("up with failing history writes: %v", err)
	}
	starts, ends := 0, 0
	for _, k := range kinds {
		switch k {
		case runway.EventMigrationStart:
			starts++
		case runway.EventMigrationDone, runway.EventMigrationFail:
			ends++
		}
	}
	if starts == 0 || starts != ends {
		t.Errorf("events %v: %d migration(s) started, %d ended", kinds, starts, ends)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "level=ERROR") || strings.Contains(logs.String(), "level=DEBUG") {
		t.Errorf("log at Info:\n%s", logs.String())
	}
}

// A caller that cancels: the error says so once (errors.Is finds the
// context's error, also while waiting for the lock) and the hint does not
// send the operator to the SQL or the server's timeouts.
// (PostgreSQL: its driver cancels on the server, which answers 57014.)
func TestCancelledByTheCaller(t *testing.T) {
	{
		tg := newTarget(t, "postgres")
		drv := tg.open(t)
		r, _ := runway.New(drv, files("0001_slow.up.sql", "SELECT pg_sleep(5);\n"))
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := r.Up(ctx, runway.UpOptions{})
		var me *runway.MigrationError
		if !errors.As(err, &me) || !errors.Is(err, context.DeadlineExceeded) || strings.Count(err.Error(), "57014") != 1 {
			t.Fatalf("cancelled mid-statement: %v", err)
		}
		if hint := runway.FailureHint(me); !strings.Contains(hint, "the run was stopped") || strings.Contains(hint, "statement timeout") {
			t.Fatalf("hint: %s", hint)
		}
		// Waiting for the lock another session holds.
		holder := tg.open(t)
		if ok, err := holder.Lock(context.Background(), 0); !ok || err != nil {
			t.Fatal(ok, err)
		}
		r2, _ := runway.New(drv, files("0002_b.up.sql", "SELECT 1;\n"))
		ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel2()
		if _, err := r2.Up(ctx2, runway.UpOptions{}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("cancelled while waiting for the lock: %v", err)
		}
	}
}

// A statement that fails outside a transaction may have done part of its
// work (MySQL's DROP TABLE a, b drops a): the hint says to check, rather than
// that nothing took effect.
func TestNoTransactionFailureHint(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		drv := tg.open(t)
		_, err := up(t, drv, files("0001_a.up.sql", "-- runway:no-transaction\nCREATE TABLE pa (id int);\nDROP TABLE pa, no_such_table;\n"))
		var me *runway.MigrationError
		if !errors.As(err, &me) || !me.NoTransaction {
			t.Fatalf("up: %v", err)
		}
		hint := runway.FailureHint(me)
		if !strings.Contains(hint, "Statement 2 ran outside a transaction and may have done part of its work") || strings.Contains(hint, "nothing of migration") {
			t.Fatalf("hint: %s", hint)
		}
	})
}

// The package-level Up returns a report in every case, as Runner.Up does.
func TestPackageUpReportsARefusedOption(t *testing.T) {
	drv, err := sqlite.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "p.db"), database.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close(context.Background())
	rep, err := runway.Up(context.Background(), drv, basic, runway.WithLockTimeout(-time.Second))
	if !errors.Is(err, runway.ErrUsage) || rep == nil || rep.Status != report.StatusFailed || rep.Error == nil {
		t.Fatalf("Up with a refused option: %v, %+v", err, rep)
	}
}

// Down with Expect reverts exactly what was shown: an empty Expect (nothing
// was shown) reverts nothing when the lock finds something applied since.
func TestDownExpectNothing(t *testing.T) {
	drv, err := sqlite.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "x.db"), database.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close(context.Background())
	mustUp(t, drv, basic)
	r, _ := runway.New(drv, basic)
	if _, err := r.Down(context.Background(), runway.DownOptions{Expect: []migration.Version{}}); !errors.Is(err, runway.ErrUsage) {
		t.Fatalf("down expecting nothing with migrations applied: %v", err)
	}
	if len(history(t, drv)) != 3 {
		t.Fatal("down reverted something it did not show")
	}
}

// A statement PostgreSQL runs only outside a transaction, in a migration run
// in one: the hint names the directive that fixes it, in each format.
func TestOutsideTransactionHint(t *testing.T) {
	drv := newTarget(t, "postgres").open(t)
	_, err := up(t, drv, files("0001_t.up.sql", "CREATE TABLE t (a int);\n", "0002_idx.up.sql", "CREATE INDEX CONCURRENTLY t_a ON t (a);\n"))
	var me *runway.MigrationError
	if !errors.As(err, &me) || me.Code != "25001" {
		t.Fatalf("up: %v", err)
	}
	hint := runway.FailureHint(me)
	for _, want := range []string{"nothing of migration 2 was applied", "-- runway:no-transaction", "-- +goose NO TRANSACTION", "0002_idx.up.sql"} {
		if !strings.Contains(hint, want) {
			t.Errorf("hint lacks %q: %s", want, hint)
		}
	}
	if strings.Contains(hint, "fix the statement") {
		t.Errorf("the hint sends the operator to a correct statement: %s", hint)
	}
}

// An enum value used in the transaction that added it: the hint says to
// move the ADD VALUE into a migration of its own, not to fix the statement.
func TestNewEnumValueHint(t *testing.T) {
	drv := newTarget(t, "postgres").open(t)
	_, err := up(t, drv, files("0001_t.up.sql", "CREATE TYPE mood AS ENUM ('a');\nCREATE TABLE t (m mood);\n",
		"0002_b.up.sql", "ALTER TYPE mood ADD VALUE 'b';\nINSERT INTO t VALUES ('b');\n"))
	var me *runway.MigrationError
	if !errors.As(err, &me) || me.Code != "55P04" {
		t.Fatalf("up: %v", err)
	}
	hint := runway.FailureHint(me)
	for _, want := range []string{"nothing of migration 2 was applied", "ADD VALUE into a migration of its own before 0002_b.up.sql"} {
		if !strings.Contains(hint, want) {
			t.Errorf("hint lacks %q: %s", want, hint)
		}
	}
}

// A wait stopped from outside (SIGTERM at a rollout, the caller) is not a
// timeout: it must not read as "migrations pending" (exit 3), which alerting
// takes for migrations that never landed.
func TestWaitStoppedIsNotPending(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		r, err := runway.New(tg.open(t), files("0001_a.up.sql", "CREATE TABLE a (id int);\n"), runway.WithPollInterval(20*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		rep, err := r.Wait(ctx)
		if errors.Is(err, runway.ErrPending) || !errors.Is(err, context.Canceled) || rep.Status != report.StatusFailed {
			t.Fatalf("wait stopped: %v, status %s; want context.Canceled, not ErrPending, status failed", err, rep.Status)
		}
		ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if _, err := r.Wait(ctx); !errors.Is(err, runway.ErrPending) {
			t.Fatalf("wait timed out: %v, want ErrPending", err)
		}
	})
}

// A constraint deferred to COMMIT that fails there is no statement's fault:
// the error names the migration and says COMMIT, in every way a migration's
// transaction is sent (one a transaction, a streamed file, and all pending
// migrations in one transaction, where no one file is named).
func TestDeferredConstraintFailsAtCommit(t *testing.T) {
	tg := newTarget(t, "postgres")
	lowerLargeFile(t)
	ctx := context.Background()
	parent := "CREATE TABLE p (id int primary key);\nCREATE TABLE c (id int, pid int REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED);\n"
	bad := "INSERT INTO c VALUES (1, 42);\nSELECT 1;\n"
	for _, c := range []struct {
		name string
		body string
		opts []runway.Option
	}{
		{"one transaction", bad, nil},
		{"streamed", bigScript("INSERT INTO c VALUES (1, 42);\n", "SELECT %d; -- %d\n", 500), nil},
		{"single transaction", bad, []runway.Option{runway.WithSingleTransaction()}},
	} {
		t.Run(c.name, func(t *testing.T) {
			drv := tg.open(t)
			if err := drv.Exec(ctx, migration.Statement{SQL: "DROP TABLE IF EXISTS c, p, runway_migrations"}); err != nil {
				t.Fatal(err)
			}
			src := files("0001_p.up.sql", parent, "0002_c.up.sql", c.body)
			_, err := up(t, drv, src, c.opts...)
			var ee *database.ExecError
			if !errors.As(err, &ee) || !ee.AtCommit || ee.Code != "23503" || !strings.Contains(err.Error(), "at COMMIT") {
				t.Fatalf("up: %v; want the COMMIT's 23503", err)
			}
			var me *runway.MigrationError
			isMe := errors.As(err, &me)
			if c.opts != nil {
				if isMe {
					t.Fatalf("all migrations in one transaction: the error names %s, which no more than the others failed", me.File)
				}
				if h := history(t, drv); len(h) != 0 {
					t.Fatalf("history after the single transaction failed: %+v", h)
				}
				return
			}
			if !isMe || me.File != "0002_c.up.sql" || !me.AtCommit || me.Statement != 0 || me.Line != 0 ||
				!strings.Contains(runway.FailureHint(me), "no one statement is to blame") {
				t.Fatalf("up: %#v; want 0002_c.up.sql at COMMIT, no statement", me)
			}
			if h := history(t, drv); h["1"].State != "applied" || h["2"].State != "" {
				t.Fatalf("history: %+v; want 1 applied, 2 absent", h)
			}
		})
	}
}

// plan shows the SQL of a large file too, which up streams (PostgreSQL).
func TestPlanShowsLargeFiles(t *testing.T) {
	lowerLargeFile(t)
	body := bigScript("CREATE TABLE big (id integer primary key);\n", "INSERT INTO big (id) VALUES (%d); -- %d\n", 300)
	eachDB(t, func(t *testing.T, tg target) {
		r, err := runway.New(tg.open(t), files("0001_big.up.sql", body))
		if err != nil {
			t.Fatal(err)
		}
		pl, err := r.Plan(context.Background(), runway.UpOptions{})
		if err != nil || len(pl.Plan) != 1 {
			t.Fatalf("plan: %v %+v", err, pl)
		}
		sts := pl.Plan[0].Statements
		if len(sts) != 301 || sts[300].Line != 301 || !strings.HasPrefix(sts[300].SQL, "INSERT INTO big (id) VALUES (300)") {
			t.Fatalf("plan of a large file: %d statements, want 301 with their lines", len(sts))
		}
	})
}

// A statement of a no-transaction migration on PostgreSQL travels with its
// progress write (and the lock's guard): its error is still its own, with
// the database's code and the position within the statement, including a
// constraint it deferred, which fails at the implicit COMMIT.
func TestNoTransactionStatementErrors(t *testing.T) {
	for _, c := range []struct {
		name, body, code, at string
	}{
		{"deferred", "-- runway:no-transaction\nCREATE TABLE nu (v text UNIQUE DEFERRABLE INITIALLY DEFERRED);\nINSERT INTO nu VALUES ('Z'), ('Z');\n", "23505", ""},
		{"position", "-- runway:no-transaction\nCREATE TABLE np (v text);\nSELECT\n  nope\nFROM np;\n", "42703", "nope"},
		{"syntax", "-- runway:no-transaction\nCREATE TABLE ns (v text);\nSELECT 1 +\n  FROM ns WHERE;\n", "42601", "FROM"},
		// Stopping short, the error is past the statement's text: at its end.
		{"short", "-- runway:no-transaction\nCREATE TABLE nt (v text);\nSELECT 1 +;\n", "42601", "$end"},
	} {
		t.Run(c.name, func(t *testing.T) {
			drv := newTarget(t, "postgres").open(t)
			_, err := up(t, drv, files("0001_a.up.sql", c.body))
			var me *runway.MigrationError
			if !errors.As(err, &me) || me.Statement != 2 || me.Line != 3 || me.Code != c.code || strings.Contains(err.Error(), "recording") {
				t.Fatalf("up: %v (%+v); want statement 2 at line 3 failing with %s", err, me, c.code)
			}
			if c.at == "$end" {
				if n := len([]rune(me.SQL)); me.Position != n+1 {
					t.Fatalf("position %d in %q, want %d (its end)", me.Position, me.SQL, n+1)
				}
			} else if c.at != "" && (me.Position < 1 || !strings.HasPrefix(string([]rune(me.SQL)[me.Position-1:]), c.at)) {
				t.Fatalf("position %d in %q, want it at %q", me.Position, me.SQL, c.at)
			}
			if h := history(t, drv); h["1"].StatementsApplied != 1 {
				t.Fatalf("history: %+v; want statement 1 recorded, not 2", h["1"])
			}
		})
	}
}

// While another runner holds the lock and the history records its migration
// as running, status and plan say that it is likely being applied now, and
// by whom, rather than that it stopped; once the lock is free they say
// nothing of the kind.
func TestStatusAndPlanNameTheLiveRunner(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		drv := tg.open(t)
		first := "CREATE TABLE live_a (id int);\n"
		mustUp(t, drv, files("0001_a.up.sql", first))
		src := files("0001_a.up.sql", first,
			"0002_b.up.sql", "-- runway:no-transaction\nCREATE TABLE live_b (id int);\nCREATE TABLE live_c (id int);\n")
		if err := drv.WriteRevision(ctx, database.Revision{Version: migration.MustParseVersion("2"), Name: "b",
			State: database.StateRunning, StatementsTotal: 2, AppliedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		r, err := runway.New(drv, src)
		if err != nil {
			t.Fatal(err)
		}
		check := func(live bool) {
			t.Helper()
			st, err := r.Status(ctx, false)
			if err != nil || len(st.Migrations) != 2 {
				t.Fatalf("status: %v %+v", err, st)
			}
			detail := st.Migrations[1].Detail
			if st.Migrations[1].State != "running" || strings.Contains(detail, "held by") != live ||
				live && !strings.Contains(detail, "0 of 2 statements applied; the migration lock is held by ") {
				t.Fatalf("status of 2 with the lock held %v: %q", live, detail)
			}
			pl, err := r.Plan(ctx, runway.UpOptions{})
			if err != nil || len(pl.Plan) != 1 {
				t.Fatalf("plan: %v %+v", err, pl)
			}
			warned := slices.ContainsFunc(pl.Warnings, func(w string) bool { return strings.Contains(w, "it is likely being applied now") })
			if (pl.Plan[0].RunningBy != "") != live || warned != live {
				t.Fatalf("plan with the lock held %v: running_by %q, warnings %q", live, pl.Plan[0].RunningBy, pl.Warnings)
			}
		}
		aroundLock(t, tg, check)
	})
}

// aroundLock runs check before, while and after another session of tg holds
// the migration lock, telling it whether the lock is held.
func aroundLock(t *testing.T, tg target, check func(live bool)) {
	t.Helper()
	ctx := context.Background()
	check(false)
	holder := tg.open(t)
	if ok, err := holder.Lock(ctx, 0); !ok || err != nil {
		t.Fatalf("lock: %v %v", ok, err)
	}
	check(true)
	if err := holder.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	check(false)
}

// The same for a down in progress: status says the migration is likely
// being reverted now, and plan's refusal of a half-reverted migration says
// to look again once that run ends, not to run down again.
func TestStatusAndPlanNameTheLiveDown(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		drv := tg.open(t)
		src := files("0001_a.up.sql", "CREATE TABLE live_d (id int);\n", "0001_a.down.sql", "DROP TABLE live_d;\n")
		mustUp(t, drv, src)
		if err := drv.WriteRevision(ctx, database.Revision{Version: migration.MustParseVersion("1"), Name: "a",
			State: database.StateReverting, StatementsTotal: 1, AppliedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		r, err := runway.New(drv, src)
		if err != nil {
			t.Fatal(err)
		}
		check := func(live bool) {
			t.Helper()
			st, err := r.Status(ctx, false)
			if err != nil || len(st.Migrations) != 1 {
				t.Fatalf("status: %v %+v", err, st)
			}
			if d := st.Migrations[0].Detail; strings.Contains(d, "it is likely being reverted now") != live || strings.Contains(d, "applied now") {
				t.Fatalf("status with the lock held %v: %q", live, d)
			}
			_, err = r.Plan(ctx, runway.UpOptions{})
			if !errors.Is(err, runway.ErrValidation) || strings.Contains(err.Error(), "is being reverted, most likely at this moment") != live ||
				strings.Contains(err.Error(), "Run `runway down` again") == live {
				t.Fatalf("plan with the lock held %v: %v", live, err)
			}
		}
		aroundLock(t, tg, check)
	})
}

// roleWithoutRights creates a PostgreSQL role with no rights on anything of
// the test's, dropped when the test ends.
func roleWithoutRights(t *testing.T, tg target) string {
	t.Helper()
	role := fmt.Sprintf("runway_norights_%d", time.Now().UnixNano())
	if err := tg.open(t).Exec(context.Background(), migration.Statement{SQL: "CREATE ROLE " + role}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tg.open(t).Exec(context.Background(), migration.Statement{SQL: "DROP ROLE " + role})
	})
	return role
}

// A transactional PostgreSQL migration that switches to a role without
// rights on the history table fails on Runway's own write: the error says
// so (database.ErrHistoryRefused), nothing of the migration stays, and the
// hint blames the session, not a statement.
func TestHistoryWriteRefusedAfterSetRole(t *testing.T) {
	ctx := context.Background()
	tg := newTarget(t, "postgres")
	drv := tg.open(t)
	role := roleWithoutRights(t, tg)
	_, err := up(t, drv, files("0001_owned.up.sql", "CREATE TABLE refused_t (id int);\nSET ROLE "+role+";\n"))
	var me *runway.MigrationError
	if !errors.As(err, &me) || !errors.Is(err, database.ErrHistoryRefused) {
		t.Fatalf("up: %v, want a MigrationError wrapping ErrHistoryRefused", err)
	}
	if hint := runway.FailureHint(me); !strings.Contains(hint, "the statement named is not to blame; nothing of the migration 0001_owned.up.sql took effect") {
		t.Fatalf("hint: %s", hint)
	}
	if exists(t, tg.open(t), "refused_t") {
		t.Fatal("the migration's table stayed")
	}

	// The write is named by the version it records, not by the step's
	// place in the batch (0-based: "step 1" was the second migration),
	// one migration a transaction and all in one alike.
	for _, opts := range [][]runway.Option{nil, {runway.WithSingleTransaction()}} {
		drv := tg.open(t)
		_, err := up(t, drv, files(
			"0001_first.up.sql", "CREATE TABLE refused_first (id int);\n",
			"0002_owned.up.sql", "SET ROLE "+role+";\n"), opts...)
		if !errors.Is(err, database.ErrHistoryRefused) {
			t.Fatalf("up %v: %v, want ErrHistoryRefused", opts, err)
		}
		if msg := err.Error(); !strings.Contains(msg, "recording version 2 in") || strings.Contains(msg, "step") {
			t.Fatalf("up %v: %v, want the write named by version 2", opts, err)
		}
		var me *runway.MigrationError
		if !errors.As(err, &me) && !strings.Contains(err.Error(), "Grant that role SELECT, INSERT, UPDATE and DELETE on the history table (and, with --lock-mode table, SELECT and UPDATE on its lock table") {
			t.Fatalf("up %v: %v, want what to do: neither a hint nor the grants", opts, err)
		}
		drv.Exec(ctx, migration.Statement{SQL: "DROP TABLE IF EXISTS refused_first"})
		drv.Exec(ctx, migration.Statement{SQL: "DELETE FROM runway_migrations"})
	}
}

// In table mode the lease is checked at the start and the end of each
// migration's transaction, in its session: a migration that switches to a
// role with rights on the history table but none on the lock table fails
// on that check. The error says so (ErrLockRefused, a kind of
// ErrHistoryRefused, with the lock table's grants in the hint), not that a
// deferred constraint failed at COMMIT, nor that the history table refused.
// The server names the table without its schema: a history table named
// with one is recognised alike.
func TestLeaseCheckRefusedAfterSetRole(t *testing.T) {
	ctx := context.Background()
	tg := newTarget(t, "postgres")
	role := roleWithoutRights(t, tg)
	for _, table := range []string{"lease_refused", "public.lease_refused_qualified"} {
		t.Run(table, func(t *testing.T) {
			open := func() database.Driver {
				drv, err := postgres.Open(ctx, tg.url, database.Config{Identity: "runway-test", LockMode: database.LockModeTable, Table: table})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { drv.Close(context.Background()) })
				return drv
			}
			drv := open()
			if err := drv.EnsureHistory(ctx); err != nil {
				t.Fatal(err)
			}
			if err := drv.Exec(ctx, migration.Statement{SQL: "GRANT SELECT, INSERT, UPDATE, DELETE ON " + table + " TO " + role}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				tg.open(t).Exec(context.Background(), migration.Statement{SQL: "REVOKE ALL ON " + table + " FROM " + role})
			})
			for _, script := range []string{
				"SELECT 1;\nSET ROLE " + role + ";\nSELECT 2;\n",                // in a transaction: the fence before COMMIT
				"-- runway:no-transaction\nSET ROLE " + role + ";\nSELECT 2;\n", // statement by statement: the fence after it, then the guard
				"-- runway:no-transaction\nSELECT 1;\nSET ROLE " + role + ";\n", // the guard of the last write, after every statement
			} {
				_, err := up(t, open(), files("0001_role.up.sql", script))
				var me *runway.MigrationError
				if !errors.As(err, &me) || !errors.Is(err, database.ErrHistoryRefused) {
					t.Fatalf("%q: %v, want a MigrationError wrapping ErrHistoryRefused", script, err)
				}
				if me.AtCommit || !strings.Contains(err.Error(), "confirming the migration lease in") {
					t.Errorf("%q: %v (at commit: %v), want the lease check named", script, err, me.AtCommit)
				}
				if !errors.Is(err, database.ErrLockRefused) || strings.Contains(err.Error(), "refused Runway's write to its history table") {
					t.Errorf("%q: %v, want the lock table named as the one that refused, not the history table", script, err)
				}
				if hint := runway.FailureHint(me); !strings.Contains(hint, "refused Runway's access to its lock table") || !strings.Contains(hint, "Grant that role SELECT and UPDATE on the lock table, and SELECT, INSERT, UPDATE and DELETE on the history table") {
					t.Errorf("%q: hint %s", script, hint)
				}
				drv.Exec(ctx, migration.Statement{SQL: "DELETE FROM " + table})
			}

			// All in one transaction, the lease check before its COMMIT is
			// refused alike, and the advice names the lock table's grants first.
			_, err := up(t, open(), files("0001_ok.up.sql", "SELECT 1;\n", "0002_role.up.sql", "SET ROLE "+role+";\n"), runway.WithSingleTransaction())
			if !errors.Is(err, database.ErrLockRefused) || !strings.Contains(err.Error(), "Grant that role SELECT and UPDATE on the lock table") {
				t.Fatalf("single transaction: %v, want ErrLockRefused and the lock table's grants", err)
			}
			if strings.Contains(err.Error(), "..") {
				t.Errorf("single transaction: %v: a sentence ends twice", err)
			}
			if rows, err := open().History(ctx); err != nil || len(rows) != 0 {
				t.Fatalf("single transaction: history %v (%v), want nothing recorded", rows, err)
			}
		})
	}
}

// A migration may leave its session as a role that can check the lease
// (SELECT and UPDATE on the lock table) but not delete it, after SET ROLE or
// SET SESSION AUTHORIZATION: the run then releases the lease in that
// session as the user that logged in (SET LOCAL SESSION AUTHORIZATION
// DEFAULT), and the next runner takes the lock at once instead of waiting
// for the lease to expire.
func TestLeaseReleasedAfterSetRoleWithoutDelete(t *testing.T) {
	ctx := context.Background()
	tg := newTarget(t, "postgres")
	role := roleWithoutRights(t, tg)
	open := func() database.Driver {
		drv, err := postgres.Open(ctx, tg.url, database.Config{Identity: "runway-test", LockMode: database.LockModeTable, Table: "lease_release", LeaseTTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { drv.Close(context.Background()) })
		return drv
	}
	mustUp(t, open(), files("0001_first.up.sql", "SELECT 1;\n"))
	admin := tg.open(t)
	for _, grant := range []string{
		"GRANT SELECT, INSERT, UPDATE, DELETE ON lease_release TO " + role,
		"GRANT SELECT, UPDATE ON lease_release_lock TO " + role,
	} {
		if err := admin.Exec(ctx, migration.Statement{SQL: grant}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		tg.open(t).Exec(context.Background(), migration.Statement{SQL: "REVOKE ALL ON lease_release, lease_release_lock FROM " + role})
	})
	names := []string{"0001_first.up.sql", "SELECT 1;\n"}
	for _, last := range []string{
		"SET ROLE " + role + ";\nSELECT 2;\n",                           // in a transaction
		"-- runway:no-transaction\nSET ROLE " + role + ";\nSELECT 3;\n", // statement by statement
		"SET SESSION AUTHORIZATION " + role + ";\nSELECT 4;\n",          // ROLE NONE would not do
	} {
		names = append(names, fmt.Sprintf("%04d_role.up.sql", len(names)/2+1), last)
		if rep := mustUp(t, open(), files(names...)); len(rep.Applied) != 1 {
			t.Fatalf("%q: %d migrations applied, want 1", last, len(rep.Applied))
		}
		holder, err := open().LockHolder(ctx)
		if err != nil || holder != "" {
			t.Fatalf("%q: the lock is held by %q (%v) after the run: want the lease released", last, holder, err)
		}
	}
}

// A login whose rights come only with a role it takes at login (NOINHERIT,
// ALTER ROLE … SET role) may not delete the lease as itself: the release
// restores that role with the login (SESSION AUTHORIZATION DEFAULT), as
// ROLE NONE would not.
func TestLeaseReleasedAsTheRoleTakenAtLogin(t *testing.T) {
	ctx := context.Background()
	tg := newTarget(t, "postgres")
	role := roleWithoutRights(t, tg)
	suffix := time.Now().UnixNano()
	login, owner := fmt.Sprintf("runway_login_%d", suffix), fmt.Sprintf("runway_owner_%d", suffix)
	u, err := url.Parse(tg.url)
	if err != nil {
		t.Fatal(err)
	}
	db := strings.TrimPrefix(u.Path, "/")
	admin := tg.open(t)
	for _, sql := range []string{
		"CREATE ROLE " + owner,
		"CREATE ROLE " + login + " LOGIN NOINHERIT", // its rights only through SET ROLE
		"GRANT " + owner + " TO " + login,
		"GRANT " + role + " TO " + login,
		"GRANT CREATE ON SCHEMA public TO " + owner,
		"ALTER ROLE " + login + " IN DATABASE " + pgIdent(db) + " SET role = " + owner,
	} {
		if err := admin.Exec(ctx, migration.Statement{SQL: sql}); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	t.Cleanup(func() {
		a := tg.open(t)
		for _, sql := range []string{
			"DROP OWNED BY " + owner, "ALTER ROLE " + login + " IN DATABASE " + pgIdent(db) + " RESET role",
			"DROP ROLE " + login, "DROP ROLE " + owner,
		} {
			if err := a.Exec(context.Background(), migration.Statement{SQL: sql}); err != nil {
				t.Errorf("cleanup: %s: %v", sql, err)
			}
		}
	})
	u.User = url.User(login)
	open := func() database.Driver {
		drv, err := postgres.Open(ctx, u.String(), database.Config{Identity: "runway-test", LockMode: database.LockModeTable, Table: "lease_login", LeaseTTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { drv.Close(context.Background()) })
		return drv
	}
	mustUp(t, open(), files("0001_first.up.sql", "SELECT 1;\n"))
	for _, grant := range []string{
		"GRANT SELECT, INSERT, UPDATE, DELETE ON lease_login TO " + role,
		"GRANT SELECT, UPDATE ON lease_login_lock TO " + role,
	} {
		if err := admin.Exec(ctx, migration.Statement{SQL: grant}); err != nil {
			t.Fatal(err)
		}
	}
	if rep := mustUp(t, open(), files("0001_first.up.sql", "SELECT 1;\n", "0002_role.up.sql", "SET ROLE "+role+";\nSELECT 2;\n")); len(rep.Applied) != 1 {
		t.Fatalf("%d migrations applied, want 1", len(rep.Applied))
	}
	holder, err := open().LockHolder(ctx)
	if err != nil || holder != "" {
		t.Fatalf("the lock is held by %q (%v) after the run: want the lease released", holder, err)
	}
}

// pgIdent quotes a PostgreSQL identifier.
func pgIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// A script run statement by statement whose last statement switches to a
// role without rights on the history table ran whole: only Runway's last
// write, marking it applied or removing its row, was refused. Each
// statement's progress went with it, so the next run, in a new session,
// makes that write without running any statement again: a DROP TABLE
// run again would fail, and a SET ROLE run again would be refused again.
func TestLastHistoryWriteRefusedLeavesNothingToRunAgain(t *testing.T) {
	ctx := context.Background()
	tg := newTarget(t, "postgres")
	drv := tg.open(t)
	role := roleWithoutRights(t, tg)
	fsys := files(
		"0001_t.up.sql", "-- runway:no-transaction\nCREATE TABLE lastwrite_t (id int);\nSET ROLE "+role+";\n",
		"0001_t.down.sql", "-- runway:no-transaction\nDROP TABLE lastwrite_t;\nSET ROLE "+role+";\n")
	if _, err := up(t, drv, fsys); !errors.Is(err, database.ErrHistoryRefused) {
		t.Fatalf("up: %v, want ErrHistoryRefused", err)
	}
	if rev := history(t, tg.open(t))["1"]; rev.State != database.StateRunning || rev.StatementsApplied != 2 {
		t.Fatalf("after the refused mark: %s with %d statements, want running with 2", rev.State, rev.StatementsApplied)
	}
	drv = tg.open(t)
	mustUp(t, drv, fsys)
	if rev := history(t, drv)["1"]; rev.State != database.StateApplied {
		t.Fatalf("after the rerun: %s, want applied", rev.State)
	}

	r, err := runway.New(tg.open(t), fsys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Down(ctx, runway.DownOptions{}); !errors.Is(err, database.ErrHistoryRefused) {
		t.Fatalf("down: %v, want ErrHistoryRefused", err)
	}
	if rev := history(t, tg.open(t))["1"]; rev.State != database.StateReverting || rev.StatementsApplied != 2 {
		t.Fatalf("after the refused removal: %s with %d statements, want reverting with 2", rev.State, rev.StatementsApplied)
	}
	drv = tg.open(t)
	r, err = runway.New(drv, fsys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Down(ctx, runway.DownOptions{}); err != nil {
		t.Fatalf("down again: %v", err)
	}
	if _, ok := history(t, drv)["1"]; ok || exists(t, drv, "lastwrite_t") {
		t.Fatal("the second down left the row or the table")
	}
}

// Where a statement's record cannot go with it (SQLite has no
// database.ProgressExecer), the last statement is recorded on its own
// before Runway's last write: when that write fails (here a trigger
// refuses it), the next run runs no statement again — DROP TABLE run again
// would fail — and what up, validate and down's plan say of the row is
// that only the write is left.
func TestLastWriteFailedAfterEveryStatementWasRecorded(t *testing.T) {
	ctx := context.Background()
	tg := newTarget(t, "sqlite")
	fsys := files(
		"0001_t.up.sql", "-- runway:no-transaction\nCREATE TABLE lw_a (id int);\nCREATE TABLE lw_b (id int);\n",
		"0001_t.down.sql", "-- runway:no-transaction\nDROP TABLE lw_b;\nDROP TABLE lw_a;\n")
	drv := tg.open(t)
	mustExec := func(sql string) {
		t.Helper()
		if err := drv.Exec(ctx, migration.Statement{SQL: sql, Line: 1}); err != nil {
			t.Fatal(err)
		}
	}
	// The history table, then a trigger refusing the mark "applied".
	if err := drv.EnsureHistory(ctx); err != nil {
		t.Fatal(err)
	}
	mustExec(`CREATE TRIGGER lw_no_apply BEFORE UPDATE ON runway_migrations WHEN NEW.state = 'applied' BEGIN SELECT RAISE(ABORT, 'refused'); END`)
	mustExec(`CREATE TRIGGER lw_no_apply_ins BEFORE INSERT ON runway_migrations WHEN NEW.state = 'applied' BEGIN SELECT RAISE(ABORT, 'refused'); END`)
	_, err := up(t, drv, fsys)
	if err == nil || !strings.Contains(err.Error(), "all its statements ran and are recorded") {
		t.Fatalf("up: %v, want the mark refused after every statement was recorded", err)
	}
	if rev := history(t, drv)["1"]; rev.State != database.StateRunning || rev.StatementsApplied != 2 {
		t.Fatalf("after the refused mark: %s with %d statements, want running with 2", rev.State, rev.StatementsApplied)
	}
	mustExec("DROP TRIGGER lw_no_apply")
	mustExec("DROP TRIGGER lw_no_apply_ins")
	rep := mustUp(t, drv, fsys)
	if len(rep.Warnings) == 0 || !strings.Contains(strings.Join(rep.Warnings, "\n"), "stopped after its last statement, before recording the migration as applied — it crashed, was killed, lost its connection, or the database refused that write. All 2 of its statements had completed; resuming after them") {
		t.Errorf("rerun warnings: %q", rep.Warnings)
	}

	mustExec(`CREATE TRIGGER lw_no_remove BEFORE DELETE ON runway_migrations BEGIN SELECT RAISE(ABORT, 'refused'); END`)
	r, err := runway.New(drv, fsys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Down(ctx, runway.DownOptions{}); err == nil || !strings.Contains(err.Error(), "each of its statements recorded") {
		t.Fatalf("down: %v, want the removal refused after every statement was recorded", err)
	}
	if rev := history(t, drv)["1"]; rev.State != database.StateReverting || rev.StatementsApplied != 2 {
		t.Fatalf("after the refused removal: %s with %d statements, want reverting with 2", rev.State, rev.StatementsApplied)
	}
	mustExec("DROP TRIGGER lw_no_remove")
	plan, err := r.DownPlan(ctx, runway.DownOptions{})
	if err != nil || len(plan) != 1 || !strings.Contains(plan[0].Note, "all 2 statements ran in an earlier run; only its history row is removed") {
		t.Errorf("down plan: %+v %v", plan, err)
	}
	if _, err := up(t, drv, fsys); err == nil || !strings.Contains(err.Error(), "the 2 statements its down script had then all ran") {
		t.Errorf("up with the row reverting: %v", err)
	}
	if _, err := r.Down(ctx, runway.DownOptions{}); err != nil {
		t.Fatalf("down again: %v", err)
	}
	if _, ok := history(t, drv)["1"]; ok || exists(t, drv, "lw_a") {
		t.Fatal("the second down left the row or the table")
	}
}

// No message larger than the server's max_allowed_packet is sent: the
// server would drop the connection as it read it, the run say only that it
// was lost, and every rerun lose it again. Statements that fit alone go in
// smaller messages, whichever way they are batched (a migration in one
// message, many migrations in one, a long migration statement by
// statement); a statement too large alone is refused before it is sent,
// with an error that names the limit, and recorded as failed at it.
func TestMessagesWithinMaxAllowedPacket(t *testing.T) {
	t.Parallel()
	srv := testdb.StartMySQL(t, testdb.WithServerArgs("--max-allowed-packet=65536"))
	if got := testdb.MySQLScalar(t, srv.NewDatabase(t), "SELECT @@max_allowed_packet"); got != "65536" {
		t.Fatalf("max_allowed_packet %s; want 65536", got)
	}
	insert := func(table string, id, size int) string {
		return fmt.Sprintf("INSERT INTO %s VALUES (%d, '%s');\n", table, id, strings.Repeat("a", size))
	}
	fits := map[string]string{
		// One migration of 80 KB, each statement 40 KB.
		"0001_two.up.sql": "CREATE TABLE two (id int PRIMARY KEY, s TEXT);\n" + insert("two", 1, 40<<10) + insert("two", 2, 40<<10),
		// One of ~70 KB in 230 statements: statement by statement.
		"0002_many.up.sql": "CREATE TABLE many (id int PRIMARY KEY, s TEXT);\n" + func() string {
			var b strings.Builder
			for i := range 229 {
				b.WriteString(insert("many", i, 300))
			}
			return b.String()
		}(),
	}
	// Sixty of 2 KB each: many migrations in one message.
	for i := range 60 {
		fits[fmt.Sprintf("%04d_m%d.up.sql", 10+i, i)] = fmt.Sprintf("CREATE TABLE m%d (id int PRIMARY KEY, s TEXT);\n", i) + insert(fmt.Sprintf("m%d", i), 1, 2<<10)
	}
	url := srv.NewDatabase(t)
	drv, err := openURL(context.Background(), "mysql", url)
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close(context.Background())
	fsys := files()
	for name, text := range fits {
		fsys[name] = &fstest.MapFile{Data: []byte(text)}
	}
	rep := mustUp(t, drv, fsys)
	if len(rep.Applied) != 62 {
		t.Fatalf("applied %d migrations; want 62", len(rep.Applied))
	}
	if got := testdb.MySQLScalar(t, url, "SELECT COUNT(*) FROM many"); got != "229" {
		t.Fatalf("table many holds %s rows; want 229", got)
	}

	// A statement larger than the limit alone, announced once; and one
	// whose message (the command's byte and the text) is the limit exactly,
	// which the server refuses too.
	for _, size := range []int{100 << 10, 65536 - 1 - len("INSERT INTO big VALUES (1, '')")} {
		fsys := maps.Clone(fsys)
		fsys["0100_big.up.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE big (id int PRIMARY KEY, s TEXT);\n" + insert("big", 1, size) + "CREATE TABLE after_big (id int);\n")}
		drv, err := openURL(context.Background(), "mysql", srv.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		defer drv.Close(context.Background())
		starts := 0
		r, err := runway.New(drv, fsys, runway.WithObserver(func(e runway.Event) {
			if e.Kind == runway.EventStatementStart && e.Version == "100" && e.Statement == 2 {
				starts++
			}
		}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Up(context.Background(), runway.UpOptions{})
		var me *runway.MigrationError
		if !errors.As(err, &me) || me.Statement != 2 || me.Code != "1153" || !strings.Contains(me.Message, "max_allowed_packet (65536 bytes): it was not sent") {
			t.Fatalf("%d bytes: up: %v; want statement 2 refused for max_allowed_packet", size, err)
		}
		if starts != 1 {
			t.Errorf("%d bytes: statement 2 was announced %d times", size, starts)
		}
		if h := runway.FailureHint(me); !strings.Contains(h, "says nothing against its SQL") || !strings.Contains(h, "resumes at statement 2") {
			t.Errorf("hint: %s", h)
		}
		if r := history(t, drv)["100"]; r.State != database.StateFailed || r.StatementsApplied != 1 {
			t.Fatalf("%d bytes: history row: %s with %d statements; want failed with 1", size, r.State, r.StatementsApplied)
		}
	}
}

// A file whose statements cannot be run as written (a psql meta-command,
// an unterminated string) stops the run before the database is touched,
// with every such file named at once (docs/errors.md): on a new database
// no history table is left behind.
func TestSplitProblemsBeforeTheDatabaseIsTouched(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		drv := tg.open(t)
		bad := map[string]string{"postgres": "SELECT 1;\n\\connect other\n", "mysql": "SELECT 1;\nSELECT `x;\n", "sqlite": "SELECT 1;\nSELECT 'x;\n"}[tg.name]
		_, err := up(t, drv, files("0001_ok.up.sql", "CREATE TABLE ok1 (id int);\n", "0002_bad.up.sql", bad,
			"0003_bad.up.sql", "SELECT 'unterminated;\n"))
		if !errors.Is(err, runway.ErrSource) || !strings.Contains(err.Error(), "0002_bad.up.sql:2") || !strings.Contains(err.Error(), "0003_bad.up.sql:1") {
			t.Fatalf("up: %v; want both bad files named", err)
		}
		if exists(t, drv, "runway_migrations") || exists(t, drv, "ok1") {
			t.Fatal("the refused run touched the database")
		}
	})
}

// A role that may not create the history table (PostgreSQL 15's public
// schema, for a role that does not own it; a MySQL user without CREATE) is
// told what to grant, as a configuration error (exit 2), not as a failed
// migration.
func TestHistoryTableNotCreatable(t *testing.T) {
	t.Parallel()
	t.Run("mysql", func(t *testing.T) {
		tg := newTarget(t, "mysql")
		admin := tg.open(t)
		u, err := url.Parse(tg.url)
		if err != nil {
			t.Fatal(err)
		}
		user := fmt.Sprintf("rw_nocreate_%d", time.Now().UnixNano()%1e9)
		for _, sql := range []string{"CREATE USER '" + user + "'@'%'", "GRANT SELECT ON `" + strings.TrimPrefix(u.Path, "/") + "`.* TO '" + user + "'@'%'"} {
			if err := admin.Exec(context.Background(), migration.Statement{SQL: sql, Line: 1}); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() {
			admin.Exec(context.Background(), migration.Statement{SQL: "DROP USER IF EXISTS '" + user + "'@'%'", Line: 1})
		})
		u.User = url.User(user)
		drv, err := openURL(context.Background(), "mysql", u.String())
		if err != nil {
			t.Fatal(err)
		}
		_, err = up(t, drv, files("0001_a.up.sql", "SELECT 1;\n"))
		drv.Close(context.Background())
		if !errors.Is(err, database.ErrConfig) || !strings.Contains(err.Error(), "may not create it: grant it CREATE on the database") {
			t.Fatalf("up as a user without CREATE: %v; want a configuration error that says what to grant", err)
		}
	})
	tg := newTarget(t, "postgres")
	admin := tg.open(t)
	role := fmt.Sprintf("rw_nocreate_%d", time.Now().UnixNano())
	for _, sql := range []string{"CREATE ROLE " + role + " LOGIN", "REVOKE CREATE ON SCHEMA public FROM PUBLIC"} {
		if err := admin.Exec(context.Background(), migration.Statement{SQL: sql, Line: 1}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		admin.Exec(context.Background(), migration.Statement{SQL: "DROP ROLE IF EXISTS " + role, Line: 1})
	})
	u, err := url.Parse(tg.url)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	drv, err := openURL(context.Background(), "postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	_, err = up(t, drv, files("0001_a.up.sql", "SELECT 1;\n"))
	drv.Close(context.Background())
	if !errors.Is(err, database.ErrConfig) || !strings.Contains(err.Error(), "may not create it: grant it CREATE on the table's schema") {
		t.Fatalf("up as a role without CREATE: %v; want a configuration error that says what to grant", err)
	}
}
