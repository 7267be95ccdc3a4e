package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/internal/rawconn"
	"github.com/runwaydb/runway/migration"
)

// A marker follows every statement of a transaction. Its result tells how
// many statements completed before an error even when one statement holds
// several commands (a verbatim block) or none.
//
// The column's name ends in a token drawn when the process starts, so that
// a statement's own result of a like name ("SELECT 1 AS runway_marker") is
// not counted as one.
var (
	markerColumn = "runway_marker_" + strconv.FormatUint(rand.Uint64(), 36)
	marker       = "SELECT 1 AS " + markerColumn
)

// unit is one piece of the transaction's query: a statement, or the history
// change of a step (stmt == -1).
type unit struct {
	step, stmt int
	start, end int // character offsets in the query, end exclusive
}

// txBuilder writes a simple-protocol query made of transactions, noting
// where each statement and history change lies in it.
type txBuilder struct {
	b      strings.Builder
	units  []unit
	chars  int
	guard  string // the lock's guard (guardSQL), taken once for the query
	commit string // commitSQL, taken once for the query
}

// newTxBuilder starts a query for steps with room for about all of it, so
// that the buffer is not copied as it grows: a batch holds up to a megabyte
// of SQL. perStep is what the caller writes around each step.
func (d *Driver) newTxBuilder(steps []database.Step, perStep int) *txBuilder {
	q := &txBuilder{guard: d.guardSQL(), commit: d.commitSQL()}
	n := 0
	for _, st := range steps {
		n += perStep + len(q.guard) + len(q.commit) + stepSize(st)
	}
	q.b.Grow(n)
	q.units = make([]unit, 0, len(steps)*3)
	return q
}

// stepSize is about what txBuilder.step writes for st: its statements, their
// markers and its history change.
func stepSize(st database.Step) int {
	n := 1 << 10 // the history change's SQL, a RESET search_path
	for _, s := range st.Statements {
		n += len(s.SQL) + len(markerAfter)
	}
	if r := st.Record; r != nil {
		n += len(r.Name) + len(r.Checksum) + len(r.AppliedBy) + len(r.Error)
		for _, c := range r.StatementChecksums {
			n += len(c) + 1
		}
	}
	return n
}

func (q *txBuilder) write(s string) {
	q.b.WriteString(s)
	q.chars += runeLen(s)
}

// markerAfter follows each unit. Its newline ends a trailing "--" comment;
// the empty command it makes when the statement kept its own semicolon
// produces no result.
var markerAfter = "\n;\n" + marker + ";\n"

// add writes sql, one unit, and the marker after it.
func (q *txBuilder) add(step, stmt int, sql string) {
	u := unit{step: step, stmt: stmt, start: q.chars}
	q.write(sql)
	u.end = q.chars
	q.units = append(q.units, u)
	q.write(markerAfter)
}

// step writes step i's statements and history change; upsert renders its Record.
func (q *txBuilder) step(d *Driver, i int, st database.Step, upsert func(*database.Revision) (string, error)) error {
	for j, s := range st.Statements {
		q.add(i, j, strings.TrimRightFunc(s.SQL, unicode.IsSpace))
	}
	if !st.Remove.IsZero() {
		q.add(i, -1, d.deleteSQL(st.Remove))
	}
	if st.Record != nil {
		sql, err := upsert(st.Record)
		if err != nil {
			return err
		}
		q.add(i, -1, sql)
	}
	if setsSearchPath(st.Statements) {
		// Each migration starts from the session's own search_path, however
		// the migrations are batched: one that sets it does not move the
		// next one's tables (as in a later run, on a new session).
		q.add(i, -1, "RESET search_path")
	}
	return nil
}

// setsSearchPath reports whether a statement may change the session's
// search_path (SET search_path, pg_dump's set_config('search_path', …),
// SET SCHEMA, PostgreSQL's other spelling of it), in any case. It errs on
// the side of yes (CREATE SCHEMA): a RESET costs nothing.
func setsSearchPath(stmts []migration.Statement) bool {
	for _, s := range stmts {
		if containsFold(s.SQL, "search_path") || containsFold(s.SQL, "schema") {
			return true
		}
	}
	return false
}

// containsFold reports whether s contains word, an ASCII lower-case word,
// in any case, as strings.Contains(strings.ToLower(s), word) would but
// without copying s. No letter outside ASCII lowers to one of word's.
func containsFold(s, word string) bool {
	for i := 0; i+len(word) <= len(s); i++ {
		j := 0
		for j < len(word) && s[i+j]|0x20 == word[j]|0x20 && (word[j] != '_' || s[i+j] == '_') {
			j++
		}
		if j == len(word) {
			return true
		}
	}
	return false
}

