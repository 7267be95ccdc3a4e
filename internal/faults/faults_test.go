package faults

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runwaydb/runway/internal/netproxy"
	"github.com/runwaydb/runway/internal/testdb"
)

// Fault 1 (issue 3): kill -9 of the runner in the middle of a long statement.
// The lock goes with the dead runner's session (PostgreSQL, MariaDB) or its
// file descriptor (SQLite); a second runner that was already waiting for it
// proceeds and completes, and every migration ends up applied exactly once.
// On PostgreSQL and SQLite the interrupted migration is rolled back whole:
// had any of it survived, the second runner's CREATE TABLE t2 would fail.
func TestKill9MidStatement(t *testing.T) {
	t.Parallel()
	for _, e := range allEngines {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			tg := newTarget(t, e)
			dir := writeMigrations(t, e, 3, 2, 4)
			a := startUp(t, "runner A", tg.url, dir)
			tg.waitLong(t, a)
			b := startUp(t, "runner B", tg.url, dir, "--json")
			waitUntil(t, 30*time.Second, "runner B to wait for the lock", func() bool {
				return strings.Contains(b.stderr(), "waiting for the migration lock")
			})
			a.kill9(t)
			a.log(t)
			if a.code != -1 {
				t.Fatalf("runner A: exit %d, want killed by SIGKILL", a.code)
			}
			if code := b.wait(t, runnerTimeout); code != 0 {
				b.log(t)
				t.Fatalf("runner B: exit %d after runner A was killed, want 0", code)
			}
			b.log(t)
			rep := b.report(t)
			t.Logf("runner B applied %v", rep.Applied)
			if e == mariadb {
				reportsLeftRunning(t, b)
			}
			tg.exactlyOnce(t, 3)
			again := mustUp(t, "runner C", tg.url, dir)
			if !strings.Contains(again.stdout(), "nothing to do") {
				t.Errorf("runner C: want nothing to do, got %q", again.stdout())
			}
		})
	}
}

// Fault 2 (issue 3): the database server is stopped (cleanly, as an operator
// would) in the middle of a migration, then started again. The runner exits
// with a clear error, a runner started while the server is down cannot
// connect (exit 6), and after the restart a fresh up completes. On MariaDB
// the interrupted migration's `running` row is detected and reported, and the
// rerun resumes at the statement that was cut off.
func TestServerRestartMidMigration(t *testing.T) {
	t.Parallel()
	for _, e := range serverEngines {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			var srv *testdb.Server
			if e == postgres {
				srv = testdb.StartPostgres(t)
			} else {
				srv = testdb.StartMySQL(t)
			}
			tg := openTarget(t, e, srv.NewDatabase(t))
			dir := writeMigrations(t, e, 3, 2, 5)
			a := startUp(t, "runner", tg.url, dir, "--json")
			tg.waitLong(t, a)
			srv.Stop()
			a.wait(t, 60*time.Second)
			a.log(t)
			checkLostConnection(t, a)

			down := up(t, "runner while the server is down", tg.url, dir)
			if down.code != 6 {
				t.Errorf("runner while the server is down: exit %d, want 6 (could not connect)", down.code)
			}
			if !strings.Contains(down.stderr(), "could not connect") {
				t.Errorf("runner while the server is down: want \"could not connect\" in %q", down.stderr())
			}

			srv.Start()
			afterFault(t, tg, 3, 2, a)
			r := mustUp(t, "rerun after restart", tg.url, dir)
			if e == mariadb {
				reportsLeftRunning(t, r)
			}
			tg.exactlyOnce(t, 3)
		})
	}
}

// checkLostConnection asserts the outcome the README promises for a database
// lost mid-run: exit 1 and an error naming the migration file and the lost
// connection.
func checkLostConnection(t *testing.T, r *runner) {
	t.Helper()
	if r.code != 1 {
		t.Errorf("%s: exit %d, want 1 (connection lost mid-run)", r.name, r.code)
	}
	msg := r.stderr()
	if !strings.Contains(msg, "0002_long.up.sql") {
		t.Errorf("%s: the error does not name the interrupted migration 0002_long.up.sql: %q", r.name, msg)
	}
	if !connLostMsg.MatchString(msg) {
		t.Errorf("%s: the error does not say the connection was lost: %q", r.name, msg)
	}
	if out := r.stdout(); out != "" {
		rep := r.report(t)
		if rep.Status != "failed" || rep.Error == nil {
			t.Errorf("%s: --json report: status %q, error %v; want failed with an error", r.name, rep.Status, rep.Error)
		} else {
			t.Logf("%s: report error: file %s statement %d code %q: %s", r.name, rep.Error.File, rep.Error.Statement, rep.Error.Code, rep.Error.Message)
		}
	}
}

