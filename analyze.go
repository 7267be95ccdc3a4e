package runway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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
	reverting  []entry // file and a reverting row: a down script that did not finish
	outOfOrder []entry // pending, older than the newest applied
}

func analyze(ms []*migration.Migration, revs []database.Revision) *analysis {
	// Both sides in version order, then one merge: every deploy's no-op check
	// pairs every file with its row, so this runs on each start-up. Versions
	// compare equal exactly when their canonical strings do (ParseVersion
	// drops leading zeros and trailing zero parts), so pairing by Compare is
	// pairing by the version the history stores.
	ms = sortedMigrations(ms)
	rs := sortedRevisions(revs)
	a := &analysis{entries: make([]entry, 0, max(len(ms), len(rs)))}
	if len(ms) > 0 {
		a.newestFile = ms[len(ms)-1].Version
	}
	for i, j := 0, 0; i < len(ms) || j < len(rs); {
		var c int
		switch {
		case i == len(ms):
			c = 1
		case j == len(rs):
			c = -1
		default:
			c = ms[i].Version.Compare(rs[j].Version)
		}
		switch {
		case c < 0:
			a.entries = append(a.entries, entry{m: ms[i]})
			i++
		case c > 0:
			a.entries = append(a.entries, entry{rev: rs[j]})
			j++
		default:
			a.entries = append(a.entries, entry{m: ms[i], rev: rs[j]})
			i++
			j++
		}
	}
	for _, rev := range rs {
		if rev.State.Done() && rev.Version.Compare(a.current) > 0 {
			a.current = rev.Version
		}
	}
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
		case e.rev.State == database.StateReverting:
			a.reverting = append(a.reverting, e)
		case !e.rev.State.Done():
			a.incomplete = append(a.incomplete, e)
		case e.rev.Checksum != "" && e.rev.Checksum != e.m.Up.Checksum:
			a.modified = append(a.modified, e)
		}
	}
	return a
}

// sortedMigrations returns ms in ascending version order with one migration
// per version (the last given wins). LoadSource's result already is, and is
// returned as it is; a slice given to WithMigrations by hand may not be.
func sortedMigrations(ms []*migration.Migration) []*migration.Migration {
	if slices.IsSortedFunc(ms, func(x, y *migration.Migration) int { return x.Version.Compare(y.Version) }) && !hasEqualNeighbours(ms) {
		return ms
	}
	out := slices.Clone(ms)
	slices.SortStableFunc(out, func(x, y *migration.Migration) int { return x.Version.Compare(y.Version) })
	kept := out[:0]
	for i, m := range out {
		if i+1 < len(out) && out[i+1].Version.Equal(m.Version) {
			continue
		}
		kept = append(kept, m)
	}
	return kept
}

func hasEqualNeighbours(ms []*migration.Migration) bool {
	for i := 1; i < len(ms); i++ {
		if ms[i].Version.Equal(ms[i-1].Version) {
			return true
		}
	}
	return false
}

