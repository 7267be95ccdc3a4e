package runway

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/migration"
	"github.com/runwaydb/runway/report"
)

// UpOptions limits what Up applies. The zero value applies everything pending.
type UpOptions struct {
	// To stops after this version (which must be in the source).
	To migration.Version
	// Steps applies at most this many migrations (0: no limit).
	Steps int
}

// Up applies pending migrations in version order under the migration lock.
// It returns a report in every case; on failure the error is one of
// *MigrationError (ErrMigrationFailed), *ValidationError (ErrValidation),
// ErrLockTimeout, ErrSource, ErrNoMigrations or a driver error.
func (r *Runner) Up(ctx context.Context, o UpOptions) (*report.Report, error) {
	rep := r.newReport("up")
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

	// Fast path: every replica of a deploy pays this check. When the history
	// already holds everything, there is nothing to lock for. A driver that
	// can scan the history row by row answers the common case (every file
	// applied, unchanged, nothing else) comparing each row as it arrives,
	// keeping none; one that can read only versions, checksums and states
	// answers it in one narrow query; anything else is judged on the full
	// history below. When the narrow read shows work to do, the full history
	// is not read before the lock but under it, where it counts: each of a
	// crowd of replicas at a deploy skips one query of the whole table.
	//
	// Rows mean the table exists (haveTable): no DDL is needed under the
	// lock (the runners that waited for it would each run it again).
	sr, narrow := r.drv.(database.StateReader)
	haveTable, readHistory := false, true
	// before is what the reads before the lock found, for the report of a
	// run that then cannot take the lock.
	var before *analysis
	exact, rows := r.scanExact(ctx, ms)
	switch {
	case exact:
		return r.finish(rep, r.noop(rep, exactAnalysis(ms)))
	case rows == 0:
		// No history yet: everything is pending, nothing more to read.
		readHistory = false
		before = analyze(ms, nil)
	case narrow:
		if revs, err := sr.States(ctx); err == nil {
			a := analyze(ms, revs)
			if a.exact() {
				return r.finish(rep, r.noop(rep, a))
			}
			if len(a.todo()) > 0 {
				readHistory = false
				haveTable = len(revs) > 0
				before = a
			}
		}
	}
	if readHistory {
		if revs, err := r.drv.History(ctx); err == nil {
			a := analyze(ms, revs)
			if len(a.todo()) == 0 {
				return r.finish(rep, r.noop(rep, a))
			}
			haveTable = len(revs) > 0
			before = a
		}
	}

	// Runners waiting behind one that applies look again each time the
	// lock is released, and stop when it left nothing to do.
	var settled *analysis
	ctx, release, err := r.lockUnlessSettled(ctx, func() bool {
		exact, rows := r.scanExact(ctx, ms)
		switch {
		case exact:
			settled = exactAnalysis(ms)
			return true
		case rows >= 0 || !narrow:
			// A scan that ran gave exact's verdict; only a failed one
			// is asked again of the narrow read.
			return false
		}
		revs, err := sr.States(ctx)
		if err != nil {
			return false
		}
		if a := analyze(ms, revs); a.exact() {
			settled = a
			return true
		}
		return false
	})
	if errors.Is(err, errSettled) {
		return r.finish(rep, r.noop(rep, settled))
	}
	if err != nil {
		if before != nil {
			// The lock timed out: say where the database stood and what
			// was waiting, as the reads before the lock saw it.
			rep.FromVersion = before.current.String()
			rep.ToVersion = rep.FromVersion
			setPending(rep, before, nil)
		}
		return r.finish(rep, err)
	}
	defer release()

	var fresh []applyPlan // planned before the table was created, for an empty history
	if !haveTable {
		// Checked before the table is created: a refused run leaves no
		// Runway table behind, which would make the next run take the
		// database for Runway's own.
		if ve, err := r.foreignHistory(ctx); err != nil || ve != nil {
			if err != nil {
				return r.finish(rep, err)
			}
			return r.finish(rep, ve)
		}
		// So are the files' statements: a script that does not split, or
		// holds transaction control Runway refuses, stops the run before
		// the database is touched, all such problems said together.
		var err error
		if fresh, err = r.planAll(limit(analyze(ms, nil).todo(), o)); err != nil {
			return r.finish(rep, err)
		}
		if err := r.drv.EnsureHistory(ctx); err != nil {
			return r.finish(rep, fmt.Errorf("create history table %s: %w", r.cfg.table, err))
		}
	}
	revs, err := r.drv.History(ctx)
	if err != nil {
		return r.finish(rep, fmt.Errorf("read history table %s: %w", r.cfg.table, err))
	}
	a := analyze(ms, revs)
	if len(a.todo()) == 0 {
		// Another runner applied everything while we waited for the lock.
		return r.finish(rep, r.noop(rep, a))
	}
	rep.FromVersion = a.current.String()
	rep.ToVersion = rep.FromVersion
	problems, warnings := r.upProblems(a)
	r.warn(rep, warnings)
	if len(problems) > 0 {
		return r.finish(rep, validationError(problems))
	}

	plans := fresh
	if fresh == nil || len(revs) > 0 {
		if plans, err = r.planAll(limit(a.todo(), o)); err != nil {
			return r.finish(rep, err)
		}
	}
	for _, p := range plans {
		if p.count() == 0 {
			r.warn(rep, []string{fmt.Sprintf("%s has no statements: it will be recorded as applied without changing the database", p.e.m.Up.File)})
		}
	}
	if problems := resumeProblems(plans); len(problems) > 0 {
		return r.finish(rep, validationError(problems))
	}
	// Said only once resuming is allowed: a run refused above resumes nothing.
	r.warn(rep, unfinishedWarnings(a))
	if len(plans) == 0 {
		rep.Status = report.StatusNoop
		setPending(rep, a, nil)
		return r.finish(rep, nil)
	}

	err = stopped(ctx, r.applyAll(ctx, rep, plans))
	setPending(rep, a, rep.Applied)
	if len(rep.Applied) > 0 {
		rep.ToVersion = rep.Applied[len(rep.Applied)-1].Version
		if v := migration.MustParseVersion(rep.ToVersion); v.Compare(a.current) < 0 {
			rep.ToVersion = a.current.String() // out-of-order apply below the newest
		}
	}
	if err != nil {
		return r.finish(rep, err)
	}
	rep.Status = report.StatusApplied
	return r.finish(rep, nil)
}

