package runway

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/runwaydb/runway/adopt"
	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/migration"
	"github.com/runwaydb/runway/report"
)

// Adopt takes over a database migrated so far by another tool: it reads that
// tool's history table and records the same applied set in Runway's history
// (state applied, the checksum of the current file, applied_by "adopted from
// TOOL by IDENTITY"), in one transaction, without running any migration. The
// other tool's table is left as it was.
//
// It refuses, with a *ValidationError (ErrValidation), when Runway's history
// already has rows (use Baseline or Repair), when the tool records as applied a
// version the source has no file for, and when the tool's history records a
// migration that failed or stopped halfway. It returns an error wrapping
// adopt.ErrNoHistory when the database has no history of that tool, and
// ErrUsage when the driver cannot read other tables (database.Querier).
func (r *Runner) Adopt(ctx context.Context, from adopt.Tool) (*report.Report, error) {
	rep := r.newReport("adopt")
	if _, err := adopt.ParseTool(string(from)); err != nil {
		return r.finish(rep, fmt.Errorf("%w: adopt: %w", ErrUsage, err))
	}
	q, ok := r.drv.(database.Querier)
	if !ok {
		return r.finish(rep, fmt.Errorf("%w: adopt: the %s driver cannot read other tools' tables", ErrUsage, r.drv.Dialect()))
	}
	ms, err := r.load()
	if err != nil {
		return r.finish(rep, err)
	}
	// The history is read, not created, until adopt records: a refused
	// adopt must leave no Runway table, which would make the next up take
	// the other tool's database for Runway's own.
	ctx, release, err := r.lock(ctx)
	if err != nil {
		return r.finish(rep, err)
	}
	defer release()
	revs, err := r.drv.History(ctx)
	if err != nil {
		return r.finish(rep, fmt.Errorf("read history table %s: %w", r.cfg.table, err))
	}
	if len(revs) == 0 && r.historyExists(ctx) {
		// down --all emptied it: the other tool's table says what that tool
		// once applied, not what the database holds now.
		return r.finish(rep, &ValidationError{
			Problems: []Problem{{Kind: "history", Detail: fmt.Sprintf("Runway's history table %s exists: Runway already manages this database (its rows were reverted with down)", r.cfg.table)}},
			Hint:     "Nothing was recorded: the other tool's history no longer says what the database holds. `runway up` applies the migrations; `runway baseline VERSION` records ones whose schema is there.",
		})
	}
	if len(revs) > 0 {
		return r.finish(rep, &ValidationError{
			Problems: []Problem{{Kind: "history", Detail: fmt.Sprintf("Runway's history table %s already has %d row(s)", r.cfg.table, len(revs))}},
			Hint:     "adopt only starts a Runway history. To mark more migrations as applied use `runway baseline VERSION`; to clear unfinished rows or accept edited files use `runway repair`. Nothing was recorded.",
		})
	}
	entries, err := adopt.Applied(ctx, q, r.drv.Dialect(), from, ms)
	var ue *adopt.UnfinishedError
	if errors.As(err, &ue) {
		return r.finish(rep, &ValidationError{
			Problems: []Problem{{Version: ue.Version, File: ue.Script, Kind: "unfinished", Detail: ue.Detail}},
			Hint:     fmt.Sprintf("%s's history is unfinished, so it does not say what the database holds. Nothing was recorded.", from),
		})
	}
	if err != nil {
		return r.finish(rep, fmt.Errorf("adopt from %s: %w", from, err))
	}
	var missing []Problem
	for _, e := range entries {
		if e.Migration == nil {
			missing = append(missing, Problem{Version: e.Version.String(), File: e.Ref, Kind: "missing",
				Detail: fmt.Sprintf("%s records it as applied but the source has no file with that version", from)})
		}
	}
	if len(missing) > 0 {
		return r.finish(rep, &ValidationError{Problems: missing,
			Hint: "Point --dir at the migrations that built this database (all of them, including old ones), then adopt again. Nothing was recorded."})
	}

	now := r.cfg.now()
	by := fmt.Sprintf("adopted from %s by %s", from, r.cfg.identity)
	steps := make([]database.Step, 0, len(entries))
	var newest migration.Version
	for _, e := range entries {
		rev := r.revision(e.Migration, database.StateApplied, now)
		rev.AppliedBy = by
		steps = append(steps, database.Step{Record: &rev})
		rep.Applied = append(rep.Applied, report.Applied{Version: e.Migration.Version.String(), Name: e.Migration.Name})
		newest = e.Migration.Version
	}
	// From here the database is Runway's, even when the tool had applied
	// nothing: the table says so to the next up.
	if err := r.drv.EnsureHistory(ctx); err != nil {
		return r.finish(rep, fmt.Errorf("create history table %s: %w", r.cfg.table, err))
	}
	if len(steps) > 0 {
		if err := r.drv.ApplyTx(ctx, steps); err != nil {
			rep.Applied = nil
			return r.finish(rep, fmt.Errorf("record the history adopted from %s in %s: %w", from, r.cfg.table, err))
		}
	}
	rep.ToVersion = newest.String()
	if revs, err = r.drv.History(ctx); err == nil {
		setPending(rep, analyze(ms, revs), nil)
	}
	rep.Status = report.StatusApplied
	if len(rep.Applied) == 0 {
		rep.Status = report.StatusNoop
	}
	return r.finish(rep, nil)
}

