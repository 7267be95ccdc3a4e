// Package database defines what a database driver gives Runway's engine: one
// session that holds the migration lock, reads and writes the history table and
// executes statements. Drivers live in the sub-packages postgres, mysql and sqlite;
// this package imports none of them.
package database

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/runwaydb/runway/migration"
)

// State is the state of a row in the history table.
type State string

// The states a revision can be in.
const (
	// StateApplied: the migration ran to its end.
	StateApplied State = "applied"
	// StateBaseline: recorded by `baseline` without running (an existing database).
	StateBaseline State = "baseline"
	// StateRunning: applied statement by statement (MySQL DDL, no-transaction
	// migrations) and not finished. Seen by another run, it means a runner died.
	StateRunning State = "running"
	// StateFailed: a statement failed after earlier ones had taken effect.
	StateFailed State = "failed"
	// StateReverting: a down script run statement by statement (MySQL DDL,
	// no-transaction down scripts) that has not finished: a statement failed,
	// or the runner died. StatementsApplied, StatementsTotal and
	// StatementChecksums then count the down script's statements, so that
	// the next down resumes after the last one that ran.
	StateReverting State = "reverting"
)

// Done reports whether the state counts as applied.
func (s State) Done() bool { return s == StateApplied || s == StateBaseline }

// Revision is one row of the history table.
type Revision struct {
	Version   migration.Version
	Name      string
	Checksum  string
	State     State
	AppliedAt time.Time
	Duration  time.Duration
	AppliedBy string // "host pid=123"
	// StatementsApplied and StatementsTotal count the statements of a migration
	// applied outside a transaction; StatementChecksums holds the
	// migration.Statement.Checksum of each applied one, in order.
	StatementsApplied  int
	StatementsTotal    int
	StatementChecksums []string
	// Error is the database's message for a failed revision.
	Error string
}

// Step is a unit of work for Driver.ApplyTx: statements to run, then the history
// change that records them.
type Step struct {
	Statements []migration.Statement
	// Record, when set, is inserted into (or replaces its version's row in) the history table.
	Record *Revision
	// Remove, when not zero, deletes that version's row from the history table.
	Remove migration.Version
}

// Driver is one database session used for a whole run. A Driver is not safe for
// concurrent use: the engine calls it from one goroutine.
type Driver interface {
	// Dialect tells the engine which SQL splitting rules apply.
	Dialect() migration.Dialect
	// TransactionalDDL reports whether schema changes can roll back
	// (PostgreSQL, SQLite) or commit implicitly (MySQL, MariaDB).
	TransactionalDDL() bool

	// Lock tries to take the migration lock, waiting up to wait (0: try once).
	// It returns false, nil when the lock is held by someone else at the end of the wait.
	// The lock belongs to the session: a crashed runner releases it with its connection.
	Lock(ctx context.Context, wait time.Duration) (bool, error)
	// LockHolder describes who holds the lock ("host pid=12 since 10:01:02"),
	// or "" when the database cannot tell.
	LockHolder(ctx context.Context) (string, error)
	// Unlock releases the lock.
	Unlock(ctx context.Context) error

	// EnsureHistory creates the history table when it does not exist.
	EnsureHistory(ctx context.Context) error
	// History returns the rows of the history table in no particular order;
	// no rows and no error when the table does not exist.
	History(ctx context.Context) ([]Revision, error)
	// WriteRevision inserts r, or replaces the row with r's version.
	WriteRevision(ctx context.Context, r Revision) error
	// RemoveRevision deletes the row with version v.
	RemoveRevision(ctx context.Context, v migration.Version) error

	// ApplyTx runs the steps in one transaction: each step's statements, then its
	// history change. Each Record is written as given, AppliedAt and Duration
	// included (the history row commits with the statements, before anyone
	// knows how long they took; TxBatcher measures in the database).
	// On failure the transaction is rolled back. A statement the database
	// rejected is an *ExecError naming the step and statement; other failures
	// (the history write, COMMIT, a lost connection) are plain wrapped errors.
	// After a call cancelled by its context the Driver may be unusable (some
	// drivers cancel by closing the connection).
	ApplyTx(ctx context.Context, steps []Step) error
	// Exec runs one statement outside any transaction. On failure the error is
	// an *ExecError (Step and Statement 0).
	Exec(ctx context.Context, stmt migration.Statement) error

	// Close ends the session (and with it the lock).
	Close(ctx context.Context) error
}

