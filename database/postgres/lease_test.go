package postgres

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runwaydb/runway"
	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/database/drivertest"
	"github.com/runwaydb/runway/internal/testdb"
	"github.com/runwaydb/runway/migration"
	"github.com/runwaydb/runway/report"
)

// testTTL is the lease lifetime of the lease tests: short, so that an expiry
// takes seconds, and long against a keepalive every testTTL/3.
const testTTL = 2 * time.Second

func tableConfig(identity string) database.Config {
	return database.Config{Identity: identity, LockMode: database.LockModeTable, LeaseTTL: testTTL}
}

func TestConformanceTableMode(t *testing.T) {
	drivertest.Run(t, func(t *testing.T) (database.Driver, drivertest.Session) {
		url := testdb.Postgres(t)
		session := func(t *testing.T) database.Driver {
			return open(t, url, database.Config{Identity: "runway conformance", LockMode: database.LockModeTable})
		}
		return session(t), session
	})
}

// bouncer is a dedicated PostgreSQL server with a PgBouncer in transaction
// pooling mode in front of it.
type bouncer struct {
	pg *testdb.Server
	b  *testdb.PgBouncer
}

func startBouncer(t *testing.T, poolMode string) bouncer {
	t.Helper()
	pg := testdb.StartPostgres(t)
	return bouncer{pg: pg, b: testdb.StartPgBouncer(t, pg, poolMode)}
}

// newDatabase creates a database and returns its URLs: direct and through PgBouncer.
func (x bouncer) newDatabase(t *testing.T) (direct, pooled string) {
	t.Helper()
	direct = x.pg.NewDatabase(t)
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	return direct, x.b.URL(strings.TrimPrefix(u.Path, "/"))
}

func TestConformanceTableModeThroughPgBouncer(t *testing.T) {
	t.Parallel() // a server of its own
	x := startBouncer(t, "transaction")
	drivertest.Run(t, func(t *testing.T) (database.Driver, drivertest.Session) {
		_, pooled := x.newDatabase(t)
		session := func(t *testing.T) database.Driver {
			return open(t, pooled, database.Config{Identity: "runway conformance", LockMode: database.LockModeTable})
		}
		return session(t), session
	})
}

