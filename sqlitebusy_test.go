package runway_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/runwaydb/runway"
	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/database/sqlite"
	"github.com/runwaydb/runway/migration"
)

// While another run holds the migration lock and keeps a SQLite database
// locked (an exclusive transaction: a large migration spilling or
// committing), a second run does not spend SQLite's busy timeout (10 s) on
// every read and fail as unreachable: it opens the database, waits for the
// migration lock within --lock-timeout and then finds its work done; status
// waits too; a short --lock-timeout ends in ErrLockTimeout.
func TestSQLiteRunsWaitForAnotherRunsMigration(t *testing.T) {
	ctx := context.Background()
	// A busy timeout shorter than the other run's transaction, as a
	// migration longer than the default 10 s is.
	url := "sqlite:" + filepath.Join(t.TempDir(), "busy.db") + "?_pragma=busy_timeout(500)"
	open := func() database.Driver {
		d, err := sqlite.Open(ctx, url, database.Config{Identity: "runway-test"})
		if err != nil {
			t.Fatalf("open while another run migrates: %v", err)
		}
		t.Cleanup(func() { d.Close(ctx) })
		return d
	}
	mustUp(t, open(), basic)
	// holdBusy plays the other run: the migration lock, and an exclusive
	// transaction no reader can get past, for d.
	holdBusy := func(d time.Duration) {
		t.Helper()
		other := open()
		// Not at once: the previous holdBusy commits, then unlocks, and
		// what ran behind it may return between the two (wait did once).
		if ok, err := other.Lock(ctx, 5*time.Second); err != nil || !ok {
			t.Fatalf("lock: %v %v", ok, err)
		}
		if err := other.Exec(ctx, migration.Statement{SQL: "BEGIN EXCLUSIVE"}); err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(d, func() {
			other.Exec(ctx, migration.Statement{SQL: "COMMIT"})
			other.Unlock(ctx)
		})
	}

	holdBusy(1500 * time.Millisecond)
	start := time.Now()
	rep, err := up(t, open(), basic, runway.WithLockTimeout(20*time.Second))
	if err != nil || rep.Status != "noop" {
		t.Fatalf("up behind another run: %v %+v", err, rep)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("up behind a 1.5 s migration took %v: it waited out busy timeouts", took)
	}

	holdBusy(1500 * time.Millisecond)
	r, err := runway.New(open(), basic, runway.WithLockTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if rep, err := r.Status(ctx, false); err != nil || len(rep.Migrations) != 3 {
		t.Fatalf("status behind another run: %v %+v", err, rep)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("status behind a 1.5 s migration took %v", took)
	}

	// wait polls on while the other run keeps the database busy.
	holdBusy(1500 * time.Millisecond)
	wr, err := runway.New(open(), basic, runway.WithPollInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	_, err = wr.Wait(wctx)
	cancel()
	if err != nil {
		t.Fatalf("wait behind another run: %v", err)
	}

	holdBusy(4 * time.Second)
	start = time.Now()
	_, err = up(t, open(), basic, runway.WithLockTimeout(300*time.Millisecond))
	if !errors.Is(err, runway.ErrLockTimeout) {
		t.Fatalf("up with a 300ms lock timeout behind a 4 s migration: %v, want ErrLockTimeout", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("a 300ms lock timeout ended after %v", took)
	}
	time.Sleep(4 * time.Second) // the other run ends before the files go
}

// SQLite records how long a migration applied in a transaction took, as the
// other databases do (it recorded 0).
func TestSQLiteRecordsDurations(t *testing.T) {
	drv := newTarget(t, "sqlite").open(t)
	mustUp(t, drv, files("0001_slow.up.sql",
		"CREATE TABLE s (id int);\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 500000) SELECT count(*) FROM c;\n"))
	if d := history(t, drv)["1"].Duration; d <= 0 {
		t.Errorf("recorded duration %v, want the migration's time", d)
	}
}
