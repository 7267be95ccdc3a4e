// Package report is the record of one Runway run: what was applied, what is
// pending, what failed. It renders as the JSON object of the CLI contract
// (--json, webhook bodies) and as text for people.
package report

import (
	"bytes"
	"encoding/json"
	"io"
	"time"
)

// Status values of a report.
const (
	StatusApplied  = "applied"  // up/down/baseline changed the database
	StatusNoop     = "noop"     // nothing to do
	StatusFailed   = "failed"   // the command failed
	StatusPending  = "pending"  // status/wait: migrations remain to apply
	StatusOK       = "ok"       // status/validate/plan: all good
	StatusReverted = "reverted" // down reverted migrations
)

// Report is the result of one command. Its JSON form is the contract of DESIGN §2.
type Report struct {
	Command     string `json:"command"`
	Status      string `json:"status"`
	Env         string `json:"env,omitempty"`
	Database    string `json:"database,omitempty"` // always redacted
	Source      string `json:"source,omitempty"`
	Table       string `json:"table,omitempty"`
	FromVersion string `json:"from_version"`
	ToVersion   string `json:"to_version"`
	// Applied lists what this run applied (up, baseline) or reverted (down).
	Applied []Applied `json:"applied"`
	// Pending lists what remains to apply after the run.
	Pending []Pending `json:"pending"`
	// Repaired lists the history rows repair changed.
	Repaired []Repaired `json:"repaired,omitempty"`
	// Migrations is the full picture, for status and validate.
	Migrations []Migration `json:"migrations,omitempty"`
	// Plan is the SQL `up` would run, for plan.
	Plan     []Planned `json:"plan,omitempty"`
	Warnings []string  `json:"warnings,omitempty"`
	Error    *Error    `json:"error,omitempty"`

	StartedAt  time.Time `json:"started_at"`
	DurationMS int64     `json:"duration_ms"`
	Runner     Runner    `json:"runner"`
}

// Applied is one migration a run applied or reverted.
type Applied struct {
	Version    string `json:"version"`
	Name       string `json:"name"`
	DurationMS int64  `json:"duration_ms"`
	Statements int    `json:"statements"`
	// Resumed is the number of statements skipped because an earlier run applied them.
	Resumed int `json:"resumed,omitempty"`
	// Replayed numbers the statements among those that were sent again
	// before the rest, because they set the session (SET search_path, USE,
	// SET FOREIGN_KEY_CHECKS …) and a new session had lost what they set.
	Replayed []int `json:"replayed,omitempty"`
}

// Repaired is one history row repair changed: Action is "cleared" (a
// failed, running or reverting row removed; State says which) or
// "accepted-checksum" (an edited file's checksum recorded).
type Repaired struct {
	Version           string `json:"version"`
	Name              string `json:"name"`
	Action            string `json:"action"`
	State             string `json:"state,omitempty"`
	StatementsApplied int    `json:"statements_applied,omitempty"`
}

// Pending is one migration not applied yet.
type Pending struct {
	Version string `json:"version"`
	Name    string `json:"name"`
	File    string `json:"file,omitempty"`
	// Note says what is unusual about it, for a person to read before
	// confirming (runway.Runner.DownPlan: a down script without statements,
	// a down that resumes).
	Note string `json:"note,omitempty"`
}

// Migration is one line of `status`: a version and what state it is in.
type Migration struct {
	Version   string     `json:"version"`
	Name      string     `json:"name"`
	File      string     `json:"file,omitempty"`
	State     string     `json:"state"` // applied, baseline, pending, missing, modified, failed, running, out-of-order
	AppliedAt *time.Time `json:"applied_at,omitempty"`
	Detail    string     `json:"detail,omitempty"`
}

// Planned is a migration `up` would run, with its statements.
type Planned struct {
	Version       string `json:"version"`
	Name          string `json:"name"`
	File          string `json:"file"`
	NoTransaction bool   `json:"no_transaction,omitempty"`
	ResumeAt      int    `json:"resume_at,omitempty"`
	// RunningBy names the holder of the migration lock when the history
	// records this migration as running: most likely that runner is
	// applying it at this moment, and ResumeAt is how far it has got.
	RunningBy string `json:"running_by,omitempty"`
	// Replayed are the statements among the first ResumeAt that are sent
	// again before the rest, because they set the session (SET, USE …).
	Replayed   []Statement `json:"replayed,omitempty"`
	Statements []Statement `json:"statements"`
}

// Statement is one statement of a plan.
type Statement struct {
	// Number is the statement's place in its file, 1-based, where it is not
	// the next of a list (Planned.Replayed).
	Number int    `json:"number,omitempty"`
	Line   int    `json:"line"`
	SQL    string `json:"sql"`
	// Unset marks, in Planned.Replayed, a statement Runway writes (SET @x =
	// NULL, RESET x): it unsets what statement Number set from a value that
	// is not sent again, after an earlier statement sent again set it too.
	Unset bool `json:"unset,omitempty"`
}

// Error describes why the command failed.
type Error struct {
	Version   string `json:"version,omitempty"`
	File      string `json:"file,omitempty"`
	Line      int    `json:"line,omitempty"`
	Statement int    `json:"statement,omitempty"` // 1-based
	Code      string `json:"code,omitempty"`
	Message   string `json:"message"`
	Hint      string `json:"hint,omitempty"`
	// Refused: the run was refused at Version before anything of it ran
	// (validation: an applied migration edited, a file out of order, a
	// down script missing). For the headlines of notifications; not in
	// the JSON, whose readers tell it by the exit code (5).
	Refused bool `json:"-"`
}

// Runner says who ran the command.
type Runner struct {
	Host          string `json:"host"`
	PID           int    `json:"pid"`
	RunwayVersion string `json:"runway_version"`
}

// WriteJSON writes r as one JSON object and a newline.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// MarshalJSON writes the report with applied and pending as lists even when
// empty ([] rather than null), however it is encoded, and without changing r.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report // the same fields, without this method
	p := plain(r)
	if p.Applied == nil {
		p.Applied = []Applied{}
	}
	if p.Pending == nil {
		p.Pending = []Pending{}
	}
	// Not json.Marshal: it would escape <, > and & inside error messages
	// and URLs, which WriteJSON's encoder leaves as they are.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
