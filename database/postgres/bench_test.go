package postgres

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/internal/testdb"
	"github.com/runwaydb/runway/migration"
)

// tinySteps is a run of n small migrations: a table and a row each.
func tinySteps(n int) []database.Step {
	steps := make([]database.Step, n)
	for i := range steps {
		steps[i] = database.Step{
			Statements: []migration.Statement{
				st(fmt.Sprintf("CREATE TABLE IF NOT EXISTS rw_b%d (id integer)", i), 1),
				st(fmt.Sprintf("INSERT INTO rw_b%d VALUES (%d)", i, i), 2),
			},
			Record: rev(fmt.Sprint(i + 1)),
		}
	}
	return steps
}

// BenchmarkApplyTx applies 200 tiny migrations, one ApplyTx call (one
// transaction) per migration, as `runway up` does: in one round trip each,
// against the straightforward one round trip per statement. "rtt=1ms" puts a
// proxy adding 0.5 ms each way between client and server, like a database in
// another availability zone. synchronous_commit is off: the commit's fsync is
// the same in both modes and, on a shared test disk, noise that hides the rest.
func BenchmarkApplyTx(b *testing.B) {
	const n = 200
	for _, rtt := range []time.Duration{0, time.Millisecond} {
		for _, mode := range []string{"per-statement", "one-round-trip"} {
			b.Run(fmt.Sprintf("rtt=%v/%s", rtt, mode), func(b *testing.B) {
				u := testdb.Postgres(b)
				if rtt > 0 {
					u = viaDelayProxy(b, u, rtt/2)
				}
				d := open(b, u, database.Config{})
				ctx := context.Background()
				if err := d.EnsureHistory(ctx); err != nil {
					b.Fatal(err)
				}
				if err := d.simple(ctx, "SET synchronous_commit = off"); err != nil {
					b.Fatal(err)
				}
				steps := tinySteps(n)
				apply := func() {
					for _, s := range steps {
						var err error
						if mode == "per-statement" {
							err = naiveApply(ctx, d, []database.Step{s})
						} else {
							err = d.ApplyTx(ctx, []database.Step{s})
						}
						if err != nil {
							b.Fatal(err)
						}
					}
				}
				apply() // create the tables: later rounds measure the same work
				b.ResetTimer()
				for b.Loop() {
					apply()
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/migration")
			})
		}
	}
}

// BenchmarkLockHandoff has 16 sessions each take the lock (waiting for it),
// hold it briefly and release it: the time for all 16 to have had it, waiting
// in the server's lock queue against polling pg_try_advisory_lock.
func BenchmarkLockHandoff(b *testing.B) {
	const waiters = 16
	for _, mode := range []string{"server-wait", "poll-50ms"} {
		b.Run(mode, func(b *testing.B) {
			u := testdb.Postgres(b)
			sessions := make([]*Driver, waiters)
			for i := range sessions {
				sessions[i] = open(b, u, database.Config{Identity: fmt.Sprintf("waiter %d", i)})
				sessions[i].pollLock = mode != "server-wait"
			}
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				var wg sync.WaitGroup
				for _, d := range sessions {
					wg.Go(func() {
						ok, err := d.Lock(ctx, 30*time.Second)
						if err != nil || !ok {
							b.Errorf("Lock: %v %v", ok, err)
							return
						}
						time.Sleep(time.Millisecond)
						if err := d.Unlock(ctx); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
			}
		})
	}
}

// viaDelayProxy returns rawURL rewritten to go through a local proxy that
// delays every chunk by delay in each direction, keeping order and pipelining.
func viaDelayProxy(tb testing.TB, rawURL string, delay time.Duration) string {
	tb.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		tb.Fatal(err)
	}
	target := u.Host
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go delayCopy(s, c, delay)
			go delayCopy(c, s, delay)
		}
	}()
	u.Host = ln.Addr().String()
	return u.String()
}

func delayCopy(dst, src net.Conn, delay time.Duration) {
	type chunk struct {
		at   time.Time
		data []byte
	}
	ch := make(chan chunk, 1024)
	go func() {
		defer close(ch)
		for {
			buf := make([]byte, 64<<10)
			n, err := src.Read(buf)
			if n > 0 {
				ch <- chunk{time.Now().Add(delay), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range ch {
		time.Sleep(time.Until(c.at))
		if _, err := dst.Write(c.data); err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
	io.Copy(io.Discard, src)
}

// BenchmarkHistory reads a history of 1000 rows, as status and every run with
// work to do do: the allocations (B/op) are what decides whether a short
// command collects garbage before it exits.
func BenchmarkHistory(b *testing.B) {
	d := open(b, testdb.Postgres(b), database.Config{})
	ctx := context.Background()
	if err := d.EnsureHistory(ctx); err != nil {
		b.Fatal(err)
	}
	if err := d.simple(ctx, `INSERT INTO `+d.table+` (version, name, checksum, state, applied_at, duration_ms, applied_by)
SELECT i::text, 't_' || i, md5(i::text) || md5(i::text), 'applied', now(), 3, 'bench pid=1' FROM generate_series(1, 1000) i`); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		revs, err := d.History(ctx)
		if err != nil || len(revs) != 1000 {
			b.Fatalf("History: %d rows, %v", len(revs), err)
		}
	}
}

// BenchmarkEachQuery builds the query ApplyEach sends for 200 migrations of
// a table and an index each (bench/'s W6), with no server: the client's work
// before the server can start on the first of them.
func BenchmarkEachQuery(b *testing.B) {
	d := &Driver{table: `"public"."runway_migrations"`}
	d.held.Store(&holding{pid: 1234})
	steps := eachSteps(200)
	for i := range steps {
		r := steps[i].Record
		r.Checksum = strings.Repeat("c", 64)
		r.AppliedBy = "runway web-1 pid=42"
		r.StatementChecksums = []string{strings.Repeat("a", 32), strings.Repeat("b", 32)}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := d.eachQuery(steps, true); err != nil {
			b.Fatal(err)
		}
	}
}
