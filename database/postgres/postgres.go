// Package postgres is Runway's PostgreSQL driver, built on pgx: one connection
// per run holding the migration lock, the history table in any schema, and
// each transaction sent to the server as one simple-protocol query.
//
// The lock is a session advisory lock by default (database.LockModeSession),
// or a lease row in the table <history table>_lock (database.LockModeTable),
// which works behind a transaction-pooling proxy such as PgBouncer. Every
// query the driver sends uses the simple protocol, with no prepared
// statement and, in table mode, no session state, so each one is a
// transaction of its own that a pooler may send to any server connection.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/internal/rawconn"
	"github.com/runwaydb/runway/migration"
)

var (
	_ database.Driver       = (*Driver)(nil)
	_ database.LockKeeper   = (*Driver)(nil)
	_ database.StateReader  = (*Driver)(nil)
	_ database.StateScanner = (*Driver)(nil)
)

// Driver is a PostgreSQL session for one Runway run. It is not safe for
// concurrent use, except KeepLock, which may run alongside the other methods.
type Driver struct {
	// pg is the session. conn is the application's connection it belongs
	// to when the Driver came from New, nil from Open: every query goes
	// through pg, so Open connects with pgconn alone and spares the process
	// pgx's registry of types (pgtype's default map).
	pg        *pgconn.PgConn
	conn      *pgx.Conn
	cfg       database.Config
	table     string // quoted, possibly schema-qualified
	pinned    bool   // table qualified with the schema it resolved to, and keyed on it (resolveTable)
	lockTable string // quoted: the lease table of LockModeTable
	tableErr  error  // an unusable cfg.Table, reported by the calls that need it
	key       int64  // advisory lock key
	// legacyKey is the key of runners before keys named the schema: the
	// table name as written. Where it differs from key (an unqualified
	// table outside public), session mode takes it too, so that those
	// runners, mid-upgrade, still exclude this one.
	legacyKey int64
	appName   string // application_name when not holding the lock
	ttl       time.Duration

	// held is the lock this driver holds, nil when none. Written by Lock,
	// Unlock and Close; read by KeepLock from another goroutine.
	held atomic.Pointer[holding]

	// keeper is the second connection KeepLock uses, opened on first use
	// with keeperConfig; keepMu serialises KeepLock and Close's use of it.
	keepMu       sync.Mutex
	keeper       *pgx.Conn
	keeperConfig *pgx.ConnConfig

	// noFlush: this server cannot raise ApplyEach's notices (flushSQL).
	noFlush bool
	// queryTimeout: statement_timeout counts a whole query of several
	// statements (before PostgreSQL 13), so ApplyEach sends a query a step.
	queryTimeout bool

	// pollLock makes Lock poll pg_try_advisory_lock instead of waiting in the
	// server; kept for the benchmark that compares the two.
	pollLock bool

	// selectReads counts the history reads done with a SELECT: after the
	// server refused the COPY, or for rows its text could not say (see
	// copyRows). Read by the tests.
	selectReads int
}

// defaultConnectTimeout bounds a connection attempt when the URL sets no
// connect_timeout, so a host that drops packets fails in seconds, not minutes.
const defaultConnectTimeout = 30 * time.Second