// ErrConfig marks errors of the configuration given to a driver that only the
// database could tell: the history table names a schema (or, on MySQL, a
// database) that does not exist. The CLI maps it to exit code 2.
var ErrConfig = errors.New("database configuration error")

// ErrConnect marks errors that mean the database could not be reached or
// refused the credentials. The CLI maps it to exit code 6.
var ErrConnect = errors.New("could not connect to the database")

// ErrAuth marks, beside ErrConnect, a database that answered and refused
// the user or password: waiting for the database (runway wait) does not
// retry what will not change by itself.
var ErrAuth = errors.New("the database refused the credentials")

// ExecError is a statement the database rejected.
type ExecError struct {
	Step      int // index into the steps given to ApplyTx
	Statement int // index into that step's statements
	Line      int // line in the file where the statement starts (from migration.Statement)
	Code      string
	Message   string
	// Position is the 1-based character offset of the error in the statement, 0 when unknown.
	Position int
	// SQL is the statement's text when the caller no longer holds it
	// (TxStreamer); empty otherwise.
	SQL string
	// AtCommit: the transaction's COMMIT failed (a deferred constraint or
	// trigger), not one of its statements; Statement is then -1.
	AtCommit bool
	Err      error
}

func (e *ExecError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("%s (%s)", e.Message, e.Code)
	}
	return e.Message
}

func (e *ExecError) Unwrap() error { return e.Err }

// LockKeeper is implemented by drivers that can confirm, from a connection
// other than the run's session, that the run still holds the migration lock —
// and, where the lock is a lease (LockModeTable), renew it. The engine calls
// KeepLock periodically while it holds the lock and stops the run when it
// fails: a runner that lost its lock (its session was terminated, the
// database stopped answering, its lease expired) must not go on unlocked.
type LockKeeper interface {
	// KeepLock returns nil while the lock is held, an error wrapping
	// ErrLockLost when it is not, or another error when it cannot tell
	// (the database does not answer); ctx bounds how long it may try.
	KeepLock(ctx context.Context) error
}

// LockWaiter is implemented by drivers that can wait for the migration lock
// to be released without taking it. Runners queued behind one that applies
// everything then wake together and find nothing left to do, instead of
// taking the lock one after the other only to release it.
type LockWaiter interface {
	// WaitUnlocked waits up to wait for the lock to be free and reports
	// whether it was; it takes nothing. errors.ErrUnsupported means this
	// session cannot wait so (its lock mode), and the caller waits with Lock.
	WaitUnlocked(ctx context.Context, wait time.Duration) (free bool, err error)
}

// TxStreamer is implemented by drivers that can run a migration's
// statements in one transaction as they come, sending them in batches, so
// memory does not grow with the size of the script: a data migration of
// hundreds of megabytes runs in a few.
type TxStreamer interface {
	// ApplyTxStream runs the statements stmts yields, then records record
	// with StatementsApplied and StatementsTotal set to how many ran, all in
	// one transaction; it returns how many statements ran. On any failure
	// the transaction is rolled back: a statement the database rejected is
	// an *ExecError (Step 0, Statement its index, SQL its text), an error
	// stmts yields is returned wrapped, and nothing of the migration stays.
	ApplyTxStream(ctx context.Context, stmts iter.Seq2[migration.Statement, error], record Revision) (int, error)
}