// begin opens a transaction, with the lock's guard first.
func (q *txBuilder) begin() {
	q.write("BEGIN;\n")
	if q.guard != "" {
		q.write(q.guard)
		q.write(";\n")
	}
}

// txQuery builds the whole transaction as one simple-protocol query:
// BEGIN; each statement and history change followed by a marker; COMMIT.
func (d *Driver) txQuery(steps []database.Step) (string, []unit, error) {
	q := d.newTxBuilder(steps, 0)
	q.begin()
	for i, st := range steps {
		if err := q.step(d, i, st, d.upsertSQL); err != nil {
			return "", nil, err
		}
	}
	q.write(q.commit)
	return q.b.String(), q.units, nil
}

// ApplyTx runs the steps and their history changes in one transaction, sent
// in one round trip. On failure the transaction is rolled back and a
// statement's error is an *database.ExecError; a failing history change is
// reported as a plain error, and an error raised at COMMIT (a deferred
// constraint) is an *database.ExecError with AtCommit set, of the one step
// or, for several, of none (Step -1). While the lock is held
// the transaction starts with the lock's guard (see guardSQL): when the
// session changed (a transaction pooler) the error wraps
// database.ErrUnsafeLock, when the lease was taken over database.ErrLockLost.
func (d *Driver) ApplyTx(ctx context.Context, steps []database.Step) error {
	if d.tableErr != nil {
		return d.tableErr
	}
	sql, units, err := d.txQuery(steps)
	if err != nil {
		return err
	}
	if len(units) == 0 {
		return nil
	}
	markers, err := drain(d.pg.Exec(ctx, sql))
	if err == nil {
		if st := d.pg.TxStatus(); st != 'I' {
			d.rollback(ctx)
			return fmt.Errorf("postgres: a statement left the transaction open (status %q); rolled back", st)
		}
		return nil
	}
	rbErr := d.rollback(ctx)
	// A guard fails before the statements or, in table mode, at the commit
	// (commitSQL): either way the transaction rolled back.
	if gerr := d.guardError(err, "Nothing of this migration was applied."); gerr != nil {
		err = gerr
	} else {
		err = d.txError(ctx, err, steps, units, markers)
	}
	if rbErr != nil {
		err = errors.Join(err, fmt.Errorf("postgres: rollback: %w", rbErr))
	}
	return err
}

// txError maps the failure of the transaction's query back to a step and a
// statement: by the error's position in the query when the server gives one,
// otherwise by the number of markers that completed before it.
func (d *Driver) txError(ctx context.Context, err error, steps []database.Step, units []unit, markers int) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = errors.Join(err, ctx.Err())
		}
		return fmt.Errorf("postgres: applying migrations: %w", err)
	}
	idx, pos := markers, 0
	if k, at := unitAt(int(pe.Position), units); k >= 0 {
		idx, pos = k, at
	}
	if idx >= len(units) {
		// COMMIT failed (a deferred constraint or trigger): no statement
		// of the transaction is to blame, only the step it ends, when it
		// ends one alone.
		step := -1
		for k, u := range units {
			if k == 0 || u.step == step {
				step = u.step
			} else {
				step = -1
				break
			}
		}
		ee := execError(ctx, err, step, -1, migration.Statement{}, 0)
		if e, ok := ee.(*database.ExecError); ok {
			e.AtCommit = true
			e.Message = "at COMMIT: " + e.Message
		}
		return ee
	}
	u := units[idx]
	if u.stmt < 0 {
		return fmt.Errorf("postgres: %s in %s: %w", stepChange(steps[u.step]), d.table, refusedWrite(err))
	}
	return execError(ctx, err, u.step, u.stmt, steps[u.step].Statements[u.stmt], pos)
}

// stepChange names the history change of st, for an error of its write:
// by the version it records or removes, which the user knows, not by the
// step's place in the batch.
func stepChange(st database.Step) string {
	if st.Record != nil {
		return "recording version " + st.Record.Version.String()
	}
	return "removing version " + st.Remove.String()
}

var _ database.TxBatcher = (*Driver)(nil)