// Open connects to the database at url: a postgres:// or postgresql:// URL
// or any other connection string pgx accepts. application_name is set to
// cfg.Identity unless the URL sets one. Failures to reach the server or to
// authenticate wrap database.ErrConnect; no error text contains the password.
// cfg.LockMode may be database.LockModeSession or database.LockModeTable.
// On Linux the sessions' TCP and unix sockets (not cfg.Dial's other
// connections, such as an SSH tunnel's) read and write through raw system
// calls (internal/rawconn).
func Open(ctx context.Context, url string, cfg database.Config) (*Driver, error) {
	if _, err := quoteTable(cfg.TableName()); err != nil {
		return nil, err
	}
	if err := checkLockMode(cfg); err != nil {
		return nil, err
	}
	pc, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: invalid connection URL: %s", scrub(err.Error(), urlPassword(url)))
	}
	if _, ok := pc.RuntimeParams["application_name"]; !ok && cfg.Identity != "" {
		pc.RuntimeParams["application_name"] = asciiName(cfg.Identity)
	}
	// Every query goes through the connection's PgConn or the simple
	// protocol: pgx's statement and description caches would stay empty.
	pc.StatementCacheCapacity, pc.DescriptionCacheCapacity = 0, 0
	if pc.ConnectTimeout == 0 {
		pc.ConnectTimeout = defaultConnectTimeout
	}
	if cfg.Dial != nil {
		pc.DialFunc = cfg.Dial // KeepLock's second connection copies pc, so it uses the same path
	}
	// The session's socket reads and writes skip the scheduler's system-call
	// path, which wakes the runtime's monitor thread on every answer after a
	// wait (see internal/rawconn); a tunnel's channel is left as it is.
	pc.DialFunc = rawconn.WrapDial(pc.DialFunc)
	// On cancellation ask the server to cancel the running statement and keep
	// the session (and its lock) rather than cutting the connection; the
	// deadline is a last resort for a server that does not answer.
	pc.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 5 * time.Second}
	}
	// pgconn alone: pgx.ConnectConfig would first build pgx's registry of
	// types (pgtype's default map, 154 KB), ~0.2 ms of a new process's CPU
	// that no query of the driver uses.
	pg, err := pgconn.ConnectConfig(ctx, &pc.Config)
	if err != nil {
		return nil, connectError(url, pc, err)
	}
	d := onSession(pg, cfg)
	d.keeperConfig = keeperConfig(pc)
	return d, nil
}

// New returns a Driver on an open connection, for applications that manage
// their own; it does no I/O. Close closes conn. With a connection not opened
// by Open, a cancelled context may close the connection (pgx's default).
// KeepLock opens its second connection with conn.Config(), so conn must have
// been opened from a configuration that can connect again (pgx.Connect and
// pgx.ConnectConfig ones can). An unusable cfg.Table or cfg.LockMode is
// reported by the first call that needs it.
func New(conn *pgx.Conn, cfg database.Config) *Driver {
	d := onSession(conn.PgConn(), cfg)
	d.conn = conn
	d.keeperConfig = keeperConfig(conn.Config())
	return d
}

// onSession returns a Driver on session pg; the caller sets keeperConfig
// (and conn, for New).
func onSession(pg *pgconn.PgConn, cfg database.Config) *Driver {
	table, err := quoteTable(cfg.TableName())
	var lockTable string
	if err == nil {
		lockTable, err = quoteTable(cfg.TableName() + lockTableSuffix)
	}
	if err == nil {
		err = checkLockMode(cfg)
	}
	ttl := cfg.LeaseTTL
	if ttl <= 0 {
		ttl = database.DefaultLeaseTTL
	}
	major, ok := serverMajor(pg.ParameterStatus("server_version"))
	return &Driver{
		queryTimeout: ok && major < 13,
		pg:           pg,
		cfg:          cfg,
		table:        table,
		lockTable:    lockTable,
		tableErr:     err,
		key:          lockKey(cfg.TableName()),
		legacyKey:    lockKey(cfg.TableName()),
		appName:      pg.ParameterStatus("application_name"),
		ttl:          ttl,
	}
}

// lockTableName is the lock table's own name, without its schema: how the
// server names it in its messages.
func lockTableName(cfg database.Config) string {
	name := cfg.TableName()
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	return name + lockTableSuffix
}

