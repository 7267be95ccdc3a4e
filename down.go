package runway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/migration"
	"github.com/runwaydb/runway/report"
)

// DownOptions says what Down reverts. Exactly one of Steps, To and All may be
// set; the zero value reverts the newest applied migration.
type DownOptions struct {
	Steps int
	// To reverts every applied migration newer than this version (which stays applied).
	To  migration.Version
	All bool
	// Expect, when not nil, is what the caller showed a person for
	// confirmation (DownPlan's versions, newest first): Down then reverts
	// nothing, with an ErrUsage error, when under the lock it finds other
	// migrations to revert (another runner applied or reverted some since).
	Expect []migration.Version
}

func (o DownOptions) validate() error {
	n := 0
	if o.Steps != 0 {
		n++
	}
	if !o.To.IsZero() {
		n++
	}
	if o.All {
		n++
	}
	if n > 1 {
		return fmt.Errorf("%w: choose one of --steps, --to and --all", ErrUsage)
	}
	if o.Steps < 0 {
		return fmt.Errorf("%w: --steps must be positive", ErrUsage)
	}
	return nil
}

// DownPlan lists the applied migrations Down would revert, newest first,
// without changing anything, and refuses as Down would (a *ValidationError)
// when one of them cannot be reverted. The CLI shows it before asking for
// confirmation; pass its versions as DownOptions.Expect.
func (r *Runner) DownPlan(ctx context.Context, o DownOptions) ([]report.Pending, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	ms, err := r.load()
	if err != nil {
		return nil, err
	}
	revs, err := r.historyOutsideLock(ctx)
	if err != nil {
		return nil, fmt.Errorf("read history table %s: %w", r.cfg.table, err)
	}
	plans, err := r.downPlans(analyze(ms, revs), o)
	if err != nil {
		return nil, err
	}
	out := make([]report.Pending, len(plans))
	for i, p := range plans {
		out[i] = report.Pending{Version: p.e.version().String(), Name: p.e.name(), File: p.e.m.Down.File}
		switch {
		case len(p.stmts) == 0:
			out[i].Note = "its down script has no statements: only its history row is removed"
		case p.resumeAt >= len(p.stmts):
			out[i].Note = fmt.Sprintf("half reverted: all %d statements ran in an earlier run; only its history row is removed", len(p.stmts))
		case p.resumeAt > 0:
			out[i].Note = fmt.Sprintf("half reverted: resumes at statement %d of %d", p.resumeAt+1, len(p.stmts))
		}
	}
	return out, nil
}

// downPlan is one migration Down reverts, with its down statements and,
// for one an earlier down left half reverted, where to resume.
type downPlan struct {
	e        entry
	stmts    []migration.Statement
	resumeAt int
	replay   []replayed // of the first resumeAt, the ones that set the session, sent again first (session.go)
}

// downPlans picks what o reverts and checks every target before the first
// is reverted: each needs its file, an unedited up file and a down script,
// and no unfinished migration may sit above them (reverting below a
// half-applied migration would leave it half applied on top of a schema it
// was not written for).
func (r *Runner) downPlans(a *analysis, o DownOptions) ([]downPlan, error) {
	targets, err := downTargets(a, o)
	if err != nil {
		return nil, err
	}
	var problems []Problem
	if len(targets) > 0 {
		oldest := targets[len(targets)-1].version()
		for _, e := range append(slices.Clone(a.incomplete), a.orphaned...) {
			if e.version().Compare(oldest) > 0 {
				problems = append(problems, problem(e, string(e.rev.State), fmt.Sprintf(
					"is unfinished (%d of %d statements applied): finish it with `runway up`, or put the database right by hand and run `runway repair`, before reverting the migrations below it",
					e.rev.StatementsApplied, e.rev.StatementsTotal)))
			}
		}
	}
	plans := make([]downPlan, 0, len(targets))
	for _, e := range targets {
		switch {
		case e.m == nil:
			problems = append(problems, problem(e, "missing", "applied, but its file is not in the source, so there is no down migration to run"))
		case e.m.Down == nil:
			problems = append(problems, problem(e, "no-down", "has no down migration"))
		case e.rev.Checksum != "" && e.rev.Checksum != e.m.Up.Checksum:
			problems = append(problems, problem(e, "modified", "the up file changed after it was applied; its down script may not match what the database has"))
		default:
			stmts, err := e.m.Down.Statements(r.drv.Dialect())
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrSource, err)
			}
			if r.drv.TransactionalDDL() && !e.m.Down.NoTransaction && e.rev.State != database.StateReverting {
				stmts, err = unwrapTx(e.m.Down.File, stmts)
			} else {
				err = checkTxEnd(e.m.Down.File, r.drv.Dialect(), stmts)
			}
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrSource, err)
			}
			p := downPlan{e: e, stmts: stmts}
			if e.rev.State == database.StateReverting {
				// Resume after the statements the earlier down ran, if
				// they are the ones in the file now.
				p.resumeAt = e.rev.StatementsApplied
				if p.resumeAt > len(stmts) || changed(e.rev.StatementChecksums, stmts[:p.resumeAt]) {
					pr := problem(e, "resume-edited", fmt.Sprintf(
						"%d statement(s) of its down script ran before it stopped, and they are not the first statements of %s any more", p.resumeAt, e.m.Down.File))
					pr.File = e.m.Down.File
					problems = append(problems, pr)
					continue
				}
				if p.resumeAt < len(stmts) {
					p.replay = sessionSetters(r.drv.Dialect(), stmts[:p.resumeAt])
				}
			}
			plans = append(plans, p)
		}
	}
	if len(problems) > 0 {
		ve := validationError(problems)
		ve.Hint = "Nothing was reverted. Down needs the down script of every migration it reverts, unedited up files, and no unfinished migration above them."
		return nil, ve
	}
	return plans, nil
}

