// Package sqlite is Runway's SQLite driver, on database/sql and
// modernc.org/sqlite (pure Go, so the runway binary stays static).
//
// The migration lock is not a SQLite lock: it is an OS advisory lock, flock(2),
// on a sidecar file next to the database (see lock_unix.go for why). Each
// migration runs in a BEGIN IMMEDIATE transaction of its own, so migrations
// marked no-transaction (VACUUM, PRAGMA journal_mode) can still run.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/migration"
)

var _ database.Driver = (*Driver)(nil)

// DefaultBusyTimeout is the busy timeout Open sets when the URL sets none:
// how long a statement waits for another connection's write lock on the database.
const DefaultBusyTimeout = 10 * time.Second

// Driver is one SQLite session (one *sql.Conn) used for a whole run.
// It is not safe for concurrent use.
type Driver struct {
	cfg   database.Config
	db    *sql.DB
	ownDB bool // Open made db, so Close closes it
	conn  *sql.Conn

	schema string // "main" unless the table is schema-qualified ("aux.runway_migrations")
	table  string // the quoted, possibly schema-qualified, table name

	lockMu sync.Mutex
	lock   fileLock
}

// Open opens the SQLite database named by url and takes the connection the run
// will use. Accepted forms: sqlite:PATH, sqlite://PATH (relative),
// sqlite:///abs/path, sqlite::memory:, and the same with sqlite3:. Query
// parameters after "?" go to modernc.org/sqlite (_pragma=..., _txlock=...) and
// to SQLite itself (mode=ro, cache=shared...). A busy timeout of
// DefaultBusyTimeout is set unless the URL sets one.
//
// The database file is created when missing, but not its directory: a path in
// a directory that does not exist, like any failure to open the database, is
// an error wrapping database.ErrConnect.
func Open(ctx context.Context, url string, cfg database.Config) (*Driver, error) {
	if err := database.SessionLockOnly("sqlite", cfg.LockMode); err != nil {
		return nil, err
	}
	dsn, path, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	if path != "" {
		dir := filepath.Dir(path)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("%w: sqlite database %s: directory %s does not exist", database.ErrConnect, path, dir)
		}
	}
	db := sql.OpenDB(connector{dsn: dsn, drv: &sqlite.Driver{}})
	// One connection is all a run uses; for :memory: a second one would be a second database.
	db.SetMaxOpenConns(1)
	d := New(db, cfg)
	d.ownDB = true
	name := path
	if name == "" {
		name = ":memory:"
	}
	if err := d.session(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w: sqlite database %s: %v", database.ErrConnect, name, err)
	}
	// Opening does not read the file: this query is what tells a database from
	// a text file (SQLITE_NOTADB) or an unreadable one.
	var n int
	err = d.unlessBusy(ctx, func() error {
		return d.conn.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n)
	})
	if errors.Is(err, database.ErrBusy) {
		// Another run is migrating it: a database, and the engine waits.
		err = nil
	}
	if err != nil {
		d.conn.Close()
		db.Close()
		return nil, fmt.Errorf("%w: sqlite database %s: %v", database.ErrConnect, name, err)
	}
	return d, nil
}

// New returns a Driver on an application's own *sql.DB, opened with
// modernc.org/sqlite. It does no I/O: the driver takes one connection from db
// on its first call and gives it back on Close, which leaves db open. The
// migration lock's file is found from the database the connection has open
// (PRAGMA database_list). Set a busy timeout on db's connections yourself.
//
// The connection goes back to the pool as the migrations left it: a
// connection setting a no-transaction migration changed (PRAGMA
// foreign_keys=OFF, say) stays changed for the application's queries on it.
// Unlike mysql.New, the connection is not discarded, because with a
// ":memory:" database it is the database. Restore such settings at the end
// of the migration that changes them.
func New(db *sql.DB, cfg database.Config) *Driver {
	schema, table := quoteTable(cfg.TableName())
	return &Driver{cfg: cfg, db: db, schema: schema, table: table}
}

// connector opens connections with a driver value of our own, so Runway needs
// no name in database/sql's global driver registry.
type connector struct {
	dsn string
	drv *sqlite.Driver
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.drv }

