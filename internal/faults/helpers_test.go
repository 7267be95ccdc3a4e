package faults

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", for checks

	rwmysql "github.com/runwaydb/runway/database/mysql"
	"github.com/runwaydb/runway/internal/testdb"
)

// engine names a database kind under test.
type engine string

const (
	postgres engine = "postgres"
	mariadb  engine = "mariadb"
	sqlite   engine = "sqlite"
)

var (
	allEngines    = []engine{postgres, mariadb, sqlite}
	serverEngines = []engine{postgres, mariadb}
)

// runnerTimeout bounds every runner process: a runner still running then is
// a hang, killed and reported.
const runnerTimeout = 90 * time.Second

// target is a database under test: the URL runners get, and a connection of
// the test's own for looking at the result.
type target struct {
	e   engine
	url string
	db  *sql.DB // MariaDB, SQLite

	mu sync.Mutex
	pg *pgx.Conn // PostgreSQL, reconnected after an error
}

// newTarget returns a fresh, empty database on the engine's shared test
// server (a temporary file for SQLite).
func newTarget(t *testing.T, e engine) *target {
	t.Helper()
	switch e {
	case postgres:
		return openTarget(t, e, testdb.Postgres(t))
	case mariadb:
		return openTarget(t, e, testdb.MySQL(t))
	default:
		return openTarget(t, e, "sqlite:"+filepath.Join(t.TempDir(), "app.db"))
	}
}

// openTarget opens the test's own connection to url.
func openTarget(t *testing.T, e engine, rawURL string) *target {
	t.Helper()
	var (
		db  *sql.DB
		err error
	)
	switch e {
	case postgres:
		tg := &target{e: e, url: rawURL}
		t.Cleanup(func() {
			if tg.pg != nil {
				tg.pg.Close(context.Background())
			}
		})
		return tg
	case mariadb:
		cfg, perr := rwmysql.ParseURL(rawURL)
		if perr != nil {
			t.Fatal(perr)
		}
		db, err = sql.Open("mysql", cfg.FormatDSN())
	default:
		db, err = sql.Open("sqlite", "file:"+strings.TrimPrefix(rawURL, "sqlite:")+"?_pragma=busy_timeout(20000)")
	}
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(2)
	db.SetConnMaxIdleTime(time.Second)
	t.Cleanup(func() { db.Close() })
	return &target{e: e, url: rawURL, db: db}
}

// rows runs q and returns its rows as text (NULL as "").
func (tg *target) rows(ctx context.Context, q string) ([][]string, error) {
	if tg.e == postgres {
		res, err := tg.pgResults(ctx, q)
		if err != nil {
			return nil, err
		}
		var out [][]string
		for _, r := range res {
			out = append(out, r...)
		}
		return out, nil
	}
	rs, err := tg.db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	return scanAll(rs)
}

// pgResults runs q (one or more statements, simple protocol) on the test's
// PostgreSQL connection, reconnecting after a lost one, and returns each
// statement's rows as text.
func (tg *target) pgResults(ctx context.Context, q string) ([][][]string, error) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	var res []*pgconn.Result
	for attempt := 0; ; attempt++ {
		if tg.pg == nil {
			c, err := pgx.Connect(ctx, tg.url)
			if err != nil {
				return nil, err
			}
			tg.pg = c
		}
		var err error
		res, err = tg.pg.PgConn().Exec(ctx, q).ReadAll()
		if err == nil {
			break
		}
		// A connection the server ended (a restart, a terminated backend)
		// is replaced and the query tried once more; a query error is the
		// answer.
		var pe *pgconn.PgError
		lost := !errors.As(err, &pe) || pe.Severity == "FATAL" || tg.pg.IsClosed()
		if lost || ctx.Err() != nil {
			tg.pg.Close(context.Background())
			tg.pg = nil
		}
		if !lost || attempt > 0 {
			return nil, err
		}
	}
	var out [][][]string
	for _, r := range res {
		var rows [][]string
		for _, row := range r.Rows {
			var vs []string
			for _, v := range row {
				vs = append(vs, string(v))
			}
			rows = append(rows, vs)
		}
		out = append(out, rows)
	}
	return out, nil
}

func scanAll(rs *sql.Rows) ([][]string, error) {
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]string
	for rs.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = v.String
		}
		out = append(out, row)
	}
	return out, rs.Err()
}

