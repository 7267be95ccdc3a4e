package runway_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/runwaydb/runway"
	"github.com/runwaydb/runway/database"
)

// A run stopped between two statements of a migration run statement by
// statement does not send the next one, and says so: nothing of it ran, the
// outcome is not unknown, and the row counts the statements before it. The
// engine sees the end before it sends (a driver that returns after its
// statement ran, the context then ended), and so does the PostgreSQL driver
// (the context ended as the statement was about to go).
func TestStoppedBetweenStatements(t *testing.T) {
	body := "-- runway:no-transaction\nCREATE TABLE s1 (id int);\nCREATE TABLE s2 (id int);\nCREATE TABLE s3 (id int);\n"
	check := func(t *testing.T, drv database.Driver, err error) {
		t.Helper()
		var me *runway.MigrationError
		if !errors.As(err, &me) || !me.NotSent || me.Uncertain || me.Statement != 2 || me.Applied != 1 || me.Line != 3 ||
			!errors.Is(err, context.Canceled) || !strings.Contains(me.Error(), "before statement 2 was sent") ||
			!strings.Contains(runway.FailureHint(me), "before statement 2 of 0001_s.up.sql was sent") {
			t.Fatalf("stopped after statement 1: %v (%+v); want statement 2 not sent, 1 applied", err, me)
		}
		if h := history(t, drv)["1"]; h.State != database.StateFailed || h.StatementsApplied != 1 {
			t.Fatalf("history: %+v; want failed after 1 statement", h)
		}
		if exists(t, drv, "s2") {
			t.Fatal("statement 2 ran")
		}
	}
	t.Run("engine", func(t *testing.T) {
		drv := newTarget(t, "sqlite").open(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		r, err := runway.New(&cancelAfterFirst{Driver: drv, cancel: cancel}, files("0001_s.up.sql", body))
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Up(ctx, runway.UpOptions{})
		check(t, drv, err)
	})
	t.Run("postgres", func(t *testing.T) {
		drv := newTarget(t, "postgres").open(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// Cancelled as statement 2 starts: the driver gets an ended context.
		r, err := runway.New(drv, files("0001_s.up.sql", body), runway.WithObserver(func(e runway.Event) {
			if e.Kind == runway.EventStatementStart && e.Statement == 2 {
				cancel()
			}
		}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Up(ctx, runway.UpOptions{})
		check(t, drv, err)
	})
}

// cancelAfterFirst ends the run's context once its first statement ran and
// was recorded.
type cancelAfterFirst struct {
	database.Driver
	cancel func()
}

func (c *cancelAfterFirst) WriteRevision(ctx context.Context, r database.Revision) error {
	err := c.Driver.WriteRevision(ctx, r)
	if r.State == database.StateRunning && r.StatementsApplied == 1 {
		c.cancel()
	}
	return err
}

// SQLite runs in this process: a run stopped while a statement runs there
// (a signal) interrupts it, and SQLite undoes it. The outcome is known, and
// the failure says the run was stopped, not that a connection failed with
// an outcome unknown.
func TestStoppedDuringStatementSQLite(t *testing.T) {
	long := "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 300000000) SELECT count(*) FROM r;\n"
	for _, c := range []struct {
		name, body string
		applied    int
	}{
		{"in a transaction", "CREATE TABLE s1 (id int);\n" + long + "CREATE TABLE s3 (id int);\n", 0},
		{"statement by statement", "-- runway:no-transaction\nCREATE TABLE s1 (id int);\n" + long + "CREATE TABLE s3 (id int);\n", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			drv := newTarget(t, "sqlite").open(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r, err := runway.New(drv, files("0001_s.up.sql", c.body), runway.WithObserver(func(e runway.Event) {
				if e.Kind == runway.EventStatementStart && e.Statement == 2 || e.Kind == runway.EventMigrationStart && c.applied == 0 {
					time.AfterFunc(200*time.Millisecond, cancel)
				}
			}))
			if err != nil {
				t.Fatal(err)
			}
			_, err = r.Up(ctx, runway.UpOptions{})
			var me *runway.MigrationError
			if !errors.As(err, &me) || me.Uncertain || !errors.Is(err, context.Canceled) ||
				!strings.Contains(runway.FailureHint(me), "the run was stopped (cancelled, or its time ran out) while statement 2 of 0001_s.up.sql ran") {
				t.Fatalf("stopped during statement 2: %v (%+v)\nhint: %s", err, me, runway.FailureHint(me))
			}
			if h := history(t, drv)["1"]; c.applied > 0 && (h.State != database.StateFailed || h.StatementsApplied != c.applied) {
				t.Fatalf("history: %+v; want failed after %d statement(s)", h, c.applied)
			}
			if got := exists(t, drv, "s1"); got != (c.applied > 0) {
				t.Fatalf("table s1 exists: %v; want %v", got, c.applied > 0)
			}
		})
	}
}
