package runway

import (
	"fmt"
	"sort"
	"time"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/migration"
	"github.com/runwaydb/runway/report"
)

// entry pairs a migration file with its history row; either may be missing.
type entry struct {
	m   *migration.Migration
	rev *database.Revision
}

func (e entry) version() migration.Version {
	if e.m != nil {
		return e.m.Version
	}
	return e.rev.Version
}

func (e entry) name() string {
	if e.m != nil {
		return e.m.Name
	}
	return e.rev.Name
}

// analysis is the comparison of the source with the history table.
type analysis struct {
	entries    []entry // every version, ascending
	current    migration.Version
	newestFile migration.Version

	pending    []entry // file, no row
	incomplete []entry // file and a running/failed row
	modified   []entry // applied, checksum differs
	missing    []entry // applied, no file, older than the newest file
	ahead      []entry // applied, no file, newer than every file
	orphaned   []entry // running/failed row, no file
	outOfOrder []entry // pending, older than the newest applied
}

func analyze(ms []*migration.Migration, revs []database.Revision) *analysis {
	byVersion := make(map[string]*entry, len(ms)+len(revs))
	a := &analysis{}
	for _, m := range ms {
		byVersion[m.Version.String()] = &entry{m: m}
		if m.Version.Compare(a.newestFile) > 0 {
			a.newestFile = m.Version
		}
	}
	for i := range revs {
		rev := &revs[i]
		k := rev.Version.String()
		if e, ok := byVersion[k]; ok {
			e.rev = rev
		} else {
			byVersion[k] = &entry{rev: rev}
		}
		if rev.State.Done() && rev.Version.Compare(a.current) > 0 {
			a.current = rev.Version
		}
	}
	for _, e := range byVersion {
		a.entries = append(a.entries, *e)
	}
	sort.Slice(a.entries, func(i, j int) bool {
		return a.entries[i].version().Compare(a.entries[j].version()) < 0
	})
	for _, e := range a.entries {
		switch {
		case e.rev == nil:
			a.pending = append(a.pending, e)
			if e.m.Version.Compare(a.current) < 0 {
				a.outOfOrder = append(a.outOfOrder, e)
			}
		case e.m == nil && !e.rev.State.Done():
			a.orphaned = append(a.orphaned, e)
		case e.m == nil && e.rev.Version.Compare(a.newestFile) > 0:
			a.ahead = append(a.ahead, e)
		case e.m == nil:
			a.missing = append(a.missing, e)
		case !e.rev.State.Done():
			a.incomplete = append(a.incomplete, e)
		case e.rev.Checksum != "" && e.rev.Checksum != e.m.Up.Checksum:
			a.modified = append(a.modified, e)
		}
	}
	return a
}

// exact reports whether the source and the history match one to one: every
// file applied (or baselined) with the checksum recorded, and no row without
// a file. Nothing to apply, refuse or warn about.
func (a *analysis) exact() bool {
	for _, e := range a.entries {
		if e.m == nil || e.rev == nil || !e.rev.State.Done() || (e.rev.Checksum != "" && e.rev.Checksum != e.m.Up.Checksum) {
			return false
		}
	}
	return len(a.entries) > 0
}

// todo is everything up would apply, in version order: incomplete rows and pending files.
func (a *analysis) todo() []entry {
	var out []entry
	for _, e := range a.entries {
		if e.m != nil && (e.rev == nil || !e.rev.State.Done()) {
			out = append(out, e)
		}
	}
	return out
}

func problem(e entry, kind, detail string) Problem {
	p := Problem{Version: e.version().String(), Name: e.name(), Kind: kind, Detail: detail}
	if e.m != nil {
		p.File = e.m.Up.File
	}
	return p
}