// checkLockMode refuses lock modes this driver does not know, and history
// tables whose lease table's name PostgreSQL would cut.
func checkLockMode(cfg database.Config) error {
	switch cfg.LockMode {
	case database.LockModeSession:
		return nil
	case database.LockModeTable:
		if name := lockTableName(cfg); len(name) > maxIdentifier {
			return fmt.Errorf("postgres: history table %q: its lock table %q would be longer than PostgreSQL's %d-byte limit on names; use a shorter table name",
				cfg.TableName(), name, maxIdentifier)
		}
		if cfg.LeaseTTL < 0 {
			return fmt.Errorf("postgres: lease TTL %v: must not be negative", cfg.LeaseTTL)
		}
		return nil
	default:
		return fmt.Errorf("postgres: unknown lock mode %q (want %q or %q)", cfg.LockMode, "session", database.LockModeTable)
	}
}

// maxIdentifier is the longest name PostgreSQL keeps (NAMEDATALEN-1 bytes).
const maxIdentifier = 63

// HistoryTable is the history table the driver was opened with
// (database.Config.Table, or database.DefaultTable).
func (d *Driver) HistoryTable() string { return d.cfg.TableName() }

// Dialect returns migration.Postgres.
func (d *Driver) Dialect() migration.Dialect { return migration.Postgres }

// TransactionalDDL returns true: PostgreSQL rolls schema changes back.
func (d *Driver) TransactionalDDL() bool { return true }

// Close ends the session, releasing the lock with it: a session lock goes
// with the session; a lease is deleted (should that fail, it expires). It
// also closes KeepLock's connection.
func (d *Driver) Close(ctx context.Context) error { return d.close(ctx, false) }

// CloseAtExit ends the session as Close does, for a process that exits
// right after it (the runway command): the Terminate message is held in the
// kernel and the socket left for the exit to close, which sends both
// (internal/rawconn's LeaveToExit). On loopback the server process that
// Terminate wakes would otherwise take the exiting client's CPU before the
// client's exit is done: `runway up` with nothing to do measured 0.8–0.9 ms
// faster (docs/benchmarks-history.md, "The round of 2026-12-03, 07:20 UTC"). On a
// Unix socket, a tunnel or a connection from New it is Close.
func (d *Driver) CloseAtExit(ctx context.Context) error { return d.close(ctx, true) }

func (d *Driver) close(ctx context.Context, atExit bool) error {
	if h := d.held.Load(); h != nil && d.tableMode() && !d.pg.IsClosed() {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		d.releaseLease(c, h)
		cancel()
	}
	d.held.Store(nil)
	d.closeKeeper(ctx)
	if atExit && !d.pg.IsClosed() {
		// After the lease's release: from here on the socket holds what is
		// written until the exit.
		rawconn.LeaveToExit(d.pg.Conn())
	}
	if d.conn != nil {
		return d.conn.Close(ctx)
	}
	return d.pg.Close(ctx)
}

// connectError builds the ErrConnect error from what pgx returned, with the
// target redacted and pgx's own text scrubbed of the password in case a
// server or a future pgx version echoes it.
func connectError(url string, pc *pgx.ConnConfig, err error) error {
	inner := err
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		inner = ce.Unwrap()
	}
	target := fmt.Sprintf("host=%s port=%d user=%s database=%s", pc.Host, pc.Port, pc.User, pc.Database)
	if strings.Contains(url, "://") {
		target = database.Redact(url)
	}
	msg := fmt.Sprintf("%v: %s: %s", database.ErrConnect, target, connectDetail(inner))
	errs := []error{database.ErrConnect, inner}
	var pe *pgconn.PgError
	if errors.As(inner, &pe) && strings.HasPrefix(pe.Code, "28") { // invalid_authorization_specification, invalid_password
		errs = append(errs, database.ErrAuth)
	}
	return &redactedError{msg: scrub(msg, pc.Password), errs: errs}
}