// parseURL turns a sqlite: URL into a modernc.org/sqlite DSN (a file: URI) and
// the database's path ("" for an in-memory database).
func parseURL(raw string) (dsn, path string, err error) {
	rest, ok := "", false
	for _, scheme := range []string{"sqlite3:", "sqlite:"} {
		if len(raw) >= len(scheme) && strings.EqualFold(raw[:len(scheme)], scheme) {
			rest, ok = raw[len(scheme):], true
			break
		}
	}
	if !ok {
		return "", "", fmt.Errorf("sqlite: %q is not a sqlite: or sqlite3: URL", database.Redact(raw))
	}
	// sqlite://rel/path is relative, sqlite:///abs/path absolute.
	rest = strings.TrimPrefix(rest, "//")
	p, query, _ := strings.Cut(rest, "?")
	if p == "" {
		return "", "", fmt.Errorf("sqlite: %q names no database file (want sqlite:PATH or sqlite::memory:)", database.Redact(raw))
	}
	if u, err := url.PathUnescape(p); err == nil {
		p = u
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", "", fmt.Errorf("sqlite: %q: query: %w", database.Redact(raw), err)
	}
	if !hasBusyTimeout(q) {
		if query != "" {
			query += "&"
		}
		query += "_pragma=" + url.QueryEscape(fmt.Sprintf("busy_timeout(%d)", DefaultBusyTimeout.Milliseconds()))
	}
	memory := p == ":memory:" || q.Get("mode") == "memory"
	if !memory {
		path = p
	}
	// A file: URI rather than a plain name, so SQLite's own URI parameters
	// (mode=ro, cache=shared, immutable) work; '%', '?' and '#' in the path are
	// escaped for it.
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
	return "file:" + esc + "?" + query, path, nil
}

// FilePath returns the database file a sqlite: URL names, or "" for an
// in-memory database.
func FilePath(rawURL string) (string, error) {
	_, path, err := parseURL(rawURL)
	return path, err
}

func hasBusyTimeout(q url.Values) bool {
	if q.Has("_busy_timeout") || q.Has("_timeout") {
		return true
	}
	for _, v := range q["_pragma"] {
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(v)), "busy_timeout") {
			return true
		}
	}
	return false
}

