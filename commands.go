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

// Status reports every migration of the source and the history: applied,
// pending, missing, modified, failed. It takes no lock and changes nothing.
// With check set it returns ErrPending when anything is pending.
func (r *Runner) Status(ctx context.Context, check bool) (*report.Report, error) {
	rep := r.newReport("status")
	ms, err := r.load()
	if err != nil {
		return r.finish(rep, err)
	}
	revs, err := r.historyOutsideLock(ctx)
	if err != nil {
		return r.finish(rep, fmt.Errorf("read history table %s: %w", r.cfg.table, err))
	}
	a := analyze(ms, revs)
	rep.FromVersion = a.current.String()
	rep.ToVersion = rep.FromVersion
	rep.Migrations = statusLines(a, r.cfg.allowOutOfOrder)
	if holder := r.liveHolder(ctx, a); holder != "" {
		for i, line := range rep.Migrations {
			if line.State == string(database.StateRunning) || line.State == string(database.StateReverting) {
				rep.Migrations[i].Detail += liveDetail(line.State, holder)
			}
		}
	}
	setPending(rep, a, nil)
	_, warnings := r.upProblems(a)
	foreign, err := r.foreignProblems(ctx, revs)
	if err != nil {
		return r.finish(rep, err)
	}
	for _, p := range foreign {
		warnings = append(warnings, p.Detail+"; up refuses to run until then")
	}
	rep.Warnings = warnings
	rep.Status = report.StatusOK
	if len(rep.Pending) > 0 {
		rep.Status = report.StatusPending
		if check {
			return r.finish(rep, fmt.Errorf("%w: %d migration(s) not applied", ErrPending, len(rep.Pending)))
		}
	}
	return r.finish(rep, nil)
}

// Plan reports what Up would run, with the SQL of each statement, and
// refuses as Up would. It changes nothing.
func (r *Runner) Plan(ctx context.Context, o UpOptions) (*report.Report, error) {
	rep := r.newReport("plan")
	if o.Steps < 0 {
		return r.finish(rep, fmt.Errorf("%w: --steps must be positive", ErrUsage))
	}
	ms, err := r.load()
	if err != nil {
		return r.finish(rep, err)
	}
	if !o.To.IsZero() && !hasVersion(ms, o.To) {
		return r.finish(rep, fmt.Errorf("%w: --to %s: no migration with that version in the source", ErrUsage, o.To))
	}
	revs, err := r.historyOutsideLock(ctx)
	if err != nil {
		return r.finish(rep, fmt.Errorf("read history table %s: %w", r.cfg.table, err))
	}
	a := analyze(ms, revs)
	rep.FromVersion = a.current.String()
	rep.ToVersion = rep.FromVersion
	problems, warnings := r.upProblems(a)
	rep.Warnings = warnings
	holder := r.liveHolder(ctx, a)
	if holder != "" {
		liveReverting(problems, a, holder)
	}
	foreign, err := r.foreignProblems(ctx, revs)
	if err != nil {
		return r.finish(rep, err)
	}
	problems = append(problems, foreign...)
	var plans []applyPlan
	for _, e := range limit(a.todo(), o) {
		if e.rev != nil && e.rev.State == database.StateReverting {
			continue // a half-reverted migration: refused above, not planned as an up
		}
		p, err := r.planApply(e)
		if err != nil {
			return r.finish(rep, err)
		}
		plans = append(plans, p)
	}
	problems = append(problems, resumeProblems(plans)...)
	setPending(rep, a, nil)
	if len(problems) > 0 {
		return r.finish(rep, validationFindings(problems))
	}
	for _, p := range plans {
		pl := report.Planned{Version: p.e.m.Version.String(), Name: p.e.m.Name, File: p.e.m.Up.File,
			NoTransaction: !p.useTx, ResumeAt: p.resumeAt}
		if holder != "" && p.e.rev != nil && p.e.rev.State == database.StateRunning {
			pl.RunningBy = holder
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s_%s is recorded as running, and the migration lock is held by %s: it is likely being applied now. "+
				"A run started now waits for the lock, then does what is left; this plan is what it would do were that runner to stop here",
				pl.Version, pl.Name, holder))
		}
		for _, rp := range p.replay {
			pl.Replayed = append(pl.Replayed, report.Statement{Number: rp.number, Line: rp.st.Line, SQL: rp.st.SQL, Unset: rp.unset})
		}
		if p.lazy {
			// A large file run statement by statement: read as up reads it.
			for st, err := range p.remaining(r.drv.Dialect()) {
				if err != nil {
					return r.finish(rep, fmt.Errorf("%w: %w", ErrSource, err))
				}
				pl.Statements = append(pl.Statements, report.Statement{Line: st.Line, SQL: st.SQL})
			}
		} else {
			for _, st := range p.stmts[p.resumeAt:] {
				pl.Statements = append(pl.Statements, report.Statement{Line: st.Line, SQL: st.SQL})
			}
		}
		if p.stream != nil {
			// A large file up sends as it reads it: read it the same way,
			// with the checks up makes on the way.
			for st, err := range unwrapTxSeq(p.e.m.Up.File, p.e.m.Up.StatementSeq(r.drv.Dialect())) {
				if err != nil {
					return r.finish(rep, fmt.Errorf("%w: %w", ErrSource, err))
				}
				pl.Statements = append(pl.Statements, report.Statement{Line: st.Line, SQL: st.SQL})
			}
		}
		rep.Plan = append(rep.Plan, pl)
		if p.e.m.Version.Compare(a.current) > 0 {
			rep.ToVersion = pl.Version // not an older one --allow-out-of-order fills in
		}
	}
	rep.Status = report.StatusOK
	if len(plans) > 0 {
		rep.Status = report.StatusPending
	}
	return r.finish(rep, nil)
}