// sqlConn is a plain connection for checking what the tests did, with the
// simple protocol so that it also works through PgBouncer.
func sqlConn(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, url+"&default_query_exec_mode=simple_protocol")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func scalar[T any](t testing.TB, c *pgx.Conn, sql string) T {
	t.Helper()
	var v T
	if err := c.QueryRow(context.Background(), sql).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// logged are n migrations, each recording itself in rw_log once applied;
// extra, when set, is added to migration 2.
func logged(n int, extra string) fstest.MapFS {
	fsys := fstest.MapFS{"0001_log.up.sql": {Data: []byte(
		"CREATE TABLE rw_log (version integer, at timestamptz DEFAULT clock_timestamp());\nINSERT INTO rw_log (version) VALUES (1);\n")}}
	for i := 2; i <= n; i++ {
		sql := fmt.Sprintf("CREATE TABLE rw_t%d (id integer primary key);\nINSERT INTO rw_log (version) VALUES (%d);\n", i, i)
		if i == 2 && extra != "" {
			sql = extra + "\n" + sql
		}
		fsys[fmt.Sprintf("%04d_m%d.up.sql", i, i)] = &fstest.MapFile{Data: []byte(sql)}
	}
	return fsys
}

// checkAppliedOnce checks that each of the n migrations ran exactly once.
func checkAppliedOnce(t *testing.T, direct string, n int) {
	t.Helper()
	c := sqlConn(t, direct)
	if got := scalar[int64](t, c, "SELECT count(*) FROM rw_log"); got != int64(n) {
		t.Errorf("rw_log has %d rows, want %d (one per migration)", got, n)
	}
	if got := scalar[int64](t, c, "SELECT count(DISTINCT version) FROM rw_log"); got != int64(n) {
		t.Errorf("rw_log has %d distinct versions, want %d", got, n)
	}
	if got := scalar[int64](t, c, "SELECT count(*) FROM runway_migrations WHERE state = 'applied'"); got != int64(n) {
		t.Errorf("history has %d applied rows, want %d", got, n)
	}
}

// runner returns a Runner on a table-mode driver for url, with a keepalive
// of a third of the lease.
func runner(t *testing.T, url, identity string, fsys fstest.MapFS, opts ...runway.Option) *runway.Runner {
	t.Helper()
	drv := open(t, url, tableConfig(identity))
	opts = append([]runway.Option{runway.WithLockTimeout(2 * time.Minute), runway.WithLockKeepalive(testTTL / 3),
		runway.WithIdentity(identity)}, opts...)
	r, err := runway.New(drv, fsys, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestLeaseConcurrentRunnersThroughPgBouncer: 16 runners in table mode,
// through PgBouncer in transaction pooling mode (5 server connections), apply
// 10 migrations: each exactly once, and every runner succeeds.
func TestLeaseConcurrentRunnersThroughPgBouncer(t *testing.T) {
	t.Parallel() // a server of its own
	const runners, migrations = 16, 10
	x := startBouncer(t, "transaction")
	direct, pooled := x.newDatabase(t)
	fsys := logged(migrations, "SELECT pg_sleep(0.3);")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	rs := make([]*runway.Runner, runners)
	for i := range rs {
		rs[i] = runner(t, pooled, fmt.Sprintf("runner-%d", i), fsys)
	}
	var (
		wg      sync.WaitGroup
		errs    = make([]error, runners)
		applied = make([]int, runners)
	)
	for i, r := range rs {
		wg.Go(func() {
			rep, err := r.Up(ctx, runway.UpOptions{})
			errs[i] = err
			if rep != nil {
				applied[i] = len(rep.Applied)
			}
		})
	}
	wg.Wait()
	total := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("runner %d: %v", i, err)
		}
		total += applied[i]
	}
	if total != migrations {
		t.Errorf("runners applied %d migrations in all (%v), want %d", total, applied, migrations)
	}
	checkAppliedOnce(t, direct, migrations)
	if got := scalar[int64](t, sqlConn(t, direct), "SELECT count(*) FROM runway_migrations_lock"); got != 0 {
		t.Errorf("%d lease rows left after every runner finished, want 0", got)
	}
}

// Behind a transaction pooler a second connection may reach the very
// backend whose role a migration's SET ROLE (or SET SESSION AUTHORIZATION)
// changed: the lease is released in that session as the user that logged
// in, not left to expire. Each case has a database of its own: the role a
// migration leaves on a pooled backend is every later client's there.
func TestLeaseReleasedThroughPgBouncerAfterSetRole(t *testing.T) {
	t.Parallel() // a server of its own
	x := startBouncer(t, "transaction")
	ctx := context.Background()
	const role = "lease_release_role"
	for i, set := range []string{"SET ROLE " + role, "SET SESSION AUTHORIZATION " + role} {
		direct, pooled := x.newDatabase(t)
		admin := sqlConn(t, direct)
		fsys := fstest.MapFS{"0001_first.up.sql": {Data: []byte("SELECT 1;\n")}}
		if _, err := runner(t, pooled, "first", fsys).Up(ctx, runway.UpOptions{}); err != nil {
			t.Fatal(err)
		}
		sqls := []string{
			"GRANT SELECT, INSERT, UPDATE, DELETE ON runway_migrations TO " + role,
			"GRANT SELECT, UPDATE ON runway_migrations_lock TO " + role,
		}
		if i == 0 {
			sqls = append([]string{"CREATE ROLE " + role}, sqls...)
		}
		for _, sql := range sqls {
			if _, err := admin.Exec(ctx, sql); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}
		fsys["0002_role.up.sql"] = &fstest.MapFile{Data: []byte(set + ";\nSELECT 2;\n")}
		rep, err := runner(t, pooled, "second", fsys).Up(ctx, runway.UpOptions{})
		if err != nil || len(rep.Applied) != 1 {
			t.Fatalf("%s: up: %v (%v), want migration 2 applied", set, err, rep)
		}
		if got := scalar[int64](t, admin, "SELECT count(*) FROM runway_migrations_lock"); got != 0 {
			t.Errorf("%s: %d lease row(s) left after the run, want 0", set, got)
		}
	}
}

// leaseHolderEnv makes the test binary a lease holder (see leaseHolder).
const leaseHolderEnv = "RUNWAY_TEST_LEASE_HOLDER_URL"

// leaseHolder is the child process of TestLeaseExpiresWhenHolderKilled: it
// takes the lease at url, says "locked" and keeps the lease alive, as a
// runner in the middle of a migration would, until it is killed (or loses it).
func leaseHolder(url string) int {
	ctx := context.Background()
	d, err := Open(ctx, url, tableConfig("holder to be killed"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if ok, err := d.Lock(ctx, 30*time.Second); !ok || err != nil {
		fmt.Fprintln(os.Stderr, "lock:", ok, err)
		return 3
	}
	fmt.Println("locked")
	for {
		time.Sleep(testTTL / 3)
		kctx, cancel := context.WithTimeout(ctx, testTTL/3)
		err := d.KeepLock(kctx)
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, "keep lock:", err)
			return 4
		}
	}
}

// TestLeaseExpiresWhenHolderKilled: a holder (another process) keeps its
// lease past the TTL while it lives; killed with SIGKILL it cannot release
// it, the lease runs out and the next runner applies the migrations.
func TestLeaseExpiresWhenHolderKilled(t *testing.T) {
	t.Parallel() // a server of its own
	x := startBouncer(t, "transaction")
	direct, pooled := x.newDatabase(t)
	ctx := context.Background()

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), leaseHolderEnv+"="+pooled)
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		child.Process.Kill()
		<-exited
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- child.Wait()
	}()
	select {
	case l := <-lines:
		if l != "locked" {
			t.Fatalf("holder said %q, want locked", l)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the holder did not take the lock within 30s")
	}

	// While the holder lives, its lease outlives the TTL.
	other := open(t, pooled, tableConfig("waiter"))
	if ok, err := other.Lock(ctx, testTTL*3/2); ok || err != nil {
		t.Fatalf("Lock while the holder keeps its lease: %v, %v; want false, nil", ok, err)
	}
	holder, err := other.LockHolder(ctx)
	if err != nil || !strings.HasPrefix(holder, "holder to be killed since ") || !strings.Contains(holder, "(lease expires in ") {
		t.Fatalf("LockHolder = %q, %v", holder, err)
	}
	t.Logf("LockHolder: %s", holder)

	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if err := <-exited; err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("holder exited with %v, want killed", err)
	}
	exited <- nil // for the cleanup

	var waits []string
	r := runner(t, pooled, "next runner", logged(3, ""), runway.WithObserver(func(e runway.Event) {
		if e.Kind == runway.EventLockWaiting {
			waits = append(waits, e.Holder)
		}
	}))
	rep, err := r.Up(ctx, runway.UpOptions{})
	took := time.Since(killed)
	if err != nil {
		t.Fatalf("Up after the holder was killed: %v", err)
	}
	if len(rep.Applied) != 3 {
		t.Fatalf("applied %d migrations, want 3", len(rep.Applied))
	}
	checkAppliedOnce(t, direct, 3)
	t.Logf("the next runner finished %v after the kill (lease TTL %v); it waited for: %q", took.Round(time.Millisecond), testTTL, waits)
	// Generous: the point is that it proceeds once the lease runs out, not how fast.
	if took > testTTL+10*time.Second {
		t.Errorf("the next runner took %v after the kill, want about the TTL (%v)", took, testTTL)
	}
	if len(waits) == 0 || !strings.HasPrefix(waits[0], "holder to be killed since ") {
		t.Errorf("the waiting runner was not told who held the lock: %q", waits)
	}
}

