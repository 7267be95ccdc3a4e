package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/internal/testdb"
)

// Runners queued for the lock do not deadlock an online index build of the
// holder's: CREATE INDEX CONCURRENTLY waits for every transaction older than
// its snapshot, a waiter's query is one, and a waiter queued for longer than
// deadlock_timeout was found in a deadlock with the holder and failed. Both
// ways of waiting: for the lock to be free, and to take it.
func TestWaitersLetAnIndexBuildThrough(t *testing.T) {
	ctx := context.Background()
	url := testdb.Postgres(t)
	holder := open(t, url, database.Config{Identity: "holder"})
	if err := holder.EnsureHistory(ctx); err != nil {
		t.Fatal(err)
	}
	if err := holder.Exec(ctx, st("CREATE TABLE cic (a int)", 1)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		wait func(d *Driver) (bool, error)
	}{
		{"WaitUnlocked", func(d *Driver) (bool, error) { return d.WaitUnlocked(ctx, 20*time.Second) }},
		{"Lock", func(d *Driver) (bool, error) { return d.Lock(ctx, 20*time.Second) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			if ok, err := holder.Lock(ctx, 0); err != nil || !ok {
				t.Fatalf("holder Lock: %v %v", ok, err)
			}
			waiters := make(chan error, 3)
			for range 3 {
				w := open(t, url, database.Config{Identity: "waiter"})
				go func() {
					ok, err := c.wait(w)
					if err == nil && !ok {
						err = context.DeadlineExceeded
					}
					if ok && c.name == "Lock" {
						err = w.Unlock(ctx)
					}
					waiters <- err
				}()
			}
			time.Sleep(300 * time.Millisecond) // the waiters queue
			start := time.Now()
			if err := holder.Exec(ctx, st("CREATE INDEX CONCURRENTLY cic_"+c.name+" ON cic (a)", 1)); err != nil {
				t.Fatalf("the holder's index build beside waiters: %v", err)
			}
			took := time.Since(start)
			if err := holder.Unlock(ctx); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if err := <-waiters; err != nil {
					t.Errorf("a waiter behind the index build: %v", err)
				}
			}
			if took > 10*time.Second {
				t.Errorf("the index build took %v beside the waiters", took)
			}
		})
	}
}

