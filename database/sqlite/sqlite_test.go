package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/database/drivertest"
	"github.com/runwaydb/runway/migration"
)

// lockChildEnv makes the test binary, re-executed by TestLockReleasedOnKill,
// take the lock on the database it names and wait to be killed.
const lockChildEnv = "RUNWAY_SQLITE_TEST_LOCK_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(lockChildEnv); path != "" {
		os.Exit(lockChild(path))
	}
	os.Exit(m.Run())
}

func lockChild(path string) int {
	ctx := context.Background()
	d, err := Open(ctx, "sqlite:"+path, database.Config{Identity: "child"})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	ok, err := d.Lock(ctx, 0)
	if err != nil || !ok {
		fmt.Println("error", ok, err)
		return 1
	}
	fmt.Println("locked")
	time.Sleep(time.Minute) // killed long before
	return 0
}

func open(t testing.TB, url string) *Driver {
	t.Helper()
	d, err := Open(context.Background(), url, database.Config{Identity: "test"})
	if err != nil {
		t.Fatalf("Open(%s): %v", url, err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

func TestConformance(t *testing.T) {
	drivertest.Run(t, func(t *testing.T) (database.Driver, drivertest.Session) {
		url := "sqlite:" + filepath.Join(t.TempDir(), "conformance.db")
		session := func(t *testing.T) database.Driver {
			d, err := Open(context.Background(), url, database.Config{Identity: "test"})
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		return session(t), session
	})
}

// TestConformanceNew runs the suite on Drivers made by New from an
// application's own *sql.DB.
func TestConformanceNew(t *testing.T) {
	drivertest.Run(t, func(t *testing.T) (database.Driver, drivertest.Session) {
		dsn := filepath.Join(t.TempDir(), "app.db") + "?_pragma=busy_timeout(10000)"
		session := func(t *testing.T) database.Driver {
			db := sql.OpenDB(connector{dsn: dsn, drv: &sqlite.Driver{}})
			t.Cleanup(func() { db.Close() })
			return New(db, database.Config{Identity: "app"})
		}
		return session(t), session
	})
}

func TestParseURL(t *testing.T) {
	bt := "_pragma=busy_timeout%2810000%29"
	for _, tc := range []struct {
		url, dsn, path string
	}{
		{"sqlite:runway.db", "file:runway.db?" + bt, "runway.db"},
		{"sqlite3:runway.db", "file:runway.db?" + bt, "runway.db"},
		{"SQLite:runway.db", "file:runway.db?" + bt, "runway.db"},
		{"sqlite://data/app.db", "file:data/app.db?" + bt, "data/app.db"},
		{"sqlite:///var/lib/app.db", "file:/var/lib/app.db?" + bt, "/var/lib/app.db"},
		{"sqlite3:///var/lib/app.db", "file:/var/lib/app.db?" + bt, "/var/lib/app.db"},
		{"sqlite:/var/lib/app.db", "file:/var/lib/app.db?" + bt, "/var/lib/app.db"},
		{"sqlite::memory:", "file::memory:?" + bt, ""},
		{"sqlite3::memory:", "file::memory:?" + bt, ""},
		{"sqlite:shared?mode=memory&cache=shared", "file:shared?mode=memory&cache=shared&" + bt, ""},
		{"sqlite:app.db?_pragma=foreign_keys(1)", "file:app.db?_pragma=foreign_keys(1)&" + bt, "app.db"},
		{"sqlite:app.db?_pragma=busy_timeout(50)", "file:app.db?_pragma=busy_timeout(50)", "app.db"},
		{"sqlite:app.db?_busy_timeout=50", "file:app.db?_busy_timeout=50", "app.db"},
		{"sqlite:my%20app.db", "file:my app.db?" + bt, "my app.db"},
		{"sqlite:we%3Fird%23.db", "file:we%3fird%23.db?" + bt, "we?ird#.db"},
	} {
		dsn, path, err := parseURL(tc.url)
		if err != nil {
			t.Errorf("parseURL(%q): %v", tc.url, err)
			continue
		}
		if dsn != tc.dsn || path != tc.path {
			t.Errorf("parseURL(%q) = %q, %q; want %q, %q", tc.url, dsn, path, tc.dsn, tc.path)
		}
	}
	for _, bad := range []string{"sqlite:", "sqlite://", "sqlite:?x=1", "postgres://h/db", "sqlite:a.db?%zz"} {
		if _, _, err := parseURL(bad); err == nil {
			t.Errorf("parseURL(%q): no error", bad)
		}
	}
}

func TestOpenCreatesRelativeFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	d := open(t, "sqlite:runway.db")
	if err := d.EnsureHistory(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "runway.db")); err != nil {
		t.Fatalf("sqlite:runway.db did not create the file: %v", err)
	}
	// The lock file goes next to the database, named from its absolute path.
	if ok, err := d.Lock(t.Context(), 0); err != nil || !ok {
		t.Fatalf("Lock = %v, %v", ok, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "runway.db.runway-lock")); err != nil {
		t.Fatalf("lock file: %v", err)
	}
	// A clean run leaves no lock file behind.
	if err := d.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "runway.db.runway-lock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file after Unlock: %v, want it removed", err)
	}
}

func TestOpenMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "app.db")
	_, err := Open(t.Context(), "sqlite:"+path, database.Config{})
	if !errors.Is(err, database.ErrConnect) {
		t.Fatalf("Open in a missing directory: %v, want ErrConnect", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name %s", err, path)
	}
}

func TestOpenNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database\n", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(t.Context(), "sqlite:"+path, database.Config{})
	if !errors.Is(err, database.ErrConnect) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open of a text file: %v, want ErrConnect naming the path", err)
	}
	t.Log(err)
}

func TestBusyTimeout(t *testing.T) {
	dir := t.TempDir()
	for url, want := range map[string]int{
		"sqlite:" + filepath.Join(dir, "a.db"):                               10000,
		"sqlite:" + filepath.Join(dir, "b.db") + "?_pragma=busy_timeout(77)": 77,
		"sqlite:" + filepath.Join(dir, "c.db") + "?_busy_timeout=88":         88,
		"sqlite::memory:": 10000,
	} {
		d := open(t, url)
		var got int
		if err := d.conn.QueryRowContext(t.Context(), "PRAGMA busy_timeout").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: busy_timeout = %d, want %d", url, got, want)
		}
	}
}

func TestMemory(t *testing.T) {
	ctx := t.Context()
	d := open(t, "sqlite::memory:")
	for range 2 {
		if ok, err := d.Lock(ctx, 0); !ok || err != nil {
			t.Fatalf("Lock on :memory: = %v, %v", ok, err)
		}
	}
	if h, err := d.LockHolder(ctx); h != "" || err != nil {
		t.Errorf("LockHolder on :memory: = %q, %v", h, err)
	}
	if err := d.EnsureHistory(ctx); err != nil {
		t.Fatal(err)
	}
	r := database.Revision{Version: migration.MustParseVersion("1"), State: database.StateApplied, AppliedAt: time.Now()}
	err := d.ApplyTx(ctx, []database.Step{{Statements: []migration.Statement{{SQL: "CREATE TABLE t (id int)", Line: 1}}, Record: &r}})
	if err != nil {
		t.Fatal(err)
	}
	revs, err := d.History(ctx)
	if err != nil || len(revs) != 1 {
		t.Fatalf("History = %v, %v", revs, err)
	}
	// Milliseconds survive the round trip.
	if got, want := revs[0].AppliedAt, r.AppliedAt.Truncate(time.Millisecond).UTC(); !got.Equal(want) {
		t.Errorf("AppliedAt = %v, want %v", got, want)
	}
	if err := d.Exec(ctx, migration.Statement{SQL: "SELECT id FROM t"}); err != nil {
		t.Errorf("the table is gone: the in-memory database was not kept on one connection: %v", err)
	}
	if err := d.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestTriggerInApplyTx(t *testing.T) {
	ctx := t.Context()
	d := open(t, "sqlite:"+filepath.Join(t.TempDir(), "trig.db"))
	if err := d.EnsureHistory(ctx); err != nil {
		t.Fatal(err)
	}
	r := database.Revision{Version: migration.MustParseVersion("1"), State: database.StateApplied, AppliedAt: time.Now()}
	err := d.ApplyTx(ctx, []database.Step{{Record: &r, Statements: []migration.Statement{
		{SQL: "CREATE TABLE items (id INTEGER PRIMARY KEY, n INT)", Line: 1},
		{SQL: "CREATE TABLE audit (item INT, what TEXT)", Line: 2},
		{SQL: `CREATE TRIGGER items_ai AFTER INSERT ON items
BEGIN
	INSERT INTO audit (item, what) VALUES (new.id, 'insert');
	UPDATE items SET n = n + 1 WHERE id = new.id;
END`, Line: 3},
		{SQL: "INSERT INTO items (id, n) VALUES (7, 1)", Line: 8},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	var item, n int
	if err := d.conn.QueryRowContext(ctx, "SELECT a.item, i.n FROM audit a JOIN items i ON i.id = a.item").Scan(&item, &n); err != nil {
		t.Fatal(err)
	}
	if item != 7 || n != 2 {
		t.Errorf("trigger effect: item %d n %d, want 7 2", item, n)
	}
}

func TestApplyTxFailureRollsBackAll(t *testing.T) {
	ctx := t.Context()
	d := open(t, "sqlite:"+filepath.Join(t.TempDir(), "fail.db"))
	if err := d.EnsureHistory(ctx); err != nil {
		t.Fatal(err)
	}
	r1 := database.Revision{Version: migration.MustParseVersion("1"), State: database.StateApplied, AppliedAt: time.Now()}
	r2 := r1
	r2.Version = migration.MustParseVersion("2")
	err := d.ApplyTx(ctx, []database.Step{
		{Record: &r1, Statements: []migration.Statement{
			{SQL: "CREATE TABLE a (id INTEGER PRIMARY KEY)", Line: 1},
			{SQL: "INSERT INTO a VALUES (1)", Line: 2},
		}},
		{Record: &r2, Statements: []migration.Statement{
			{SQL: "CREATE TRIGGER a_ai AFTER INSERT ON a BEGIN SELECT 1; END", Line: 1},
			{SQL: "INSERT INTO a VALUES (1)", Line: 9},
		}},
	})
	var ee *database.ExecError
	if !errors.As(err, &ee) {
		t.Fatalf("ApplyTx: %T %v, want *database.ExecError", err, err)
	}
	want := database.ExecError{Step: 1, Statement: 1, Line: 9, Code: "SQLITE_CONSTRAINT_PRIMARYKEY", Message: "UNIQUE constraint failed: a.id"}
	if ee.Step != want.Step || ee.Statement != want.Statement || ee.Line != want.Line || ee.Code != want.Code || ee.Message != want.Message {
		t.Errorf("ExecError = %+v\nwant        %+v", *ee, want)
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		t.Error("the *sqlite.Error is not reachable from the ExecError")
	}
	var n int
	if err := d.conn.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE name IN ('a', 'a_ai')").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d objects of the failed transaction left behind", n)
	}
	if revs, err := d.History(ctx); err != nil || len(revs) != 0 {
		t.Errorf("History = %v, %v; want no rows", revs, err)
	}
	// A syntax error carries SQLite's code and message too.
	err = d.Exec(ctx, migration.Statement{SQL: "CREAT TABLE x (id int)", Line: 4})
	if !errors.As(err, &ee) || ee.Code != "SQLITE_ERROR" || ee.Line != 4 || !strings.Contains(ee.Message, `near "CREAT": syntax error`) {
		t.Errorf("syntax error: %#v", err)
	}
}

func TestExecOutsideTransaction(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "vac.db")
	d := open(t, "sqlite:"+path)
	if ok, err := d.Lock(ctx, 0); !ok || err != nil {
		t.Fatalf("Lock = %v, %v", ok, err)
	}
	for _, sql := range []string{
		"CREATE TABLE big (b BLOB)",
		"INSERT INTO big SELECT randomblob(100000) FROM generate_series(1, 20)",
		"DELETE FROM big",
		"VACUUM",
		"PRAGMA journal_mode = WAL",
	} {
		if err := d.Exec(ctx, migration.Statement{SQL: sql, Line: 1}); err != nil {
			// generate_series may be missing from the build: fall back to a recursive CTE.
			if strings.HasPrefix(sql, "INSERT") {
				sql = "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 20) INSERT INTO big SELECT randomblob(100000) FROM s"
				err = d.Exec(ctx, migration.Statement{SQL: sql, Line: 1})
			}
			if err != nil {
				t.Fatalf("Exec(%s) while holding the migration lock: %v", sql, err)
			}
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 100000 {
		t.Errorf("database is %d bytes after VACUUM", fi.Size())
	}
	var mode string
	if err := d.conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
}

func TestLockTwoDrivers(t *testing.T) {
	ctx := t.Context()
	url := "sqlite:" + filepath.Join(t.TempDir(), "lock.db")
	a, b := open(t, url), open(t, url)
	if ok, err := a.Lock(ctx, 0); !ok || err != nil {
		t.Fatalf("a.Lock = %v, %v", ok, err)
	}
	if ok, err := a.Lock(ctx, 0); !ok || err != nil {
		t.Fatalf("a.Lock again = %v, %v (the holder locking again)", ok, err)
	}
	if ok, err := b.Lock(ctx, 100*time.Millisecond); ok || err != nil {
		t.Fatalf("b.Lock while a holds it = %v, %v", ok, err)
	}
	h, err := b.LockHolder(ctx)
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("test pid=%d since ", os.Getpid())
	if !strings.HasPrefix(h, prefix) {
		t.Fatalf("LockHolder = %q, want %q…", h, prefix)
	}
	if _, err := time.Parse(time.RFC3339, strings.TrimPrefix(h, prefix)); err != nil {
		t.Errorf("LockHolder time: %v", err)
	}
	// The lock is not a database lock: b can write while a holds it.
	if err := b.EnsureHistory(ctx); err != nil {
		t.Errorf("b.EnsureHistory while a holds the migration lock: %v", err)
	}
	// Another history table is another lock.
	other, err := Open(ctx, url, database.Config{Table: "other_history"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	if ok, err := other.Lock(ctx, 0); !ok || err != nil {
		t.Errorf("Lock for another history table = %v, %v", ok, err)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.Lock(ctx, 0); !ok || err != nil {
		t.Fatalf("b.Lock after a closed = %v, %v", ok, err)
	}
}

func TestLockReleasedOnKill(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "kill.db")
	d := open(t, "sqlite:"+path)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), lockChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		if strings.TrimSpace(s) != "locked" {
			t.Fatalf("child: %q", s)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("child did not take the lock in 30s")
	}

	if ok, err := d.Lock(ctx, 0); ok || err != nil {
		t.Fatalf("Lock while the child holds it = %v, %v", ok, err)
	}
	h, err := d.LockHolder(ctx)
	if err != nil || !strings.HasPrefix(h, fmt.Sprintf("child pid=%d since ", cmd.Process.Pid)) {
		t.Errorf("LockHolder = %q, %v; want the child's pid %d", h, err, cmd.Process.Pid)
	}

	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no chance to unlock
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if ok, err := d.Lock(ctx, 5*time.Second); !ok || err != nil {
		t.Fatalf("Lock after the holder was killed = %v, %v", ok, err)
	}
	// What the dead holder wrote is not reported as a holder any more: we hold it now.
	if h, _ := d.LockHolder(ctx); strings.HasPrefix(h, "child") {
		t.Errorf("LockHolder after the child died = %q", h)
	}
}

func TestHistoryCustomTable(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tables.db")
	d, err := Open(ctx, "sqlite:"+path, database.Config{Table: `odd "name"`})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	if err := d.EnsureHistory(ctx); err != nil {
		t.Fatal(err)
	}
	r := database.Revision{Version: migration.MustParseVersion("5"), State: database.StateApplied, AppliedAt: time.Now()}
	if err := d.WriteRevision(ctx, r); err != nil {
		t.Fatal(err)
	}
	if revs, err := d.History(ctx); err != nil || len(revs) != 1 {
		t.Fatalf("History = %v, %v", revs, err)
	}
	// The default table is untouched: its history is empty.
	def := open(t, "sqlite:"+path)
	if revs, err := def.History(ctx); err != nil || len(revs) != 0 {
		t.Fatalf("default History = %v, %v", revs, err)
	}
	// An attached schema: the table and the lock follow that database's file.
	aux := filepath.Join(t.TempDir(), "aux.db")
	s, err := Open(ctx, "sqlite:"+path, database.Config{Table: "aux.hist"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	if _, err := s.conn.ExecContext(ctx, "ATTACH DATABASE ? AS aux", aux); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureHistory(ctx); err != nil {
		t.Fatal(err)
	}
	if revs, err := s.History(ctx); err != nil || len(revs) != 0 {
		t.Fatalf("aux History = %v, %v", revs, err)
	}
	if ok, err := s.Lock(ctx, 0); !ok || err != nil {
		t.Fatalf("aux Lock = %v, %v", ok, err)
	}
	if _, err := os.Stat(aux + ".hist.runway-lock"); err != nil {
		t.Errorf("lock file of the attached database: %v", err)
	}
	// "main.runway_migrations" is the default table: its lock is the
	// default table's, held by a runner that names it without the schema.
	plain := open(t, "sqlite:"+path)
	if ok, err := plain.Lock(ctx, 0); !ok || err != nil {
		t.Fatalf("Lock = %v, %v", ok, err)
	}
	qualified, err := Open(ctx, "sqlite:"+path, database.Config{Table: "main.runway_migrations"})
	if err != nil {
		t.Fatal(err)
	}
	defer qualified.Close(ctx)
	if ok, err := qualified.Lock(ctx, 0); ok || err != nil {
		t.Fatalf("main.runway_migrations took the lock runway_migrations holds: %v, %v", ok, err)
	}
}

// BenchmarkApplyTx1000 applies 1000 steps, each a small CREATE TABLE and its
// history row, in one transaction on a fresh file.
func BenchmarkApplyTx1000(b *testing.B) {
	ctx := context.Background()
	steps := make([]database.Step, 1000)
	for i := range steps {
		r := database.Revision{
			Version: migration.MustParseVersion(fmt.Sprint(i + 1)), Name: "create", Checksum: "abc",
			State: database.StateApplied, AppliedAt: time.Now(), AppliedBy: "bench",
		}
		steps[i] = database.Step{Record: &r, Statements: []migration.Statement{
			{SQL: fmt.Sprintf("CREATE TABLE t%d (id INTEGER PRIMARY KEY, name TEXT NOT NULL)", i), Line: 1},
		}}
	}
	dir := b.TempDir()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		d, err := Open(ctx, "sqlite:"+filepath.Join(dir, fmt.Sprintf("bench%d.db", i)), database.Config{})
		if err != nil {
			b.Fatal(err)
		}
		if err := d.EnsureHistory(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := d.ApplyTx(ctx, steps); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		d.Close(ctx)
		b.StartTimer()
	}
}

// TestLockContention has sessions take and release the lock in a loop: the
// lock file is removed at every Unlock, and a session that locked a removed
// file must not think it holds the lock.
func TestLockContention(t *testing.T) {
	ctx := t.Context()
	url := "sqlite:" + filepath.Join(t.TempDir(), "busy.db")
	var holders atomic.Int32
	var wg sync.WaitGroup
	for range 4 {
		d := open(t, url)
		wg.Go(func() {
			for range 50 {
				ok, err := d.Lock(ctx, 20*time.Second)
				if err != nil || !ok {
					t.Errorf("Lock = %v, %v", ok, err)
					return
				}
				if n := holders.Add(1); n != 1 {
					t.Errorf("%d sessions hold the lock at once", n)
				}
				time.Sleep(100 * time.Microsecond)
				holders.Add(-1)
				if err := d.Unlock(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// ApplyTxStream is one transaction, however many statements come: all of
// them and the history row, or, when a statement fails or the file cannot
// be read further, nothing; a failing statement carries its SQL, which the
// engine holds no copy of.
func TestApplyTxStream(t *testing.T) {
	ctx := t.Context()
	d := open(t, "sqlite:"+filepath.Join(t.TempDir(), "stream.db"))
	if err := d.EnsureHistory(ctx); err != nil {
		t.Fatal(err)
	}
	seq := func(table string, n, bad int, tail error) func(func(migration.Statement, error) bool) {
		return func(yield func(migration.Statement, error) bool) {
			if !yield(migration.Statement{SQL: "CREATE TABLE " + table + " (id INTEGER PRIMARY KEY)", Line: 1}, nil) {
				return
			}
			for i := 1; i <= n; i++ {
				id := i
				if i == bad {
					id = 1
				}
				if !yield(migration.Statement{SQL: fmt.Sprintf("INSERT INTO %s VALUES (%d)", table, id), Line: i + 1}, nil) {
					return
				}
			}
			if tail != nil {
				yield(migration.Statement{}, tail)
			}
		}
	}
	rev := func(v string) database.Revision {
		return database.Revision{Version: migration.MustParseVersion(v), State: database.StateApplied, AppliedAt: time.Now()}
	}
	count := func(q string) int {
		t.Helper()
		var n int
		if err := d.conn.QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	n, err := d.ApplyTxStream(ctx, seq("s", 500, 0, nil), rev("1"))
	if err != nil || n != 501 || count("SELECT count(*) FROM s") != 500 {
		t.Fatalf("ApplyTxStream = %d, %v; want 501 statements and 500 rows", n, err)
	}
	revs, err := d.History(ctx)
	if err != nil || len(revs) != 1 || revs[0].StatementsApplied != 501 || revs[0].StatementsTotal != 501 {
		t.Fatalf("history: %+v, %v", revs, err)
	}

	_, err = d.ApplyTxStream(ctx, seq("f", 300, 250, nil), rev("2"))
	var ee *database.ExecError
	if !errors.As(err, &ee) || ee.Statement != 250 || ee.Line != 251 || ee.SQL != "INSERT INTO f VALUES (1)" || ee.Code != "SQLITE_CONSTRAINT_PRIMARYKEY" {
		t.Fatalf("failing statement: %#v (%v); want statement 250 on line 251 with its SQL", ee, err)
	}
	boom := &migration.FileError{File: "3_x.up.sql", Err: migration.ErrChanged}
	if _, err := d.ApplyTxStream(ctx, seq("u", 300, 0, boom), rev("3")); !errors.Is(err, migration.ErrChanged) {
		t.Fatalf("unreadable file: %v; want the sequence's error", err)
	}
	if n := count("SELECT count(*) FROM sqlite_master WHERE name IN ('f', 'u')"); n != 0 {
		t.Fatalf("%d tables of the failed migrations left behind", n)
	}
	if revs, _ := d.History(ctx); len(revs) != 1 {
		t.Fatalf("history after the failures: %+v", revs)
	}
}