// TestLeaseKeptAliveDuringLongMigration: a migration that runs for 2.5 TTLs
// keeps its lease (the engine calls KeepLock meanwhile); a runner started
// during it waits and does not take the lock over, then finds nothing to do.
func TestLeaseKeptAliveDuringLongMigration(t *testing.T) {
	t.Parallel() // a server of its own
	x := startBouncer(t, "transaction")
	direct, pooled := x.newDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	long := fmt.Sprintf("SELECT pg_sleep(%g);", (testTTL * 5 / 2).Seconds())
	fsys := logged(3, long)

	acquired := make(chan struct{})
	first := runner(t, pooled, "long runner", fsys, runway.WithObserver(func(e runway.Event) {
		if e.Kind == runway.EventLockAcquired {
			close(acquired)
		}
	}))
	var (
		firstRep *report.Report
		firstErr error
		done     = make(chan struct{})
	)
	start := time.Now()
	go func() {
		defer close(done)
		firstRep, firstErr = first.Up(ctx, runway.UpOptions{})
	}()
	<-acquired

	var waits []string
	second := runner(t, pooled, "second runner", fsys, runway.WithObserver(func(e runway.Event) {
		if e.Kind == runway.EventLockWaiting {
			waits = append(waits, e.Holder)
		}
	}))
	secondRep, secondErr := second.Up(ctx, runway.UpOptions{})
	<-done
	if firstErr != nil {
		t.Fatalf("the long runner: %v", firstErr)
	}
	if el := time.Since(start); el < testTTL*5/2 {
		t.Fatalf("the long migration took %v, shorter than 2.5 TTLs: the test proves nothing", el)
	}
	if secondErr != nil {
		t.Fatalf("the second runner: %v", secondErr)
	}
	if len(firstRep.Applied) != 3 || len(secondRep.Applied) != 0 {
		t.Errorf("applied: long runner %d, second runner %d; want 3 and 0", len(firstRep.Applied), len(secondRep.Applied))
	}
	checkAppliedOnce(t, direct, 3)
	if len(waits) == 0 {
		t.Fatal("the second runner never waited for the lock")
	}
	for _, w := range waits {
		if !strings.HasPrefix(w, "long runner since ") {
			t.Errorf("the second runner saw the lock held by %q, want the long runner throughout", w)
		}
	}
	t.Logf("the second runner waited %d times; first and last: %q, %q", len(waits), waits[0], waits[len(waits)-1])
}