// foreignHistory is what stops a first run on a database another tool has
// been migrating: Runway's history table does not exist yet and another
// tool's does. Applying every migration from the first file there would fail,
// or worse, half succeed. Once Runway's table exists (adopt or an earlier run
// created it) the database is Runway's, even when down has emptied the table:
// the other tool's table then says what that tool once applied, not what the
// database holds. nil when nothing stops the run.
func (r *Runner) foreignHistory(ctx context.Context) (*ValidationError, error) {
	if r.historyExists(ctx) {
		return nil, nil
	}
	tools, err := r.ForeignHistory(ctx)
	if err != nil || len(tools) == 0 {
		return nil, err
	}
	return &ValidationError{
		Problems: []Problem{{Kind: "foreign-history", Detail: fmt.Sprintf("this database has %s's history table %s and no Runway history: run `runway adopt --from %s` first", tools[0], tools[0].Table(), tools[0])}},
		Hint:     fmt.Sprintf("Nothing was applied. Run `runway adopt --from %s` first: it records what %s applied, so nothing runs twice.", tools[0], tools[0]),
	}, nil
}

// foreignProblems is foreignHistory's finding for the commands that report
// it among others (status, plan, validate): none when Runway's history has
// rows.
func (r *Runner) foreignProblems(ctx context.Context, revs []database.Revision) ([]Problem, error) {
	if len(revs) > 0 {
		return nil, nil
	}
	ve, err := r.foreignHistory(ctx)
	if err != nil || ve == nil {
		return nil, err
	}
	return ve.Problems, nil
}

// historyExists reports whether Runway's history table exists (with or
// without rows); false when the driver cannot tell (no database.Querier).
func (r *Runner) historyExists(ctx context.Context) bool {
	q, ok := r.drv.(database.Querier)
	if !ok {
		return false
	}
	open, closing := `"`, `"`
	if r.drv.Dialect() == migration.MySQL {
		open, closing = "`", "`"
	}
	parts := strings.Split(r.cfg.table, ".")
	for i, p := range parts {
		parts[i] = open + strings.ReplaceAll(p, closing, closing+closing) + closing
	}
	_, err := q.QueryStrings(ctx, "SELECT 1 FROM "+strings.Join(parts, ".")+" WHERE 1 = 0")
	return err == nil
}

// ForeignHistory returns the other migration tools whose history table is in
// the database, nil when the driver cannot tell (it does not implement
// database.Querier). It takes no lock and writes nothing.
func (r *Runner) ForeignHistory(ctx context.Context) ([]adopt.Tool, error) {
	q, ok := r.drv.(database.Querier)
	if !ok {
		return nil, nil
	}
	tools, err := adopt.Detect(ctx, q, r.drv.Dialect())
	if err != nil {
		return nil, fmt.Errorf("look for other migration tools' history: %w", err)
	}
	return tools, nil
}