// Runners configured with different lock modes on one database, or naming
// the history table with and without its schema, still exclude each other:
// they applied the same migrations at once.
func TestLocksOfOneHistoryExcludeEachOther(t *testing.T) {
	ctx := context.Background()
	url := testdb.Postgres(t)
	session := open(t, url, database.Config{Identity: "session"})
	if err := session.EnsureHistory(ctx); err != nil {
		t.Fatal(err)
	}
	table := open(t, url, database.Config{Identity: "table", LockMode: database.LockModeTable})
	lock := func(d *Driver) bool {
		t.Helper()
		ok, err := d.Lock(ctx, 0)
		if err != nil {
			t.Fatalf("%s Lock: %v", d.cfg.Identity, err)
		}
		return ok
	}
	unlock := func(d *Driver) {
		t.Helper()
		if err := d.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
	}

	if !lock(session) {
		t.Fatal("session mode: the lock was not taken")
	}
	if lock(table) {
		t.Fatal("table mode took its lease while a session-mode runner held the advisory lock")
	}
	unlock(session)
	if !lock(table) {
		t.Fatal("table mode: the lease was not taken once the advisory lock was free")
	}
	if lock(session) {
		t.Fatal("session mode took the advisory lock while a table-mode runner held the lease")
	}
	if session.held.Load() != nil {
		t.Fatal("the session-mode runner kept the advisory lock it stood back from")
	}
	unlock(table)
	if !lock(session) {
		t.Fatal("session mode: the lock was not taken once the lease was released")
	}
	unlock(session)

	qualified := open(t, url, database.Config{Identity: "qualified", Table: "public.runway_migrations"})
	if !lock(session) {
		t.Fatal("the lock was not taken")
	}
	if lock(qualified) {
		t.Fatal("a runner naming the table public.runway_migrations took the lock held for runway_migrations")
	}
	unlock(session)

	// One table spelled "hist" under search_path=app and "app.hist"; and
	// other.hist, another table with its own lock. ("hist" on the default
	// search_path, public.hist, shares the older runners' key with the
	// first: the two are serialised, as they were before keys named the
	// schema.)
	if err := session.simple(ctx, "CREATE SCHEMA app; CREATE SCHEMA other"); err != nil {
		t.Fatal(err)
	}
	onPath := open(t, withSearchPath(url, "app"), database.Config{Identity: "on the path", Table: "hist"})
	inApp := open(t, url, database.Config{Identity: "app.hist", Table: "app.hist"})
	inOther := open(t, url, database.Config{Identity: "other.hist", Table: "other.hist"})
	if !lock(onPath) {
		t.Fatal("hist under search_path=app: the lock was not taken")
	}
	if lock(inApp) {
		t.Fatal("a runner naming the table app.hist took the lock held for hist under search_path=app")
	}
	if !lock(inOther) {
		t.Fatal("other.hist, another history, could not take its own lock")
	}
	unlock(inOther)
	unlock(onPath)
	if !lock(inApp) {
		t.Fatal("app.hist: the lock was not taken once released")
	}
	if lock(onPath) {
		t.Fatal("a runner naming hist under search_path=app took the lock held for app.hist")
	}
	unlock(inApp)

	// A schema whose name needs quoting, on the path: the lock is keyed on
	// the name itself, as a runner naming the schema writes it, both
	// before the table exists (the schema CREATE TABLE would use) and
	// after (the schema the name resolves to).
	if err := session.simple(ctx, `CREATE SCHEMA "Odd""S"`); err != nil {
		t.Fatal(err)
	}
	for _, exists := range []bool{false, true} {
		if exists {
			if err := session.simple(ctx, `CREATE TABLE "Odd""S".hist (id int)`); err != nil {
				t.Fatal(err)
			}
		}
		// search_path="Odd""S", in the options of the URL.
		oddPath := open(t, withSearchPath(url, "%22Odd%22%22S%22"), database.Config{Identity: "on the odd path", Table: "hist"})
		oddNamed := open(t, url, database.Config{Identity: `Odd"S.hist`, Table: `Odd"S.hist`})
		if !lock(oddPath) {
			t.Fatalf("hist under an odd search_path (table exists: %v): the lock was not taken", exists)
		}
		if lock(oddNamed) {
			t.Fatalf(`a runner naming the table Odd"S.hist took the lock held for hist under search_path="Odd""S" (table exists: %v)`, exists)
		}
		if got, want := oddPath.table, `"Odd""S"."hist"`; got != want {
			t.Errorf("the table pinned under the odd search_path = %s, want %s", got, want)
		}
		unlock(oddPath)
	}

	// Mid-upgrade: a runner of an older version keys the name as written.
	legacy := lockKey("hist")
	if got := query(t, session, fmt.Sprintf("SELECT pg_try_advisory_lock(%d)", legacy)); got != "t" {
		t.Fatalf("the older runner's lock: %s", got)
	}
	if lock(onPath) {
		t.Fatal("hist under search_path=app took the lock while an older runner held the name as written")
	}
	if holder, err := onPath.LockHolder(ctx); err != nil || holder == "" {
		t.Fatalf("the older runner is not named as the holder: %q, %v", holder, err)
	}
	if got := query(t, session, fmt.Sprintf("SELECT pg_advisory_unlock(%d)", legacy)); got != "t" {
		t.Fatalf("releasing the older runner's lock: %s", got)
	}
	if !lock(onPath) {
		t.Fatal("hist under search_path=app: the lock was not taken once the older runner let go")
	}
	if got := query(t, session, fmt.Sprintf("SELECT pg_try_advisory_lock(%d)", legacy)); got != "f" {
		t.Fatal("an older runner took the name as written while hist under search_path=app held the lock")
	}
	unlock(onPath)
	if got := query(t, session, fmt.Sprintf("SELECT pg_try_advisory_lock(%d)", legacy)); got != "t" {
		t.Fatal("the legacy key stayed held after Unlock")
	}
	// A wait outlasts the older runner: Lock does not give up at once.
	time.AfterFunc(300*time.Millisecond, func() {
		session.simple(context.Background(), fmt.Sprintf("SELECT pg_advisory_unlock(%d)", legacy))
	})
	if ok, err := onPath.Lock(ctx, 10*time.Second); err != nil || !ok {
		t.Fatalf("Lock with a wait while an older runner held the name as written: %v, %v", ok, err)
	}
	unlock(onPath)
}