// afterFault checks the database after a runner was cut off inside statement
// 2 (the long one) of migration long, with no runner active: on PostgreSQL
// each migration is rolled back whole or committed whole; the one cut off
// and those sent to the server with it in one query may have been finished
// by the orphaned server session (which holds the lock until it ends), and
// then the runner must have said that their outcome is unknown; on MariaDB
// its CREATE TABLE committed and its row is left `running` (or `failed`)
// with 1 statement applied.
func afterFault(t *testing.T, tg *target, n, long int, cut *runner) {
	t.Helper()
	if tg.e == mariadb {
		tg.leftRunning(t, n, long)
		// The runner tried to record the failure and could not (its
		// connection was gone): the history still says `running`. Its
		// message must say so rather than only "statement 2 failed".
		if s := tg.snapshot(t, n); s.hist[long].state == "running" && !strings.Contains(cut.stderr(), "could not be recorded in the history table") {
			t.Errorf("%s: the history row of migration %d was left `running` (recording the failure failed), but the runner's message does not say so (want \"could not be recorded in the history table\"): %q", cut.name, long, cut.stderr())
		}
		return
	}
	if applied := tg.allOrNothing(t, n); applied > long && !strings.Contains(cut.stderr(), "may have been sent to the database with it") {
		t.Errorf("migrations after %d were applied after the runner was cut off (up to %d), and the runner did not say they might be: %q", long, applied, cut.stderr())
	}
}

// Fault 3a (issue 3): the network between runner and database is cut (a TCP
// proxy resets both sides) in the middle of a long statement. Same outcome as
// a server restart: exit 1 with a clear error, and a fresh up through the
// same proxy completes. (PostgreSQL had received the whole migration
// transaction, so the orphaned server session may still finish and commit it:
// all-or-nothing still holds, and the rerun sees it applied. MariaDB had
// received the whole migration in one message, and may finish it too: the
// rerun waits for the lock the orphaned session holds and finds it applied.)
func TestNetworkDropMidStatement(t *testing.T) {
	t.Parallel()
	for _, e := range serverEngines {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			tg := newTarget(t, e)
			p := netproxy.Start(t, hostPort(t, tg.url))
			purl := viaProxy(t, tg.url, p.Addr())
			dir := writeMigrations(t, e, 3, 2, 4)
			a := startUp(t, "runner", purl, dir, "--json")
			tg.waitLong(t, a)
			p.Drop()
			a.wait(t, 60*time.Second)
			a.log(t)
			checkLostConnection(t, a)
			// Migration 3 travelled with 2: its outcome is unknown too.
			if !strings.Contains(a.stderr(), "after 0002_long.up.sql (0003_m3.up.sql) may have been sent to the database with it") {
				t.Errorf("runner: the message does not say that migration 3, sent with 2, may have been applied: %q", a.stderr())
			}
			afterFault(t, tg, 3, 2, a)
			r := mustUp(t, "rerun through the proxy", purl, dir)
			if e == mariadb {
				reportsLeftRunning(t, r)
			}
			tg.exactlyOnce(t, 3)
		})
	}
}