// ValidateFiles checks the source alone: every file parses and splits for the
// driver's dialect, versions are unique and, with WithRequireDown, every
// migration has a down script.
func ValidateFiles(ms []*migration.Migration, d migration.Dialect, requireDown bool) []Problem {
	var problems []Problem
	// Where DDL is transactional a script runs in Runway's transaction,
	// which refuses the script's own transaction control as up and down do.
	txDDL := d != migration.MySQL
	for _, m := range ms {
		e := entry{m: m}
		if err := splits(m.Up, d, txDDL && !m.Up.NoTransaction); err != nil {
			problems = append(problems, problem(e, "syntax", err.Error()))
		}
		if m.Down != nil {
			if err := splits(m.Down, d, txDDL && !m.Down.NoTransaction); err != nil {
				p := problem(e, "syntax", err.Error())
				p.File = m.Down.File
				problems = append(problems, p)
			} else if requireDown && empty(m.Down, d) {
				p := problem(e, "no-down", "its down script has no statements, only comments (required): write the SQL that reverts the migration")
				p.File = m.Down.File
				problems = append(problems, p)
			}
		} else if requireDown {
			problems = append(problems, problem(e, "no-down", "has no down migration (required)"))
		}
	}
	return problems
}

// empty reports whether s has no statements for d (a placeholder `runway
// new` wrote and nobody filled in).
func empty(s *migration.Script, d migration.Dialect) bool {
	for range s.StatementSeq(d) {
		return false // a statement, or an error: not empty
	}
	return true
}

// splits reports whether s splits into statements for d, and, inTx, holds
// no transaction control Runway's transaction refuses, or else leaves no
// transaction open at its end (see txTracker); a large script is read as a
// stream, not held whole.
func splits(s *migration.Script, d migration.Dialect, inTx bool) error {
	seq := s.StatementSeq(d)
	if inTx {
		seq = unwrapTxSeq(s.File, seq)
	}
	txEnd := newTxTracker(d)
	for st, err := range seq {
		if err != nil {
			return err
		}
		txEnd.add(st)
	}
	if inTx {
		return nil
	}
	return txEnd.err(s.File)
}

// Validate checks the files and the history against each other: applied
// checksums, missing files, order. It changes nothing.
func (r *Runner) Validate(ctx context.Context) (*report.Report, error) {
	rep := r.newReport("validate")
	ms, err := r.load()
	if err != nil {
		return r.finish(rep, err)
	}
	problems := ValidateFiles(ms, r.drv.Dialect(), r.cfg.requireDown)
	revs, err := r.historyOutsideLock(ctx)
	if err != nil {
		return r.finish(rep, fmt.Errorf("read history table %s: %w", r.cfg.table, err))
	}
	a := analyze(ms, revs)
	rep.FromVersion = a.current.String()
	rep.ToVersion = rep.FromVersion
	rep.Migrations = statusLines(a, r.cfg.allowOutOfOrder)
	setPending(rep, a, nil)
	up, warnings := r.upProblems(a)
	problems = append(problems, up...)
	for _, e := range a.missing {
		problems = append(problems, problem(e, "missing", "applied, but the file is not in the source"))
	}
	for _, e := range a.incomplete {
		detail := fmt.Sprintf("%d of %d statements applied", e.rev.StatementsApplied, e.rev.StatementsTotal)
		if e.rev.Error != "" {
			detail += ": " + e.rev.Error
		}
		problems = append(problems, problem(e, string(e.rev.State), detail))
	}
	foreign, err := r.foreignProblems(ctx, revs)
	if err != nil {
		return r.finish(rep, err)
	}
	problems = append(problems, foreign...)
	rep.Warnings = warnings
	if len(problems) > 0 {
		return r.finish(rep, validationFindings(problems))
	}
	rep.Status = report.StatusOK
	return r.finish(rep, nil)
}

