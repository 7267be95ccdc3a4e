package runway

import (
	"fmt"
	"time"
)

// EventKind says what an Event reports.
type EventKind int

// The kinds of progress events.
const (
	EventLockWaiting    EventKind = iota // the lock is held by someone else; Holder says who
	EventLockAcquired                    // the lock is ours
	EventMigrationStart                  // a migration starts (Statements, Resumed set)
	EventStatementStart                  // a statement starts, when applied one by one
	EventMigrationDone                   // a migration finished (Duration set)
	EventMigrationFail                   // a migration failed (Err set)
	EventWarning                         // something the operator should know (Message)
	EventWaiting                         // Wait is polling: Pending migrations remain
)

func (k EventKind) String() string {
	switch k {
	case EventLockWaiting:
		return "lock-waiting"
	case EventLockAcquired:
		return "lock-acquired"
	case EventMigrationStart:
		return "migration-start"
	case EventStatementStart:
		return "statement-start"
	case EventMigrationDone:
		return "migration-done"
	case EventMigrationFail:
		return "migration-fail"
	case EventWarning:
		return "warning"
	case EventWaiting:
		return "waiting"
	}
	return fmt.Sprintf("event(%d)", int(k))
}

// Event is a progress report from a running command.
type Event struct {
	Kind    EventKind
	Time    time.Time
	Version string
	Name    string
	File    string
	Down    bool // the migration is being reverted

	Statements int   // statements in the migration
	Resumed    int   // statements skipped because an earlier run applied them
	Replayed   []int // of those, the ones sent again first because they set the session (SET, USE …), by number
	Statement  int   // 1-based, for EventStatementStart
	Line       int   // for EventStatementStart
	// Through and ThroughLine, for EventStatementStart, are the last
	// statement, and its line, of those sent together with Statement in one
	// message (MySQL, a migration of more than 200 statements); 0 when it
	// goes alone.
	Through, ThroughLine int

	Duration time.Duration
	Holder   string        // for EventLockWaiting: who holds the lock, "" if unknown
	Waited   time.Duration // for EventLockWaiting: how long we have waited so far
	Pending  int           // for EventWaiting
	Message  string
	Err      error
}

func (e Event) String() string {
	switch e.Kind {
	case EventLockWaiting:
		who := e.Holder
		if who == "" {
			who = "another runner"
		}
		return fmt.Sprintf("waiting for the migration lock, held by %s (waited %s)", who, e.Waited.Round(time.Second))
	case EventLockAcquired:
		return "lock acquired"
	case EventMigrationStart:
		if e.Down {
			return fmt.Sprintf("reverting %s_%s", e.Version, e.Name)
		}
		return fmt.Sprintf("applying %s_%s", e.Version, e.Name)
	case EventStatementStart:
		if e.Through > e.Statement {
			return fmt.Sprintf("%s: statements %d–%d of %d (lines %d–%d)", e.File, e.Statement, e.Through, e.Statements, e.Line, e.ThroughLine)
		}
		return fmt.Sprintf("%s: statement %d of %d (line %d)", e.File, e.Statement, e.Statements, e.Line)
	case EventMigrationDone:
		if e.Down {
			return fmt.Sprintf("reverted %s_%s in %s", e.Version, e.Name, e.Duration.Round(time.Millisecond))
		}
		return fmt.Sprintf("applied %s_%s in %s", e.Version, e.Name, e.Duration.Round(time.Millisecond))
	case EventMigrationFail:
		if e.Down {
			return fmt.Sprintf("failed to revert %s_%s: %v", e.Version, e.Name, e.Err)
		}
		return fmt.Sprintf("failed %s_%s: %v", e.Version, e.Name, e.Err)
	case EventWaiting:
		return fmt.Sprintf("waiting: %d migration(s) pending", e.Pending)
	}
	return e.Message
}
