package runway_test

import (
	"context"
	"errors"
	"strings"
	"testing"

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