// connectDetail is pgx's account of the attempts, one line each, readable:
// with sslmode=prefer (the default) it tries TLS and then plain text and
// reports both, so a refused connection said the same line twice; and a
// server that answers in another protocol (a MySQL port) is reported by
// pgx as "received unexpected message: %!w(<nil>)".
func connectDetail(err error) string {
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.Replace(line, "received unexpected message: %!w(<nil>)",
			"the server answered in another protocol than PostgreSQL's: is this the PostgreSQL server's port?", 1)
		if !seen[line] {
			seen[line] = true
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// redactedError shows a message built without secrets while keeping the
// underlying errors reachable with errors.Is and errors.As.
type redactedError struct {
	msg  string
	errs []error
}

func (e *redactedError) Error() string   { return e.msg }
func (e *redactedError) Unwrap() []error { return e.errs }

// scrub masks pw in msg. Very short passwords are left alone: masking every
// "ab" in a message would garble it, and pgx never prints the password anyway.
func scrub(msg, pw string) string {
	if len(pw) < 3 {
		return msg
	}
	return strings.ReplaceAll(msg, pw, "***")
}

func urlPassword(raw string) string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	userinfo, _, ok := strings.Cut(rest, "@")
	if !ok {
		return ""
	}
	_, pw, _ := strings.Cut(userinfo, ":")
	return pw
}

// quoteTable quotes "table" or "schema.table". The schema must exist.
func quoteTable(name string) (string, error) {
	parts := strings.Split(name, ".")
	if len(parts) > 2 || slices.Contains(parts, "") {
		return "", fmt.Errorf("postgres: history table %q: want table or schema.table", name)
	}
	return pgx.Identifier(parts).Sanitize(), nil
}

// lockKey is the advisory lock key of a history table, as schema.table (see
// resolveTable): two tables in one database are two independent histories
// with two locks. "public.t" is keyed as "t", as every table was before
// keys named the schema; elsewhere the older runners' key is taken too
// (legacyKey).
func lockKey(table string) int64 {
	table = strings.TrimPrefix(table, "public.")
	h := fnv.New64a()
	h.Write([]byte("runway:" + table))
	return int64(h.Sum64())
}

// quote returns s as an SQL string literal that means s whatever
// standard_conforming_strings says: an E'…' literal with quotes and backslashes doubled.
// NUL bytes, which text cannot hold, are dropped; invalid UTF-8 is replaced.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 3)
	quoteTo(&b, s)
	return b.String()
}

// quoteTo writes quote(s) to b.
func quoteTo(b *strings.Builder, s string) {
	s = strings.ToValidUTF8(s, "\uFFFD")
	b.WriteString("E'")
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			b.WriteString("''")
		case '\\':
			b.WriteString(`\\`)
		case 0:
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
}

// maxAppName is the longest application_name PostgreSQL keeps (NAMEDATALEN-1 bytes).
const maxAppName = 63

// asciiName replaces what PostgreSQL would turn into '?' in application_name
// anyway, so lengths computed here match the server's.
func asciiName(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 32 || r > 126 {
			return '?'
		}
		return r
	}, s)
}

// drain reads every result of a simple-protocol query, discarding rows, and
// returns how many of the commands that completed were markers.
func drain(mrr *pgconn.MultiResultReader) (markers int, err error) {
	for mrr.NextResult() {
		rr := mrr.ResultReader()
		fd := rr.FieldDescriptions()
		if len(fd) == 1 && fd[0].Name == markerColumn {
			markers++
		}
		rr.Close()
	}
	return markers, mrr.Close()
}

// rollback ends a transaction the server left open after an error, even when
// ctx was cancelled (that is often why the transaction failed).
func (d *Driver) rollback(ctx context.Context) error {
	if st := d.pg.TxStatus(); st != 'T' && st != 'E' {
		return nil
	}
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err := d.pg.Exec(c, "ROLLBACK").ReadAll()
	return err
}

// execError turns a server error into an *database.ExecError for stmt, with
// the context's error alongside when the statement was cancelled.
func execError(ctx context.Context, err error, step, index int, stmt migration.Statement, pos int) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		if ctx.Err() != nil && pgconn.SafeToRetry(err) {
			// pgx saw the context end before it sent a byte.
			return fmt.Errorf("postgres: %w: %w", database.ErrNotSent, err)
		}
		return fmt.Errorf("postgres: %w", err)
	}
	msg := pe.Message
	if pe.Detail != "" {
		msg += "\nDETAIL: " + pe.Detail
	}
	if pe.Hint != "" {
		msg += "\nHINT: " + pe.Hint
	}
	if ctx.Err() != nil {
		err = errors.Join(err, ctx.Err())
	}
	return &database.ExecError{
		Step:      step,
		Statement: index,
		Line:      stmt.Line,
		Code:      pe.Code,
		Message:   msg,
		Position:  pos,
		Err:       err,
	}
}