// TxBatcher is implemented by drivers that can send several migrations,
// each in a transaction of its own, to the database in one message: over a
// network a run then pays one round trip for many migrations instead of one
// each.
type TxBatcher interface {
	// ApplyEach runs each step in its own transaction, in order: a step
	// starts only once the one before it has committed, and a failing step
	// is rolled back and stops the rest. It calls committed(i) as the
	// database confirms step i's commit, in order and from the calling
	// goroutine, and returns how many steps committed. Each Record's
	// AppliedAt and Duration are replaced by the database's clock: when the
	// step started and how long it took. Failures are ApplyTx's, for the
	// failing step: an *ExecError's Step is its index in steps.
	ApplyEach(ctx context.Context, steps []Step, committed func(i int)) (int, error)
}

// StateReader is implemented by drivers that can read the history's version,
// checksum and state columns alone: all that up's fast path needs to see that
// every file is applied unchanged, in a fraction of History's time on a long
// history (no timestamps to convert, a third of the bytes).
type StateReader interface {
	// States returns the history rows with only Version, Checksum and State
	// set; no rows and no error when the table does not exist.
	States(ctx context.Context) ([]Revision, error)
}

// StateScanner is implemented by drivers that can pass the history's version,
// checksum and state columns to a function row by row as they arrive, without
// collecting them: the check every deploy and every waiting replica makes,
// "is every file applied, unchanged, and nothing else?", then compares each
// row with the files and keeps nothing (a thousand-row history read into
// Revisions is some 400 KB of fresh memory for a process that exits right
// after).
type StateScanner interface {
	// ScanStates calls fn with each history row's version, checksum and
	// state, valid only during the call; no rows when the table does not
	// exist. An error from fn stops the scan and is returned, wrapped.
	ScanStates(ctx context.Context, fn func(version, checksum, state []byte) error) error
}