func downTargets(a *analysis, o DownOptions) ([]entry, error) {
	var applied []entry
	for _, e := range a.entries {
		// A half-reverted migration counts as applied: down finishes it.
		if e.rev != nil && (e.rev.State.Done() || e.rev.State == database.StateReverting) {
			applied = append(applied, e)
		}
	}
	sort.SliceStable(applied, func(i, j int) bool { return applied[i].version().Compare(applied[j].version()) > 0 })
	if !o.To.IsZero() {
		found := false
		for _, e := range a.entries {
			if e.version().Equal(o.To) {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: --to %s: no migration with that version in the source or the history", ErrUsage, o.To)
		}
	}
	var out []entry
	for _, e := range applied {
		switch {
		case o.All:
		case !o.To.IsZero():
			if e.version().Compare(o.To) <= 0 {
				return out, nil
			}
		default:
			steps := o.Steps
			if steps == 0 {
				steps = 1
			}
			if len(out) == steps {
				return out, nil
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// Down reverts applied migrations, newest first, under the migration lock.
// It refuses with a *ValidationError (ErrValidation) before changing anything
// when a migration to revert has no down script, no file or an edited up
// file, or when an unfinished migration sits above them; with ErrUsage when
// o.Expect is set and the migrations to revert are not those. A migration
// whose down script has no statements is reverted (its history row removed)
// with a warning.
func (r *Runner) Down(ctx context.Context, o DownOptions) (*report.Report, error) {
	rep := r.newReport("down")
	if err := o.validate(); err != nil {
		return r.finish(rep, err)
	}
	ms, err := r.load()
	if err != nil {
		return r.finish(rep, err)
	}
	ctx, release, err := r.lock(ctx)
	if err != nil {
		return r.finish(rep, err)
	}
	defer release()
	revs, err := r.drv.History(ctx)
	if err != nil {
		return r.finish(rep, fmt.Errorf("read history table %s: %w", r.cfg.table, err))
	}
	a := analyze(ms, revs)
	from := a.current
	for _, e := range a.reverting {
		// A half-reverted migration is where the database stands until
		// its down finishes: "2 → 1", not "1 → 1".
		if v := e.version(); v.Compare(from) > 0 {
			from = v
		}
	}
	rep.FromVersion = from.String()
	rep.ToVersion = rep.FromVersion
	plans, err := r.downPlans(a, o)
	if err != nil {
		return r.finish(rep, err)
	}
	if o.Expect != nil {
		got := make([]migration.Version, len(plans))
		for i, p := range plans {
			got[i] = p.e.version()
		}
		if !slices.EqualFunc(got, o.Expect, migration.Version.Equal) {
			return r.finish(rep, fmt.Errorf("%w: the history changed since the migrations to revert were shown (now: %s; shown: %s), so nothing was reverted: run down again",
				ErrUsage, versionList(got), versionList(o.Expect)))
		}
	}
	if len(plans) == 0 {
		rep.Status = report.StatusNoop
		return r.finish(rep, nil)
	}
	for _, p := range plans {
		if len(p.stmts) == 0 {
			r.warn(rep, []string{fmt.Sprintf("%s has no statements: reverting %s only removes its history row, without changing the database", p.e.m.Down.File, p.e.m.Up.File)})
		}
	}
	for _, p := range plans {
		m := p.e.m
		r.emit(Event{Kind: EventMigrationStart, Version: m.Version.String(), Name: m.Name, File: m.Down.File, Statements: len(p.stmts), Down: true,
			Resumed: p.resumeAt, Replayed: replayedNumbers(p.replay)})
		start := r.cfg.now()
		// A half-reverted migration resumes statement by statement, as it
		// began, even if its down script lost its no-transaction marker.
		if r.drv.TransactionalDDL() && !m.Down.NoTransaction && p.resumeAt == 0 {
			err = r.drv.ApplyTx(ctx, []database.Step{{Statements: p.stmts, Remove: m.Version}})
			if err != nil {
				return r.finish(rep, stopped(ctx, r.failed(m.Version, m.Name, m.Down, allOf(p.stmts), 0, err, true)))
			}
		} else if err := r.revertStatements(ctx, p); err != nil {
			return r.finish(rep, err)
		}
		d := r.cfg.now().Sub(start)
		rep.Applied = append(rep.Applied, report.Applied{Version: m.Version.String(), Name: m.Name, DurationMS: d.Milliseconds(), Statements: len(p.stmts),
			Resumed: p.resumeAt, Replayed: replayedNumbers(p.replay)})
		r.emit(Event{Kind: EventMigrationDone, Version: m.Version.String(), Name: m.Name, File: m.Down.File, Duration: d, Down: true})
	}
	// The new current version is the newest still applied.
	revs, err = r.drv.History(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		return r.finish(rep, fmt.Errorf("read history table %s: %w", r.cfg.table, err))
	}
	after := analyze(ms, revs)
	rep.ToVersion = after.current.String()
	setPending(rep, after, nil)
	rep.Status = report.StatusReverted
	return r.finish(rep, nil)
}

// versionList is vs for a message: "3, 2", or "none".
func versionList(vs []migration.Version) string {
	if len(vs) == 0 {
		return "none"
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return strings.Join(out, ", ")
}

// sameStatements reports whether stmts have the checksums recorded.
func changed(checksums []string, stmts []migration.Statement) bool {
	_, c := database.Changed(checksums, stmts)
	return c
}

// revertStatements runs a down script statement by statement outside a
// transaction (MySQL DDL, no-transaction down scripts), recording its
// progress in the migration's history row (state reverting) so that a
// failure or a killed runner leaves a row that says how far it got, and the
// next down resumes there; the row is removed at the end.
func (r *Runner) revertStatements(ctx context.Context, p downPlan) error {
	m := p.e.m
	rev := *p.e.rev
	rev.State = database.StateReverting
	rev.StatementsTotal = len(p.stmts)
	rev.StatementsApplied = p.resumeAt
	sums := database.SumsOf(p.stmts[:p.resumeAt])
	rev.StatementChecksums = sums.Column()
	rev.Error = ""
	if err := r.replaySession(ctx, m.Down.File, p.replay, p.resumeAt); err != nil {
		return r.downFailEvent(p, err)
	}
	if err := r.drv.WriteRevision(ctx, rev); err != nil {
		return r.downFailEvent(p, fmt.Errorf("record %s as reverting: %w", m.Down.File, err))
	}
	pe, withProgress := r.drv.(database.ProgressExecer)
	for i := p.resumeAt; i < len(p.stmts); i++ {
		st := p.stmts[i]
		r.emit(Event{Kind: EventStatementStart, Version: m.Version.String(), Name: m.Name, File: m.Down.File,
			Statement: i + 1, Statements: len(p.stmts), Line: st.Line, Down: true})
		// Each statement goes with the write of its progress where the
		// driver can (database.ProgressExecer), as up's do: a run killed
		// while the server finishes the statement leaves it recorded, and
		// the last one is recorded before the row is removed, so a removal
		// that fails (the connection lost, or refused to a role the script
		// switched to) leaves nothing to run again.
		sums.Add(st.Checksum())
		next := rev
		next.StatementsApplied = i + 1
		next.StatementChecksums = sums.Column()
		_, recorded, err := r.execProgress(ctx, nil, false, pe, withProgress, []database.Progress{{Statement: st, Row: next}}, func(int) {})
		if errors.Is(err, database.ErrNotRecorded) {
			// It ran; its record did not: as when WriteRevision fails below.
			return r.downFailEvent(p, fmt.Errorf("record progress of %s (statement %d reverted): %w", m.Down.File, i+1, err))
		}
		if err != nil {
			ferr := r.failed(m.Version, m.Name, m.Down, allOf(p.stmts), i, err, true)
			if !refused(err) {
				// The row stays reverting, with the error, even when no
				// statement completed: the failing one ran outside a
				// transaction and may have done part of its work. Inside
				// one the script opened, that transaction is rolled back
				// and the row records what committed (see settle).
				rev.Error = r.historyText(errMessage(err))
				wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				undoneFrom, werr := r.settle(wctx, &rev)
				if werr == nil {
					werr = r.drv.WriteRevision(wctx, rev)
				}
				cancel()
				if me, ok := ferr.(*MigrationError); ok {
					me.NoTransaction = true
					noteUndone(me, undoneFrom)
					if werr != nil {
						me.RecordErr = werr
					}
				}
			}
			return stopped(ctx, ferr)
		}
		rev = next
		if !recorded {
			// The last one too: the removal below may fail, and the next
			// down must not run it again.
			if err := r.drv.WriteRevision(ctx, rev); err != nil {
				return r.downFailEvent(p, fmt.Errorf("record progress of %s (statement %d reverted): %w", m.Down.File, i+1, err))
			}
		}
	}
	if err := r.drv.RemoveRevision(ctx, m.Version); err != nil {
		return r.downFailEvent(p, fmt.Errorf("%s was reverted, each of its statements recorded, but its history row could not be removed (the next `runway down` removes it without running any of them again): %w", m.Down.File, err))
	}
	return nil
}

// downFailEvent ends p's events with a failure that is not a statement's.
func (r *Runner) downFailEvent(p downPlan, err error) error {
	r.emit(Event{Kind: EventMigrationFail, Version: p.e.m.Version.String(), Name: p.e.m.Name, File: p.e.m.Down.File, Down: true, Err: err})
	return err
}