// Fault 3b (issue 3): the database stops answering — the proxy stops
// forwarding, on the runner's connections and on new ones, with no RST and no
// FIN. The runner must not hang: with --lock-keepalive 1s the engine's lock
// watchdog (KeepLock from a second connection, which goes through the same
// stalled proxy) cannot confirm the lock and stops the run with a message
// saying so. Then the proxy resumes, the orphaned sessions end, and a fresh up
// completes exactly once.
func TestNetworkStallMidStatement(t *testing.T) {
	t.Parallel()
	for _, e := range serverEngines {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			tg := newTarget(t, e)
			p := netproxy.Start(t, hostPort(t, tg.url))
			purl := viaProxy(t, tg.url, p.Addr())
			// Six seconds: the lock is found lost three keepalives after the
			// stall, and the run's socket closes up to killGrace after that.
			dir := writeMigrations(t, e, 3, 2, 6)
			flags := []string{"--json"}
			limit := 60 * time.Second
			if hasKeepalive {
				flags = append(flags, "--lock-keepalive", "1s")
			} else {
				t.Errorf("the CLI has no --lock-keepalive flag (the engine's lock watchdog): showing what a stalled runner does without it, for %v", 20*time.Second)
				limit = 20 * time.Second
			}
			a := startUp(t, "runner", purl, dir, flags...)
			tg.waitLong(t, a)
			p.Stall()
			stalled := time.Now()
			a.wait(t, limit)
			t.Logf("runner ended %v after the stall", time.Since(stalled).Round(time.Millisecond))
			a.log(t)
			if a.code == 0 || a.code == -1 {
				t.Errorf("runner: exit %d, want a failure exit code", a.code)
			}
			if a.code != -1 && !lockLostMsg.MatchString(a.stderr()) {
				t.Errorf("runner: the error does not say that the lock was lost or the database stopped answering: %q", a.stderr())
			}
			p.Resume()
			afterFault(t, tg, 3, 2, a)
			r := mustUp(t, "rerun", tg.url, dir)
			if e == mariadb {
				reportsLeftRunning(t, r)
			}
			tg.exactlyOnce(t, 3)
			// PostgreSQL had the whole migration transaction before the stall
			// and commits it once pg_sleep ends, with nobody listening. The
			// stopped runner cannot know the outcome; it must not claim
			// that nothing was applied.
			rerunApplied2 := strings.Contains(r.stderr(), "applied 2_long")
			if e == postgres && !rerunApplied2 && strings.Contains(a.stderr(), "nothing of migration 2 was applied") {
				t.Errorf("the stopped runner said \"nothing of migration 2 was applied\", but the server committed migration 2 (the rerun found it applied): after a lost or unconfirmed connection the outcome of the migration in flight is unknown")
			}
		})
	}
}

// Fault 4 (issue 3): 32 runner processes on one database, 16 started at once
// and 16 more while the long migration runs. All exit 0, each migration is
// applied once (one history row, one applied_log row, and exactly one
// runner's --json report lists it), and the runners that waited say who held
// the lock.
func TestLockContention32(t *testing.T) {
	t.Parallel()
	for _, e := range allEngines {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			const n = 4
			tg := newTarget(t, e)
			dir := writeMigrations(t, e, n, 2, 4)
			var early, late []*runner
			for i := range 16 {
				early = append(early, startUp(t, fmt.Sprintf("early runner %d", i), tg.url, dir, "--json"))
			}
			tg.waitLong(t, early...)
			for i := range 16 {
				late = append(late, startUp(t, fmt.Sprintf("late runner %d", i), tg.url, dir, "--json"))
			}
			appliedBy := map[string][]string{}
			holders := map[string]bool{}
			lateWaited := 0
			for _, r := range append(early, late...) {
				if code := r.wait(t, runnerTimeout+10*time.Second); code != 0 {
					r.log(t)
					t.Errorf("%s: exit %d, want 0", r.name, code)
					continue
				}
				rep := r.report(t)
				for _, ap := range rep.Applied {
					appliedBy[ap.Version] = append(appliedBy[ap.Version], r.name)
				}
			}
			for _, r := range late {
				out := r.stderr()
				if !strings.Contains(out, "waiting for the migration lock") {
					continue
				}
				lateWaited++
				m := holderPattern(e).FindStringSubmatch(out)
				if m == nil {
					t.Errorf("%s waited without naming the holder: %q", r.name, out)
					continue
				}
				holders[m[1]] = true
			}
			for v := 1; v <= n; v++ {
				if by := appliedBy[fmt.Sprint(v)]; len(by) != 1 {
					t.Errorf("migration %d applied by %d runners (%v), want exactly 1", v, len(by), by)
				}
			}
			if lateWaited == 0 {
				t.Errorf("none of the runners started during the long migration waited for the lock")
			}
			t.Logf("%d of 16 late runners waited; holders named: %v", lateWaited, keys(holders))
			t.Logf("applied by: %v", appliedBy)
			tg.exactlyOnce(t, n)
		})
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Fault 5 (issue 3): the runner's lock session is ended from the server side
// in the middle of a migration (PostgreSQL pg_terminate_backend, MariaDB
// KILL). The runner stops with a failure instead of going on unlocked: the
// migration after the interrupted one is not applied. A rerun completes
// exactly once.
func TestLockSessionKilled(t *testing.T) {
	t.Parallel()
	for _, e := range serverEngines {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			tg := newTarget(t, e)
			dir := writeMigrations(t, e, 3, 2, 5)
			a := startUp(t, "runner", tg.url, dir, "--json")
			id := tg.waitLong(t, a)
			if e == postgres {
				tg.exec(t, fmt.Sprintf("SELECT pg_terminate_backend(%d)", id))
			} else {
				tg.exec(t, fmt.Sprintf("KILL %d", id))
			}
			a.wait(t, 60*time.Second)
			a.log(t)
			if a.code == 0 || a.code == -1 {
				t.Errorf("runner: exit %d after its session was killed, want a failure", a.code)
			}
			if out := a.stdout(); out != "" {
				rep := a.report(t)
				t.Logf("runner report: status %s, applied %v, error %+v", rep.Status, rep.Applied, rep.Error)
			}
			afterFault(t, tg, 3, 2, a)
			r := mustUp(t, "rerun", tg.url, dir)
			if e == mariadb {
				reportsLeftRunning(t, r)
			}
			tg.exactlyOnce(t, 3)
		})
	}
}