// exec runs a statement on the test's own connection.
func (tg *target) exec(t *testing.T, q string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := tg.rows(ctx, q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// hostPort returns the host:port a server URL points at.
func hostPort(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// viaProxy returns rawURL with its host:port replaced by addr.
func viaProxy(t *testing.T, rawURL, addr string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	return u.String()
}

// ---- migrations ----

// longSQL is a statement that runs for about secs seconds.
func longSQL(e engine, secs int) string {
	switch e {
	case postgres:
		return fmt.Sprintf("SELECT pg_sleep(%d)", secs)
	case mariadb:
		return fmt.Sprintf("SELECT SLEEP(%d)", secs)
	default:
		// A recursive CTE counting through as many rows as this machine
		// counts in secs seconds when idle (sqliteCountRate); longer while
		// the rest of the suite runs. Machines differ by more than 5×
		// (0.9 s on one for what took 4 s on another): with a fixed count,
		// "a runner waits for the long statement" is a race.
		return fmt.Sprintf("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < %d) SELECT count(*) FROM c", int64(secs)*sqliteCountRate)
	}
}

// sqliteCountRate is how many rows a second modernc.org/sqlite counts
// through in longSQL's recursive CTE on this machine: the best of three
// tries, measured by TestMain before the tests start.
var sqliteCountRate int64

func measureSQLiteCountRate() (int64, error) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	const rows = 1_000_000
	var best time.Duration
	for range 3 {
		var n int64
		start := time.Now()
		if err := db.QueryRow(fmt.Sprintf("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < %d) SELECT count(*) FROM c", rows)).Scan(&n); err != nil {
			return 0, err
		}
		if d := time.Since(start); best == 0 || d < best {
			best = d
		}
	}
	return int64(float64(rows) / best.Seconds()), nil
}

// writeMigrations writes n migrations to a new folder and returns it.
// Migration 1 creates applied_log; every migration k creates table tk and
// inserts one row ('k') into applied_log, so a double apply shows as two
// rows. Migration long (when > 0) is named "long" and runs, between its
// CREATE TABLE and its INSERT, a statement of about secs seconds: on MariaDB
// (DDL commits at once) an interruption there leaves a `running` row with one
// statement applied.
func writeMigrations(t *testing.T, e engine, n, long, secs int) string {
	t.Helper()
	dir := t.TempDir()
	for k := 1; k <= n; k++ {
		var b strings.Builder
		name := fmt.Sprintf("m%d", k)
		if k == 1 {
			b.WriteString("CREATE TABLE applied_log (version VARCHAR(20) NOT NULL);\n")
		}
		fmt.Fprintf(&b, "CREATE TABLE t%d (id INT);\n", k)
		if k == long {
			name = "long"
			fmt.Fprintf(&b, "%s;\n", longSQL(e, secs))
		}
		fmt.Fprintf(&b, "INSERT INTO applied_log (version) VALUES ('%d');\n", k)
		file := filepath.Join(dir, fmt.Sprintf("%04d_%s.up.sql", k, name))
		if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// ---- looking at the database ----

type histRow struct {
	state   string
	applied int // statements_applied
}

// snapshot is what the database holds of migrations 1..n.
type snapshot struct {
	hist   map[int]histRow
	log    map[int]int // version → rows in applied_log
	tables map[int]bool
}

func (s snapshot) String() string {
	var vs []int
	for v := range s.hist {
		vs = append(vs, v)
	}
	sort.Ints(vs)
	var b strings.Builder
	b.WriteString("history:")
	for _, v := range vs {
		fmt.Fprintf(&b, " %d=%s(%d)", v, s.hist[v].state, s.hist[v].applied)
	}
	b.WriteString("; applied_log:")
	vs = vs[:0]
	for v := range s.log {
		vs = append(vs, v)
	}
	sort.Ints(vs)
	for _, v := range vs {
		fmt.Fprintf(&b, " %d×%d", v, s.log[v])
	}
	b.WriteString("; tables:")
	vs = vs[:0]
	for v, ok := range s.tables {
		if ok {
			vs = append(vs, v)
		}
	}
	sort.Ints(vs)
	for _, v := range vs {
		fmt.Fprintf(&b, " t%d", v)
	}
	return b.String()
}

func (tg *target) snapshot(t *testing.T, n int) snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := snapshot{hist: map[int]histRow{}, log: map[int]int{}, tables: map[int]bool{}}
	var tablesQ string
	switch tg.e {
	case postgres:
		tablesQ = "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
	case mariadb:
		tablesQ = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
	default:
		tablesQ = "SELECT name FROM sqlite_master WHERE type = 'table'"
	}
	// Which tables exist decides what can be read; the reads themselves
	// happen in one read transaction, so that on PostgreSQL and SQLite they
	// see one moment even while a runner (or an orphaned server session)
	// commits.
	res, err := tg.snapshotQueries(ctx, tablesQ)
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	have := map[string]bool{}
	for _, r := range res[0] {
		have[r[0]] = true
	}
	var qs []string
	if have["runway_migrations"] {
		qs = append(qs, "SELECT version, state, statements_applied FROM runway_migrations")
	}
	if have["applied_log"] {
		qs = append(qs, "SELECT version FROM applied_log")
	}
	qs = append(qs, tablesQ)
	res, err = tg.snapshotQueries(ctx, qs...)
	if err != nil {
		t.Fatalf("read the database: %v", err)
	}
	if have["runway_migrations"] {
		for _, r := range res[0] {
			k, err1 := strconv.Atoi(r[0])
			applied, err2 := strconv.Atoi(r[2])
			if err1 != nil || err2 != nil {
				t.Fatalf("history row %q", r)
			}
			s.hist[k] = histRow{state: r[1], applied: applied}
		}
		res = res[1:]
	}
	if have["applied_log"] {
		for _, r := range res[0] {
			k, _ := strconv.Atoi(r[0])
			s.log[k]++
		}
		res = res[1:]
	}
	for _, r := range res[0] {
		if k, err := strconv.Atoi(strings.TrimPrefix(r[0], "t")); err == nil && strings.HasPrefix(r[0], "t") && k >= 1 && k <= n {
			s.tables[k] = true
		}
	}
	return s
}

// snapshotQueries runs the queries in one read-only transaction
// (REPEATABLE READ where the database has it) and returns their rows.
func (tg *target) snapshotQueries(ctx context.Context, qs ...string) ([][][]string, error) {
	if tg.e == postgres {
		all := "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\n" + strings.Join(qs, ";\n") + ";\nCOMMIT"
		res, err := tg.pgResults(ctx, all)
		if err != nil {
			tg.pgResults(ctx, "ROLLBACK")
			return nil, err
		}
		return res[1 : len(res)-1], nil
	}
	opts := &sql.TxOptions{ReadOnly: true}
	if tg.e == mariadb {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := tg.db.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var out [][][]string
	for _, q := range qs {
		rs, err := tx.QueryContext(ctx, q)
		if err != nil {
			return nil, err
		}
		rows, err := scanAll(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, rows)
	}
	return out, nil
}

// exactlyOnce checks that migrations 1..n are all applied, once each: one
// `applied` history row, the table, and one row in applied_log.
func (tg *target) exactlyOnce(t *testing.T, n int) {
	t.Helper()
	s := tg.snapshot(t, n)
	ok := len(s.hist) == n
	for k := 1; k <= n; k++ {
		if s.hist[k].state != "applied" || s.log[k] != 1 || !s.tables[k] {
			ok = false
		}
	}
	total := 0
	for _, c := range s.log {
		total += c
	}
	if !ok || total != n {
		t.Errorf("want migrations 1..%d applied exactly once; the database holds %s", n, s)
	} else {
		t.Logf("exactly once: %s", s)
	}
}

// allOrNothing checks, on a database that rolls back (PostgreSQL, SQLite),
// that each migration is either wholly applied (history row, table, one log
// row) or not at all, and that the applied ones are a prefix 1..k.
func (tg *target) allOrNothing(t *testing.T, n int) (applied int) {
	t.Helper()
	s := tg.snapshot(t, n)
	prefix := true
	for k := 1; k <= n; k++ {
		row, has := s.hist[k]
		done := has && row.state == "applied"
		if (has && !done) || done != s.tables[k] || (done && s.log[k] != 1) || (!done && s.log[k] != 0) {
			t.Errorf("migration %d is half-applied: %s", k, s)
		}
		if done {
			if !prefix {
				t.Errorf("migration %d applied after an unapplied one: %s", k, s)
			}
			applied = k
		} else {
			prefix = false
		}
	}
	t.Logf("after the fault (all-or-nothing holds): %s", s)
	return applied
}

// leftRunning checks the MariaDB state after a runner died in statement 2 of
// migration long: the migrations before it applied once, its history row
// `running` or `failed` with 1 statement applied (its CREATE TABLE, which
// committed), no applied_log row for it, nothing after it.
func (tg *target) leftRunning(t *testing.T, n, long int) {
	t.Helper()
	s := tg.snapshot(t, n)
	for k := 1; k <= n; k++ {
		row, has := s.hist[k]
		switch {
		case k < long:
			if row.state != "applied" || s.log[k] != 1 || !s.tables[k] {
				t.Errorf("migration %d should be applied once: %s", k, s)
			}
		case k == long:
			if !has || (row.state != "running" && row.state != "failed") || row.applied != 1 || !s.tables[k] || s.log[k] != 0 {
				t.Errorf("migration %d should be left running/failed after its statement 1: %s", k, s)
			}
		default:
			if has || s.tables[k] || s.log[k] != 0 {
				t.Errorf("migration %d ran after the interrupted one: %s", k, s)
			}
		}
	}
	t.Logf("after the fault: %s", s)
}

// sessionRunningLong returns the server-side id of the session running the
// long statement (PostgreSQL backend pid, MariaDB connection id), 0 if none.
func (tg *target) sessionRunningLong(t *testing.T) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var q string
	switch tg.e {
	case postgres:
		// By what it waits on, not by its text: pg_stat_activity shows a
		// query's first kilobyte, and several migrations travel in one.
		q = `SELECT pid FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
	AND application_name LIKE 'runway%' AND wait_event = 'PgSleep'
ORDER BY backend_start LIMIT 1`
	case mariadb:
		q = `SELECT ID FROM information_schema.PROCESSLIST
WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND INFO LIKE 'SELECT SLEEP(%'
ORDER BY ID LIMIT 1`
	default:
		t.Fatalf("sessionRunningLong: not on %s", tg.e)
	}
	rows, err := tg.rows(ctx, q)
	if err != nil {
		t.Logf("looking for the long statement: %v", err)
		return 0
	}
	if len(rows) == 0 {
		return 0
	}
	id, _ := strconv.ParseInt(rows[0][0], 10, 64)
	return id
}

// waitLong waits until runner r is inside the long statement and returns its
// session id (0 for SQLite, where it is seen in the runner's output). On a
// server both must hold: the server runs the statement, and the runner has
// said it is applying that migration, so it has read the answers to the
// migrations before it. The server runs the statement as soon as it has
// sent those answers; on a loaded machine they may still be in flight
// (through a test's proxy, say), and a fault injected then would find the
// runner still waiting for the migration before.
func (tg *target) waitLong(t *testing.T, rs ...*runner) int64 {
	t.Helper()
	var id int64
	waitUntil(t, 60*time.Second, "a runner inside the long statement", func() bool {
		announced := false
		for _, r := range rs {
			if r.exited() {
				t.Fatalf("%s ended before the long statement: exit %d\n%s", r.name, r.code, r.stderr())
			}
			if strings.Contains(r.stderr(), "_long …") {
				announced = true
			}
		}
		if tg.e == sqlite {
			if announced {
				time.Sleep(700 * time.Millisecond) // into the statement
			}
			return announced
		}
		if !announced {
			return false
		}
		id = tg.sessionRunningLong(t)
		return id != 0
	})
	return id
}

// ---- runner processes ----

// runner is one `runway up` process.
type runner struct {
	name     string
	cmd      *exec.Cmd
	out, err syncBuffer
	started  time.Time
	done     chan struct{}
	code     int // exit code; -1 when killed by a signal
	elapsed  time.Duration
	cancel   context.CancelFunc
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startUp starts `runway -d URL --dir DIR [flags] up`, killed after
// runnerTimeout.
func startUp(t *testing.T, name, dbURL, dir string, flags ...string) *runner {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runnerTimeout)
	args := append([]string{"-d", dbURL, "--dir", dir}, flags...)
	args = append(args, "up")
	r := &runner{name: name, done: make(chan struct{}), cancel: cancel}
	r.cmd = exec.CommandContext(ctx, runwayBin, args...)
	r.cmd.Env = cleanEnv()
	r.cmd.Dir = dir
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.err
	r.cmd.WaitDelay = 5 * time.Second
	r.started = time.Now()
	if err := r.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		r.cmd.Wait()
		r.elapsed = time.Since(r.started)
		r.code = r.cmd.ProcessState.ExitCode()
		cancel()
		close(r.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

func (r *runner) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

func (r *runner) stderr() string { return r.err.String() }
func (r *runner) stdout() string { return r.out.String() }

// wait waits for the runner to end and returns its exit code; a runner still
// running after limit is reported as hung and killed (exit -1).
func (r *runner) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(limit):
		t.Errorf("%s still running after %v: hung; killing it\nstderr so far:\n%s", r.name, limit, r.stderr())
		r.cancel()
		<-r.done
	}
	return r.code
}

// kill9 kills the runner process with SIGKILL.
func (r *runner) kill9(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %s: %v", r.name, err)
	}
	<-r.done
}

func (r *runner) log(t *testing.T) {
	t.Helper()
	t.Logf("%s: exit %d after %v\nstderr:\n%s", r.name, r.code, r.elapsed.Round(time.Millisecond), indent(r.stderr()))
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	return "\t" + strings.ReplaceAll(s, "\n", "\n\t")
}

// up runs `runway up` to its end and returns the runner.
func up(t *testing.T, name, dbURL, dir string, flags ...string) *runner {
	t.Helper()
	r := startUp(t, name, dbURL, dir, flags...)
	r.wait(t, runnerTimeout+10*time.Second)
	r.log(t)
	return r
}

// mustUp runs `runway up` and requires exit 0.
func mustUp(t *testing.T, name, dbURL, dir string, flags ...string) *runner {
	t.Helper()
	r := up(t, name, dbURL, dir, flags...)
	if r.code != 0 {
		t.Fatalf("%s: exit %d, want 0\n%s", name, r.code, r.stderr())
	}
	return r
}

// jsonReport is the part of the --json report the tests read.
type jsonReport struct {
	Command string `json:"command"`
	Status  string `json:"status"`
	Applied []struct {
		Version string `json:"version"`
		Resumed int    `json:"resumed"`
	} `json:"applied"`
	Error *struct {
		Version   string `json:"version"`
		File      string `json:"file"`
		Statement int    `json:"statement"`
		Code      string `json:"code"`
		Message   string `json:"message"`
	} `json:"error"`
}

func (r *runner) report(t *testing.T) jsonReport {
	t.Helper()
	var rep jsonReport
	if err := json.Unmarshal([]byte(r.stdout()), &rep); err != nil {
		t.Fatalf("%s: --json report: %v\nstdout:\n%s", r.name, err, r.stdout())
	}
	return rep
}

// waitUntil polls cond every 50 ms until it holds, failing the test after limit.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// holderPattern matches a lock holder description in "waiting for the
// migration lock, held by …": the holder's identity (pid) on PostgreSQL and
// SQLite, its connection id on MariaDB.
func holderPattern(e engine) *regexp.Regexp {
	if e == mariadb {
		return regexp.MustCompile(`waiting for the migration lock, held by (.*connection \d+.*?) \(waited`)
	}
	return regexp.MustCompile(`waiting for the migration lock, held by (.*pid=\d+.*?) \(waited`)
}

// Messages the runner should print about a fault.
var (
	// The file of the interrupted migration and a lost connection.
	connLostMsg = regexp.MustCompile(`(?i)connection|terminat|shut ?down|closed|reset|EOF|broken pipe|server`)
	// The watchdog's verdict on a stalled database or a lost lock.
	lockLostMsg = regexp.MustCompile(`(?i)lock\b.{0,80}\blost|lost.{0,40}\block|stopped answering|not answering|no answer|did not answer|not respond|unresponsive|could not confirm|cannot confirm`)
	// A `running` row left by an earlier runner, detected and reported.
	leftRunningMsg = regexp.MustCompile(`(?is)(left|still|was) .{0,40}running.{0,120}(earlier|previous|another|other|crashed|died|interrupted)|(earlier|previous|another|crashed|interrupted) .{0,80}left .{0,40}running`)
	resumeAt2Msg   = regexp.MustCompile(`(?i)resum\w* at statement 2\b`)
)

// reportsLeftRunning asserts that a rerun after a MariaDB runner died inside
// statement 2 said so: the migration was left running by an earlier runner,
// and the run resumes at statement 2. The runner sends a small migration in
// one message, which the server may finish after the client is gone, still
// holding the lock: then the rerun waits for it, finds the migration applied
// and has nothing to resume (exactlyOnce checks the outcome).
func reportsLeftRunning(t *testing.T, r *runner) {
	t.Helper()
	out := r.stderr()
	if !strings.Contains(out, "applying 2_") {
		return
	}
	if !leftRunningMsg.MatchString(out) {
		t.Errorf("%s did not report the `running` row left by the earlier runner (want e.g. \"… was left running by an earlier runner …\"); stderr:\n%s", r.name, indent(out))
	}
	if !resumeAt2Msg.MatchString(out) {
		t.Errorf("%s did not say it resumes at statement 2; stderr:\n%s", r.name, indent(out))
	}
}

// freeAddr returns a loopback address nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