// Baseline records every migration of the source up to and including v as
// applied, without running it: for a database that already has that schema.
func (r *Runner) Baseline(ctx context.Context, v migration.Version) (*report.Report, error) {
	rep := r.newReport("baseline")
	ms, err := r.load()
	if err != nil {
		return r.finish(rep, err)
	}
	if v.IsZero() || !hasVersion(ms, v) {
		return r.finish(rep, fmt.Errorf("%w: baseline %s: no migration with that version in the source", ErrUsage, v))
	}
	ctx, release, revs, err := r.lockedHistory(ctx)
	if err != nil {
		return r.finish(rep, err)
	}
	defer release()
	a := analyze(ms, revs)
	rep.FromVersion = a.current.String()
	now := r.cfg.now()
	for _, e := range a.entries {
		if e.m == nil || e.m.Version.Compare(v) > 0 || (e.rev != nil && e.rev.State.Done()) {
			continue
		}
		if e.rev != nil {
			return r.finish(rep, validationError([]Problem{problem(e, string(e.rev.State), "has an unfinished history row; run `runway repair` first")}))
		}
		rev := r.revision(e.m, database.StateBaseline, now)
		if err := r.drv.WriteRevision(ctx, rev); err != nil {
			return r.finish(rep, fmt.Errorf("record %s as baseline: %w", e.m.Up.File, err))
		}
		rep.Applied = append(rep.Applied, report.Applied{Version: e.m.Version.String(), Name: e.m.Name})
	}
	rep.ToVersion = rep.FromVersion
	if v.Compare(a.current) > 0 {
		rep.ToVersion = v.String()
	}
	if revs, err = r.drv.History(ctx); err == nil {
		setPending(rep, analyze(ms, revs), nil)
	}
	rep.Status = report.StatusApplied
	if len(rep.Applied) == 0 {
		rep.Status = report.StatusNoop
	}
	return r.finish(rep, nil)
}

// RepairOptions says what Repair fixes besides clearing unfinished rows.
type RepairOptions struct {
	// AcceptChecksums records the current checksum of every applied migration
	// whose file was edited.
	AcceptChecksums bool
}

// Repair clears the history rows left `failed` or `running` by an
// interrupted migration that could not roll back, once the operator has put
// the database right by hand: the next up runs those migrations again from
// their first statement. A `reverting` row (a down that stopped part-way) is
// cleared too: the migration then counts as reverted. With AcceptChecksums it
// also re-records edited files.
func (r *Runner) Repair(ctx context.Context, o RepairOptions) (*report.Report, error) {
	rep := r.newReport("repair")
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
	for _, e := range slices.Concat(a.incomplete, a.orphaned, a.reverting) {
		if err := r.drv.RemoveRevision(ctx, e.version()); err != nil {
			return r.finish(rep, fmt.Errorf("clear the %s row of %s: %w", e.rev.State, e.version(), err))
		}
		rep.Repaired = append(rep.Repaired, report.Repaired{Version: e.version().String(), Name: e.name(), Action: "cleared",
			State: string(e.rev.State), StatementsApplied: e.rev.StatementsApplied})
		msg := fmt.Sprintf("cleared the %s row of %s_%s (%d of %d statements had been applied); `runway up` runs it again from its first statement",
			e.rev.State, e.version(), e.name(), e.rev.StatementsApplied, e.rev.StatementsTotal)
		if e.rev.State == database.StateReverting {
			msg = fmt.Sprintf("cleared the reverting row of %s_%s (%d of %d down statements had run): it counts as reverted, and `runway up` applies it again; if you restored it instead, record it with `runway baseline %s`",
				e.version(), e.name(), e.rev.StatementsApplied, e.rev.StatementsTotal, e.version())
		}
		r.emit(Event{Kind: EventWarning, Version: e.version().String(), Message: msg})
	}
	if o.AcceptChecksums {
		for _, e := range a.modified {
			rev := *e.rev
			rev.Checksum = e.m.Up.Checksum
			if err := r.drv.WriteRevision(ctx, rev); err != nil {
				return r.finish(rep, fmt.Errorf("record the new checksum of %s: %w", e.m.Up.File, err))
			}
			rep.Repaired = append(rep.Repaired, report.Repaired{Version: e.version().String(), Name: e.name(), Action: "accepted-checksum"})
			r.emit(Event{Kind: EventWarning, Version: e.version().String(), Message: fmt.Sprintf("accepted the edited %s: recorded its new checksum", e.m.Up.File)})
		}
	} else if len(a.modified) > 0 {
		r.warn(rep, []string{fmt.Sprintf("%d applied migration(s) were edited; pass --accept-checksums to record their new checksums", len(a.modified))})
	}
	rep.Status = report.StatusNoop
	setPending(rep, a, nil)
	if len(rep.Repaired) > 0 {
		rep.Status = report.StatusOK
		// What is pending and current now that the rows are gone.
		revs, err := r.drv.History(ctx)
		if err != nil {
			return r.finish(rep, fmt.Errorf("read history table %s: %w", r.cfg.table, err))
		}
		a = analyze(ms, revs)
		rep.ToVersion = a.current.String()
		setPending(rep, a, nil)
	}
	return r.finish(rep, nil)
}

