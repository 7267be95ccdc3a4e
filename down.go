package runway

import (
	"context"
	"errors"
	"fmt"
	"sort"

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
// without changing anything. The CLI shows it before asking for confirmation.
func (r *Runner) DownPlan(ctx context.Context, o DownOptions) ([]report.Pending, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	ms, err := r.load()
	if err != nil {
		return nil, err
	}
	revs, err := r.drv.History(ctx)
	if err != nil {
		return nil, fmt.Errorf("read history table %s: %w", r.cfg.table, err)
	}
	targets, err := downTargets(analyze(ms, revs), o)
	if err != nil {
		return nil, err
	}
	out := make([]report.Pending, len(targets))
	for i, e := range targets {
		out[i] = report.Pending{Version: e.version().String(), Name: e.name()}
		if e.m != nil && e.m.Down != nil {
			out[i].File = e.m.Down.File
		}
	}
	return out, nil
}

func downTargets(a *analysis, o DownOptions) ([]entry, error) {
	var applied []entry
	for _, e := range a.entries {
		if e.rev != nil && e.rev.State.Done() {
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
// It refuses (ErrUsage) before changing anything when a migration to revert has
// no down script or no file.
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
	rep.FromVersion = a.current.String()
	rep.ToVersion = rep.FromVersion
	targets, err := downTargets(a, o)
	if err != nil {
		return r.finish(rep, err)
	}
	// Check every target before reverting the first.
	var problems []Problem
	type downPlan struct {
		e     entry
		stmts []migration.Statement
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
				return r.finish(rep, fmt.Errorf("%w: %w", ErrSource, err))
			}
			plans = append(plans, downPlan{e: e, stmts: stmts})
		}
	}
	if len(problems) > 0 {
		ve := validationError(problems)
		ve.Hint = "Nothing was reverted. Down needs the down script of every migration it reverts, and unedited up files."
		return r.finish(rep, ve)
	}
	if len(plans) == 0 {
		rep.Status = report.StatusNoop
		return r.finish(rep, nil)
	}
	for _, p := range plans {
		m := p.e.m
		r.emit(Event{Kind: EventMigrationStart, Version: m.Version.String(), Name: m.Name, File: m.Down.File, Statements: len(p.stmts), Down: true})
		start := r.cfg.now()
		if r.drv.TransactionalDDL() && !m.Down.NoTransaction {
			err = r.drv.ApplyTx(ctx, []database.Step{{Statements: p.stmts, Remove: m.Version}})
			if err != nil {
				return r.finish(rep, stopped(ctx, r.failed(m.Version, m.Name, m.Down, p.stmts, 0, err, true)))
			}
		} else {
			for i, st := range p.stmts {
				r.emit(Event{Kind: EventStatementStart, Version: m.Version.String(), Name: m.Name, File: m.Down.File,
					Statement: i + 1, Statements: len(p.stmts), Line: st.Line, Down: true})
				if err := r.drv.Exec(ctx, st); err != nil {
					return r.finish(rep, stopped(ctx, r.failed(m.Version, m.Name, m.Down, p.stmts, i, err, true)))
				}
			}
			if err := r.drv.RemoveRevision(ctx, m.Version); err != nil {
				return r.finish(rep, fmt.Errorf("%s was reverted but its history row could not be removed: %w", m.Down.File, err))
			}
		}
		d := r.cfg.now().Sub(start)
		rep.Applied = append(rep.Applied, report.Applied{Version: m.Version.String(), Name: m.Name, DurationMS: d.Milliseconds(), Statements: len(p.stmts)})
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