// quoteTable splits "schema.table" and returns the schema ("main" when none)
// and the quoted name to use in SQL.
func quoteTable(name string) (schema, quoted string) {
	if s, t, ok := strings.Cut(name, "."); ok {
		return s, quoteIdent(s) + "." + quoteIdent(t)
	}
	return "main", quoteIdent(name)
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// session takes the run's connection from the pool the first time it is needed.
func (d *Driver) session(ctx context.Context) error {
	if d.conn != nil {
		return nil
	}
	if d.db == nil {
		return errors.New("sqlite: driver is closed")
	}
	c, err := d.db.Conn(ctx)
	if err != nil {
		return err
	}
	d.conn = c
	return nil
}

// HistoryTable is the history table the driver was opened with
// (database.Config.Table, or database.DefaultTable).
func (d *Driver) HistoryTable() string { return d.cfg.TableName() }

// Dialect returns migration.SQLite.
func (d *Driver) Dialect() migration.Dialect { return migration.SQLite }

// TransactionalDDL returns true: SQLite schema changes roll back.
func (d *Driver) TransactionalDDL() bool { return true }

// lockFilePath returns the sidecar file of the migration lock for the history
// table's database, or "" when that database is in memory or temporary (no
// other process can reach it, so the lock always succeeds).
//
// It asks SQLite which file the connection has open, rather than trusting the
// URL, so New works on any *sql.DB and every runner of the same file agrees on
// one absolute path whatever its working directory.
func (d *Driver) lockFilePath(ctx context.Context) (string, error) {
	if err := d.session(ctx); err != nil {
		return "", err
	}
	rows, err := d.conn.QueryContext(ctx, "PRAGMA database_list")
	if err != nil {
		return "", fmt.Errorf("sqlite: database_list: %w", err)
	}
	defer rows.Close()
	file, found := "", false
	for rows.Next() {
		var seq int
		var name string
		var f sql.NullString
		if err := rows.Scan(&seq, &name, &f); err != nil {
			return "", fmt.Errorf("sqlite: database_list: %w", err)
		}
		if strings.EqualFold(name, d.schema) {
			file, found = f.String, true
		}
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("sqlite: database_list: %w", err)
	}
	if !found {
		return "", fmt.Errorf("%w: sqlite: no attached database %q for history table %s: use a table of main (--table NAME)", database.ErrConfig, d.schema, d.cfg.TableName())
	}
	if file == "" {
		return "", nil
	}
	// The lock is named after the table (database.Config): two history tables
	// in one file are two independent histories. The file is the schema's,
	// so the name leaves the schema out: "main.runway_migrations" and
	// "runway_migrations" are one table, and one lock.
	suffix := ".runway-lock"
	if t := tableOnly(d.cfg.TableName()); t != database.DefaultTable {
		suffix = "." + strings.Map(func(r rune) rune {
			if r == '/' || r == os.PathSeparator || r == 0 {
				return '_'
			}
			return r
		}, t) + suffix
	}
	return file + suffix, nil
}

// Lock takes the migration lock: an exclusive flock on the sidecar file
// "<database file>.runway-lock" ("<database file>.<table>.runway-lock" for a
// history table other than the default), tried every 25ms until wait has passed
// (0: tried once). It returns false, nil when another session holds it at
// the end. The kernel drops the lock when the process dies.
// An in-memory database is private to this session: its lock always succeeds.
func (d *Driver) Lock(ctx context.Context, wait time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if d.lockHeld() {
		return true, nil
	}
	if err := database.SessionLockOnly("sqlite", d.cfg.LockMode); err != nil {
		return false, err // New does not return errors
	}
	path, err := d.lockFilePath(ctx)
	if err != nil {
		return false, err
	}
	if path == "" {
		d.lockMu.Lock()
		d.lock.memory = true
		d.lockMu.Unlock()
		return true, nil
	}
	return pollLock(ctx, wait, func() (bool, error) { return d.tryLock(path) })
}

// pollLock calls try every 25ms until it reports true or an error, wait has
// passed (false, nil; try runs at least once) or ctx ends.
func pollLock(ctx context.Context, wait time.Duration, try func() (bool, error)) (bool, error) {
	deadline := time.Now().Add(wait)
	const poll = 25 * time.Millisecond
	for {
		ok, err := try()
		if err != nil || ok {
			return ok, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false, nil
		}
		t := time.NewTimer(min(poll, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-t.C:
		}
	}
}

// holderText is what the lock file says while we hold the lock.
func (d *Driver) holderText() string {
	who := d.cfg.Identity
	if who == "" {
		who, _ = os.Hostname()
	}
	if !strings.Contains(who, "pid=") {
		who = strings.TrimSpace(who + " pid=" + strconv.Itoa(os.Getpid()))
	}
	return who + " since " + time.Now().UTC().Format(time.RFC3339)
}

// LockHolder returns what the holder of the lock wrote in the lock file
// ("web-1 pid=42 since 2025-01-02T10:01:02Z"), or "" when nobody holds it or
// the holder could not be told.
func (d *Driver) LockHolder(ctx context.Context) (string, error) {
	path, err := d.lockFilePath(ctx)
	if err != nil || path == "" {
		return "", err
	}
	return lockHolder(path)
}

// Unlock releases the migration lock.
func (d *Driver) Unlock(context.Context) error {
	return d.unlock()
}

// unlessBusy runs read, a read made before this run holds the migration
// lock. When another run holds it, a long migration of its may keep the
// database locked (SQLite lets no reader in while a writer spills or
// commits a large transaction), and a reader waits the busy timeout (10 s)
// on every query, then fails as if the database could not be opened. So
// while another run holds the lock, read waits for no busy database: it
// returns database.ErrBusy at once, naming the holder, and the engine waits
// for the migration lock (--lock-timeout) instead.
func (d *Driver) unlessBusy(ctx context.Context, read func() error) error {
	if d.lockHeld() {
		return read()
	}
	path, err := d.lockFilePath(ctx)
	if err != nil || path == "" {
		return read()
	}
	holder, err := lockHolder(path)
	if err != nil || holder == "" {
		return read()
	}
	var old int64
	if err := d.conn.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&old); err != nil {
		return read()
	}
	if _, err := d.conn.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
		return read()
	}
	defer d.conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA busy_timeout = "+strconv.FormatInt(old, 10))
	err = read()
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == 5 { // SQLITE_BUSY
		return fmt.Errorf("%w (the migration lock is held by %s)", database.ErrBusy, holder)
	}
	return err
}