// upProblems returns what makes up refuse to run, and warnings to print.
func (r *Runner) upProblems(a *analysis) (problems []Problem, warnings []string) {
	for _, e := range a.modified {
		problems = append(problems, problem(e, "modified",
			fmt.Sprintf("the file changed after it was applied on %s (checksum %.12s… recorded, %.12s… now)",
				e.rev.AppliedAt.UTC().Format(time.RFC3339), e.rev.Checksum, e.m.Up.Checksum)))
	}
	for _, e := range a.orphaned {
		problems = append(problems, problem(e, string(e.rev.State),
			"the history has an unfinished migration whose file is gone; restore the file, or fix the database by hand and run `runway repair`"))
	}
	if !r.cfg.allowOutOfOrder {
		for _, e := range a.outOfOrder {
			problems = append(problems, problem(e, "out-of-order",
				fmt.Sprintf("pending, but older than the newest applied migration %s; rename it to a newer version or run with --allow-out-of-order", a.current)))
		}
	}
	for _, e := range a.missing {
		warnings = append(warnings, fmt.Sprintf("%s_%s is applied but its file is missing from the source", e.version(), e.name()))
	}
	if len(a.ahead) > 0 {
		msg := fmt.Sprintf("the database is ahead of the source: %d applied migration(s) newer than any file (newest %s_%s); an older release may be deployed",
			len(a.ahead), a.ahead[len(a.ahead)-1].version(), a.ahead[len(a.ahead)-1].name())
		if r.cfg.strict {
			for _, e := range a.ahead {
				problems = append(problems, problem(e, "ahead", "applied in the database, newer than every file in the source (--strict)"))
			}
		} else {
			warnings = append(warnings, msg)
		}
	}
	return problems, warnings
}

func validationError(problems []Problem) *ValidationError {
	hints := map[string]string{
		"modified":      "An applied migration must not be edited: restore the file and put the change in a new migration, or, if the edit is only cosmetic, record the new checksums with `runway repair --accept-checksums`.",
		"out-of-order":  "Give new migrations versions newer than the newest applied one, or pass --allow-out-of-order.",
		"resume-edited": "Statements that already ran must not change: restore them and fix only the failing statement, or put the database right by hand and run `runway repair`.",
		"ahead":         "Deploy the release that has these migrations, or drop --strict to proceed with a warning.",
	}
	hint := "Nothing was applied."
	seen := map[string]bool{}
	for _, p := range problems {
		if h, ok := hints[p.Kind]; ok && !seen[p.Kind] {
			seen[p.Kind] = true
			hint += " " + h
		}
	}
	return &ValidationError{Problems: problems, Hint: hint}
}

// statusLines builds the migrations list of the status report.
func statusLines(a *analysis, allowOutOfOrder bool) []report.Migration {
	var out []report.Migration
	outOfOrder := map[string]bool{}
	for _, e := range a.outOfOrder {
		outOfOrder[e.version().String()] = true
	}
	for _, e := range a.entries {
		line := report.Migration{Version: e.version().String(), Name: e.name()}
		if e.m != nil {
			line.File = e.m.Up.File
		}
		if e.rev != nil && !e.rev.AppliedAt.IsZero() {
			t := e.rev.AppliedAt.UTC()
			line.AppliedAt = &t
		}
		switch {
		case e.rev == nil && outOfOrder[line.Version] && !allowOutOfOrder:
			line.State = "out-of-order"
			line.Detail = "pending, older than the newest applied migration"
		case e.rev == nil:
			line.State = "pending"
		case e.m == nil && e.rev.Version.Compare(a.newestFile) > 0 && e.rev.State.Done():
			line.State = "missing"
			line.Detail = "applied, newer than every file: the database is ahead of the source"
		case e.m == nil:
			line.State = "missing"
			line.Detail = "applied, but the file is not in the source"
		case e.rev.State == database.StateFailed || e.rev.State == database.StateRunning:
			line.State = string(e.rev.State)
			line.Detail = fmt.Sprintf("%d of %d statements applied", e.rev.StatementsApplied, e.rev.StatementsTotal)
			if e.rev.Error != "" {
				line.Detail += ": " + e.rev.Error
			}
		case e.rev.Checksum != "" && e.rev.Checksum != e.m.Up.Checksum:
			line.State = "modified"
			line.Detail = "the file changed after it was applied"
		default:
			line.State = string(e.rev.State)
		}
		out = append(out, line)
	}
	return out
}