const (
	// stepStartSQL opens each step of ApplyEach: it notes the server's
	// clock in a setting local to the step's transaction, which the step's
	// history row reads back as applied_at and to compute duration_ms. A
	// migration that ends the transaction itself (its own COMMIT) or resets
	// every setting loses it: its row then says when it was recorded, and 0.
	stepStartSQL  = "SELECT set_config('runway.step_started', extract(epoch FROM clock_timestamp())::text, true)"
	stepStarted   = "nullif(current_setting('runway.step_started', true), '')::float8"
	stepAppliedAt = "coalesce(to_timestamp(" + stepStarted + "), clock_timestamp())"
	stepDuration  = "coalesce(round((extract(epoch FROM clock_timestamp()) - " + stepStarted + ") * 1000)::bigint, 0)"

	// flushSQL follows each commit of ApplyEach but the last. PostgreSQL
	// sends a query's results when the whole query ends, except that it
	// sends everything waiting at once whenever it sends a notice: so the
	// client learns of each commit as it happens, and a run's progress and
	// each migration's time stay true while many migrations travel in one
	// query. client_min_messages is raised for the notice alone (a role may
	// set it to warning), in the implicit transaction the next BEGIN takes
	// over; the notice itself is discarded by the driver.
	flushSQL = "DO $runway$BEGIN PERFORM set_config('client_min_messages', 'notice', true); " +
		"RAISE NOTICE 'runway: migration committed'; END$runway$"
)

// ApplyEach runs each step in a transaction of its own, all sent in one
// simple-protocol query: for each step BEGIN, the lock's guard, its
// statements and history change each followed by a marker, COMMIT, and a
// notice that makes the server send what it has (see flushSQL). A failure
// stops the query where it happens, so the steps after a failing one never
// start; the failing step's transaction is rolled back. Each history row's
// applied_at and duration_ms are the server's clock around the step. Where
// the notice cannot be raised (no PL/pgSQL), the steps left are sent again
// without it: their commits are then learnt of when the query ends.
//
// Before PostgreSQL 13 a statement_timeout counts the whole query, not each
// statement: there the steps are sent one query each, so a timeout meant
// for one migration is not spent on many.
func (d *Driver) ApplyEach(ctx context.Context, steps []database.Step, committed func(i int)) (int, error) {
	if d.tableErr != nil {
		return 0, d.tableErr
	}
	if d.queryTimeout {
		for i := range steps {
			if n, err := d.applyEach(ctx, steps[i:i+1], func(int) { committed(i) }); err != nil {
				var ee *database.ExecError
				if errors.As(err, &ee) {
					ee.Step += i
				}
				return i + n, err
			}
		}
		return len(steps), nil
	}
	return d.applyEach(ctx, steps, committed)
}

// serverMajor reads the major version from server_version ("15.4 (Debian
// 15.4-1)", "12.17", "9.6.24"): 9 for 9.6, as PostgreSQL numbered them.
func serverMajor(v string) (int, bool) {
	digits, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(strings.TrimSpace(digits))
	return n, err == nil
}

// applyEach is ApplyEach, all steps in one query.
func (d *Driver) applyEach(ctx context.Context, steps []database.Step, committed func(i int)) (int, error) {
	if len(steps) == 0 {
		return 0, nil
	}
	flush := !d.noFlush
	q, ends, err := d.eachQuery(steps, flush)
	if err != nil {
		return 0, err
	}

	stop := d.gather(len(steps))
	mrr := d.pg.Exec(ctx, q.b.String())
	markers, done, results := 0, 0, 0
	afterCommit := false // no result read since the last commit
	for mrr.NextResult() {
		results++
		rr := mrr.ResultReader()
		fd := rr.FieldDescriptions()
		isMarker := len(fd) == 1 && fd[0].Name == markerColumn
		tag, _ := rr.Close() // a failure ends the results; mrr.Close returns it
		afterCommit = false
		switch {
		case isMarker:
			markers++
		case done < len(steps) && markers >= ends[done] && tag.String() == "COMMIT":
			// After a step's last marker only its COMMIT comes: a COMMIT
			// among the step's own statements is counted before it.
			done++
			committed(done - 1)
			afterCommit = true
		}
	}
	err = mrr.Close()
	stop()
	if err == nil {
		if st := d.pg.TxStatus(); st != 'I' {
			d.rollback(ctx)
			return done, fmt.Errorf("postgres: a statement left the transaction open (status %q); rolled back", st)
		}
		return done, nil
	}
	rbErr := d.rollback(ctx)
	if rbErr != nil {
		err = errors.Join(err, fmt.Errorf("postgres: rollback: %w", rbErr))
	}
	if flush && afterCommit && done < len(steps) && flushRefused(ctx, err) {
		// The notice after step done-1's commit failed: the steps left were
		// not sent. Send them again, without notices from now on.
		d.noFlush = true
		n, err := d.applyEach(ctx, steps[done:], func(i int) { committed(done + i) })
		var ee *database.ExecError
		if errors.As(err, &ee) {
			ee.Step += done
		}
		return done + n, err
	}
	if k := rejectedAt(err, q.units); results == 0 && k > 0 {
		// The server parses the whole query before it runs any of it: a
		// syntax error in step k rejected every step. Apply those before
		// it, as one by one they would have been, then report step k's.
		n, err2 := d.applyEach(ctx, steps[:k], committed)
		if err2 != nil {
			return n, err2
		}
		return k, d.txError(ctx, err, steps, q.units, 0)
	}
	begun := 0 // markers before step done's first
	if done > 0 {
		begun = ends[done-1]
	}
	if gerr := d.guardError(err, "Nothing of this migration was applied."); gerr != nil {
		return done, gerr
	}
	if done < len(steps) {
		// Only step done's units can have failed; past its last marker, the
		// failure is its COMMIT's.
		return done, d.txError(ctx, err, steps, q.units[begun:ends[done]], markers-begun)
	}
	return done, fmt.Errorf("postgres: after the last commit: %w", err)
}