var _ database.LockWaiter = (*Driver)(nil)

// WaitUnlocked waits up to wait for the migration lock to be free, without
// taking it (see database.LockWaiter), looking every 25ms.
func (d *Driver) WaitUnlocked(ctx context.Context, wait time.Duration) (bool, error) {
	if d.lockHeld() {
		return true, nil
	}
	path, err := d.lockFilePath(ctx)
	if err != nil || path == "" {
		return true, err
	}
	return pollLock(ctx, wait, func() (bool, error) {
		holder, err := lockHolder(path)
		return err == nil && holder == "", err
	})
}

// The lock state has a mutex of its own although a Driver is used from one
// goroutine: releasing the lock from another one (a signal handler, a test
// helper) must not race with the run's own Lock, Unlock or Close.

func (d *Driver) lockHeld() bool {
	d.lockMu.Lock()
	defer d.lockMu.Unlock()
	return d.lock.held()
}

func (d *Driver) tryLock(path string) (bool, error) {
	d.lockMu.Lock()
	defer d.lockMu.Unlock()
	if d.lock.held() {
		return true, nil
	}
	return d.lock.tryLock(path, d.holderText())
}

func (d *Driver) unlock() error {
	d.lockMu.Lock()
	defer d.lockMu.Unlock()
	d.lock.memory = false
	return d.lock.unlock()
}

// EnsureHistory creates the history table when it does not exist.
// applied_at is UTC text with milliseconds ("2025-01-02T10:01:02.345Z"):
// readable, sortable and understood by SQLite's date functions.
func (d *Driver) EnsureHistory(ctx context.Context) error {
	if err := d.session(ctx); err != nil {
		return err
	}
	_, err := d.conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+d.table+` (
	version             TEXT    NOT NULL PRIMARY KEY,
	name                TEXT    NOT NULL DEFAULT '',
	checksum            TEXT    NOT NULL DEFAULT '',
	state               TEXT    NOT NULL,
	applied_at          TEXT    NOT NULL,
	duration_ms         INTEGER NOT NULL DEFAULT 0,
	applied_by          TEXT    NOT NULL DEFAULT '',
	statements_applied  INTEGER NOT NULL DEFAULT 0,
	statements_total    INTEGER NOT NULL DEFAULT 0,
	statement_checksums TEXT    NOT NULL DEFAULT '',
	error               TEXT    NOT NULL DEFAULT ''
)`)
	if err != nil && strings.Contains(err.Error(), "unknown database") {
		return fmt.Errorf("%w: sqlite: history table %s: no database %s is attached: use a table of main (--table NAME)", database.ErrConfig, d.cfg.TableName(), d.schema)
	}
	if err != nil {
		return fmt.Errorf("sqlite: creating history table %s: %w", d.cfg.TableName(), err)
	}
	return nil
}

const timeFormat = "2006-01-02T15:04:05.000Z07:00"

var (
	_ database.StateReader  = (*Driver)(nil)
	_ database.StateScanner = (*Driver)(nil)
)

// historyExists opens the session and reports whether the history table
// exists. It is the first query of every read of the history: before this
// run holds the migration lock, it returns database.ErrBusy at once when
// another run's migration keeps the database locked (see unlessBusy).
func (d *Driver) historyExists(ctx context.Context) (bool, error) {
	if err := d.session(ctx); err != nil {
		return false, err
	}
	var n int
	err := d.unlessBusy(ctx, func() error {
		return d.conn.QueryRowContext(ctx,
			`SELECT count(*) FROM `+quoteIdent(d.schema)+`.sqlite_master WHERE type = 'table' AND name = ?`,
			tableOnly(d.cfg.TableName())).Scan(&n)
	})
	if errors.Is(err, database.ErrBusy) {
		return false, err
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: reading history table %s: %w", d.cfg.TableName(), err)
	}
	return n > 0, nil
}

