package postgres

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/runwaydb/runway/database"
)

// While the lock is held, the queries that change the database start with a
// guard: a SELECT that fails, with the tag below in its message, when the run
// no longer runs where its lock protects it. In session mode it checks that
// the server backend is the one that took the advisory lock — behind a
// transaction-pooling proxy each transaction may land on another server
// session, which does not hold the lock. In table mode it checks that the
// lease row still carries this run's token. The guard travels in the same
// query as the statements it protects, so it costs no round trip (Exec, whose
// statement must run alone, sends it just before).
//
// The failure is a cast of the tag and the backend's pid to integer: an
// invalid_text_representation error whose message quotes the text, from
// which the driver reads the pid. pg_backend_pid() in the text also keeps the
// planner from folding the cast, and failing, when the guard passes.
const (
	sessionChangedTag = "runway-session-changed:"
	leaseLostTag      = "runway-lease-lost:"
	guardColumn       = "runway_guard"
)

// poolerAdvice explains a session lock behind a transaction pooler and what to do.
const (
	poolerAdvice = "Runway seems to be behind a transaction-pooling proxy such as PgBouncer (pool_mode=transaction), " +
		"where a session advisory lock does not protect the run."
	poolerFix = "Connect directly to PostgreSQL, or use --lock-mode table."
)

// guardSQL returns the guard for the lock held, "" when none is held.
func (d *Driver) guardSQL() string {
	h := d.held.Load()
	switch {
	case h == nil:
		return ""
	case d.tableMode():
		return fmt.Sprintf(`SELECT CASE WHEN EXISTS (SELECT 1 FROM %s WHERE id = 1 AND token = %s) THEN 1
	ELSE (%s || pg_backend_pid())::int END AS %s`, d.lockTable, quote(h.token), quote(leaseLostTag), guardColumn)
	default:
		return fmt.Sprintf(`SELECT CASE WHEN pg_backend_pid() = %d THEN 1 ELSE (%s || pg_backend_pid())::int END AS %s`,
			h.pid, quote(sessionChangedTag), guardColumn)
	}
}

// commitSQL ends a migration's transaction. In table mode it is preceded by
// the lease fence (fenceSQL).
func (d *Driver) commitSQL() string {
	if fence := d.fenceSQL(); fence != "" {
		return fence + ";\nCOMMIT"
	}
	return "COMMIT"
}

// fenceSQL is, in table mode while the lease is held, a check that the lease
// is still this run's and unexpired at the end of a transaction, not only at
// its start; "" otherwise. A runner killed mid-migration leaves its server
// session running the statements it sent; by the time they end its lease
// may have run out and another runner may be applying the same migration.
// The fence then fails and the orphaned transaction rolls back. While it
// passes it locks the lease row until the commit (an UPDATE that changes
// nothing), so a runner taking the lease over waits for the commit and then
// finds the work recorded.
func (d *Driver) fenceSQL() string {
	h := d.held.Load()
	if h == nil || !d.tableMode() {
		return ""
	}
	return fmt.Sprintf(`WITH lease AS (UPDATE %s SET expires_at = expires_at
	WHERE id = 1 AND token = %s AND expires_at > clock_timestamp() RETURNING 1)
SELECT CASE WHEN EXISTS (SELECT 1 FROM lease) THEN 1 ELSE (%s || pg_backend_pid())::int END AS %s`,
		d.lockTable, quote(h.token), quote(leaseLostTag), guardColumn)
}

// guardFailure reports whether err is the failure of a guard with tag, and
// the backend pid the guard ran on.
func guardFailure(err error, tag string) (int, bool) {
	var pe *pgconn.PgError
	if err == nil || !errors.As(err, &pe) || pe.Code != "22P02" {
		return 0, false
	}
	_, rest, ok := strings.Cut(pe.Message, `"`+tag)
	if !ok {
		return 0, false
	}
	digits, _, _ := strings.Cut(rest, `"`)
	pid, err := strconv.Atoi(digits)
	return pid, err == nil
}

// guardError returns the error to report when err is the failure of the
// guard of the lock held, or nil when it is not. done says what the failure
// left undone ("Nothing of this migration was applied.").
func (d *Driver) guardError(err error, done string) error {
	h := d.held.Load()
	if h == nil {
		return nil
	}
	if pid, ok := guardFailure(err, sessionChangedTag); ok && !d.tableMode() {
		return &redactedError{
			msg: fmt.Sprintf("postgres: the database session changed between statements (backend pid %d → %d): %s %s %s",
				h.pid, pid, poolerAdvice, done, poolerFix),
			errs: []error{database.ErrUnsafeLock, err},
		}
	}
	if d.tableMode() && isCode(err, "42501") {
		// The guard or the fence read or update the lease row as the role
		// the session runs as: a statement of the migration may have
		// switched to one without rights on the lock table (SET ROLE).
		// It is Runway's write, not a statement or a deferred constraint,
		// that failed.
		var pe *pgconn.PgError
		if errors.As(err, &pe) && strings.HasSuffix(pe.Message, " "+lockTableName(d.cfg)) {
			return fmt.Errorf("postgres: confirming the migration lease in %s: %w. %s", d.lockTable, refused(err, database.ErrLockRefused), done)
		}
	}
	if _, ok := guardFailure(err, leaseLostTag); ok && d.tableMode() {
		return &redactedError{
			msg: fmt.Sprintf("postgres: %v: the lease in %s is no longer this run's (it expired, and another runner may have taken it over, or the row was deleted). %s "+
				"Run `runway up` again: it applies what is still pending. If this recurs, the run could not renew its lease in time: raise --lock-lease.",
				database.ErrLockLost, d.lockTable, done),
			errs: []error{database.ErrLockLost, err},
		}
	}
	return nil
}

// sharedSessionError is the failure of Lock (which prefixes it) on a backend
// that already holds the lock this driver never took.
func sharedSessionError(pid int) error {
	return &redactedError{
		msg: fmt.Sprintf("this database session (backend pid %d) already holds the migration lock, but this runner did not take it: "+
			"the session is shared with another client. %s Nothing was applied. %s", pid, poolerAdvice, poolerFix),
		errs: []error{database.ErrUnsafeLock},
	}
}
