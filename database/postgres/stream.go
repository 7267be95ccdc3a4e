package postgres

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"unicode"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/migration"
)

var _ database.TxStreamer = (*Driver)(nil)

// streamBatch is about how much SQL ApplyTxStream sends per round trip: big
// enough that round trips do not count, small enough that memory does not.
var streamBatch = 1 << 20 // a variable so that tests can make batches small

// ApplyTxStream runs the statements stmts yields and then the history row
// in one transaction, as ApplyTx does, but sends them in batches of about
// streamBatch bytes, each one simple-protocol query with a marker after
// every statement: BEGIN and the lock's guard lead the first, the history
// row and COMMIT end the last. Only one batch of statements is held at a
// time. On failure the transaction is rolled back.
func (d *Driver) ApplyTxStream(ctx context.Context, stmts iter.Seq2[migration.Statement, error], record database.Revision) (int, error) {
	if d.tableErr != nil {
		return 0, d.tableErr
	}
	var (
		b     strings.Builder
		units []unit
		held  []migration.Statement // the statements of the batch being built
		base  int                   // index of held[0] in the whole migration
		chars int
		began bool
	)
	write := func(s string) {
		b.WriteString(s)
		chars += runeLen(s)
	}
	add := func(stmt int, sql string) {
		u := unit{step: 0, stmt: stmt, start: chars}
		write(sql)
		u.end = chars
		units = append(units, u)
		write("\n;\n" + marker + ";\n")
	}
	// send runs the batch built so far; final ends it with COMMIT.
	send := func(final bool) error {
		if final {
			write(d.commitSQL())
		}
		markers, err := drain(d.pg.Exec(ctx, b.String()))
		began = began || err == nil || d.pg.TxStatus() != 'I'
		if err != nil {
			rbErr := d.rollback(ctx)
			if gerr := d.guardError(err, "Nothing of this migration was applied."); gerr != nil {
				err = gerr
			} else {
				err = d.txError(ctx, err, []database.Step{{Statements: held}}, units, markers)
				var ee *database.ExecError
				if errors.As(err, &ee) && !ee.AtCommit {
					ee.SQL = held[ee.Statement].SQL
					ee.Statement += base
				}
			}
			if rbErr != nil {
				err = errors.Join(err, fmt.Errorf("postgres: rollback: %w", rbErr))
			}
			return err
		}
		want := byte('T')
		if final {
			want = 'I'
		}
		if st := d.pg.TxStatus(); st != want {
			d.rollback(ctx)
			if final {
				return fmt.Errorf("postgres: a statement left the transaction open (status %q); rolled back", st)
			}
			return fmt.Errorf("postgres: a statement ended the migration's transaction (status %q): a migration cannot commit or roll back itself; run it with -- runway:no-transaction", st)
		}
		base += len(held)
		b.Reset()
		units, held, chars = units[:0], held[:0], 0
		return nil
	}

	write("BEGIN;\n")
	if guard := d.guardSQL(); guard != "" {
		write(guard + ";\n")
	}
	n := 0
	for st, err := range stmts {
		if err != nil {
			if began {
				d.rollback(ctx)
			}
			return 0, fmt.Errorf("postgres: reading the migration: %w", err)
		}
		add(len(held), strings.TrimRightFunc(st.SQL, unicode.IsSpace))
		held = append(held, st)
		n++
		if b.Len() >= streamBatch {
			if err := send(false); err != nil {
				return 0, err
			}
		}
	}
	record.StatementsApplied, record.StatementsTotal = n, n
	sql, err := d.upsertSQL(&record)
	if err != nil {
		if began {
			d.rollback(ctx)
		}
		return 0, err
	}
	add(-1, sql)
	if err := send(true); err != nil {
		return 0, err
	}
	return n, nil
}