// Exec runs one statement outside a transaction with the simple protocol,
// so CREATE INDEX CONCURRENTLY and VACUUM work.
//
// While the lock is held the statement is preceded by a check, in a round
// trip of its own, that the session still runs where the lock protects it:
// failing, Exec returns an error wrapping database.ErrUnsafeLock (session
// moved, as behind a transaction pooler) or database.ErrLockLost (lease taken
// over) and does not run the statement. Behind a pooler the statement could
// still land on another server session than the check; ApplyTx's check, in
// the same query as the statements, leaves no such gap.
func (d *Driver) Exec(ctx context.Context, stmt migration.Statement) error {
	if err := d.checkSession(ctx); err != nil {
		return err
	}
	_, err := drain(d.pg.Exec(ctx, stmt.SQL))
	if err == nil {
		return nil
	}
	return d.statementFailed(ctx, stmt, err, d.rollback(ctx))
}

// checkSession runs the lock's guard, when there is one, before a statement
// sent on its own (see Exec).
func (d *Driver) checkSession(ctx context.Context) error {
	guard := d.guardSQL()
	if guard == "" {
		return nil
	}
	_, err := d.pg.Exec(ctx, guard).ReadAll()
	if gerr := d.guardError(err, "The statement was not run."); gerr != nil {
		return gerr
	}
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = errors.Join(err, ctx.Err())
		}
		return fmt.Errorf("postgres: checking the session before the statement: %w", err)
	}
	return nil
}

// statementFailed is the error of stmt, which the server rejected with err
// (rbErr: the rollback after it, if that failed too).
func (d *Driver) statementFailed(ctx context.Context, stmt migration.Statement, err, rbErr error) error {
	return d.statementFailedAt(ctx, stmt, err, rbErr, 0)
}

// statementFailedAt is statementFailed for stmt sent after offset
// characters of the same query.
func (d *Driver) statementFailedAt(ctx context.Context, stmt migration.Statement, err, rbErr error, offset int) error {
	var pe *pgconn.PgError
	pos := 0
	if errors.As(err, &pe) && int(pe.Position) > offset {
		// Past the statement's text (on what Runway sent after it: a
		// statement that stops short) is at its end.
		pos = min(int(pe.Position)-offset, runeLen(stmt.SQL)+1)
	}
	err = execError(ctx, err, 0, 0, stmt, pos)
	if rbErr != nil {
		return errors.Join(err, fmt.Errorf("postgres: rollback: %w", rbErr))
	}
	return err
}

var _ database.ProgressExecer = (*Driver)(nil)