// States returns the history's versions, checksums and states (see
// database.StateReader); none when the table does not exist.
func (d *Driver) States(ctx context.Context) ([]database.Revision, error) {
	return database.ReadStates(ctx, d)
}

// ScanStates passes each history row's version, checksum and state to fn
// (see database.StateScanner); no rows when the table does not exist.
func (d *Driver) ScanStates(ctx context.Context, fn func(version, checksum, state []byte) error) error {
	if ok, err := d.historyExists(ctx); !ok || err != nil {
		return err
	}
	rows, err := d.conn.QueryContext(ctx, `SELECT version, checksum, state FROM `+d.table)
	if err != nil {
		return fmt.Errorf("sqlite: reading history table %s: %w", d.cfg.TableName(), err)
	}
	defer rows.Close()
	var version, checksum, state sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&version, &checksum, &state); err != nil {
			return fmt.Errorf("sqlite: reading history table %s: %w", d.cfg.TableName(), err)
		}
		if err := fn(version, checksum, state); err != nil {
			return fmt.Errorf("sqlite: reading history table %s: %w", d.cfg.TableName(), err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: reading history table %s: %w", d.cfg.TableName(), err)
	}
	return nil
}

// History returns the rows of the history table; none when it does not exist.
func (d *Driver) History(ctx context.Context) ([]database.Revision, error) {
	if ok, err := d.historyExists(ctx); !ok || err != nil {
		return nil, err
	}
	rows, err := d.conn.QueryContext(ctx, `SELECT version, name, checksum, state, applied_at, duration_ms,
	applied_by, statements_applied, statements_total, statement_checksums, error FROM `+d.table)
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading history table %s: %w", d.cfg.TableName(), err)
	}
	defer rows.Close()
	var out []database.Revision
	for rows.Next() {
		var (
			r                   database.Revision
			version, state, at  string
			checksums           string
			durationMS          int64
			applied, totalStmts int
		)
		if err := rows.Scan(&version, &r.Name, &r.Checksum, &state, &at, &durationMS,
			&r.AppliedBy, &applied, &totalStmts, &checksums, &r.Error); err != nil {
			return nil, fmt.Errorf("sqlite: reading history table %s: %w", d.cfg.TableName(), err)
		}
		if r.Version, err = migration.ParseVersion(version); err != nil {
			return nil, fmt.Errorf("sqlite: history table %s: %w", d.cfg.TableName(), err)
		}
		if r.AppliedAt, err = time.Parse(timeFormat, at); err != nil {
			return nil, fmt.Errorf("sqlite: history table %s: version %s: applied_at: %w", d.cfg.TableName(), version, err)
		}
		r.AppliedAt = r.AppliedAt.UTC()
		r.State = database.State(state)
		r.Duration = time.Duration(durationMS) * time.Millisecond
		r.StatementsApplied, r.StatementsTotal = applied, totalStmts
		if checksums != "" {
			r.StatementChecksums = strings.Split(checksums, ",")
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: reading history table %s: %w", d.cfg.TableName(), err)
	}
	return out, nil
}

func tableOnly(name string) string {
	if _, t, ok := strings.Cut(name, "."); ok {
		return t
	}
	return name
}