// gatherTick is how often the answers to applyEach's query are looked for
// while they come in (see gather).
const gatherTick = 4 * time.Millisecond

// gatherMinSteps is the least number of steps in applyEach's query for
// gather to take its answers a tick at a time. Each step's notice gathered
// spares the server ~20–25 µs; the last answer may be seen up to a tick
// late, half of one on average: below this, what is spared does not make
// up for it.
const gatherMinSteps = 80

// gather has the session's socket take the answers to applyEach's query of
// n steps a tick at a time (rawconn.Gather) when n is at least
// gatherMinSteps, and returns what undoes it. The notice after each commit
// (flushSQL) makes the server send what it has, and on loopback the
// server's process pays for waking this one each time. The commits that
// came within a tick are then reported together; each history row's times
// are the server's clock, and do not change.
func (d *Driver) gather(n int) (stop func()) {
	if n < gatherMinSteps || d.noFlush {
		return func() {}
	}
	return rawconn.Gather(d.pg.Conn(), gatherTick)
}

// eachQuery builds applyEach's query: each step in its own transaction,
// with a flush of the notices after each commit but the last when flush is
// set. ends[i] is the number of units once step i's statements and history
// change have run; its COMMIT comes next.
func (d *Driver) eachQuery(steps []database.Step, flush bool) (q *txBuilder, ends []int, err error) {
	q = d.newTxBuilder(steps, len(stepStartSQL)+len(flushSQL)+len(stepAppliedAt)+len(stepDuration)+16)
	ends = make([]int, len(steps))
	upsert := func(r *database.Revision) (string, error) { return d.upsertWith(r, stepAppliedAt, stepDuration) }
	for i, st := range steps {
		q.begin()
		q.write(stepStartSQL + ";\n")
		if err := q.step(d, i, st, upsert); err != nil {
			return nil, nil, err
		}
		ends[i] = len(q.units)
		q.write(q.commit)
		q.write(";\n")
		if flush && i+1 < len(steps) {
			q.write(flushSQL + ";\n")
		}
	}
	return q, ends, nil
}

// rejectedAt returns the step of the unit where err, a server error, points
// (by its position in the query), -1 when it points at none.
func rejectedAt(err error, units []unit) int {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return -1
	}
	if k, _ := unitAt(int(pe.Position), units); k >= 0 {
		return units[k].step
	}
	return -1
}

// unitAt returns the unit the 1-based query position p falls in and the
// position within it; -1 when p is 0. A position past a statement's text, on
// the separator Runway wrote after it (a syntax error "at or near ;" of a
// statement that stops short), is that statement's, at its end.
func unitAt(p int, units []unit) (int, int) {
	if p <= 0 {
		return -1, 0
	}
	last := -1
	for k, u := range units {
		if p > u.start && p <= u.end {
			return k, p - u.start
		}
		if u.end < p && u.stmt >= 0 {
			last = k
		}
	}
	if last >= 0 {
		return last, units[last].end - units[last].start + 1
	}
	return -1, 0
}

// flushRefused reports whether err, raised by flushSQL, says the server
// cannot run it (no PL/pgSQL, or not allowed to use it) rather than that
// the run was cancelled or the connection lost.
func flushRefused(ctx context.Context, err error) bool {
	var pe *pgconn.PgError
	return ctx.Err() == nil && errors.As(err, &pe) && pe.Code != "57014" && !strings.HasPrefix(pe.Code, "08") && !strings.HasPrefix(pe.Code, "57")
}