// ReadStates collects what sc passes into revisions with only Version,
// Checksum and State set: a StateReader's States built on its scan. A row
// whose version does not parse stops it with an error naming the version.
func ReadStates(ctx context.Context, sc StateScanner) ([]Revision, error) {
	var out []Revision
	err := sc.ScanStates(ctx, func(version, checksum, state []byte) error {
		v, err := migration.ParseVersion(string(version))
		if err != nil {
			return fmt.Errorf("history row with version %q: %w", version, err)
		}
		if len(out) == cap(out) {
			// Doubling: the count is known only at the last row, and
			// append's 1.25x past 256 elements would copy a long history
			// about three times over.
			out = slices.Grow(out, max(64, len(out)))
		}
		out = append(out, Revision{Version: v, Checksum: string(checksum), State: State(state)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ProgressExecer is implemented by drivers that can run one statement of a
// migration applied outside a transaction together with the write that
// records it (progress: its history row with the statement counted), in one
// message the database applies whole or not at all (PostgreSQL: one
// implicit transaction; MySQL: a data change in a transaction with its
// record, DDL, which commits by itself, followed by it). A run killed while the statement runs, which the
// server finishes, then leaves the statement and its record together: the
// next run does not run it again. It returns errors.ErrUnsupported, having
// done nothing, for a statement that cannot run so (one that refuses a
// transaction block, such as CREATE INDEX CONCURRENTLY): run it with Exec
// and record it with WriteRevision.
//
// An error wrapping ErrNotRecorded means the statement ran and only its
// record failed: the history still counts the statements before it.
type ProgressExecer interface {
	ExecProgress(ctx context.Context, stmt migration.Statement, progress Revision) error
}

// Progress is one statement of a migration applied outside a transaction
// with its history row as it stands once the statement has run: the
// statement counted in StatementsApplied and its checksum in
// StatementChecksums (see ProgressExecer).
type Progress struct {
	Statement migration.Statement
	Row       Revision
}

// ProgressBatcher is implemented by drivers that can send several
// statements of a migration applied outside a transaction, each followed by
// the write that records it, in one message: a script of many small
// statements (a data load, a dump) then pays one round trip for many of them
// instead of one each, and what the rows say at every point is what
// ProgressExecer leaves.
type ProgressBatcher interface {
	// ExecProgressEach runs steps[0].Statement, steps[1].Statement… in
	// order, each as ExecProgress runs one with its Row, sent together: a
	// failing statement stops the rest. It sends as many of steps as fit in
	// one message, at least the first; errors.ErrUnsupported means the first
	// cannot go so and nothing was done (send it with ExecProgress). It
	// returns how many statements took effect with their rows written; with
	// an error, that is ExecProgress's error for steps[n] (wrapping
	// ErrNotRecorded when that statement took effect and its row was not
	// written). A nil error with n < len(steps) means the rest were not
	// sent. Before it sends, it calls sending with the number of steps the
	// message holds (not when it returns errors.ErrUnsupported), so that
	// progress shows what is running.
	ExecProgressEach(ctx context.Context, steps []Progress, sending func(n int)) (n int, err error)
}

// ErrNotRecorded marks an error of ProgressExecer.ExecProgress after which
// the statement took effect but the write recording it did not.
var ErrNotRecorded = errors.New("the statement ran, but its progress was not recorded")

// ErrHistoryRefused marks a write to the history table, made in the
// migration's own session, that the database refused for want of rights on
// the table: the role the session runs as lacks them, the connecting user's
// own or one a statement of the migration switched to (SET ROLE, SET
// SESSION AUTHORIZATION).
var ErrHistoryRefused = errors.New("the database refused Runway's write to its history table for want of rights")

// ErrLockRefused marks a read or write of the lock table (--lock-mode
// table), made in the migration's own session to confirm the lease, that
// the database refused for want of rights. It is a kind of
// ErrHistoryRefused: errors.Is(err, ErrHistoryRefused) holds for it too.
var ErrLockRefused error = refusedError{"the database refused Runway's access to its lock table for want of rights"}

type refusedError struct{ msg string }

func (e refusedError) Error() string { return e.msg }

func (e refusedError) Is(target error) bool { return target == ErrHistoryRefused }

// ErrNotSent marks an error of a statement that never reached the database:
// the run was stopped (its context ended) before it was sent. Nothing of it
// ran; it is not an error whose outcome is unknown.
var ErrNotSent = errors.New("stopped before the statement was sent")

// RecordedExecer is implemented by drivers that can apply a migration outside
// a transaction — statement by statement, each one's progress recorded in the
// history row — in fewer round trips than an Exec and a WriteRevision per
// statement (MySQL: one multi-statement message, which the server stops at the
// first failing statement).
type RecordedExecer interface {
	// ExecRecorded writes running (state running, StatementsApplied statements
	// already done), runs stmts[running.StatementsApplied:] in order, after
	// each records in the row how many have run and their checksums, and
	// finally writes done (state applied). Times are the database's clock.
	// It returns how many statements of stmts have run when it stops. A
	// statement the database rejected is an *ExecError (Statement 0) for
	// stmts[n]; errors.ErrUnsupported means it did nothing and the caller
	// should apply the statements one by one.
	ExecRecorded(ctx context.Context, stmts []migration.Statement, running, done Revision) (n int, err error)
}

// Recorded is one migration for RecordedBatcher: its statements and the
// history rows RecordedExecer.ExecRecorded takes.
type Recorded struct {
	Statements    []migration.Statement
	Running, Done Revision
}

// RecordedBatcher is implemented by drivers that can send several
// migrations applied outside a transaction (see RecordedExecer) in one
// message: over a network a run then pays one round trip for many
// migrations instead of one each.
type RecordedBatcher interface {
	// ExecRecordedEach applies ms[0], ms[1]… one after the other, each as
	// ExecRecorded does, sent together: a failing statement stops the rest.
	// It sends as many of ms as fit in one message, at least the first;
	// errors.ErrUnsupported means the first does not fit (or the session
	// cannot send several statements at once) and nothing was done. It
	// calls done(i) as the database reports ms[i] applied, in order and
	// from the calling goroutine, and returns how many were applied and,
	// when it stops on an error, how many statements of the next one have
	// run (the error is ExecRecorded's for it). A nil error with fewer
	// applied than ms means the rest were not sent.
	ExecRecordedEach(ctx context.Context, ms []Recorded, done func(i int)) (applied, ran int, err error)
}

// ErrBusy means a read made before taking the migration lock found the
// database locked by another run that holds the migration lock (SQLite,
// whose readers cannot read while a writer commits a large transaction).
// The engine then waits for the migration lock, within its lock timeout,
// instead of failing as if the database could not be reached.
var ErrBusy = errors.New("the database is locked by another run's migration")

// ErrLockLost means the run no longer holds the migration lock.
var ErrLockLost = errors.New("the migration lock was lost")

// ErrUnsafeLock means the session lock cannot protect this run — for example
// the database session changes between statements because a
// transaction-pooling proxy sits in between. It is a configuration error:
// the CLI maps it to exit 2 and suggests --lock-mode table.
var ErrUnsafeLock = errors.New("the session lock is unsafe here")

// LockMode chooses how a driver implements the migration lock.
type LockMode string

// The lock modes.
const (
	// LockModeSession (the default) ties the lock to the database session:
	// PostgreSQL advisory lock, MySQL GET_LOCK, SQLite file lock.
	LockModeSession LockMode = ""
	// LockModeTable uses a lease row in a lock table, renewed by KeepLock and
	// expiring when its holder stops renewing it. For PostgreSQL behind a
	// transaction-pooling proxy (PgBouncer), where session locks are unsafe.
	LockModeTable LockMode = "table"
)

// SessionLockOnly is the refusal of a driver that has only the session lock
// (MySQL, SQLite) when asked for another mode: nil for the default mode.
func SessionLockOnly(driver string, mode LockMode) error {
	if mode == LockModeSession {
		return nil
	}
	return fmt.Errorf("%s: lock mode %q: only the session lock is supported here (GET_LOCK on MySQL, the database file's lock on SQLite); --lock-mode table is for PostgreSQL behind a transaction pooler", driver, mode)
}

// DefaultLeaseTTL is how long a lease lives without renewal in LockModeTable.
const DefaultLeaseTTL = 30 * time.Second

// DefaultTable is the history table's name when none is given.
const DefaultTable = "runway_migrations"

// Config is what every driver's Open takes besides the URL.
type Config struct {
	// Table is the history table, optionally schema-qualified on PostgreSQL
	// ("app.runway_migrations"). Empty means DefaultTable. The lock is named
	// after it, so two tables in one database are two independent histories.
	Table string
	// Identity describes this runner to other sessions ("runway web-1 pid=42");
	// drivers show it where the database lets them (PostgreSQL application_name).
	Identity string
	// LockMode chooses the lock implementation; drivers that do not support
	// a mode refuse it in Open.
	LockMode LockMode
	// LeaseTTL is the lease lifetime in LockModeTable (0: DefaultLeaseTTL).
	LeaseTTL time.Duration
	// Dial, when set, opens the network connections to the server (an SSH
	// tunnel, for example); the URL's host and port are passed as addr, so TLS
	// still verifies the real server name. Nil means a direct connection.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// TableName returns c.Table or DefaultTable.
// CheckTable refuses a history table name no driver reads as meant: more
// than schema.table, an empty part, or quotes. Drivers quote each part
// themselves, so quotes would become part of the name ("Hist" with its
// quotes is another table than Hist, with another lock).
func CheckTable(name string) error {
	if name == "" {
		return nil
	}
	parts := strings.Split(name, ".")
	if len(parts) > 2 || slices.Contains(parts, "") {
		return fmt.Errorf("history table %q: want NAME or SCHEMA.NAME", name)
	}
	if strings.ContainsAny(name, "\"`'") {
		return fmt.Errorf("history table %q: give the name without quotes: Runway quotes it itself, keeping its case (Hist is the table \"Hist\")", name)
	}
	return nil
}

func (c Config) TableName() string {
	if c.Table == "" {
		return DefaultTable
	}
	return c.Table
}