// holdShortLease opens a driver on url in table mode with a 500 ms lease,
// creates the history table and takes the lease.
func holdShortLease(t *testing.T, url, identity string) *Driver {
	t.Helper()
	cfg := tableConfig(identity)
	cfg.LeaseTTL = 500 * time.Millisecond
	d := open(t, url, cfg)
	if err := d.EnsureHistory(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ok, err := d.Lock(context.Background(), 0); !ok || err != nil {
		t.Fatal(ok, err)
	}
	return d
}

// TestLeaseTakenOver: a holder that stops renewing loses its lease to the
// next runner once it expires; then KeepLock, ApplyTx, Exec and Unlock all
// say the lock was lost, and nothing runs.
func TestLeaseTakenOver(t *testing.T) {
	url := testdb.Postgres(t)
	ctx := context.Background()
	a := holdShortLease(t, url, "slow holder")
	if err := a.KeepLock(ctx); err != nil {
		t.Fatalf("KeepLock while holding the lease: %v", err)
	}
	b := open(t, url, tableConfig("next holder"))
	if ok, err := b.Lock(ctx, 0); ok || err != nil {
		t.Fatalf("Lock of an unexpired lease: %v %v", ok, err)
	}
	if ok, err := b.Lock(ctx, 5*time.Second); !ok || err != nil {
		t.Fatalf("Lock once the lease expires: %v %v", ok, err)
	}
	err := a.KeepLock(ctx)
	if !errors.Is(err, database.ErrLockLost) || !strings.Contains(err.Error(), "next holder") {
		t.Fatalf("KeepLock after a takeover: %v, want ErrLockLost naming the new holder", err)
	}
	t.Log(err)
	err = a.ApplyTx(ctx, []database.Step{{Statements: []migration.Statement{st("CREATE TABLE rw_never (id int)", 1)}, Record: rev("1")}})
	var ee *database.ExecError
	if !errors.Is(err, database.ErrLockLost) || errors.As(err, &ee) {
		t.Fatalf("ApplyTx after a takeover: %v, want ErrLockLost (not an ExecError)", err)
	}
	t.Log(err)
	if err := a.Exec(ctx, st("CREATE TABLE rw_never (id int)", 1)); !errors.Is(err, database.ErrLockLost) {
		t.Fatalf("Exec after a takeover: %v, want ErrLockLost", err)
	}
	if err := a.WriteRevision(ctx, *rev("1")); !errors.Is(err, database.ErrLockLost) {
		t.Fatalf("WriteRevision after a takeover: %v, want ErrLockLost", err)
	}
	if got := query(t, b, "SELECT to_regclass('rw_never') IS NULL AND NOT EXISTS (SELECT 1 FROM runway_migrations)"); got != "t" {
		t.Fatal("something ran after the lease was lost")
	}
	if err := a.Unlock(ctx); !errors.Is(err, database.ErrLockLost) {
		t.Fatalf("Unlock after a takeover: %v, want ErrLockLost", err)
	}
	// The new holder is untouched by all this.
	if err := b.KeepLock(ctx); err != nil {
		t.Fatalf("the new holder's KeepLock: %v", err)
	}
	if err := b.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.KeepLock(ctx); !errors.Is(err, database.ErrLockLost) {
		t.Fatalf("KeepLock after Unlock: %v, want ErrLockLost", err)
	}
}

// TestLeaseLostDuringMigration: a migration still running when its lease runs
// out — its runner was killed, and the server session goes on with what it
// was sent — must not commit once another runner has taken the lease over,
// or that runner, finding it unapplied, applies it a second time. The fence
// before COMMIT fails and the transaction rolls back, in each of the
// driver's ways to apply: one transaction (ApplyTx), one per migration
// (ApplyEach) and streamed (ApplyTxStream).
func TestLeaseLostDuringMigration(t *testing.T) {
	url := testdb.Postgres(t)
	ctx := context.Background()
	slow := func(table string) []migration.Statement {
		return []migration.Statement{st("CREATE TABLE "+table+" (id int)", 1), st("SELECT pg_sleep(1.5)", 2)}
	}
	for _, tc := range []struct {
		name  string
		table string
		apply func(d *Driver) error
	}{
		{"ApplyTx", "rw_tx", func(d *Driver) error {
			return d.ApplyTx(ctx, []database.Step{{Statements: slow("rw_tx"), Record: rev("1")}})
		}},
		{"ApplyEach", "rw_each", func(d *Driver) error {
			_, err := d.ApplyEach(ctx, []database.Step{{Statements: slow("rw_each"), Record: rev("1")}}, func(int) {})
			return err
		}},
		{"ApplyTxStream", "rw_stream", func(d *Driver) error {
			stmts := func(yield func(migration.Statement, error) bool) {
				for _, s := range slow("rw_stream") {
					if !yield(s, nil) {
						return
					}
				}
			}
			_, err := d.ApplyTxStream(ctx, stmts, *rev("1"))
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := holdShortLease(t, url, "killed holder")
			done := make(chan error, 1)
			go func() { done <- tc.apply(a) }() // nobody renews the lease: as if killed
			b := open(t, url, tableConfig("next holder"))
			if ok, err := b.Lock(ctx, 5*time.Second); !ok || err != nil {
				t.Fatalf("Lock once the lease expired: %v %v", ok, err)
			}
			err := <-done
			if !errors.Is(err, database.ErrLockLost) {
				t.Fatalf("%s past its lease: %v, want ErrLockLost", tc.name, err)
			}
			t.Log(err)
			if got := query(t, b, "SELECT to_regclass('"+tc.table+"') IS NULL AND NOT EXISTS (SELECT 1 FROM runway_migrations)"); got != "t" {
				t.Fatal("the migration committed after its lease had been taken over")
			}
			if err := b.Unlock(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestLeaseLockTable: the lease table sits next to the history table, in its
// schema, and is made by the first Lock.
func TestLeaseLockTable(t *testing.T) {
	url := testdb.Postgres(t)
	ctx := context.Background()
	cfg := tableConfig("schema runner")
	cfg.Table = "app.history"
	d := open(t, url, cfg)
	if h, err := d.LockHolder(ctx); h != "" || err != nil {
		t.Fatalf("LockHolder before any lock table: %q, %v", h, err)
	}
	query(t, d, "CREATE SCHEMA app")
	if ok, err := d.Lock(ctx, 0); !ok || err != nil {
		t.Fatal(ok, err)
	}
	got := query(t, d, "SELECT holder || ' ' || (expires_at - acquired_at)::text FROM app.history_lock WHERE id = 1")
	if got != "schema runner 00:00:02" {
		t.Errorf("lease row: %q", got)
	}
	// No session state: application_name is not relabelled, no advisory lock
	// (in this test's database: pg_locks shows the whole server, where the
	// other tests take theirs at the same time).
	if got := query(t, d, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"); got != "0" {
		t.Errorf("%s advisory locks in table mode", got)
	}
	if got := query(t, d, "SHOW application_name"); got != "schema runner" {
		t.Errorf("application_name = %q", got)
	}
	if _, err := Open(ctx, url, database.Config{LockMode: "row"}); err == nil || !strings.Contains(err.Error(), `unknown lock mode "row"`) {
		t.Errorf("Open with lock mode row: %v", err)
	}
	long := strings.Repeat("h", 60)
	if _, err := Open(ctx, url, database.Config{LockMode: database.LockModeTable, Table: long}); err == nil || !strings.Contains(err.Error(), "shorter table name") {
		t.Errorf("Open with a 60-byte table in table mode: %v", err)
	}
}

// ActiveLockHolder names whoever holds the lock now, in either mode, from a
// driver of either mode (runners of one database may be configured with
// different ones), and no one for a lease that expired: a crashed
// table-mode runner's, which LockHolder still describes.
func TestActiveLockHolder(t *testing.T) {
	url := testdb.Postgres(t)
	ctx := context.Background()
	session := open(t, url, database.Config{Identity: "runway session-mode"})
	table := open(t, url, tableConfig("runway table-mode"))
	for _, d := range []*Driver{session, table} {
		if h, err := d.ActiveLockHolder(ctx); h != "" || err != nil {
			t.Fatalf("no lock table, nobody holding: %q %v", h, err)
		}
	}

	// A live lease, seen from both modes.
	a := holdShortLease(t, url, "runway leaser")
	for _, d := range []*Driver{session, table} {
		if h, err := d.ActiveLockHolder(ctx); !strings.HasPrefix(h, "runway leaser") || err != nil {
			t.Fatalf("a live lease: %q %v", h, err)
		}
	}
	// Expired: LockHolder still describes it, ActiveLockHolder names no one.
	time.Sleep(1200 * time.Millisecond)
	if h, err := table.LockHolder(ctx); !strings.Contains(h, "lease expired") || err != nil {
		t.Fatalf("LockHolder of an expired lease: %q %v", h, err)
	}
	for _, d := range []*Driver{session, table} {
		if h, err := d.ActiveLockHolder(ctx); h != "" || err != nil {
			t.Fatalf("an expired lease: %q %v, want no one", h, err)
		}
	}
	a.Close(ctx)

	// The session advisory lock, seen from both modes.
	holder := open(t, url, database.Config{Identity: "runway advisory"})
	if ok, err := holder.Lock(ctx, 0); !ok || err != nil {
		t.Fatal(ok, err)
	}
	for _, d := range []*Driver{session, table} {
		if h, err := d.ActiveLockHolder(ctx); !strings.HasPrefix(h, "runway advisory") || err != nil {
			t.Fatalf("the advisory lock: %q %v", h, err)
		}
	}
	if err := holder.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if h, err := table.ActiveLockHolder(ctx); h != "" || err != nil {
		t.Fatalf("after the unlock: %q %v", h, err)
	}
}