// sortedRevisions points at the rows in ascending version order (the
// history's primary key is the version, so there is one row per version).
// Tables are usually read back in the order the rows were written, which is
// version order, so the sort is mostly a check.
func sortedRevisions(revs []database.Revision) []*database.Revision {
	out := make([]*database.Revision, len(revs))
	for i := range revs {
		out[i] = &revs[i]
	}
	cmp := func(x, y *database.Revision) int { return x.Version.Compare(y.Version) }
	if !slices.IsSortedFunc(out, cmp) {
		slices.SortStableFunc(out, cmp)
	}
	return out
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
	for _, e := range a.reverting {
		if n := e.rev.StatementsTotal; n > 0 && e.rev.StatementsApplied >= n {
			// Each statement was recorded as it ran: only the removal of
			// the row is missing.
			problems = append(problems, problem(e, "reverting", fmt.Sprintf(
				"is half reverted: the %d statements its down script had then all ran%s, and its history row was not removed. Run `runway down` again to finish (it resumes after them: with no statement added to the script since, it only removes the row), or run `runway repair`",
				n, errSuffix(e.rev.Error))))
			continue
		}
		problems = append(problems, problem(e, "reverting", fmt.Sprintf(
			"is half reverted: %d of the %d statements of its down script ran%s. Run `runway down` again to finish reverting it (it resumes at statement %d), or put the database right by hand and run `runway repair`",
			e.rev.StatementsApplied, e.rev.StatementsTotal, errSuffix(e.rev.Error), e.rev.StatementsApplied+1)))
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

// validationError is the refusal of a command that would change the
// database (up); checked is validationFindings, for one that changes nothing.
func validationError(problems []Problem) *ValidationError {
	return problemsError("Nothing was applied.", problems)
}

// validationFindings is the error of validate, plan and wait, which apply
// nothing whatever they find: the same hints, without "Nothing was applied".
func validationFindings(problems []Problem) *ValidationError {
	return problemsError("", problems)
}

func problemsError(lead string, problems []Problem) *ValidationError {
	hints := map[string]string{
		"modified":      "An applied migration must not be edited: restore the file and put the change in a new migration, or, if the edit is only cosmetic, record the new checksums with `runway repair --accept-checksums`.",
		"out-of-order":  "Give new migrations versions newer than the newest applied one, or pass --allow-out-of-order.",
		"resume-edited": "Statements that already ran must not change: restore them and fix only the failing statement, or put the database right by hand and run `runway repair`.",
		"ahead":         "Deploy the release that has these migrations, or drop --strict to proceed with a warning.",
	}
	hint := lead
	seen := map[string]bool{}
	for _, p := range problems {
		if h, ok := hints[p.Kind]; ok && !seen[p.Kind] {
			seen[p.Kind] = true
			hint = strings.TrimSpace(hint + " " + h)
		}
	}
	return &ValidationError{Problems: problems, Hint: hint}
}

// activeHolder is a driver that can name the runner holding the migration
// lock at this moment whatever lock mode it took it in, leaving out a lease
// that expired (a crashed runner's); LockHolder names the holder of this
// driver's own mode, an expired lease included, for a runner waiting for it.
type activeHolder interface {
	ActiveLockHolder(ctx context.Context) (string, error)
}

// liveHolder names the holder of the migration lock when the history has a
// migration in progress (running or reverting): a runner that holds the lock
// is then most likely applying or reverting it at this moment, and the row
// says how far it has got, not where it stopped. "" when no row is in
// progress, when nobody holds the lock, or when the driver cannot tell; only
// when a row is in progress is one more query sent.
func (r *Runner) liveHolder(ctx context.Context, a *analysis) string {
	for _, e := range a.entries {
		if e.rev != nil && (e.rev.State == database.StateRunning || e.rev.State == database.StateReverting) {
			var holder string
			var err error
			if ah, ok := r.drv.(activeHolder); ok {
				holder, err = ah.ActiveLockHolder(ctx)
			} else {
				holder, err = r.drv.LockHolder(ctx)
			}
			if err != nil {
				r.cfg.logger.Debug("could not tell who holds the lock", "error", err)
			}
			return holder
		}
	}
	return ""
}

// liveDetail is what a migration in progress (state running or reverting)
// adds to its status detail while holder holds the lock.
func liveDetail(state, holder string) string {
	doing := "applied"
	if state == string(database.StateReverting) {
		doing = "reverted"
	}
	return "; the migration lock is held by " + holder + ": it is likely being " + doing + " now"
}

// liveReverting rewrites the refusal of a half-reverted migration while
// holder holds the lock: most likely a down is reverting it at this moment,
// and running down again is not what to do.
func liveReverting(problems []Problem, a *analysis, holder string) {
	for i, p := range problems {
		if p.Kind != "reverting" {
			continue
		}
		for _, e := range a.reverting {
			if e.version().String() == p.Version {
				problems[i].Detail = fmt.Sprintf("is being reverted, most likely at this moment: the migration lock is held by %s, and %d of the %d statements of its down script have run so far. Look again once that run has ended",
					holder, e.rev.StatementsApplied, e.rev.StatementsTotal)
			}
		}
	}
}

// statusLines builds the migrations list of the status report.
func statusLines(a *analysis, allowOutOfOrder bool) []report.Migration {
	out := make([]report.Migration, 0, len(a.entries))
	times := make([]time.Time, len(a.entries)) // one allocation for every AppliedAt
	outOfOrder := map[string]bool{}
	for _, e := range a.outOfOrder {
		outOfOrder[e.version().String()] = true
	}
	for i, e := range a.entries {
		line := report.Migration{Version: e.version().String(), Name: e.name()}
		if e.m != nil {
			line.File = e.m.Up.File
		}
		if e.rev != nil && !e.rev.AppliedAt.IsZero() {
			times[i] = e.rev.AppliedAt.UTC()
			line.AppliedAt = &times[i]
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
		case e.rev.State == database.StateReverting:
			line.State = string(e.rev.State)
			line.Detail = fmt.Sprintf("%d of %d down statements applied", e.rev.StatementsApplied, e.rev.StatementsTotal)
			if e.rev.Error != "" {
				line.Detail += ": " + e.rev.Error
			}
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

// errNotExact stops a scan of the history at its first row that is not one of
// the files applied unchanged.
var errNotExact = errors.New("the history is not exactly the files applied")

// scanExact asks a driver that can scan the history row by row
// (database.StateScanner) whether it matches the source one to one, as
// analysis.exact would say, without collecting the rows: every row a file's,
// applied (or baselined) with its checksum or none recorded, and every file
// a row's. rows is the number of rows seen, -1 when the driver cannot scan or
// the scan failed. On a mismatch the scan stops, rows counts the rows seen so
// far (at least one), and the caller reads the history to find out more.
func (r *Runner) scanExact(ctx context.Context, ms []*migration.Migration) (exact bool, rows int) {
	sc, ok := r.drv.(database.StateScanner)
	if !ok {
		return false, -1
	}
	sorted := sortedMigrations(ms)
	if len(sorted) != len(ms) {
		return false, -1 // two files of one version: left to analyze
	}
	seen := make([]bool, len(sorted))
	next := 0 // the file after the last row's
	err := sc.ScanStates(ctx, func(version, checksum, state []byte) error {
		rows++
		// The rows come mostly in the order they were written, the
		// versions' order: the file after the last row's is tried first,
		// on the version's digits, before the version is parsed and
		// looked up.
		i, found := next, false
		if n, ok := number(version); ok && i < len(sorted) {
			m, one := sorted[i].Version.Number()
			found = one && m == n
		}
		if !found {
			v, err := migration.ParseVersion(string(version))
			if err != nil {
				return err
			}
			i, found = slices.BinarySearchFunc(sorted, v, func(m *migration.Migration, v migration.Version) int { return m.Version.Compare(v) })
		}
		if !found || seen[i] || !database.State(state).Done() ||
			(len(checksum) > 0 && string(checksum) != sorted[i].Up.Checksum) {
			return errNotExact
		}
		seen[i] = true
		next = i + 1
		return nil
	})
	switch {
	case errors.Is(err, errNotExact):
		return false, rows
	case err != nil:
		r.cfg.logger.Debug("could not scan the history; reading it", "error", err)
		return false, -1
	}
	return rows == len(sorted) && rows > 0, rows
}

// number reads b as a version of one part: 1 to 19 digits, which any
// uint64 holds.
func number(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// exactAnalysis is the analysis of a history that scanExact found to match
// ms one to one: nothing pending, nothing to refuse or warn about.
func exactAnalysis(ms []*migration.Migration) *analysis {
	a := &analysis{}
	for _, m := range ms {
		if m.Version.Compare(a.current) > 0 {
			a.current = m.Version
		}
	}
	a.newestFile = a.current
	return a
}

// errSuffix is ", then: ERR" for a history row's error, or nothing.
func errSuffix(msg string) string {
	if msg == "" {
		return ""
	}
	return ", then: " + msg
}