// Wait blocks until every migration of the source is applied, polling the
// history table, or until ctx ends (ErrPending). It never takes the lock.
func (r *Runner) Wait(ctx context.Context) (*report.Report, error) {
	rep := r.newReport("wait")
	ms, err := r.load()
	if err != nil {
		return r.finish(rep, err)
	}
	// An application that gates its start on wait (or exec) mostly finds
	// everything applied: one scan answers that without the full rows.
	if exact, _ := r.scanExact(ctx, ms); exact {
		a := exactAnalysis(ms)
		rep.FromVersion = a.current.String()
		rep.ToVersion = rep.FromVersion
		rep.Status = report.StatusOK
		return r.finish(rep, nil)
	}
	warned := map[string]bool{} // failed migrations already said
	var failed []string
	for {
		revs, err := r.drv.History(ctx)
		if err != nil && ctx.Err() == nil && !errors.Is(err, database.ErrBusy) {
			// A database busy with another run's migration (SQLite) is
			// looked at again at the next poll.
			return r.finish(rep, fmt.Errorf("read history table %s: %w", r.cfg.table, err))
		}
		if err == nil {
			a := analyze(ms, revs)
			// A failed migration stays pending until someone acts: say so
			// once, rather than wait in silence until the timeout.
			failed = failed[:0]
			for _, e := range a.incomplete {
				if e.rev.State != database.StateFailed {
					continue
				}
				v := e.version().String()
				failed = append(failed, fmt.Sprintf("%s_%s: %s", v, e.name(), e.rev.Error))
				if !warned[v] {
					warned[v] = true
					r.warn(rep, []string{fmt.Sprintf("%s_%s failed in an earlier run after %d of its %d statements (%s): it stays pending until the file is fixed and `runway up` runs again, or the database is put right and `runway repair` runs",
						v, e.name(), e.rev.StatementsApplied, e.rev.StatementsTotal, e.rev.Error)})
				}
			}
			rep.FromVersion = a.current.String()
			rep.ToVersion = rep.FromVersion
			setPending(rep, a, nil)
			// What up refuses to run past is never going to be applied:
			// an edited migration, or a half-reverted one, fails the wait
			// at once. A migration older than the
			// newest applied one waits, since the runner that applies may
			// allow it (--allow-out-of-order), but is said once, as is a
			// database ahead of the source.
			problems, warnings := r.upProblems(a)
			var stuck []Problem
			for _, p := range problems {
				switch p.Kind {
				case "modified", "reverting":
					stuck = append(stuck, p)
				case "out-of-order":
					warnings = append(warnings, fmt.Sprintf("%s_%s is pending but older than the newest applied migration %s: up applies it only with --allow-out-of-order", p.Version, p.Name, a.current))
				default:
					// Rows of migrations this source does not have (another
					// release's, running or ahead in a rolling deploy): said,
					// not fatal to an application that waits.
					warnings = append(warnings, p.String())
				}
			}
			if len(stuck) > 0 {
				return r.finish(rep, validationFindings(stuck))
			}
			for _, w := range warnings {
				if !warned[w] {
					warned[w] = true
					r.warn(rep, []string{w})
				}
			}
			if len(rep.Pending) == 0 {
				rep.Status = report.StatusOK
				return r.finish(rep, nil)
			}
			r.emit(Event{Kind: EventWaiting, Pending: len(rep.Pending)})
		}
		t := time.NewTimer(r.cfg.pollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			rep.Status = report.StatusPending
			rep.DurationMS = r.cfg.now().Sub(rep.StartedAt).Milliseconds()
			err := fmt.Errorf("%w: %d migration(s) still not applied when the wait ended (%v)", ErrPending, len(rep.Pending), context.Cause(ctx))
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				// Stopped (a signal, the caller), not timed out: not a
				// verdict on the migrations.
				rep.Status = report.StatusFailed
				err = Stopped(fmt.Sprintf("the wait was stopped with %d migration(s) still not applied (%v)", len(rep.Pending), context.Cause(ctx)), ctx.Err())
			}
			if len(failed) > 0 {
				err = fmt.Errorf("%w; failed in an earlier run: %s", err, strings.Join(failed, "; "))
			}
			rep.Error = errorInfo(err)
			return rep, err
		case <-t.C:
		}
	}
}
