package runway

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/migration"
	"github.com/runwaydb/runway/report"
)

// Sentinel errors. Callers test them with errors.Is; the CLI maps them to exit codes.
var (
	// ErrUsage: the request itself is wrong (conflicting options, unknown version). Exit 2.
	ErrUsage = errors.New("usage error")
	// ErrSource: the migration files cannot be read or parsed. Exit 2.
	ErrSource = errors.New("bad migration source")
	// ErrNoMigrations: the source holds no migration files. Exit 2.
	ErrNoMigrations = errors.New("no migration files found in the source: check --dir, or create one with `runway new NAME`")
	// ErrLockTimeout: another runner held the lock for longer than the lock timeout. Exit 4.
	ErrLockTimeout = errors.New("timed out waiting for the migration lock")
	// ErrValidation: the history and the files disagree (modified, missing,
	// out-of-order migrations, a database ahead under --strict, an edited
	// statement before a failure). Errors of type *ValidationError match it. Exit 5.
	ErrValidation = errors.New("validation failed")
	// ErrMigrationFailed: a migration statement failed. Errors of type
	// *MigrationError match it. Exit 1.
	ErrMigrationFailed = errors.New("migration failed")
	// ErrPending: migrations remain to be applied (status --check, wait timed out). Exit 3.
	ErrPending = errors.New("migrations are pending")
	// ErrLockLost: the run stopped because it no longer held the migration
	// lock (its session was terminated, its lease expired, the database
	// stopped answering). Exit 1: a migration may have been interrupted.
	ErrLockLost = database.ErrLockLost
)

// Problem is one disagreement between the source and the history.
type Problem struct {
	Version string
	Name    string
	File    string
	Kind    string // modified, missing, out-of-order, ahead, failed, running, resume-edited, no-down
	Detail  string
}

func (p Problem) String() string {
	where := p.Version
	if p.File != "" {
		where = p.File
	} else if p.Name != "" {
		where = p.Version + "_" + p.Name
	}
	if where == "" { // a problem of the database, not of one migration
		return fmt.Sprintf("%s: %s", p.Kind, p.Detail)
	}
	return fmt.Sprintf("%s: %s: %s", where, p.Kind, p.Detail)
}