// ExecProgress runs stmt and the upsert recording progress in one simple
// query: one implicit transaction, so that a statement the server finishes
// after the client died is recorded with it, or rolled back with it (see
// database.ProgressExecer). The lock's guard leads the same query, and in
// table mode the lease fence (fenceSQL) ends it: a statement an orphaned
// session finishes after its lease ran out, while another runner may be
// running it again, rolls back. A statement that refuses a transaction block
// (25001), or a procedure that ends transactions (2D000), fails before doing
// anything there: errors.ErrUnsupported.
func (d *Driver) ExecProgress(ctx context.Context, stmt migration.Statement, progress database.Revision) error {
	if d.tableErr != nil {
		return d.tableErr
	}
	up, err := d.upsertSQL(&progress)
	if err != nil {
		return err
	}
	// The progress write leads, after the guard: the statement's failure,
	// or the failure of the implicit COMMIT it leads to (a constraint it
	// deferred), is then the last result, told apart from the write's.
	var prefix strings.Builder
	before := 1 // results before the statement's: the write, and the guard
	if guard := d.guardSQL(); guard != "" {
		prefix.WriteString(guard + ";\n")
		before++
	}
	prefix.WriteString(up + ";\n")
	// A newline before what follows: the statement may end in a comment.
	sql := prefix.String() + stmt.SQL + "\n"
	if fence := d.fenceSQL(); fence != "" {
		sql += ";\n" + fence
	}
	// Inside a transaction the script opened itself (BEGIN in a
	// no-transaction script), the message is in that transaction, not an
	// implicit one of its own.
	idle := d.pg.TxStatus() == 'I'
	mrr := d.pg.Exec(ctx, sql)
	done := 0
	for mrr.NextResult() {
		if _, err := mrr.ResultReader().Close(); err == nil {
			done++
		}
	}
	err = mrr.Close()
	if err == nil {
		return nil
	}
	rbErr := d.rollback(ctx)
	what := "The statement was not run."
	if done > before {
		what = "The statement was rolled back with it: nothing of it was applied."
	}
	if gerr := d.guardError(err, what); gerr != nil {
		return gerr
	}
	offset := runeLen(prefix.String())
	var pe *pgconn.PgError
	// The server parses the whole query before it runs any of it: a syntax
	// error in the statement fails it with nothing run, and only its
	// position tells it from a failure of the progress write.
	inStatement := errors.As(err, &pe) && int(pe.Position) > offset
	if done < before && !inStatement && pe != nil {
		err = fmt.Errorf("postgres: recording version %s in %s (the statement was not run): %w", progress.Version, d.table, refusedWrite(err))
		if rbErr != nil {
			err = errors.Join(err, fmt.Errorf("postgres: rollback: %w", rbErr))
		}
		return err
	}
	if done == before && (isCode(err, "25001") || isCode(err, "2D000")) && rbErr == nil && idle {
		// Only Runway's implicit transaction was in the way: alone, the
		// statement runs. In the script's own transaction it fails, as it
		// does in psql; the rollback above took that transaction back.
		return errors.ErrUnsupported
	}
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = errors.Join(err, ctx.Err())
	}
	return d.statementFailedAt(ctx, stmt, err, rbErr, offset)
}

// simple runs SQL built by this package.
func (d *Driver) simple(ctx context.Context, sql string) error {
	_, err := drain(d.pg.Exec(ctx, sql))
	if err != nil {
		if rbErr := d.rollback(ctx); rbErr != nil {
			err = errors.Join(err, rbErr)
		}
	}
	return err
}

// refusedWrite marks err, the failure of a write to the history table in
// the migration's session, with database.ErrHistoryRefused when the server
// refused it for want of rights (insufficient_privilege).
func refusedWrite(err error) error {
	return refused(err, database.ErrHistoryRefused)
}

// refused marks err with mark (database.ErrHistoryRefused or
// database.ErrLockRefused) when the server refused it for want of rights,
// unless it is marked already (a refused lease check before a history
// write: the lock table refused it, not the history table).
func refused(err, mark error) error {
	if isCode(err, "42501") && !errors.Is(err, database.ErrHistoryRefused) {
		return fmt.Errorf("%w (%w)", err, mark)
	}
	return err
}

func isCode(err error, codes ...string) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	for _, c := range codes {
		if pe.Code == c {
			return true
		}
	}
	return false
}

// runeLen is the length of s as PostgreSQL counts positions in UTF-8: characters.
func runeLen(s string) int { return utf8.RuneCountInString(s) }

// RollbackOpen rolls back a transaction that a migration's own statements
// opened (a BEGIN in a script run statement by statement) and left open
// when one of them failed, so that the failure's record, written next in
// the same session, is not caught in a transaction that never commits.
// With no transaction open it does nothing.
func (d *Driver) RollbackOpen(ctx context.Context) error {
	if err := d.rollback(ctx); err != nil {
		return fmt.Errorf("postgres: rollback: %w", err)
	}
	return nil
}