// noop finishes a report for a database that needs nothing; problems that
// would make up refuse still refuse.
func (r *Runner) noop(rep *report.Report, a *analysis) error {
	rep.FromVersion = a.current.String()
	rep.ToVersion = rep.FromVersion
	problems, warnings := r.upProblems(a)
	r.warn(rep, warnings)
	if len(problems) > 0 {
		return validationError(problems)
	}
	rep.Status = report.StatusNoop
	return nil
}

func (r *Runner) warn(rep *report.Report, warnings []string) {
	for _, w := range warnings {
		rep.Warnings = append(rep.Warnings, w)
		r.emit(Event{Kind: EventWarning, Message: w})
	}
}

func hasVersion(ms []*migration.Migration, v migration.Version) bool {
	for _, m := range ms {
		if m.Version.Equal(v) {
			return true
		}
	}
	return false
}

func limit(todo []entry, o UpOptions) []entry {
	var out []entry
	for _, e := range todo {
		if !o.To.IsZero() && e.m.Version.Compare(o.To) > 0 {
			break
		}
		if o.Steps > 0 && len(out) == o.Steps {
			break
		}
		out = append(out, e)
	}
	return out
}

func setPending(rep *report.Report, a *analysis, applied []report.Applied) {
	done := map[string]bool{}
	for _, ap := range applied {
		done[ap.Version] = true
	}
	rep.Pending = rep.Pending[:0]
	for _, e := range a.todo() {
		if v := e.m.Version.String(); !done[v] {
			rep.Pending = append(rep.Pending, report.Pending{Version: v, Name: e.m.Name, File: e.m.Up.File})
		}
	}
}

// applyPlan is one migration ready to apply.
type applyPlan struct {
	e        entry
	stmts    []migration.Statement
	stream   database.TxStreamer // set: the statements are read from the file as they are sent
	resumeAt int                 // statements already applied by an earlier run
	replay   []replayed          // of those, the ones that set the session, sent again first (session.go)
	useTx    bool                // statements and history row in one transaction
	problem  *Problem

	// lazy: a file too large to hold (migration.Script.Streamed) run
	// statement by statement outside a transaction; stmts is nil and the
	// statements are read from the file as they run. total is their
	// number (for a stream plan too) and resumed the Sums of the first
	// resumeAt, both from a reading of the file before anything of it runs.
	lazy    bool
	total   int
	resumed database.Sums

	current   *migration.Statement // a lazy plan's failing statement (withCurrent)
	currentAt int
}

// count is the number of p's statements (of the transaction's body where
// useTx took its BEGIN and COMMIT out).
func (p applyPlan) count() int {
	if p.lazy || p.stream != nil {
		return p.total
	}
	return len(p.stmts)
}

// known is what p tells failed of its statements.
func (p applyPlan) known() knownStatements {
	if p.lazy {
		return knownStatements{total: p.total, current: p.current, currentAt: p.currentAt}
	}
	return allOf(p.stmts)
}

// withCurrent is p with st, statement i of a lazy plan, kept for the error
// that statement failed with.
func (p applyPlan) withCurrent(st migration.Statement, i int) applyPlan {
	p.current, p.currentAt = &st, i
	return p
}

// resumedSums is the Sums of the statements an earlier run applied.
func (p applyPlan) resumedSums() database.Sums {
	if p.lazy {
		return p.resumed
	}
	return database.SumsOf(p.stmts[:p.resumeAt])
}

// remaining yields p's statements from resumeAt on. A lazy plan reads them
// from the file again, ahead of the database (readAhead); a file that no
// longer holds what planApply read ends the sequence with an error
// wrapping migration.ErrChanged: at its end (the checksum), and before a
// statement runs that would be beyond the count planApply made, or after
// statements that an earlier run applied and that have changed since.
func (p applyPlan) remaining(d migration.Dialect) iter.Seq2[migration.Statement, error] {
	if !p.lazy {
		return func(yield func(migration.Statement, error) bool) {
			for _, st := range p.stmts[p.resumeAt:] {
				if !yield(st, nil) {
					return
				}
			}
		}
	}
	changed := &migration.FileError{File: p.e.m.Up.File, Err: migration.ErrChanged}
	return func(yield func(migration.Statement, error) bool) {
		i := 0
		var skipped database.Sums // of the statements an earlier run applied
		for st, err := range readAhead(p.e.m.Up.StatementSeq(d)) {
			if err == nil && i >= p.total {
				err = changed
			}
			if err != nil {
				yield(migration.Statement{}, err)
				return
			}
			if i++; i <= p.resumeAt {
				skipped.Add(st.Checksum())
				if i == p.resumeAt && !slices.Equal(skipped.Column(), p.resumed.Column()) {
					yield(migration.Statement{}, changed)
					return
				}
				continue
			}
			if !yield(st, nil) {
				return
			}
		}
		if i != p.total {
			yield(migration.Statement{}, changed)
		}
	}
}