// execer is a *sql.Conn; the same statements serve inside and outside ApplyTx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (d *Driver) writeRevision(ctx context.Context, x execer, r database.Revision) error {
	if r.Version.IsZero() {
		return errors.New("sqlite: revision has no version")
	}
	_, err := x.ExecContext(ctx, `INSERT INTO `+d.table+` (version, name, checksum, state, applied_at,
	duration_ms, applied_by, statements_applied, statements_total, statement_checksums, error)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (version) DO UPDATE SET name = excluded.name, checksum = excluded.checksum,
	state = excluded.state, applied_at = excluded.applied_at, duration_ms = excluded.duration_ms,
	applied_by = excluded.applied_by, statements_applied = excluded.statements_applied,
	statements_total = excluded.statements_total, statement_checksums = excluded.statement_checksums,
	error = excluded.error`,
		r.Version.String(), r.Name, r.Checksum, string(r.State), r.AppliedAt.UTC().Format(timeFormat),
		r.Duration.Milliseconds(), r.AppliedBy, r.StatementsApplied, r.StatementsTotal,
		strings.Join(r.StatementChecksums, ","), r.Error)
	if err != nil {
		return fmt.Errorf("sqlite: recording version %s in %s: %w", r.Version, d.cfg.TableName(), err)
	}
	return nil
}

func (d *Driver) removeRevision(ctx context.Context, x execer, v migration.Version) error {
	if _, err := x.ExecContext(ctx, `DELETE FROM `+d.table+` WHERE version = ?`, v.String()); err != nil {
		return fmt.Errorf("sqlite: removing version %s from %s: %w", v, d.cfg.TableName(), err)
	}
	return nil
}

// WriteRevision inserts r, or replaces the row with r's version.
func (d *Driver) WriteRevision(ctx context.Context, r database.Revision) error {
	if err := d.session(ctx); err != nil {
		return err
	}
	return d.writeRevision(ctx, d.conn, r)
}

// RemoveRevision deletes the row with version v.
func (d *Driver) RemoveRevision(ctx context.Context, v migration.Version) error {
	if err := d.session(ctx); err != nil {
		return err
	}
	return d.removeRevision(ctx, d.conn, v)
}

// ApplyTx runs the steps in one transaction. It begins with BEGIN IMMEDIATE,
// taking SQLite's write lock up front: a deferred transaction that reads and
// then writes can fail with SQLITE_BUSY halfway, when another connection
// wrote in between, without waiting for the busy timeout.
//
// A statement that fails rolls everything back and is returned as an
// *database.ExecError. A failing history change rolls back too but is returned
// as a plain error: it is not a statement of the migration file.
func (d *Driver) ApplyTx(ctx context.Context, steps []database.Step) (err error) {
	if len(steps) == 0 {
		return nil
	}
	if err := d.begin(ctx); err != nil {
		return err
	}
	defer d.endFailed(ctx, &err)
	for i, step := range steps {
		start := time.Now()
		for j, st := range step.Statements {
			if _, err := d.conn.ExecContext(ctx, st.SQL); err != nil {
				return execError(i, j, st, err)
			}
		}
		if !step.Remove.IsZero() {
			if err := d.removeRevision(ctx, d.conn, step.Remove); err != nil {
				return err
			}
		}
		if step.Record != nil {
			if err := d.record(ctx, *step.Record, start); err != nil {
				return err
			}
		}
	}
	return d.commit(ctx)
}

var _ database.TxStreamer = (*Driver)(nil)

// ApplyTxStream runs the statements stmts yields, then records record, in
// one transaction, as ApplyTx does for one step; it holds one statement at a
// time, so a large file is never in memory whole. A failing statement is an
// *database.ExecError carrying its SQL; an error stmts yields is returned
// wrapped. Either rolls everything back.
func (d *Driver) ApplyTxStream(ctx context.Context, stmts iter.Seq2[migration.Statement, error], record database.Revision) (n int, err error) {
	if err := d.begin(ctx); err != nil {
		return 0, err
	}
	defer d.endFailed(ctx, &err)
	start := time.Now()
	for st, rerr := range stmts {
		if rerr != nil {
			return 0, fmt.Errorf("sqlite: reading the migration: %w", rerr)
		}
		if _, err := d.conn.ExecContext(ctx, st.SQL); err != nil {
			ee := execError(0, n, st, err)
			ee.SQL = st.SQL
			return 0, ee
		}
		n++
	}
	record.StatementsApplied, record.StatementsTotal = n, n
	if err := d.record(ctx, record, start); err != nil {
		return 0, err
	}
	if err := d.commit(ctx); err != nil {
		return 0, err
	}
	return n, nil
}

