package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runwaydb/runway"
	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/internal/testdb"
	"github.com/runwaydb/runway/migration"
)

// TestKeepLockSession: KeepLock confirms the advisory lock from a second
// connection, even while the run's session is busy, and reports the lock
// lost once the session holding it is terminated.
func TestKeepLockSession(t *testing.T) {
	url := testdb.Postgres(t)
	ctx := context.Background()
	a := open(t, url, database.Config{Identity: "runway keeper"})
	if err := a.KeepLock(ctx); !errors.Is(err, database.ErrLockLost) {
		t.Fatalf("KeepLock before Lock: %v, want ErrLockLost", err)
	}
	if ok, err := a.Lock(ctx, time.Second); !ok || err != nil {
		t.Fatal(ok, err)
	}
	pid := a.held.Load().pid
	if pid != int(a.pg.PID()) {
		t.Fatalf("recorded backend pid %d, session's %d", pid, a.pg.PID())
	}
	if err := a.KeepLock(ctx); err != nil {
		t.Fatalf("KeepLock while holding the lock: %v", err)
	}

	// The run's session is busy with a long statement: KeepLock answers anyway.
	busy := make(chan error, 1)
	go func() {
		busy <- a.Exec(ctx, st("SELECT pg_sleep(2)", 1))
	}()
	time.Sleep(300 * time.Millisecond)
	kctx, cancel := context.WithTimeout(ctx, time.Second)
	err := a.KeepLock(kctx)
	cancel()
	if err != nil {
		t.Fatalf("KeepLock while the session runs a statement: %v", err)
	}
	if err := <-busy; err != nil {
		t.Fatal(err)
	}
	other := open(t, url, database.Config{})
	if got := query(t, other, "SELECT application_name FROM pg_stat_activity WHERE application_name LIKE '%keepalive%'"); got != "runway keeper (lock keepalive)" {
		t.Errorf("keepalive connection's application_name = %q", got)
	}

	query(t, other, fmt.Sprintf("SELECT pg_terminate_backend(%d, 5000)", pid))
	err = a.KeepLock(ctx)
	if !errors.Is(err, database.ErrLockLost) || !strings.Contains(err.Error(), fmt.Sprintf("the session holding the lock is gone (pid %d)", pid)) {
		t.Fatalf("KeepLock after pg_terminate_backend: %v, want ErrLockLost naming pid %d", err, pid)
	}
	t.Log(err)
	if err := a.Close(ctx); err != nil {
		t.Logf("Close of a terminated session: %v", err)
	}
}

// TestKeepLockUnanswered: when the database cannot be reached, KeepLock
// says it cannot tell (not ErrLockLost) once its context ends.
func TestKeepLockUnanswered(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t)
	if ok, err := d.Lock(ctx, 0); !ok || err != nil {
		t.Fatal(ok, err)
	}
	d.keeperConfig.Host, d.keeperConfig.Port = "127.0.0.1", 1 // nobody listens there
	d.keeperConfig.Fallbacks = nil
	kctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := d.KeepLock(kctx)
	if err == nil || errors.Is(err, database.ErrLockLost) {
		t.Fatalf("KeepLock without a database: %v, want an error that is not ErrLockLost", err)
	}
	t.Log(err)
}

// occupy makes another client of the transaction pooler hold server backend
// pid in an open transaction, so that the pooler gives the run's next
// transactions another server session. It returns the release function.
func occupy(t *testing.T, pooled string, pid int) func() {
	t.Helper()
	ctx := context.Background()
	var held []*pgx.Conn
	release := func() {
		for _, c := range held {
			c.Exec(ctx, "ROLLBACK")
			c.Close(ctx)
		}
		held = nil
	}
	// PgBouncer hands out the server connection released last first; try a
	// few clients in case another one was released later.
	for range 4 {
		c := sqlConn(t, pooled)
		held = append(held, c)
		if _, err := c.Exec(ctx, "BEGIN"); err != nil {
			t.Fatal(err)
		}
		if scalar[int32](t, c, "SELECT pg_backend_pid()") == int32(pid) {
			return release
		}
	}
	release()
	t.Fatalf("no client of the pooler got server backend %d", pid)
	return nil
}