// A statement of a migration applied outside a transaction that the server
// finishes after its runner was killed with SIGKILL (an INSERT: a rerun
// would not refuse it as it does a CREATE) is recorded with it, or rolled
// back with its record: the next run does not apply it twice. PostgreSQL,
// where the statement and its record travel in one implicit transaction.
//
// On MariaDB, a migration of more than 200 statements goes statement by
// statement, each with the update recording it in one message, which the
// server runs whole after the client is gone.
func TestKill9MidNoTransactionStatement(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		e     engine
		flags []string
	}{
		{"postgres", postgres, nil},
		// In table mode the next runner takes the lease over once it
		// expires, while the killed runner's session still runs the
		// statement: that statement must roll back, not commit beside the
		// next runner's.
		{"postgres/table", postgres, []string{"--lock-mode", "table", "--lock-lease", "2s"}},
		{"mariadb", mariadb, nil},
	}
	for _, c := range cases {
		e := c.e
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tg := newTarget(t, e)
			dir := t.TempDir()
			var b strings.Builder
			if e == postgres {
				b.WriteString("-- runway:no-transaction\n")
			}
			b.WriteString("CREATE TABLE applied_log (version VARCHAR(20) NOT NULL);\n")
			if e == postgres {
				b.WriteString("INSERT INTO applied_log (version) SELECT 'slow' FROM pg_sleep(4);\n")
			} else {
				for range 200 { // past the 200 statements a message takes
					b.WriteString("DO 0;\n")
				}
				b.WriteString("INSERT INTO applied_log (version) SELECT 'slow' FROM (SELECT SLEEP(3)) s;\n")
			}
			b.WriteString("INSERT INTO applied_log (version) VALUES ('after');\n")
			if err := os.WriteFile(filepath.Join(dir, "0001_long.up.sql"), []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			a := startUp(t, "runner A", tg.url, dir, c.flags...)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			sleeping := "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep'"
			if e == mariadb {
				sleeping = "SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND INFO LIKE 'INSERT INTO applied_log%SLEEP%'"
			}
			waitUntil(t, 30*time.Second, "runner A inside the slow statement", func() bool {
				rows, err := tg.rows(ctx, sleeping)
				return err == nil && len(rows) == 1 && rows[0][0] != "0"
			})
			a.kill9(t)
			mustUp(t, "runner B", tg.url, dir, c.flags...)
			waitUntil(t, 30*time.Second, "the killed runner's statement to end", func() bool {
				rows, err := tg.rows(ctx, sleeping)
				return err == nil && len(rows) == 1 && rows[0][0] == "0"
			})
			rows, err := tg.rows(ctx, "SELECT version, count(*) FROM applied_log GROUP BY version ORDER BY version")
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(rows) != "[[after 1] [slow 1]]" {
				t.Errorf("rows of the migration's statements: %v, want each once", rows)
			}
		})
	}
}
