package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/runwaydb/runway/database"
)

// A marker follows every statement of a transaction. Its result tells how
// many statements completed before an error even when one statement holds
// several commands (a verbatim block) or none.
const (
	markerColumn = "runway_marker"
	marker       = "SELECT 1 AS " + markerColumn
)

// unit is one piece of the transaction's query: a statement, or the history
// change of a step (stmt == -1).
type unit struct {
	step, stmt int
	start, end int // character offsets in the query, end exclusive
}

// txQuery builds the whole transaction as one simple-protocol query:
// BEGIN; each statement and history change followed by a marker; COMMIT.
func (d *Driver) txQuery(steps []database.Step) (string, []unit, error) {
	var (
		b     strings.Builder
		units []unit
		chars int
	)
	write := func(s string) {
		b.WriteString(s)
		chars += runeLen(s)
	}
	add := func(step, stmt int, sql string) {
		u := unit{step: step, stmt: stmt, start: chars}
		write(sql)
		u.end = chars
		units = append(units, u)
		// The newline ends a trailing "--" comment; an empty command (when the
		// statement kept its own semicolon) produces no result.
		write("\n;\n" + marker + ";\n")
	}
	write("BEGIN;\n")
	if guard := d.guardSQL(); guard != "" {
		write(guard + ";\n")
	}
	for i, st := range steps {
		for j, s := range st.Statements {
			add(i, j, strings.TrimRightFunc(s.SQL, unicode.IsSpace))
		}
		if !st.Remove.IsZero() {
			add(i, -1, d.deleteSQL(st.Remove))
		}
		if st.Record != nil {
			sql, err := d.upsertSQL(st.Record)
			if err != nil {
				return "", nil, err
			}
			add(i, -1, sql)
		}
	}
	write("COMMIT")
	return b.String(), units, nil
}

// ApplyTx runs the steps and their history changes in one transaction, sent
// in one round trip. On failure the transaction is rolled back and a
// statement's error is an *database.ExecError; a failing history change is
// reported as a plain error, and an error raised at COMMIT (a deferred
// constraint) is attributed to the last statement. While the lock is held
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
	markers, err := drain(d.conn.PgConn().Exec(ctx, sql))
	if err == nil {
		if st := d.conn.PgConn().TxStatus(); st != 'I' {
			d.rollback(ctx)
			return fmt.Errorf("postgres: a statement left the transaction open (status %q); rolled back", st)
		}
		return nil
	}
	rbErr := d.rollback(ctx)
	if gerr := d.guardError(err, "Nothing of this migration was applied."); gerr != nil && markers == 0 {
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
	if p := int(pe.Position); p > 0 {
		for k, u := range units {
			if p > u.start && p <= u.end {
				idx, pos = k, p-u.start
				break
			}
		}
	}
	if idx >= len(units) {
		// COMMIT failed: a deferred constraint of the last statements.
		for idx = len(units) - 1; idx >= 0 && units[idx].stmt < 0; idx-- {
		}
		if idx < 0 {
			return fmt.Errorf("postgres: committing: %w", err)
		}
	}
	u := units[idx]
	if u.stmt < 0 {
		return fmt.Errorf("postgres: recording step %d in %s: %w", u.step, d.table, err)
	}
	return execError(ctx, err, u.step, u.stmt, steps[u.step].Statements[u.stmt], pos)
}
