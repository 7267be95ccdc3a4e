package postgres

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"testing"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/migration"
)

// seq yields stmts, then err if not nil.
func seq(stmts []migration.Statement, err error) iter.Seq2[migration.Statement, error] {
	return func(yield func(migration.Statement, error) bool) {
		for _, s := range stmts {
			if !yield(s, nil) {
				return
			}
		}
		if err != nil {
			yield(migration.Statement{}, err)
		}
	}
}

// inserts is a table and n statements inserting into it, about 100 bytes each.
func inserts(table string, n int) []migration.Statement {
	out := []migration.Statement{st("CREATE TABLE "+table+" (id int primary key, note text)", 1)}
	for i := 1; i <= n; i++ {
		out = append(out, st(fmt.Sprintf("INSERT INTO %s VALUES (%d, '%s -- not a comment; $$')", table, i, strings.Repeat("x", 50)), i+1))
	}
	return out
}

func smallBatches(t *testing.T) {
	old := streamBatch
	streamBatch = 2 << 10
	t.Cleanup(func() { streamBatch = old })
}

// A migration streamed in many batches is one transaction: all of it and its
// history row, or, whatever fails and wherever, nothing.
func TestApplyTxStream(t *testing.T) {
	smallBatches(t)
	ctx := context.Background()
	d := newDriver(t)

	stmts := inserts("streamed", 500) // about 25 batches
	n, err := d.ApplyTxStream(ctx, seq(stmts, nil), *rev("1"))
	if err != nil || n != len(stmts) {
		t.Fatalf("ApplyTxStream = %d, %v; want %d, nil", n, err, len(stmts))
	}
	if got := query(t, d, "SELECT count(*) FROM streamed"); got != "500" {
		t.Fatalf("rows: %s", got)
	}
	revs, err := d.History(ctx)
	if err != nil || len(revs) != 1 || revs[0].StatementsApplied != len(stmts) || revs[0].StatementsTotal != len(stmts) {
		t.Fatalf("history: %+v, %v", revs, err)
	}
	if st := d.pg.TxStatus(); st != 'I' {
		t.Fatalf("transaction status after: %q", st)
	}

	t.Run("a statement fails in a later batch", func(t *testing.T) {
		bad := inserts("failing", 300)
		bad[250] = st("INSERT INTO failing VALUES (1, 'duplicate')", 251)
		_, err := d.ApplyTxStream(ctx, seq(bad, nil), *rev("2"))
		var ee *database.ExecError
		if !errors.As(err, &ee) || ee.Statement != 250 || ee.Line != 251 || ee.SQL != bad[250].SQL || ee.Code != "23505" {
			t.Fatalf("error: %#v (%v); want statement 250, line 251, its SQL, 23505", ee, err)
		}
		if got := query(t, d, "SELECT count(*) FROM pg_tables WHERE tablename = 'failing'"); got != "0" {
			t.Fatal("the earlier batches of a failed migration were not rolled back")
		}
	})

	t.Run("the file cannot be read further", func(t *testing.T) {
		boom := &migration.FileError{File: "3_x.up.sql", Err: migration.ErrChanged}
		_, err := d.ApplyTxStream(ctx, seq(inserts("unread", 300), boom), *rev("3"))
		if !errors.Is(err, migration.ErrChanged) {
			t.Fatalf("error: %v; want the sequence's error", err)
		}
		if got := query(t, d, "SELECT count(*) FROM pg_tables WHERE tablename = 'unread'"); got != "0" {
			t.Fatal("the batches sent before the read error were not rolled back")
		}
	})

	t.Run("a statement ends the transaction", func(t *testing.T) {
		s := append(inserts("committing", 100), st("COMMIT", 200))
		s = append(s, inserts("after", 100)...)
		if _, err := d.ApplyTxStream(ctx, seq(s, nil), *rev("4")); err == nil {
			t.Fatal("a migration that commits itself was accepted")
		}
	})

	revs, _ = d.History(ctx)
	if len(revs) != 1 {
		t.Fatalf("history after the failures: %+v", revs)
	}
}