// planAll plans each of todo (planApply); its error joins those of every
// migration that cannot be planned, so that all the problems of the source
// are said in one run.
func (r *Runner) planAll(todo []entry) ([]applyPlan, error) {
	plans := make([]applyPlan, 0, len(todo))
	var errs []error
	for _, e := range todo {
		p, err := r.planApply(e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		plans = append(plans, p)
	}
	return plans, errors.Join(errs...)
}

func (r *Runner) planApply(e entry) (applyPlan, error) {
	resume := e.rev != nil && e.rev.StatementsApplied > 0
	inTx := r.drv.TransactionalDDL() && !e.m.Up.NoTransaction && !resume
	if e.m.Up.Streamed() && !r.cfg.singleTx {
		// A large file is never held whole: in one transaction it is
		// streamed where the driver can, and statement by statement it
		// is read as it runs, each after one reading that checks and
		// counts it, so that it stops the run before anything is applied
		// when it does not split, as a small file does.
		if ts, ok := r.drv.(database.TxStreamer); ok && inTx {
			p := applyPlan{e: e, stream: ts, useTx: true}
			for _, err := range unwrapTxSeq(e.m.Up.File, e.m.Up.StatementSeq(r.drv.Dialect())) {
				if err != nil {
					return applyPlan{}, fmt.Errorf("%w: %w", ErrSource, err)
				}
				p.total++
			}
			return p, nil
		}
		if !inTx {
			return r.planLazy(e)
		}
	}
	stmts, err := e.m.Up.Statements(r.drv.Dialect())
	if err != nil {
		return applyPlan{}, fmt.Errorf("%w: %w", ErrSource, err)
	}
	p := applyPlan{e: e, stmts: stmts}
	if resume {
		p.resumeAt = e.rev.StatementsApplied
		k := min(p.resumeAt, len(stmts))
		at, changed := database.Changed(e.rev.StatementChecksums, stmts[:k])
		p.problem = resumeProblem(e, len(stmts), at, changed, func(i int) int { return stmts[i].Line })
		if k < len(stmts) {
			p.replay = sessionSetters(r.drv.Dialect(), stmts[:k])
		}
	}
	p.useTx = inTx
	if p.useTx {
		p.stmts, err = unwrapTx(e.m.Up.File, stmts)
	} else {
		err = checkTxEnd(e.m.Up.File, r.drv.Dialect(), stmts)
	}
	if err != nil {
		return applyPlan{}, fmt.Errorf("%w: %w", ErrSource, err)
	}
	return p, nil
}

// planLazy plans a large file that runs statement by statement: it reads
// the file once before anything of it runs, as the whole-file path does,
// so that a file that does not split, or whose statements an earlier run
// applied have changed, stops the run before its first statement; and so
// that the history row can say how many statements there are. Memory stays
// bounded by the largest statement.
func (r *Runner) planLazy(e entry) (applyPlan, error) {
	p := applyPlan{e: e, lazy: true}
	var (
		check *database.ChangeCheck
		lines []int // of the statements an earlier run applied, for the problem
	)
	if e.rev != nil && e.rev.StatementsApplied > 0 {
		p.resumeAt = e.rev.StatementsApplied
		check = database.NewChangeCheck(e.rev.StatementChecksums)
	}
	txEnd := newTxTracker(r.drv.Dialect())
	session := sessionLog{d: r.drv.Dialect()} // of the statements an earlier run applied
	for st, err := range e.m.Up.StatementSeq(r.drv.Dialect()) {
		if err != nil {
			return applyPlan{}, fmt.Errorf("%w: %w", ErrSource, err)
		}
		txEnd.add(st)
		if p.total < p.resumeAt {
			sum := st.Checksum()
			check.Add(sum)
			p.resumed.Add(sum)
			lines = append(lines, st.Line)
			session.add(p.total+1, st)
		}
		p.total++
	}
	if p.resumeAt < p.total {
		p.replay = session.result()
	}
	if err := txEnd.err(e.m.Up.File); err != nil {
		return applyPlan{}, fmt.Errorf("%w: %w", ErrSource, err)
	}
	if check != nil {
		at, changed := check.Result()
		p.problem = resumeProblem(e, p.total, at, changed, func(i int) int { return lines[i] })
	}
	return p, nil
}

// resumeProblem says whether the statements an earlier run applied (the
// row's StatementsApplied, against total in the file now) are unchanged:
// at and changed are database.Changed's for them, line gives a
// statement's line.
func resumeProblem(e entry, total, at int, changed bool, line func(i int) int) *Problem {
	k := e.rev.StatementsApplied
	var pr Problem
	switch {
	case k > total:
		pr = problem(e, "resume-edited", fmt.Sprintf("an earlier run applied %d statements, the file now has %d", k, total))
	case !changed:
		return nil
	case at >= 0:
		pr = problem(e, "resume-edited", fmt.Sprintf("statement %d (line %d) was applied by an earlier run and has changed since", at+1, line(at)))
	default:
		pr = problem(e, "resume-edited", fmt.Sprintf("statements 1–%d were applied by an earlier run, and one of them has changed since (line %d to line %d)", k, line(0), line(k-1)))
	}
	return &pr
}

func resumeProblems(plans []applyPlan) []Problem {
	var out []Problem
	for _, p := range plans {
		if p.problem != nil {
			out = append(out, *p.problem)
		}
	}
	return out
}

func (r *Runner) applyAll(ctx context.Context, rep *report.Report, plans []applyPlan) error {
	if r.cfg.singleTx {
		for _, p := range plans {
			if !p.useTx {
				return fmt.Errorf("%w: %s cannot run inside a transaction (no-transaction or resumed), so --single-transaction cannot be used", ErrUsage, p.e.m.Up.File)
			}
		}
		return r.applySingleTx(ctx, rep, plans)
	}
	tb, batches := r.drv.(database.TxBatcher)
	rb, recorded := r.drv.(database.RecordedBatcher)
	for i := 0; i < len(plans); {
		p := plans[i]
		var err error
		switch {
		case batches && p.useTx && p.stream == nil:
			j := i + 1
			for size := p.size(); j < len(plans) && plans[j].useTx && plans[j].stream == nil && size+plans[j].size() <= batchBytes; j++ {
				size += plans[j].size()
			}
			err = r.applyEach(ctx, rep, tb, plans[i:j])
			i = j
		case recorded && recordable(p):
			j := i + 1
			for size := p.size(); j < len(plans) && recordable(plans[j]) && size+plans[j].size() <= batchBytes; j++ {
				size += plans[j].size()
			}
			err = r.applyRecordedEach(ctx, rep, rb, plans[i:j])
			i = j
		case p.useTx:
			err = r.applyTx(ctx, rep, p)
			i++
		default:
			err = r.applyStatements(ctx, rep, p)
			i++
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// batchBytes bounds the SQL of the migrations sent together to a
// database.TxBatcher: enough that round trips stop counting, little
// enough that memory does not.
const batchBytes = 1 << 20

// size is the length of p's statements and of what a driver adds around
// them (history row, transaction, markers: about a kilobyte).
func (p applyPlan) size() int {
	n := 1 << 10
	for _, st := range p.stmts {
		n += len(st.SQL)
	}
	return n
}

// applyEach applies migrations each in its own transaction, sent to the
// database together (database.TxBatcher): one round trip for all of them.
// The events and the report are those of applying them one by one: the
// driver says as each one commits.
func (r *Runner) applyEach(ctx context.Context, rep *report.Report, tb database.TxBatcher, plans []applyPlan) error {
	steps := make([]database.Step, len(plans))
	revs := make([]database.Revision, len(plans))
	start := r.cfg.now()
	for i, p := range plans {
		// The driver records each migration's start and duration by the database's clock.
		revs[i] = r.revision(p.e.m, database.StateApplied, start)
		revs[i].StatementsApplied, revs[i].StatementsTotal = len(p.stmts), len(p.stmts)
		steps[i] = database.Step{Statements: p.stmts, Record: &revs[i]}
	}
	r.startEvent(plans[0])
	n, err := tb.ApplyEach(ctx, steps, func(i int) {
		now := r.cfg.now()
		r.doneEvent(rep, plans[i], now.Sub(start))
		start = now
		if i+1 < len(plans) {
			r.startEvent(plans[i+1])
		}
	})
	if err != nil {
		if n >= len(plans) {
			return fmt.Errorf("apply %s: %w", plans[len(plans)-1].e.m.Up.File, err)
		}
		p := plans[n]
		err = r.failed(p.e.m.Version, p.e.m.Name, p.e.m.Up, allOf(p.stmts), 0, err, false)
		r.warnSentWith(rep, err, plans[n+1:])
		return err
	}
	return nil
}

// warnSentWith says, when err left the outcome of a migration unknown (the
// connection failed), that the migrations sent to the database with it in
// one message are unknown too: the report lists them as pending, which the
// database may no longer agree with.
func (r *Runner) warnSentWith(rep *report.Report, err error, after []applyPlan) {
	var me *MigrationError
	if len(after) == 0 || !errors.As(err, &me) || !me.Uncertain {
		return
	}
	names := after[0].e.m.Up.File
	if len(after) > 1 {
		names += " … " + after[len(after)-1].e.m.Up.File
	}
	r.warn(rep, []string{fmt.Sprintf("the %d migration(s) after %s (%s) may have been sent to the database with it, in one message: whether they took effect is unknown too. `runway status` shows what the history recorded; `runway up` applies what is left",
		len(after), me.File, names)})
}

func (r *Runner) revision(m *migration.Migration, state database.State, start time.Time) database.Revision {
	return database.Revision{
		Version:   m.Version,
		Name:      m.Name,
		Checksum:  m.Up.Checksum,
		State:     state,
		AppliedAt: start.UTC(),
		AppliedBy: r.cfg.identity,
	}
}

func (r *Runner) startEvent(p applyPlan) {
	r.emit(Event{Kind: EventMigrationStart, Version: p.e.m.Version.String(), Name: p.e.m.Name,
		File: p.e.m.Up.File, Statements: p.count(), Resumed: p.resumeAt, Replayed: replayedNumbers(p.replay)})
}

func (r *Runner) doneEvent(rep *report.Report, p applyPlan, d time.Duration) {
	r.doneEventN(rep, p, p.count(), d)
}

func (r *Runner) doneEventN(rep *report.Report, p applyPlan, stmts int, d time.Duration) {
	rep.Applied = append(rep.Applied, report.Applied{
		Version: p.e.m.Version.String(), Name: p.e.m.Name, DurationMS: d.Milliseconds(),
		Statements: stmts, Resumed: p.resumeAt, Replayed: replayedNumbers(p.replay),
	})
	r.emit(Event{Kind: EventMigrationDone, Version: p.e.m.Version.String(), Name: p.e.m.Name,
		File: p.e.m.Up.File, Statements: stmts, Duration: d})
}

// applyStream applies a streamed migration in one transaction (see
// database.TxStreamer): the file is read again as its statements are sent.
func (r *Runner) applyStream(ctx context.Context, rep *report.Report, p applyPlan) error {
	r.startEvent(p)
	start := r.cfg.now()
	rev := r.revision(p.e.m, database.StateApplied, start)
	n, err := p.stream.ApplyTxStream(ctx, unwrapTxSeq(p.e.m.Up.File, readAhead(p.e.m.Up.StatementSeq(r.drv.Dialect()))), rev)
	if err != nil {
		var fe *migration.FileError
		if errors.As(err, &fe) {
			// The file could not be read or split, or changed since it was
			// checked: rolled back, nothing of it applied.
			r.emit(Event{Kind: EventMigrationFail, Version: p.e.m.Version.String(), Name: p.e.m.Name, File: p.e.m.Up.File, Err: fe})
			return fmt.Errorf("%w: %w (rolled back: nothing of it was applied)", ErrSource, fe)
		}
		return r.failed(p.e.m.Version, p.e.m.Name, p.e.m.Up, knownStatements{}, 0, err, false)
	}
	r.doneEventN(rep, p, n, r.cfg.now().Sub(start))
	return nil
}

// readAhead reads and splits the file in a goroutine, a few hundred
// kilobytes of statements ahead of the driver: the client's work overlaps
// the database's instead of alternating with it. It stops, and closes the
// file, when the consumer stops.
func readAhead(seq iter.Seq2[migration.Statement, error]) iter.Seq2[migration.Statement, error] {
	const chunkBytes = 256 << 10
	type item struct {
		st  migration.Statement
		err error
	}
	return func(yield func(migration.Statement, error) bool) {
		chunks := make(chan []item, 2)
		done := make(chan struct{})
		finished := make(chan struct{})
		go func() {
			defer close(finished)
			defer close(chunks)
			var cur []item
			size := 0
			send := func() bool {
				select {
				case chunks <- cur:
					cur, size = nil, 0
					return true
				case <-done:
					return false
				}
			}
			for st, err := range seq {
				if err != nil {
					// Ahead of the statements read before it and not sent
					// yet: a file that changed stops the run before them.
					cur = []item{{err: err}}
					send()
					return
				}
				cur = append(cur, item{st, err})
				size += len(st.SQL)
				if size >= chunkBytes && !send() {
					return
				}
			}
			if len(cur) > 0 {
				send()
			}
		}()
		defer func() {
			close(done)
			<-finished
		}()
		for c := range chunks {
			for _, it := range c {
				if !yield(it.st, it.err) || it.err != nil {
					return
				}
			}
		}
	}
}

func (r *Runner) applyTx(ctx context.Context, rep *report.Report, p applyPlan) error {
	if p.stream != nil {
		return r.applyStream(ctx, rep, p)
	}
	r.startEvent(p)
	start := r.cfg.now()
	rev := r.revision(p.e.m, database.StateApplied, start)
	rev.StatementsApplied, rev.StatementsTotal = len(p.stmts), len(p.stmts)
	err := r.drv.ApplyTx(ctx, []database.Step{{Statements: p.stmts, Record: &rev}})
	if err != nil {
		return r.failed(p.e.m.Version, p.e.m.Name, p.e.m.Up, allOf(p.stmts), 0, err, false)
	}
	r.doneEvent(rep, p, r.cfg.now().Sub(start))
	return nil
}

func (r *Runner) applySingleTx(ctx context.Context, rep *report.Report, plans []applyPlan) error {
	start := r.cfg.now()
	steps := make([]database.Step, len(plans))
	for i, p := range plans {
		r.startEvent(p)
		rev := r.revision(p.e.m, database.StateApplied, start)
		rev.StatementsApplied, rev.StatementsTotal = len(p.stmts), len(p.stmts)
		steps[i] = database.Step{Statements: p.stmts, Record: &rev}
	}
	if err := r.drv.ApplyTx(ctx, steps); err != nil {
		var ee *database.ExecError
		if errors.As(err, &ee) && ee.Step >= 0 && ee.Step < len(plans) {
			p := plans[ee.Step]
			ferr := r.failed(p.e.m.Version, p.e.m.Name, p.e.m.Up, allOf(p.stmts), 0, err, false)
			if me, ok := ferr.(*MigrationError); ok {
				me.RolledBack = ee.Step
			}
			return ferr
		}
		if errors.Is(err, database.ErrHistoryRefused) {
			// Runway's own write, not a statement, failed: say what the
			// per-migration failure's hint says (failureHint).
			does, grants := "records each migration", historyGrants
			if errors.Is(err, database.ErrLockRefused) {
				does, grants = "confirms its lease (--lock-mode table) and records each migration", lockGrants
			}
			sep := ". "
			if strings.HasSuffix(err.Error(), ".") {
				sep = " " // the error ends with its own sentence
			}
			return fmt.Errorf("apply all pending migrations in one transaction (it rolled back: none of them was applied): %w%s"+
				"Runway %s in the transaction's session, as the role that session runs as: the connecting user, "+
				"or a role a statement switched to (SET ROLE, SET SESSION AUTHORIZATION). Grant that role %s, "+
				"or switch back with RESET ROLE before the end of the migration that switched, then run `runway up` again", err, sep, does, grants)
		}
		return fmt.Errorf("apply all pending migrations in one transaction (it rolled back: none of them was applied): %w", err)
	}
	d := r.cfg.now().Sub(start)
	for _, p := range plans {
		// One transaction: the migrations share its duration; each row records it.
		r.doneEvent(rep, p, d)
	}
	return nil
}

// recordable reports whether p runs outside a transaction with statements
// left to run: what a database.RecordedBatcher takes.
func recordable(p applyPlan) bool {
	return !p.useTx && p.stream == nil && !p.lazy && p.resumeAt < len(p.stmts) && len(p.replay) == 0
}

// applyRecordedEach applies migrations outside transactions, as many at a
// time as the driver sends in one message (database.RecordedBatcher); one
// it cannot send so is applied on its own. The events and the report are
// those of applying them one by one: the driver says as each one ends.
func (r *Runner) applyRecordedEach(ctx context.Context, rep *report.Report, rb database.RecordedBatcher, plans []applyPlan) error {
	start := r.cfg.now()
	items := make([]database.Recorded, len(plans))
	for i, p := range plans {
		running := r.runningRevision(p, start)
		done := running
		done.State = database.StateApplied
		items[i] = database.Recorded{Statements: p.stmts, Running: running, Done: done}
	}
	announced := false // plans[0]'s start is reported
	for len(plans) > 0 {
		if !announced {
			start = r.cfg.now()
			r.startEvent(plans[0])
		}
		announced = false
		n, ran, err := rb.ExecRecordedEach(ctx, items, func(i int) {
			now := r.cfg.now()
			r.doneEvent(rep, plans[i], now.Sub(start))
			start = now
			if i+1 < len(plans) {
				r.startEvent(plans[i+1])
				announced = true
			}
		})
		switch {
		case errors.Is(err, errors.ErrUnsupported) || (err == nil && n == 0):
			if err := r.applyStatementsStarted(ctx, rep, plans[0]); err != nil {
				return err
			}
			plans, items = plans[1:], items[1:]
		case err != nil && n >= len(plans):
			return fmt.Errorf("apply %s: after it was applied: %w", plans[len(plans)-1].e.m.Up.File, err)
		case err != nil:
			p := plans[n]
			if refused(err) {
				return r.failEvent(p, fmt.Errorf("%s: not run: %w", p.e.m.Up.File, err))
			}
			rev := items[n].Running
			rev.AppliedAt = start.UTC()
			rev.StatementsApplied = ran
			rev.StatementChecksums = database.SumsOf(p.stmts[:min(ran, len(p.stmts))]).Column()
			err = r.recordFailure(ctx, p, rev, start, ran, err)
			r.warnSentWith(rep, err, plans[n+1:])
			return err
		default:
			plans, items = plans[n:], items[n:]
		}
	}
	return nil
}

// failEvent ends p's events with a failure for an error that is not a
// statement's (a history write, a driver that refused to go on), so that an
// observer sees every started migration end; it returns err.
func (r *Runner) failEvent(p applyPlan, err error) error {
	r.emit(Event{Kind: EventMigrationFail, Version: p.e.m.Version.String(), Name: p.e.m.Name, File: p.e.m.Up.File, Err: err})
	return err
}

// applyStatements runs a migration statement by statement outside a
// transaction (MySQL DDL, no-transaction migrations, resumed migrations),
// recording progress so that a rerun can resume after a failure.
func (r *Runner) applyStatements(ctx context.Context, rep *report.Report, p applyPlan) error {
	r.startEvent(p)
	return r.applyStatementsStarted(ctx, rep, p)
}

// runningRevision is p's history row as it starts: state running, the
// statements an earlier run applied counted.
func (r *Runner) runningRevision(p applyPlan, start time.Time) database.Revision {
	rev := r.revision(p.e.m, database.StateRunning, start)
	rev.StatementsTotal = p.count()
	rev.StatementsApplied = p.resumeAt
	rev.StatementChecksums = p.resumedSums().Column()
	return rev
}

// applyStatementsStarted is applyStatements once p's start is reported.
func (r *Runner) applyStatementsStarted(ctx context.Context, rep *report.Report, p applyPlan) error {
	m := p.e.m
	if err := r.replaySession(ctx, m.Up.File, p.replay, p.resumeAt); err != nil {
		return r.failEvent(p, err)
	}
	start := r.cfg.now()
	rev := r.runningRevision(p, start)
	if rx, ok := r.drv.(database.RecordedExecer); ok && !p.lazy && p.resumeAt < len(p.stmts) {
		done, err := r.applyRecorded(ctx, rx, p, rev, start)
		if !errors.Is(err, errors.ErrUnsupported) {
			if err == nil {
				r.doneEvent(rep, p, done)
			}
			return err
		}
	}
	if err := r.drv.WriteRevision(ctx, rev); err != nil {
		return r.failEvent(p, fmt.Errorf("record %s as running: %w", m.Up.File, err))
	}
	pe, withProgress := r.drv.(database.ProgressExecer)
	pb, batches := r.drv.(database.ProgressBatcher)
	batches = batches && withProgress
	sums := p.resumedSums()
	total := p.count()
	i := p.resumeAt
	// window holds the statements read and not yet sent, each with its
	// history row as it stands once the statement has run.
	var window []database.Progress
	windowBytes := 0
	// send applies the window: as many statements at a time as the driver
	// sends in one message (database.ProgressBatcher), else one by one.
	// Without all it stops once the window is no longer full: the driver may
	// take fewer statements than the window holds (its message is bounded
	// in bytes too), and what it leaves waits for the statements read next
	// rather than going in a message of its own.
	send := func(all bool) error {
		for len(window) > 0 && (all || !batches || len(window) >= progressWindow || windowBytes >= progressWindowBytes) {
			st := window[0].Statement
			if err := ctx.Err(); err != nil {
				// Stopped between statements: this one is not sent.
				return r.recordFailure(ctx, p.withCurrent(st, i), rev, start, i, fmt.Errorf("%w: %w", database.ErrNotSent, err))
			}
			sending := func(n int) {
				e := Event{Kind: EventStatementStart, Version: m.Version.String(), Name: m.Name, File: m.Up.File,
					Statement: i + 1, Statements: total, Line: st.Line}
				if n > 1 {
					e.Through, e.ThroughLine = i+n, window[n-1].Statement.Line
				}
				r.emit(e)
			}
			n, recorded, err := r.execProgress(ctx, pb, batches, pe, withProgress, window, sending)
			if n > 0 {
				rev = window[n-1].Row
				i += n
				for _, s := range window[:n] {
					windowBytes -= len(s.Statement.SQL)
				}
				window = window[n:]
			}
			if errors.Is(err, database.ErrNotRecorded) {
				// It ran; its record did not: as when WriteRevision fails below.
				return r.failEvent(p, fmt.Errorf("record progress of %s (statement %d applied): %w", m.Up.File, i+1, err))
			}
			if err != nil {
				if refused(err) {
					// The driver refused before running the statement: nothing
					// of it ran, and the history is not ours to write any more.
					return r.failEvent(p, fmt.Errorf("%s: statement %d not run: %w", m.Up.File, i+1, err))
				}
				return r.recordFailure(ctx, p.withCurrent(window[0].Statement, i), rev, start, i, err)
			}
			if !recorded {
				// The last one too: the write marking the migration
				// applied may fail, and the next run must not run it again.
				if err := r.drv.WriteRevision(ctx, rev); err != nil {
					return r.failEvent(p, fmt.Errorf("record progress of %s (statement %d applied): %w", m.Up.File, i, err))
				}
			}
		}
		return nil
	}
	for st, rerr := range p.remaining(r.drv.Dialect()) {
		if rerr != nil {
			// A large file read as it runs could not be read again, or
			// changed since planLazy read it: the statements before ran and
			// are recorded, so this is a failed migration, not bad input.
			if err := send(true); err != nil {
				return err
			}
			return r.recordFailure(ctx, p, rev, start, i, rerr)
		}
		sums.Add(st.Checksum())
		next := rev
		next.StatementsApplied = i + len(window) + 1
		next.StatementChecksums = sums.Column()
		window = append(window, database.Progress{Statement: st, Row: next})
		windowBytes += len(st.SQL)
		if err := send(false); err != nil {
			return err
		}
	}
	if err := send(true); err != nil {
		return err
	}
	rev.State = database.StateApplied
	rev.Duration = r.cfg.now().Sub(start)
	rev.Error = ""
	if err := r.drv.WriteRevision(ctx, rev); err != nil {
		// A role the script switched to may lack the rights: the next run,
		// in a new session, makes the write.
		return r.failEvent(p, fmt.Errorf("record %s as applied (all its statements ran and are recorded: the next `runway up` records it without running any of them again): %w", m.Up.File, err))
	}
	r.doneEvent(rep, p, rev.Duration)
	return nil
}

// progressWindow and progressWindowBytes bound the statements of a
// migration applied statement by statement that are read ahead and handed
// to a database.ProgressBatcher together: on MariaDB, 8000 single-row
// INSERTs, each with its history write, took 0.70 s sent one per message
// and 0.46 s in messages of 50 or 200 (the server's work per statement
// grows with the bytes of the message after it: see the MySQL driver's
// maxEachMessage).
const (
	progressWindow      = 200
	progressWindowBytes = 64 << 10
)

// execProgress runs the first statements of window, each with the write of
// its row where the driver can: as many as the driver sends at once when
// batches, else the first alone. It calls sending with their number before
// they are sent. A statement and its record in one message
// means that a run killed while the server finishes the statement leaves it
// recorded, and the next run does not run it again. It returns how many
// took effect and whether their rows were written with them; with an
// error, the statement at that count is the one that failed.
func (r *Runner) execProgress(ctx context.Context, pb database.ProgressBatcher, batches bool, pe database.ProgressExecer, withProgress bool, window []database.Progress, sending func(n int)) (n int, recorded bool, err error) {
	if batches {
		n, err := pb.ExecProgressEach(ctx, window, sending)
		if !errors.Is(err, errors.ErrUnsupported) {
			return n, true, err
		}
	}
	sending(1)
	st := window[0].Statement
	if withProgress {
		err = pe.ExecProgress(ctx, st, window[0].Row)
		recorded = err == nil
		if errors.Is(err, errors.ErrUnsupported) {
			err = r.drv.Exec(ctx, st)
		}
	} else {
		err = r.drv.Exec(ctx, st)
	}
	if err != nil {
		return 0, false, err
	}
	return 1, recorded, nil
}

// applyRecorded applies a migration outside a transaction in one round trip
// where the driver can (database.RecordedExecer): the running row, each
// statement and the update recording it, the final applied update. On
// failure the row is marked failed after the last statement that ran, as
// the statement-by-statement path leaves it. errors.ErrUnsupported: nothing
// was done, apply statement by statement.
func (r *Runner) applyRecorded(ctx context.Context, rx database.RecordedExecer, p applyPlan, running database.Revision, start time.Time) (time.Duration, error) {
	m := p.e.m
	done := running
	done.State = database.StateApplied
	n, err := rx.ExecRecorded(ctx, p.stmts, running, done)
	if errors.Is(err, errors.ErrUnsupported) {
		return 0, err
	}
	if err == nil {
		return r.cfg.now().Sub(start), nil
	}
	if refused(err) {
		return 0, fmt.Errorf("%s: not run: %w", m.Up.File, err)
	}
	rev := running
	rev.StatementsApplied = n
	rev.StatementChecksums = database.SumsOf(p.stmts[:min(n, len(p.stmts))]).Column()
	return 0, r.recordFailure(ctx, p, rev, start, n, err)
}

// openRollbacker is a driver that can roll back a transaction a
// migration's own statements left open in the session (see settle).
type openRollbacker interface {
	RollbackOpen(ctx context.Context) error
}

// recordFailure marks rev failed after applied statements of p, writes it
// with a fresh context (the run's may be what ended) and returns the
// *MigrationError for err, noting when the row could not be written.
//
// When the failing statement ran inside a transaction the script opened
// itself, that transaction is rolled back, and the statements in it with it
// (see settle): the row then records the migration as it stood when the
// transaction opened, where the rerun resumes, and the error says so.
func (r *Runner) recordFailure(ctx context.Context, p applyPlan, rev database.Revision, start time.Time, applied int, err error) error {
	m := p.e.m
	rev.State = database.StateFailed
	rev.Duration = r.cfg.now().Sub(start)
	rev.Error = r.historyText(errMessage(err))
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	undoneFrom, werr := r.settle(wctx, &rev)
	if werr == nil {
		werr = r.drv.WriteRevision(wctx, rev)
	}
	cancel()
	ferr := r.failed(m.Version, m.Name, m.Up, p.known(), applied, err, false)
	if me, ok := ferr.(*MigrationError); ok {
		me.NoTransaction = true // recorded statement by statement
		noteUndone(me, undoneFrom)
		if werr != nil {
			me.RecordErr = werr
		}
	}
	return ferr
}

// settle, before the failure of a migration run statement by statement is
// recorded in rev, rolls back a transaction the script's own statements may
// have left open in the session (a BEGIN, or MySQL's SET autocommit = 0),
// and reads the migration's history row back. The progress of statements
// run inside such a transaction was written inside it, so the row as it
// stands then says what took effect (MySQL's implicit commits, a statement
// PREPAREd, PostgreSQL's COMMIT AND CHAIN, SQLite's SAVEPOINT alike; not a
// change to a MySQL table without transactions, MyISAM or MEMORY, which no
// rollback takes back): when it counts fewer statements than rev, those
// between were rolled back, and rev takes the row's count and checksums;
// with no row at all, nothing of the migration stands. It returns the index
// of the first statement rolled back, -1 when none was. When the row cannot
// be read back it returns an error, and the failure is not recorded: the
// row stays as it was committed, running, and the next run resumes there.
func (r *Runner) settle(ctx context.Context, rev *database.Revision) (int, error) {
	rb, ok := r.drv.(openRollbacker)
	if !ok {
		return -1, nil
	}
	if err := rb.RollbackOpen(ctx); err != nil {
		return -1, err
	}
	revs, err := r.drv.History(ctx)
	if err != nil {
		return -1, fmt.Errorf("read the history back after the rollback: %w", err)
	}
	var row *database.Revision
	for i := range revs {
		if revs[i].Version.Compare(rev.Version) == 0 {
			row = &revs[i]
		}
	}
	switch {
	case row == nil && rev.StatementsApplied > 0:
		rev.StatementsApplied, rev.StatementChecksums = 0, nil
		return 0, nil
	case row != nil && row.StatementsApplied < rev.StatementsApplied:
		rev.StatementsApplied = row.StatementsApplied
		rev.StatementChecksums = row.StatementChecksums
		return row.StatementsApplied, nil
	}
	return -1, nil
}

// noteUndone tells me that the statements from index from on were rolled
// back with the script's own transaction (see settle).
func noteUndone(me *MigrationError, from int) {
	if from >= 0 {
		me.Applied = from
		me.UndoneFrom = from + 1
	}
}

func errMessage(err error) string {
	var ee *database.ExecError
	if errors.As(err, &ee) {
		return ee.Error()
	}
	return err.Error()
}

// refused reports whether the driver refused to run anything because the
// lock cannot protect the run (ErrUnsafeLock) or is no longer ours
// (ErrLockLost) — not a statement the database rejected.
func refused(err error) bool {
	var ee *database.ExecError
	return !errors.As(err, &ee) && (errors.Is(err, database.ErrUnsafeLock) || errors.Is(err, database.ErrLockLost))
}

// failed turns a driver error into a *MigrationError naming file, statement
// and line; a refusal by the driver (see refused) is returned as it is.
func (r *Runner) failed(v migration.Version, name string, s *migration.Script, stmts knownStatements, applied int, err error, down bool) error {
	if refused(err) {
		r.emit(Event{Kind: EventMigrationFail, Version: v.String(), Name: name, File: s.File, Down: down, Err: err})
		return fmt.Errorf("%s: nothing of it was applied: %w", s.File, err)
	}
	me := &MigrationError{Version: v, Name: name, File: s.File, Applied: applied, Down: down, Err: err, Message: err.Error()}
	var ee *database.ExecError
	idx := applied
	known := true // which statement failed
	if errors.As(err, &ee) {
		if ee.Statement >= 0 {
			idx += ee.Statement
		}
		if ee.AtCommit {
			me.AtCommit = true
			known = false // no statement failed
		}
		me.Code = ee.Code
		me.Message = ee.Message
		me.Position = ee.Position
		if me.Message == "" && ee.Err != nil {
			me.Message = ee.Err.Error()
		}
	} else if applied == 0 && stmts.total > 1 {
		// A transaction sent whole failed without a database error: the
		// connection went, and which statement was running is unknown.
		known = false
	}
	var fe *migration.FileError
	if ee == nil && errors.As(err, &fe) {
		// The file, read as the migration ran, could not be read further.
		me.Message, me.Line = fe.Err.Error(), fe.Line
		known = false
	}
	// No SQL error code and a failed connection: the database did not get to
	// answer, so whether the work took effect is unknown. Not for SQLite,
	// which runs in this process: a statement interrupted there is undone
	// (each statement is atomic), and nothing was lost in between.
	me.Uncertain = me.Code == "" && connectionFailed(err) && !errors.Is(err, database.ErrNotSent) && r.drv.Dialect() != migration.SQLite
	switch {
	case errors.Is(err, database.ErrNotSent):
		me.NotSent = true
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		me.Message = "interrupted before the statement finished: " + me.Message // not err.Error(): it repeats the code
	}
	if !known {
		idx = stmts.total
	}
	if st, ok := stmts.at(idx); ok {
		me.Statement = idx + 1
		me.Line = st.Line
		me.SQL = st.SQL
	} else if ee != nil && ee.SQL != "" {
		// A streamed migration: the driver kept the failing statement.
		me.Statement = idx + 1
		me.SQL = ee.SQL
	}
	if ee != nil && ee.Line > 0 {
		me.Line = ee.Line
	}
	if me.NotSent {
		why := "cancelled"
		if errors.Is(err, context.DeadlineExceeded) {
			why = "its time ran out"
		}
		me.Message = fmt.Sprintf("the run was stopped (%s) before statement %d was sent", why, me.Statement)
	}
	r.emit(Event{Kind: EventMigrationFail, Version: v.String(), Name: name, File: s.File, Down: down, Err: me})
	return me
}

// knownStatements is what failed knows of a migration's statements: all of
// them, or for a large file read as it runs (a lazy plan) their number and
// the statement that was running.
type knownStatements struct {
	all       []migration.Statement
	total     int
	current   *migration.Statement // lazy: the statement at index currentAt
	currentAt int
}

func allOf(stmts []migration.Statement) knownStatements {
	return knownStatements{all: stmts, total: len(stmts)}
}

// at returns statement i, when known.
func (k knownStatements) at(i int) (migration.Statement, bool) {
	switch {
	case k.all != nil && i >= 0 && i < len(k.all):
		return k.all[i], true
	case k.current != nil && i == k.currentAt:
		return *k.current, true
	}
	return migration.Statement{}, false
}

// unfinishedWarnings reports the rows an earlier run left running or failed:
// never ignored, always said before resuming.
func unfinishedWarnings(a *analysis) []string {
	var out []string
	for _, e := range a.incomplete {
		rev := e.rev
		switch rev.State {
		case database.StateRunning:
			why := "that runner stopped before finishing — it crashed, was killed or lost its connection"
			next := fmt.Sprintf("%d of %d statements had completed; resuming at statement %d", rev.StatementsApplied, rev.StatementsTotal, rev.StatementsApplied+1)
			if rev.StatementsTotal > 0 && rev.StatementsApplied >= rev.StatementsTotal {
				// Each statement was recorded as it ran: only the write
				// that marks the migration applied is missing. The file
				// may hold more statements since, which then run.
				why = "that runner stopped after its last statement, before recording the migration as applied — it crashed, was killed, lost its connection, or the database refused that write"
				next = fmt.Sprintf("All %d of its statements had completed; resuming after them", rev.StatementsTotal)
			}
			out = append(out, fmt.Sprintf("%s_%s was left running by %s (started %s): %s. %s",
				e.version(), e.name(), orUnknown(rev.AppliedBy), rev.AppliedAt.UTC().Format(time.RFC3339), why, next))
		case database.StateFailed:
			out = append(out, fmt.Sprintf("%s_%s failed in an earlier run (%s); %d of its then %d statements had completed; resuming at statement %d of the file as it is now",
				e.version(), e.name(), rev.Error, rev.StatementsApplied, rev.StatementsTotal, rev.StatementsApplied+1))
		}
	}
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown runner"
	}
	return s
}