// ValidationError lists the problems that made a command refuse to run.
type ValidationError struct {
	Problems []Problem
	// Hint says what to do about them.
	Hint string
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("validation failed:")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	if e.Hint != "" {
		b.WriteString("\n")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Is makes a *ValidationError match ErrValidation.
func (e *ValidationError) Is(target error) bool { return target == ErrValidation }

// MigrationError is a migration the database refused. It names the file, the
// statement (1-based) and the line where the statement starts, and keeps the
// driver's error reachable with errors.As.
type MigrationError struct {
	Version   migration.Version
	Name      string
	File      string
	Statement int // 1-based number of the failing statement in the script
	Line      int
	Code      string
	Message   string
	SQL       string
	// Position is the 1-based character offset in SQL where the database
	// located the error, 0 when it did not say.
	Position int
	// Applied counts the statements of this migration that took effect before
	// the failure (only where they could not be rolled back).
	Applied int
	// Down is set when the failing script was a down migration.
	Down bool
	// Uncertain is set when the database did not reject the statement but
	// the connection failed (lost, killed, timed out): whether the statement —
	// or, in a transaction, the whole migration — took effect is unknown.
	Uncertain bool
	// RolledBack counts the migrations before this one that ran in the same
	// transaction (--single-transaction) and were rolled back with it.
	RolledBack int
	// NotSent is set when the run was stopped (its context ended) before
	// the statement was sent: nothing of it ran.
	NotSent bool
	// AtCommit is set when the migration's transaction failed at its
	// COMMIT (a deferred constraint or trigger): no one statement failed,
	// and nothing of the migration was applied.
	AtCommit bool
	// UndoneFrom, when not 0, is the 1-based number of the first statement
	// rolled back with a transaction of the script's own (BEGIN, START
	// TRANSACTION, MySQL's SET autocommit = 0) in which the failing
	// statement ran: the statements from it to the failing one are undone,
	// the history records what committed before it, and the rerun resumes
	// there. Applied then counts the statements before it.
	UndoneFrom int
	// NoTransaction is set when the failing statement ran outside a
	// transaction (MySQL, no-transaction migrations): it may have done part
	// of its work before failing.
	NoTransaction bool
	// RecordErr is set when the failure could not be written to the history
	// table (its row still says running).
	RecordErr error
	Err       error
}

func (e *MigrationError) Error() string {
	var b strings.Builder
	switch {
	case e.NotSent:
		fmt.Fprintf(&b, "%s:%d: %s", e.File, e.Line, e.Message)
	case e.Uncertain && e.Statement == 0:
		fmt.Fprintf(&b, "%s: the connection failed while the migration ran: %s", e.File, e.Message)
	case e.Uncertain:
		fmt.Fprintf(&b, "%s:%d: the connection failed while statement %d ran: %s", e.File, e.Line, e.Statement, e.Message)
	case e.AtCommit:
		fmt.Fprintf(&b, "%s: failed %s", e.File, e.Message)
	case e.Statement == 0:
		fmt.Fprintf(&b, "%s: failed: %s", e.File, e.Message)
	default:
		fmt.Fprintf(&b, "%s:%d: statement %d failed: %s", e.File, e.Line, e.Statement, e.Message)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	return b.String()
}

// Unwrap returns the driver's error.
func (e *MigrationError) Unwrap() error { return e.Err }

// Is makes a *MigrationError match ErrMigrationFailed.
func (e *MigrationError) Is(target error) bool { return target == ErrMigrationFailed }

// stoppedError is the error of a command its caller stopped (a signal):
// its message says why, and it wraps the context's error, which it does
// not repeat.
type stoppedError struct {
	msg string
	err error
}

func (e *stoppedError) Error() string { return e.msg }
func (e *stoppedError) Unwrap() error { return e.err }

// Stopped returns an error reading msg that wraps err (the context's error
// of a command its caller stopped), without repeating it.
func Stopped(msg string, err error) error { return &stoppedError{msg: msg, err: err} }

// connectionFailed reports whether err says the connection failed (closed,
// reset, timed out, cancelled) rather than that the database refused
// something: then whether the work took effect is unknown.
func connectionFailed(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrLockLost) {
		return true
	}
	// Drivers that do not wrap the network error (go-sql-driver's
	// "invalid connection", pgx's "conn closed").
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"conn closed", "invalid connection", "bad connection", "broken pipe", "connection reset", "unexpected eof", "server closed the connection"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// errorInfo turns an error into the report's error object.
func errorInfo(err error) *report.Error {
	info := &report.Error{Message: err.Error()}
	var me *MigrationError
	var fe *migration.FileError
	var ve *ValidationError
	switch {
	case errors.As(err, &me):
		info.Version = me.Version.String()
		info.File = me.File
		info.Line = me.Line
		info.Statement = me.Statement
		info.Code = me.Code
		info.Message = me.Message
		info.Hint = FailureHint(me)
	case errors.As(err, &ve):
		info.Hint = ve.Hint
		info.Refused = true
		if len(ve.Problems) > 0 {
			info.Version = ve.Problems[0].Version
			info.File = ve.Problems[0].File
		}
	case errors.As(err, &fe):
		info.File = fe.File
		info.Line = fe.Line
	}
	var ee *database.ExecError
	if info.Code == "" && errors.As(err, &ee) {
		info.Code = ee.Code
	}
	return info
}

// FailureHint tells the operator the ways out of a failed migration.
func FailureHint(me *MigrationError) string {
	hint := failureHint(me)
	if me.RolledBack > 0 {
		hint += fmt.Sprintf(" The %d migration(s) before it in the same transaction (--single-transaction) were rolled back with it: none of the run's migrations was applied.", me.RolledBack)
	}
	return hint
}

// The grants a role needs for Runway's writes in a migration's session: on
// the history table, and in table lock mode on the lock table too.
const (
	historyGrants = "SELECT, INSERT, UPDATE and DELETE on the history table (and, with --lock-mode table, SELECT and UPDATE on its lock table, the history table's name followed by _lock), and USAGE on their schema"
	lockGrants    = "SELECT and UPDATE on the lock table, and SELECT, INSERT, UPDATE and DELETE on the history table, and USAGE on their schema"
)

func failureHint(me *MigrationError) string {
	var record string
	if me.RecordErr != nil {
		state, cmd := "running", "run"
		if me.Down {
			state, cmd = "reverting", "down"
		}
		record = fmt.Sprintf(" The failure could not be recorded in the history table (%v): its row still says %s; the next %s reports it and resumes at the statement it recorded.", me.RecordErr, state, cmd)
	}
	if me.Down && me.Uncertain {
		return fmt.Sprintf("Runway cannot tell whether statement %d of the down migration %s took effect: the database did not answer. Run `runway status` to see what the history recorded (%s reverting, with the statements that completed), then `runway down` again: it resumes after the last statement it recorded (if that statement did complete, it may fail on rerun: then put the database right and run `runway repair`).%s",
			me.Statement, me.File, me.Version, record)
	}
	if me.Uncertain {
		return "Runway cannot tell whether the interrupted work took effect: the database did not answer. Run `runway status` to see what the history recorded, then `runway up` again: a migration applied in a transaction committed whole or not at all; one applied statement by statement resumes after the last statement it recorded (if that statement did complete, it may fail on rerun: then put the database right and run `runway repair`)." + record
	}
	if errors.Is(me.Err, database.ErrHistoryRefused) {
		cmd, what := "up", "migration"
		if me.Down {
			cmd, what = "down", "down migration"
		}
		done := fmt.Sprintf("nothing of the %s %s took effect", what, me.File)
		if me.Applied > 0 {
			done = fmt.Sprintf("%d of the statements of the %s %s took effect and are recorded; the rerun resumes after them", me.Applied, what, me.File)
		}
		access, does, grants := "write to its history table", "records a migration", historyGrants
		if errors.Is(me.Err, database.ErrLockRefused) {
			access, does, grants = "access to its lock table (the history table's name followed by _lock)",
				"confirms its lease (--lock-mode table) and records a migration", lockGrants
		}
		return fmt.Sprintf("the database refused Runway's %s in the session that runs %s, for want of rights: "+
			"Runway %s in the session it runs in, as the role that session runs as: the connecting user, "+
			"or a role a statement of the migration switched to (SET ROLE, SET SESSION AUTHORIZATION); the statement named is not to blame; %s. "+
			"Grant that role %s, then run `runway %s` again. "+
			"(A migration in a transaction is recorded at its end, so there switching back with RESET ROLE before its end also does; one run statement by statement is recorded after each statement.)%s",
			access, me.File, does, done, grants, cmd, record)
	}
	var fe *migration.FileError
	if !me.Down && me.Statement == 0 && errors.As(me.Err, &fe) {
		// A large file read as it runs (statement by statement) could not
		// be read to its end: edited, or gone, during the run.
		done := "no statement of it took effect"
		if me.Applied > 0 {
			done = fmt.Sprintf("the %d statements before that took effect and are recorded", me.Applied)
		}
		return fmt.Sprintf("%s could not be read to its end while migration %s ran (%v); %s. Once the file is final, run `runway up` again: it resumes after the statements recorded, and refuses if one of them was edited (then restore them, or put the database right by hand and run `runway repair`).%s",
			me.File, me.Version, fe.Err, done, record)
	}
	if me.UndoneFrom > 0 {
		// The failure came inside a transaction the script opened: what
		// ran in it was rolled back, and the rerun resumes where the
		// history says what committed ends.
		cmd, of := "up", "migration "+me.Version.String()
		if me.Down {
			cmd, of = "down", "the down migration "+me.File
		}
		what := fmt.Sprintf("statement %d of %s failed", me.Statement, me.File)
		next := fmt.Sprintf("Fix statement %d and run `runway %s` again", me.Statement, cmd)
		switch {
		case me.NotSent:
			what = fmt.Sprintf("the run was stopped before statement %d of %s was sent", me.Statement, me.File)
			next = "Run `runway " + cmd + "` again"
		case errors.Is(me.Err, context.Canceled) || errors.Is(me.Err, context.DeadlineExceeded):
			what = fmt.Sprintf("the run was stopped while statement %d of %s ran", me.Statement, me.File)
			next = "Run `runway " + cmd + "` again"
		case notTheSQL(me.Code) != "":
			next = "Once the cause (" + notTheSQL(me.Code) + ") is resolved, run `runway " + cmd + "` again"
		}
		done := fmt.Sprintf("no statement of %s before it took effect", of)
		switch me.Applied {
		case 0:
		case 1:
			done = "statement 1, before it, took effect and is kept"
		default:
			done = fmt.Sprintf("statements 1 to %d, before it, took effect and are kept", me.Applied)
		}
		if me.Down {
			done += fmt.Sprintf("; the history records %s as reverting, and `up` refuses until it is settled", me.Version)
		}
		return fmt.Sprintf("%s inside a transaction the script opened itself, which was rolled back: statements %d to %d are undone, and %s. %s: it resumes at statement %d.%s",
			what, me.UndoneFrom, me.Statement, done, next, me.UndoneFrom, record)
	}
	if me.Down {
		var partial string
		if me.NoTransaction {
			partial = fmt.Sprintf(" Statement %d ran outside a transaction and may have done part of its work: check the database first.", me.Statement)
		}
		if me.Applied == 0 && me.NoTransaction {
			return fmt.Sprintf("no statement of the down migration %s completed before the failing one; the history records %s as reverting, and `up` refuses until it is settled. Either fix statement %d in %s and run `runway down` again (it resumes there), or put the database right by hand and run `runway repair` (the migration then counts as reverted; `runway baseline %s` records it as applied again).%s%s",
				me.File, me.Version, me.Statement, me.File, me.Version, partial, record)
		}
		if me.Applied == 0 {
			return fmt.Sprintf("nothing of the down migration %s took effect (it ran in a transaction), and %s is still recorded as applied; fix the statement in %s or the database, and run `runway down` again.%s", me.File, me.Version, me.File, record)
		}
		return fmt.Sprintf("%d statement(s) of the down migration %s took effect before the failure and could not be rolled back; the history records %s as reverting, and `up` refuses until it is settled. Either fix statement %d in %s and run `runway down` again (it resumes at that statement), or put the database right by hand and run `runway repair` (the migration then counts as reverted).%s%s",
			me.Applied, me.File, me.Version, me.Statement, me.File, partial, record)
	}
	if !me.Down && (errors.Is(me.Err, context.Canceled) || errors.Is(me.Err, context.DeadlineExceeded)) {
		// The caller stopped the run (a signal, a context's deadline): the
		// SQL and the server's timeouts are not the matter.
		done := fmt.Sprintf("nothing of migration %s was applied", me.Version)
		if me.Applied > 0 {
			done = fmt.Sprintf("%d of the statements of migration %s took effect before it and stay applied; the rerun resumes at statement %d", me.Applied, me.Version, me.Statement)
		}
		while := "while statement %d of %s ran"
		if me.NotSent {
			while = "before statement %d of %s was sent"
		}
		return fmt.Sprintf("the run was stopped (cancelled, or its time ran out) "+while+"; %s. Run `runway up` again to finish.%s",
			me.Statement, me.File, done, record)
	}
	if me.AtCommit {
		return fmt.Sprintf("the database refused to commit migration %s: a constraint or trigger deferred to the end of its transaction failed, so no one statement is to blame; "+
			"nothing of migration %s was applied. Fix the data the migration leaves (or the migration itself) in %s, and run `runway up` again.%s",
			me.Version, me.Version, me.File, record)
	}
	if me.Code == "25006" && me.Statement == 1 {
		// read_only_sql_transaction at a migration's first statement: no
		// statement of its own made the session read-only, so the SQL is
		// not to blame. (Past the first, one of them may have: SET
		// TRANSACTION READ ONLY, and the usual hint holds.)
		return fmt.Sprintf("the database refused statement 1 of %s because the session was read-only, which says nothing against its SQL: "+
			"the server is a standby (a read replica), or read-only transactions are the default there, from the role's or the database's settings "+
			"(ALTER ROLE or DATABASE … SET default_transaction_read_only) or from a statement of an earlier migration of this run in the same session "+
			"(SET default_transaction_read_only = on, SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY), which holds to the session's end. "+
			"Nothing of migration %s was applied. Once that is resolved, run `runway up` again: a rerun opens a new session.%s",
			me.File, me.Version, record)
	}
	if why := notTheSQL(me.Code); why != "" {
		done := fmt.Sprintf("nothing of migration %s was applied", me.Version)
		if me.Applied > 0 {
			done = fmt.Sprintf("%d of the statements of migration %s took effect before it and stay applied; the rerun resumes at statement %d", me.Applied, me.Version, me.Statement)
		}
		return fmt.Sprintf("the database stopped statement %d of %s (%s), which says nothing against its SQL; %s. Once that is resolved, run `runway up` again.%s",
			me.Statement, me.File, why, done, record)
	}
	var partial string
	if me.NoTransaction {
		partial = fmt.Sprintf(" Statement %d ran outside a transaction and may have done part of its work before failing (DROP TABLE a, b drops a; on PostgreSQL, CREATE INDEX CONCURRENTLY leaves an invalid index): check the database before rerunning.", me.Statement)
	}
	if me.Applied == 0 && me.NoTransaction {
		return fmt.Sprintf("no statement of migration %s took effect before statement %d. Either fix it in %s and run `runway up` again (it resumes at that statement), or put the database right by hand and run `runway repair`, then `runway up`.%s%s",
			me.Version, me.Statement, me.File, partial, record)
	}
	if me.Code == "25001" && !me.NoTransaction && me.Applied == 0 { // active_sql_transaction
		return fmt.Sprintf("nothing of migration %s was applied. Statement %d cannot run inside a transaction (CREATE INDEX CONCURRENTLY, VACUUM, …), "+
			"and Runway runs each migration in one: mark %s to run outside a transaction with -- runway:no-transaction before its first statement "+
			"(goose: -- +goose NO TRANSACTION; sql-migrate: -- +migrate Up notransaction; dbmate: -- migrate:up transaction:false), "+
			"best with that statement alone in its migration, then run `runway up` again.%s", me.Version, me.Statement, me.File, record)
	}
	if me.Code == "55P04" && !me.NoTransaction && me.Applied == 0 { // unsafe_new_enum_value_usage
		return fmt.Sprintf("nothing of migration %s was applied. Statement %d uses an enum value that ALTER TYPE … ADD VALUE added in the same transaction, "+
			"which PostgreSQL allows only once that transaction has committed: move the ADD VALUE into a migration of its own before %s "+
			"(applied in a run of its own when you use --single-transaction), then run `runway up` again.%s", me.Version, me.Statement, me.File, record)
	}
	if me.Applied == 0 {
		return fmt.Sprintf("nothing of migration %s was applied; fix the statement in %s and run `runway up` again.%s", me.Version, me.File, record)
	}
	return fmt.Sprintf("%d of the statements of migration %s took effect before the failure and could not be rolled back. Either fix statement %d in %s and run `runway up` again (it resumes at that statement), or put the database right by hand (undo those statements) and run `runway repair`, then `runway up`.%s%s",
		me.Applied, me.Version, me.Statement, me.File, partial, record)
}

// notTheSQL says why a statement failed when its error code blames the
// circumstances (a shutdown, a timeout, a lock or a resource), not the SQL,
// so that the hint does not send the operator to edit a correct file. Codes
// are PostgreSQL SQLSTATEs and MySQL/MariaDB error numbers.
func notTheSQL(code string) string {
	switch code {
	case "57014", "3024", "1969": // query_canceled (statement_timeout), MySQL max_execution_time, MariaDB max_statement_time
		return "it was cancelled or ran out of time: raise the statement timeout, or run the migration when the database is quieter"
	case "55P03", "1205": // lock_not_available (lock_timeout), lock wait timeout
		return "it waited too long for a lock another session held"
	case "40001", "40P01", "1213": // serialization failure, deadlock
		return "it lost a deadlock or a serialization conflict with another session"
	case "1053", "1927", "1317": // server shutdown, connection killed, query interrupted
		return "the server shut down or killed the session"
	case "1153": // ER_NET_PACKET_TOO_LARGE
		return "it is larger than the server's max_allowed_packet: raise that limit, or split the statement"
	case "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_BUSY_SNAPSHOT", "SQLITE_LOCKED_SHAREDCACHE":
		return "another connection kept the database file locked past the busy timeout: an application or a shell writing to it"
	}
	switch {
	case len(code) != 5:
		return ""
	case strings.HasPrefix(code, "57"):
		return "an operator or the server's shutdown ended it (SQLSTATE class 57)"
	case strings.HasPrefix(code, "08"):
		return "the connection failed (SQLSTATE class 08)"
	case strings.HasPrefix(code, "53"):
		return "the server ran out of a resource: disk, memory or connections (SQLSTATE class 53)"
	case strings.HasPrefix(code, "58"):
		return "the server hit a system or I/O error (SQLSTATE class 58)"
	}
	return ""
}
