package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/width"

	"github.com/runwaydb/runway"
	"github.com/runwaydb/runway/adopt"
	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/migration"
	"github.com/runwaydb/runway/report"
	"github.com/runwaydb/runway/source"
)

// Exit codes: the CLI contract (DESIGN §2). Stable; tested.
const (
	exitOK         = 0 // success, including "nothing to do"
	exitFailed     = 1 // a migration failed
	exitUsage      = 2 // usage, configuration or input error
	exitPending    = 3 // pending work (status --check, wait timed out)
	exitLock       = 4 // could not take the migration lock in time
	exitValidation = 5 // modified, missing, duplicate or out-of-order migrations
	exitConnect    = 6 // could not connect to the database
)

// exitCode is the one place that maps errors to exit codes.
func exitCode(err error) int {
	var ue usageError
	var se *source.Error
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, migration.ErrDuplicateVersion):
		// DESIGN §2 counts a duplicate version among failed validations,
		// though it is found in the files alone.
		return exitValidation
	case errors.As(err, &ue), errors.As(err, &se), errors.Is(err, runway.ErrUsage), errors.Is(err, runway.ErrSource), errors.Is(err, runway.ErrNoMigrations),
		errors.Is(err, database.ErrUnsafeLock), errors.Is(err, adopt.ErrNoHistory), errors.Is(err, database.ErrConfig):
		return exitUsage
	case errors.Is(err, runway.ErrMigrationFailed):
		return exitFailed
	case errors.Is(err, runway.ErrPending):
		return exitPending
	case errors.Is(err, runway.ErrLockTimeout):
		return exitLock
	case errors.Is(err, runway.ErrValidation):
		return exitValidation
	case errors.Is(err, database.ErrConnect):
		return exitConnect
	}
	return exitFailed
}

// exit prints err once, with what to do next where we know it, and returns the exit code.
func (a *app) exit(err error) int {
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	if a.g.json && !a.rendered {
		a.renderFailure(err)
	}
	msg := err.Error()
	var me *runway.MigrationError
	switch {
	case errors.As(err, &me):
		msg = migrationFailure(me)
	case errors.Is(err, context.Canceled) && a.command != "wait":
		msg += "\nthe run was interrupted; a migration lock it held, if any, goes with its session"
	}
	fmt.Fprintf(a.stderr, "runway: %s\n", msg)
	return code
}

// bracketed is the database's error code in brackets after a space, or
// nothing when there is none (a failure of Runway's own, such as a history
// write refused).
func bracketed(code string) string {
	if code == "" {
		return ""
	}
	return " [" + code + "]"
}

// migrationFailure is the message an on-call engineer reads: where, what the
// database said, the statement, and the ways out.
func migrationFailure(me *runway.MigrationError) string {
	var s string
	if me.Uncertain || me.NotSent {
		s = me.Error()
	} else if me.AtCommit {
		s = fmt.Sprintf("%s: failed%s %s", me.File, bracketed(me.Code), me.Message)
	} else if me.Statement == 0 {
		s = me.Error() // no statement failed: the file could not be read further
	} else {
		s = fmt.Sprintf("%s:%d: statement %d failed%s: %s", me.File, me.Line, me.Statement, bracketed(me.Code), me.Message)
	}
	if c := caret(me); c != "" {
		s += "\n" + c
	} else if me.SQL != "" {
		sql := me.SQL
		if len(sql) > 400 {
			sql = sql[:400] + " …"
		}
		s += "\n    " + indent(sql)
	}
	switch {
	case me.UndoneFrom > 0 && me.UndoneFrom < me.Statement-1:
		s += fmt.Sprintf("\nStatements %d to %d ran in a transaction the script opened and were rolled back with it.", me.UndoneFrom, me.Statement-1)
	case me.UndoneFrom > 0:
		s += fmt.Sprintf("\nStatement %d ran in a transaction the script opened and was rolled back with it.", me.UndoneFrom)
	}
	if me.Applied > 0 {
		s += fmt.Sprintf("\n%d statement(s) before it took effect.", me.Applied)
	}
	return s + "\nwhat to do: " + runway.FailureHint(me)
}

// caret shows the line of the statement where the database located the
// error, with a caret under the spot, as file:line.
func caret(me *runway.MigrationError) string {
	if me.Position <= 0 || me.SQL == "" {
		return ""
	}
	runes := []rune(me.SQL)
	if me.Position > len(runes)+1 {
		return ""
	}
	before := string(runes[:me.Position-1])
	lineInStmt := strings.Count(before, "\n")
	col := len([]rune(before[strings.LastIndex(before, "\n")+1:]))
	text := []rune(strings.Split(me.SQL, "\n")[lineInStmt])
	col = min(col, len(text))
	// A long line (a dump's one-line INSERT of megabytes) is cut to a
	// window around the spot.
	var head, tail string
	if from := col - caretWindow; from > 0 {
		text, col, head = text[from:], col-from, "…"
	}
	if len(text) > col+caretWindow {
		text, tail = text[:col+caretWindow], "…"
	}
	prefix := fmt.Sprintf("    %s:%d | %s", me.File, me.Line+lineInStmt, head)
	return prefix + string(text) + tail + "\n" + pad(prefix) + pad(string(text[:col])) + "^"
}

// pad is blank space as wide on a terminal as s: tabs kept, so that the
// caret lands under the right character, a wide character (CJK, fullwidth
// forms) two columns, a combining mark or other zero-width one none.
func pad(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t':
			b.WriteByte('\t')
		case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		case wide(r):
			b.WriteString("  ")
		default:
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// wide reports whether a terminal gives r two columns (East Asian Wide and
// Fullwidth; emoji are Wide).
func wide(r rune) bool {
	k := width.LookupRune(r).Kind()
	return k == width.EastAsianWide || k == width.EastAsianFullwidth
}

// caretWindow is how many characters of the failing line caret shows on
// each side of the spot.
const caretWindow = 100

func indent(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		out = append(out, s[i])
		if s[i] == '\n' {
			out = append(out, "    "...)
		}
	}
	return string(out)
}

// failedEarly ends a run refused before it began (a bad flag, an unknown
// command), its message already printed: with --json, stdout still gets the
// report, one object saying what failed.
func (a *app) failedEarly(err error) int {
	if !a.g.json {
		// A refused flag may come before the environment was read:
		// RUNWAY_JSON still asks for the report.
		if v, perr := strconv.ParseBool(strings.TrimSpace(a.getenv("RUNWAY_JSON"))); perr == nil && v {
			a.g.json = true
		}
	}
	if a.g.json && !a.rendered {
		a.renderFailure(usageError{err.Error()})
	}
	return exitUsage
}

// renderFailure prints, with --json, the report of a run that failed
// before the engine made one.
func (a *app) renderFailure(err error) {
	status := report.StatusFailed
	if errors.Is(err, runway.ErrPending) {
		status = report.StatusPending
	}
	rep := &report.Report{
		Command:   a.command,
		Status:    status,
		Source:    a.g.dir,
		Table:     a.g.table,
		StartedAt: time.Now().UTC().Truncate(time.Millisecond),
		Runner:    runnerInfo(),
		Error:     &report.Error{Message: a.secrets.scrub(err.Error())},
	}
	a.render(rep, err)
}
