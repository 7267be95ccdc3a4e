package postgres

import (
	"context"
	"testing"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/internal/testdb"
)

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
}