// TestSessionLockBehindTransactionPooler shows what a session advisory lock
// is worth behind PgBouncer in transaction pooling mode, and that the driver
// notices: the lock lives on the server session that took it, the next
// transaction runs on another one, and the run stops with ErrUnsafeLock
// before anything is applied.
func TestSessionLockBehindTransactionPooler(t *testing.T) {
	t.Parallel() // a server of its own
	x := startBouncer(t, "transaction")
	direct, pooled := x.newDatabase(t)
	ctx := context.Background()
	check := sqlConn(t, direct)

	a := open(t, pooled, database.Config{Identity: "runway behind pgbouncer"})
	if err := a.EnsureHistory(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.Lock(ctx, 0); !ok || err != nil {
		t.Fatal(ok, err)
	}
	pid := a.held.Load().pid
	release := occupy(t, pooled, pid)

	// The transaction lands on another server session: refused, rolled back.
	err := a.ApplyTx(ctx, []database.Step{{Statements: []migration.Statement{st("CREATE TABLE rw_unsafe (id int)", 1)}, Record: rev("1")}})
	var ee *database.ExecError
	if !errors.Is(err, database.ErrUnsafeLock) || errors.As(err, &ee) {
		t.Fatalf("ApplyTx on another server session: %v, want ErrUnsafeLock", err)
	}
	for _, want := range []string{
		fmt.Sprintf("the database session changed between statements (backend pid %d → ", pid),
		"PgBouncer (pool_mode=transaction)", "Nothing of this migration was applied.", "--lock-mode table",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ApplyTx error does not say %q:\n%v", want, err)
		}
	}
	t.Log(err)
	if err := a.Exec(ctx, st("CREATE TABLE rw_unsafe (id int)", 1)); !errors.Is(err, database.ErrUnsafeLock) {
		t.Fatalf("Exec on another server session: %v, want ErrUnsafeLock", err)
	}
	if err := a.WriteRevision(ctx, *rev("1")); !errors.Is(err, database.ErrUnsafeLock) {
		t.Fatalf("WriteRevision on another server session: %v, want ErrUnsafeLock", err)
	}
	if scalar[bool](t, check, "SELECT to_regclass('rw_unsafe') IS NOT NULL OR EXISTS (SELECT 1 FROM runway_migrations)") {
		t.Fatal("something was applied")
	}

	// What a second runner sees: on another server session the lock is held…
	b := open(t, pooled, database.Config{Identity: "second runner"})
	if ok, err := b.Lock(ctx, 0); ok || err != nil {
		t.Fatalf("second runner's Lock on another server session: %v, %v; want false", ok, err)
	}
	// …and on the one holding it, it would be granted again (advisory locks
	// are re-entrant) were it not for the driver's check.
	release()
	_, err = b.Lock(ctx, 0)
	if !errors.Is(err, database.ErrUnsafeLock) || !strings.Contains(err.Error(), fmt.Sprintf("this database session (backend pid %d) already holds the migration lock", pid)) {
		t.Fatalf("second runner's Lock on the server session holding the lock: %v, want ErrUnsafeLock", err)
	}
	t.Log(err)
	_, err = b.Lock(ctx, time.Second) // the same check when waiting
	if !errors.Is(err, database.ErrUnsafeLock) {
		t.Fatalf("second runner's Lock(1s) on the server session holding the lock: %v, want ErrUnsafeLock", err)
	}
	// In this test's database: pg_locks shows the whole server.
	if got := scalar[int64](t, check, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"); got != 1 {
		t.Errorf("%d advisory locks, want the first runner's only", got)
	}

	// Unlock on another server session cannot release it, and says so.
	release = occupy(t, pooled, pid)
	err = a.Unlock(ctx)
	if !errors.Is(err, database.ErrUnsafeLock) || !strings.Contains(err.Error(), fmt.Sprintf("pg_terminate_backend(%d)", pid)) {
		t.Fatalf("Unlock on another server session: %v, want ErrUnsafeLock with the way out", err)
	}
	t.Log(err)
	release()
}

// TestUpBehindTransactionPooler: the engine, in the default session mode
// behind PgBouncer in transaction pooling mode, stops with ErrUnsafeLock
// and applies nothing when the pooler moves it to another server session.
func TestUpBehindTransactionPooler(t *testing.T) {
	t.Parallel() // a server of its own
	x := startBouncer(t, "transaction")
	direct, pooled := x.newDatabase(t)
	ctx := context.Background()
	check := sqlConn(t, direct)
	drv := open(t, pooled, database.Config{Identity: "runway up"})
	var release func()
	t.Cleanup(func() {
		if release != nil {
			release()
		}
	})
	r, err := runway.New(drv, logged(3, ""), runway.WithObserver(func(e runway.Event) {
		if e.Kind == runway.EventLockAcquired {
			// Another client of the pool takes the server session that
			// holds the lock, as a busy application would.
			pid := scalar[string](t, check, "SELECT pid::text FROM pg_locks WHERE locktype = 'advisory' AND granted")
			n, _ := strconv.Atoi(pid)
			release = occupy(t, pooled, n)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Up(ctx, runway.UpOptions{})
	if !errors.Is(err, database.ErrUnsafeLock) {
		t.Fatalf("Up behind a transaction pooler: %v, want ErrUnsafeLock", err)
	}
	t.Logf("Up: %v", err)
	if scalar[bool](t, check, "SELECT to_regclass('rw_log') IS NOT NULL OR EXISTS (SELECT 1 FROM runway_migrations)") {
		t.Fatal("a migration was applied")
	}
}