// begin opens the session's transaction with BEGIN IMMEDIATE.
func (d *Driver) begin(ctx context.Context) error {
	if err := d.session(ctx); err != nil {
		return err
	}
	if _, err := d.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	return nil
}

// endFailed rolls the transaction back when *err is set, adding the
// rollback's own failure to it.
func (d *Driver) endFailed(ctx context.Context, err *error) {
	if *err == nil {
		return
	}
	// The rollback must run even when ctx is what stopped the transaction.
	_, rbErr := d.conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	// Some errors (SQLITE_FULL, an interrupt) make SQLite roll back on its own.
	if rbErr != nil && !strings.Contains(rbErr.Error(), "no transaction is active") {
		*err = errors.Join(*err, fmt.Errorf("sqlite: rollback: %w", rbErr))
	}
}

// record writes a step's history row inside the transaction; an applied
// row without a duration gets the statements' time since start.
func (d *Driver) record(ctx context.Context, rec database.Revision, start time.Time) error {
	if rec.State == database.StateApplied && rec.Duration == 0 {
		// The engine writes the row before the step runs: its duration is
		// the statements', measured here.
		rec.Duration = time.Since(start)
	}
	return d.writeRevision(ctx, d.conn, rec)
}

func (d *Driver) commit(ctx context.Context) error {
	if _, err := d.conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// Exec runs one statement outside any transaction (VACUUM, PRAGMA journal_mode).
func (d *Driver) Exec(ctx context.Context, stmt migration.Statement) error {
	if err := d.session(ctx); err != nil {
		return err
	}
	if _, err := d.conn.ExecContext(ctx, stmt.SQL); err != nil {
		return execError(0, 0, stmt, err)
	}
	return nil
}

// execError wraps a failed statement's error with what the engine reports:
// where the statement is, and SQLite's result code name and message.
func execError(step, stmt int, st migration.Statement, err error) *database.ExecError {
	e := &database.ExecError{Step: step, Statement: stmt, Line: st.Line, Message: err.Error(), Err: err}
	var se *sqlite.Error
	if errors.As(err, &se) {
		e.Code = codeName(se.Code())
		e.Message = sqliteMessage(se)
	}
	return e
}

func codeName(code int) string {
	if name, ok := resultCodes[code]; ok {
		return name
	}
	if name, ok := resultCodes[code&0xff]; ok {
		return fmt.Sprintf("%s (%d)", name, code)
	}
	return strconv.Itoa(code)
}

// sqliteMessage returns SQLite's own message (sqlite3_errmsg) from a
// modernc.org/sqlite error, which reads "<errstr>: <errmsg> (<code>)".
func sqliteMessage(se *sqlite.Error) string {
	msg := strings.TrimSuffix(se.Error(), " (SQLITE_BUSY)")
	msg = strings.TrimSuffix(msg, fmt.Sprintf(" (%d)", se.Code()))
	// The generic text for the code comes first; the errstr texts hold no ": ".
	if _, detail, ok := strings.Cut(msg, ": "); ok && detail != "" {
		msg = detail
	}
	return msg
}

// Close releases the lock and the connection, and closes the database when
// Open opened it.
func (d *Driver) Close(context.Context) error {
	errs := []error{d.unlock()}
	if d.conn != nil {
		errs = append(errs, d.conn.Close())
		d.conn = nil
	}
	if d.ownDB && d.db != nil {
		errs = append(errs, d.db.Close())
	}
	d.db = nil
	return errors.Join(errs...)
}

// RollbackOpen rolls back a transaction that a migration's own statements
// opened (a BEGIN in a script run statement by statement) and left open
// when one of them failed, so that the failure's record, written next in
// the same session, is not caught in a transaction that never commits.
// With no transaction open it does nothing.
func (d *Driver) RollbackOpen(ctx context.Context) error {
	if d.conn == nil {
		return nil
	}
	_, err := d.conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	if err != nil && strings.Contains(err.Error(), "no transaction is active") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlite: rollback: %w", err)
	}
	return nil
}
