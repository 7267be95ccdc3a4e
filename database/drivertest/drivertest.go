// Package drivertest is the conformance suite every Runway database driver
// passes on a real server: history table, revisions, lock, transactions,
// errors and cancellation, in dialect-neutral SQL.
//
// A driver's test wires it up like this:
//
//	func TestConformance(t *testing.T) {
//		drivertest.Run(t, func(t *testing.T) (database.Driver, drivertest.Session) {
//			url := testdb.Postgres(t) // a fresh, empty database
//			session := func(t *testing.T) database.Driver {
//				d, err := postgres.Open(context.Background(), url, database.Config{Identity: "test"})
//				if err != nil {
//					t.Fatal(err)
//				}
//				return d
//			}
//			return session(t), session
//		})
//	}
package drivertest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/migration"
)

// Session opens one more session on the database that Open created. The
// suite closes every session it is given (Close may be called twice on a
// session the suite closed itself; the second error is ignored). It is an
// alias so a plain func(*testing.T) database.Driver fits.
type Session = func(t *testing.T) database.Driver

// Open creates a fresh, empty database for one subtest and returns a first
// session on it together with a Session function opening more sessions on the
// same database (lock tests need two). Every session uses the default
// history table (database.Config{} apart from Identity).
type Open func(t *testing.T) (database.Driver, Session)

// Option adjusts the suite to what a driver can do.
type Option func(*config)

type config struct {
	noLockHolder bool
}

// WithoutLockHolder tells the suite the driver cannot say who holds the lock
// (LockHolder always returns ""), so it is not checked.
func WithoutLockHolder() Option { return func(c *config) { c.noLockHolder = true } }

// Run runs the conformance suite as subtests of t. Each subtest gets its own
// database from open.
func Run(t *testing.T, open Open, opts ...Option) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	s := &suite{open: open, cfg: c}
	tests := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"HistoryMissingTable", s.historyMissingTable},
		{"EnsureHistoryIdempotent", s.ensureHistoryIdempotent},
		{"EnsureHistoryConcurrent", s.ensureHistoryConcurrent},
		{"RevisionRoundTrip", s.revisionRoundTrip},
		{"LockExclusive", s.lockExclusive},
		{"LockWait", s.lockWait},
		{"LockReleasedOnClose", s.lockReleasedOnClose},
		{"LockHolder", s.lockHolder},
		{"ApplyTx", s.applyTx},
		{"ApplyTxEmpty", s.applyTxEmpty},
		{"ApplyTxFailure", s.applyTxFailure},
		{"Exec", s.exec},
		{"ExecFailure", s.execFailure},
		{"CancelledContext", s.cancelledContext},
		{"LockWaitCancelled", s.lockWaitCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
}

type suite struct {
	open Open
	cfg  config
}

// ctx returns a context that ends with the test, with a generous deadline so a
// hung driver fails instead of blocking the run.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// start opens the database and returns its first session and a factory for
// more, every session closed when t ends.
func (s *suite) start(t *testing.T) (database.Driver, func() database.Driver) {
	t.Helper()
	first, more := s.open(t)
	closeAtEnd(t, first)
	return first, func() database.Driver {
		t.Helper()
		d := more(t)
		closeAtEnd(t, d)
		return d
	}
}

func closeAtEnd(t *testing.T, d database.Driver) {
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d.Close(c)
	})
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func stmt(sql string, line int) migration.Statement { return migration.Statement{SQL: sql, Line: line} }

func (s *suite) historyMissingTable(t *testing.T) {
	d, _ := s.start(t)
	revs, err := d.History(ctx(t))
	if err != nil {
		t.Fatalf("History before EnsureHistory: %v (want no error)", err)
	}
	if len(revs) != 0 {
		t.Fatalf("History before EnsureHistory = %d rows, want 0", len(revs))
	}
	checkStates(t, d, "before EnsureHistory", nil)
}

func (s *suite) ensureHistoryIdempotent(t *testing.T) {
	d, _ := s.start(t)
	c := ctx(t)
	must(t, d.EnsureHistory(c), "first EnsureHistory")
	must(t, d.EnsureHistory(c), "second EnsureHistory")
	revs, err := d.History(c)
	must(t, err, "History")
	if len(revs) != 0 {
		t.Fatalf("History of a new table = %d rows, want 0", len(revs))
	}
	r := sampleRevision("1", database.StateApplied)
	must(t, d.WriteRevision(c, r), "WriteRevision")
	must(t, d.EnsureHistory(c), "EnsureHistory on a table with rows")
	revs, err = d.History(c)
	must(t, err, "History")
	if len(revs) != 1 {
		t.Fatalf("EnsureHistory lost rows: History = %d rows, want 1", len(revs))
	}
}

// ensureHistoryConcurrent: the engine calls EnsureHistory under the lock, but
// a driver must not fail when two sessions race to create the table.
func (s *suite) ensureHistoryConcurrent(t *testing.T) {
	first, more := s.start(t)
	sessions := []database.Driver{first, more(), more(), more()}
	c := ctx(t)
	var wg sync.WaitGroup
	errs := make([]error, len(sessions))
	for i, d := range sessions {
		wg.Go(func() { errs[i] = d.EnsureHistory(c) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("session %d: EnsureHistory racing with others: %v", i, err)
		}
	}
}

func sampleRevision(v string, st database.State) database.Revision {
	return database.Revision{
		Version:   migration.MustParseVersion(v),
		Name:      "create_users",
		Checksum:  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		State:     st,
		AppliedAt: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC),
		Duration:  1234 * time.Millisecond,
		AppliedBy: "ci-runner-7 pid=4242",
	}
}

func (s *suite) revisionRoundTrip(t *testing.T) {
	d, _ := s.start(t)
	c := ctx(t)
	must(t, d.EnsureHistory(c), "EnsureHistory")

	plus2 := time.FixedZone("UTC+2", 2*3600)
	want := map[string]database.Revision{}
	put := func(r database.Revision) {
		t.Helper()
		must(t, d.WriteRevision(c, r), "WriteRevision "+r.Version.String())
		want[r.Version.String()] = r
	}

	a := sampleRevision("0001", database.StateApplied)
	put(a)

	b := sampleRevision("2.10", database.StateFailed)
	b.Name = `it's "quoted" \ and \\ back\slashed; -- not a comment`
	b.Checksum = "b"
	b.AppliedAt = time.Date(2026, 12, 31, 23, 59, 58, 0, plus2) // stored and returned as UTC
	b.Duration = 3*time.Hour + 7*time.Millisecond
	b.StatementsApplied = 2
	b.StatementsTotal = 5
	b.StatementChecksums = []string{"0123456789abcdef", "fedcba9876543210"}
	b.Error = "relation \"x\" does not exist\nline 2: O'Brien \\ ✓ $$ $tag$"
	put(b)

	c3 := sampleRevision("20240101120000", database.StateRunning)
	c3.StatementsTotal = 3
	c3.StatementChecksums = []string{}
	c3.Duration = 0
	put(c3)

	base := sampleRevision("3", database.StateBaseline)
	base.Name = ""
	base.Duration = 0
	put(base)

	check := func(stage string) {
		t.Helper()
		revs, err := d.History(c)
		must(t, err, stage+": History")
		if len(revs) != len(want) {
			t.Fatalf("%s: History = %d rows, want %d", stage, len(revs), len(want))
		}
		for _, got := range revs {
			w, ok := want[got.Version.String()]
			if !ok {
				t.Errorf("%s: History has unexpected version %q (versions must be stored canonical)", stage, got.Version)
				continue
			}
			compareRevision(t, stage, got, w)
		}
		checkStates(t, d, stage, want)
	}
	check("after inserts")

	// Replace: the running revision finishes as failed, then as applied.
	c3.State = database.StateFailed
	c3.StatementsApplied = 1
	c3.StatementChecksums = []string{"aaaaaaaaaaaaaaaa"}
	c3.Error = "boom"
	put(c3)
	// Writing "0002.010" replaces "2.10": same version, other spelling.
	b2 := b
	b2.Version = migration.MustParseVersion("0002.010")
	b2.State = database.StateApplied
	b2.Error = ""
	b2.StatementsApplied = 5
	b2.StatementChecksums = append(slices.Clone(b.StatementChecksums), "1111111111111111", "2222222222222222", "3333333333333333")
	b2.Duration = 1500 * time.Millisecond
	put(b2)
	delete(want, "2.10")
	want["2.10"] = b2
	check("after replacing")

	must(t, d.RemoveRevision(c, migration.MustParseVersion("01")), "RemoveRevision")
	delete(want, "1")
	check("after RemoveRevision")
	must(t, d.RemoveRevision(c, migration.MustParseVersion("99")), "RemoveRevision of a missing version")
	check("after removing a missing version")
}

// checkStates compares a database.StateReader's rows with want's versions,
// checksums and states, and checks that a database.StateScanner stops at
// the first error of its function and leaves the session usable; drivers
// without them pass.
func checkStates(t *testing.T, d database.Driver, stage string, want map[string]database.Revision) {
	t.Helper()
	if sc, ok := d.(database.StateScanner); ok && len(want) > 1 {
		stop := errors.New("stop")
		calls := 0
		err := sc.ScanStates(ctx(t), func(version, checksum, state []byte) error {
			calls++
			if w, ok := want[string(version)]; !ok || string(checksum) != w.Checksum || database.State(state) != w.State {
				t.Errorf("%s: ScanStates row %q %q %q is not one of the rows written", stage, version, checksum, state)
			}
			return stop
		})
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("%s: ScanStates with a function failing at once: %d calls, error %v; want 1 call, the function's error", stage, calls, err)
		}
	}
	sr, ok := d.(database.StateReader)
	if !ok {
		return
	}
	states, err := sr.States(ctx(t))
	must(t, err, stage+": States")
	if len(states) != len(want) {
		t.Fatalf("%s: States = %d rows, want %d", stage, len(states), len(want))
	}
	for _, got := range states {
		w, ok := want[got.Version.String()]
		switch {
		case !ok:
			t.Errorf("%s: States has unexpected version %q", stage, got.Version)
		case got.Checksum != w.Checksum || got.State != w.State:
			t.Errorf("%s: States row %s = checksum %q state %q, want %q %q", stage, got.Version, got.Checksum, got.State, w.Checksum, w.State)
		case got.Name != "" || !got.AppliedAt.IsZero() || got.StatementsTotal != 0:
			t.Errorf("%s: States row %s has more than version, checksum and state: %+v", stage, got.Version, got)
		}
	}
}

func compareRevision(t *testing.T, stage string, got, want database.Revision) {
	t.Helper()
	v := want.Version.String()
	if !got.Version.Equal(want.Version) {
		t.Errorf("%s: %s: Version = %q, want %q", stage, v, got.Version, want.Version)
	}
	if got.Name != want.Name {
		t.Errorf("%s: %s: Name = %q, want %q", stage, v, got.Name, want.Name)
	}
	if got.Checksum != want.Checksum {
		t.Errorf("%s: %s: Checksum = %q, want %q", stage, v, got.Checksum, want.Checksum)
	}
	if got.State != want.State {
		t.Errorf("%s: %s: State = %q, want %q", stage, v, got.State, want.State)
	}
	if !got.AppliedAt.Truncate(time.Second).Equal(want.AppliedAt.Truncate(time.Second)) {
		t.Errorf("%s: %s: AppliedAt = %v, want %v (to the second)", stage, v, got.AppliedAt, want.AppliedAt)
	}
	if got.AppliedAt.Location() != time.UTC {
		t.Errorf("%s: %s: AppliedAt location = %v, want UTC", stage, v, got.AppliedAt.Location())
	}
	if got.Duration.Truncate(time.Millisecond) != want.Duration.Truncate(time.Millisecond) {
		t.Errorf("%s: %s: Duration = %v, want %v (to the millisecond)", stage, v, got.Duration, want.Duration)
	}
	if got.AppliedBy != want.AppliedBy {
		t.Errorf("%s: %s: AppliedBy = %q, want %q", stage, v, got.AppliedBy, want.AppliedBy)
	}
	if got.StatementsApplied != want.StatementsApplied || got.StatementsTotal != want.StatementsTotal {
		t.Errorf("%s: %s: statements %d/%d, want %d/%d", stage, v,
			got.StatementsApplied, got.StatementsTotal, want.StatementsApplied, want.StatementsTotal)
	}
	if len(got.StatementChecksums) != len(want.StatementChecksums) ||
		(len(want.StatementChecksums) > 0 && !slices.Equal(got.StatementChecksums, want.StatementChecksums)) {
		t.Errorf("%s: %s: StatementChecksums = %q, want %q", stage, v, got.StatementChecksums, want.StatementChecksums)
	}
	if got.Error != want.Error {
		t.Errorf("%s: %s: Error = %q, want %q", stage, v, got.Error, want.Error)
	}
}

func lock(t *testing.T, d database.Driver, wait time.Duration, want bool, who string) {
	t.Helper()
	got, err := d.Lock(ctx(t), wait)
	if err != nil {
		t.Fatalf("%s: Lock(%v): %v", who, wait, err)
	}
	if got != want {
		t.Fatalf("%s: Lock(%v) = %v, want %v", who, wait, got, want)
	}
}

func (s *suite) lockExclusive(t *testing.T) {
	a, more := s.start(t)
	b := more()
	c := ctx(t)
	lock(t, a, 0, true, "first session")
	lock(t, b, 0, false, "second session while the first holds the lock")
	must(t, a.Unlock(c), "Unlock")
	lock(t, b, 0, true, "second session after Unlock")
	lock(t, a, 0, false, "first session while the second holds the lock")
	must(t, b.Unlock(c), "Unlock")
	lock(t, a, 0, true, "first session again")
	must(t, a.Unlock(c), "Unlock")
}

func (s *suite) lockWait(t *testing.T) {
	a, more := s.start(t)
	b := more()
	lock(t, a, 0, true, "first session")
	const wait = 300 * time.Millisecond
	start := time.Now()
	lock(t, b, wait, false, "second session waiting while the first holds the lock")
	if el := time.Since(start); el < wait-30*time.Millisecond {
		t.Errorf("Lock(%v) gave up after %v, want it to wait", wait, el)
	} else if el > wait+5*time.Second {
		t.Errorf("Lock(%v) gave up after %v, far too long", wait, el)
	}

	// A waiter gets the lock when the holder lets go during its wait.
	unlocked := make(chan error, 1)
	go func() {
		time.Sleep(200 * time.Millisecond)
		unlocked <- a.Unlock(context.Background())
	}()
	start = time.Now()
	lock(t, b, 10*time.Second, true, "second session waiting for the first to Unlock")
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Lock took %v after the holder unlocked at ~200ms", el)
	}
	must(t, <-unlocked, "Unlock")
}

func (s *suite) lockReleasedOnClose(t *testing.T) {
	a, more := s.start(t)
	b := more()
	lock(t, a, 0, true, "first session")
	lock(t, b, 0, false, "second session while the first holds the lock")
	must(t, a.Close(ctx(t)), "Close of the holder")
	// The server may notice the end of the session a moment later.
	lock(t, b, 10*time.Second, true, "second session after the holder closed")
}

func (s *suite) lockHolder(t *testing.T) {
	a, more := s.start(t)
	b := more()
	c := ctx(t)
	h, err := b.LockHolder(c)
	must(t, err, "LockHolder while nobody holds the lock")
	if h != "" {
		t.Errorf("LockHolder while nobody holds the lock = %q, want \"\"", h)
	}
	lock(t, a, 0, true, "first session")
	h, err = b.LockHolder(c)
	must(t, err, "LockHolder")
	if s.cfg.noLockHolder {
		if h != "" {
			t.Errorf("LockHolder = %q for a driver declared WithoutLockHolder", h)
		}
	} else if h == "" {
		t.Errorf("LockHolder while another session holds the lock = \"\", want a description (or use WithoutLockHolder)")
	} else {
		t.Logf("LockHolder: %s", h)
	}
	must(t, a.Unlock(c), "Unlock")
	h, err = b.LockHolder(c)
	must(t, err, "LockHolder after Unlock")
	if h != "" {
		t.Errorf("LockHolder after Unlock = %q, want \"\"", h)
	}
}

// tableExists probes a table with Exec: it works on every dialect and the
// engine's own interface, at the cost of a failed statement when it is missing.
func tableExists(t *testing.T, d database.Driver, table string) bool {
	t.Helper()
	err := d.Exec(ctx(t), stmt("SELECT id FROM "+table, 1))
	var ee *database.ExecError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("probing table %s: %v (want nil or *database.ExecError)", table, err)
	}
	return err == nil
}

func versions(t *testing.T, d database.Driver) []string {
	t.Helper()
	revs, err := d.History(ctx(t))
	must(t, err, "History")
	var vs []string
	for _, r := range revs {
		vs = append(vs, r.Version.String()+":"+string(r.State))
	}
	slices.Sort(vs)
	return vs
}

func (s *suite) applyTx(t *testing.T) {
	d, _ := s.start(t)
	c := ctx(t)
	must(t, d.EnsureHistory(c), "EnsureHistory")
	r1 := sampleRevision("1", database.StateApplied)
	r2 := sampleRevision("2", database.StateApplied)
	r2.Name = "second 'one'"
	steps := []database.Step{
		{Statements: []migration.Statement{
			stmt("CREATE TABLE rw_t1 (id integer primary key, name varchar(50))", 1),
			stmt("INSERT INTO rw_t1 (id, name) VALUES (1, 'it''s')", 3),
		}, Record: &r1},
		{Statements: []migration.Statement{
			stmt("CREATE TABLE rw_t2 (id integer primary key)", 1),
		}, Record: &r2},
		// A record-only step (baseline-like) is valid.
		{Record: ptr(sampleRevision("3", database.StateBaseline))},
	}
	must(t, d.ApplyTx(c, steps), "ApplyTx")
	if !tableExists(t, d, "rw_t1") || !tableExists(t, d, "rw_t2") {
		t.Fatal("ApplyTx committed but its tables are missing")
	}
	// The row went in: inserting the same key again violates the primary key.
	if err := d.Exec(c, stmt("INSERT INTO rw_t1 (id, name) VALUES (1, 'again')", 1)); err == nil {
		t.Error("the row inserted by ApplyTx is missing")
	}
	if got, want := versions(t, d), []string{"1:applied", "2:applied", "3:baseline"}; !slices.Equal(got, want) {
		t.Fatalf("History after ApplyTx = %v, want %v", got, want)
	}
	revs, _ := d.History(c)
	for _, r := range revs {
		if r.Version.String() == "2" {
			compareRevision(t, "ApplyTx", r, r2)
		}
	}

	// Down: drop a table and remove its row; replace another row.
	r1b := r1
	r1b.Checksum = "changed"
	must(t, d.ApplyTx(c, []database.Step{
		{Statements: []migration.Statement{stmt("DROP TABLE rw_t2", 1)}, Remove: r2.Version},
		{Record: &r1b},
	}), "ApplyTx with Remove")
	if tableExists(t, d, "rw_t2") {
		t.Error("DROP TABLE in ApplyTx did not take effect")
	}
	if got, want := versions(t, d), []string{"1:applied", "3:baseline"}; !slices.Equal(got, want) {
		t.Fatalf("History after ApplyTx with Remove = %v, want %v", got, want)
	}
	revs, _ = d.History(c)
	for _, r := range revs {
		if r.Version.String() == "1" && r.Checksum != "changed" {
			t.Errorf("ApplyTx Record did not replace the row: checksum %q", r.Checksum)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func (s *suite) applyTxEmpty(t *testing.T) {
	d, _ := s.start(t)
	c := ctx(t)
	must(t, d.EnsureHistory(c), "EnsureHistory")
	must(t, d.ApplyTx(c, nil), "ApplyTx with no steps")
	must(t, d.ApplyTx(c, []database.Step{{}}), "ApplyTx with an empty step")
	if got := versions(t, d); len(got) != 0 {
		t.Fatalf("History = %v, want empty", got)
	}
}

func (s *suite) applyTxFailure(t *testing.T) {
	d, _ := s.start(t)
	c := ctx(t)
	must(t, d.EnsureHistory(c), "EnsureHistory")
	r1 := sampleRevision("1", database.StateApplied)
	r2 := sampleRevision("2", database.StateApplied)
	steps := []database.Step{
		{Statements: []migration.Statement{
			stmt("CREATE TABLE rw_f0 (id integer primary key)", 2),
			stmt("INSERT INTO rw_f0 (id) VALUES (1)", 4),
		}, Record: &r1},
		{Statements: []migration.Statement{
			stmt("CREATE TABLE rw_f1 (id integer primary key)", 3),
			stmt("INSERT INTO rw_f1 (id) VALUES (1)", 7),
			stmt("INSERT INTO rw_missing_table (id) VALUES (1)", 42),
			stmt("CREATE TABLE rw_f2 (id integer primary key)", 50),
		}, Record: &r2},
	}
	err := d.ApplyTx(c, steps)
	if err == nil {
		t.Fatal("ApplyTx with a failing statement returned nil")
	}
	var ee *database.ExecError
	if !errors.As(err, &ee) {
		t.Fatalf("ApplyTx error %T %v is not a *database.ExecError", err, err)
	}
	if ee.Step != 1 || ee.Statement != 2 || ee.Line != 42 {
		t.Errorf("ExecError at step %d statement %d line %d, want step 1 statement 2 line 42", ee.Step, ee.Statement, ee.Line)
	}
	if ee.Code == "" || ee.Message == "" {
		t.Errorf("ExecError Code %q Message %q: want both set", ee.Code, ee.Message)
	}
	if !strings.Contains(err.Error(), ee.Message) {
		t.Errorf("error text %q does not show the database's message %q", err, ee.Message)
	}
	t.Logf("ApplyTx error: %v (code %s, position %d)", err, ee.Code, ee.Position)

	// The session is usable afterwards (no transaction left open).
	must(t, d.Exec(c, stmt("CREATE TABLE rw_after (id integer primary key)", 1)), "Exec after a failed ApplyTx")
	if tableExists(t, d, "rw_f2") {
		t.Error("a statement after the failing one ran")
	}
	if d.TransactionalDDL() {
		for _, tbl := range []string{"rw_f0", "rw_f1"} {
			if tableExists(t, d, tbl) {
				t.Errorf("table %s of the failed transaction was left behind", tbl)
			}
		}
		if got := versions(t, d); len(got) != 0 {
			t.Errorf("history rows of the failed transaction were left behind: %v", got)
		}
	}
	// And the same steps, fixed, apply cleanly after the failure.
	if d.TransactionalDDL() {
		steps[1].Statements[2] = stmt("INSERT INTO rw_f1 (id) VALUES (2)", 42)
		must(t, d.ApplyTx(c, steps), "ApplyTx after fixing the statement")
		if got, want := versions(t, d), []string{"1:applied", "2:applied"}; !slices.Equal(got, want) {
			t.Errorf("History = %v, want %v", got, want)
		}
	}
}

func (s *suite) exec(t *testing.T) {
	d, more := s.start(t)
	c := ctx(t)
	must(t, d.Exec(c, stmt("CREATE TABLE rw_e (id integer primary key)", 1)), "Exec CREATE TABLE")
	must(t, d.Exec(c, stmt("INSERT INTO rw_e (id) VALUES (1)", 2)), "Exec INSERT")
	// Exec commits on its own: another session sees the table and the row
	// while this one stays open.
	other := more()
	if !tableExists(t, other, "rw_e") {
		t.Fatal("a table created by Exec is not visible to another session: Exec did not commit")
	}
	if err := other.Exec(c, stmt("INSERT INTO rw_e (id) VALUES (1)", 1)); err == nil {
		t.Error("the row Exec inserted is not visible to another session: Exec did not commit")
	}
}

func (s *suite) execFailure(t *testing.T) {
	d, _ := s.start(t)
	c := ctx(t)
	must(t, d.Exec(c, stmt("CREATE TABLE rw_x (id integer primary key)", 1)), "Exec CREATE TABLE")
	must(t, d.Exec(c, stmt("INSERT INTO rw_x (id) VALUES (1)", 1)), "Exec INSERT")
	err := d.Exec(c, stmt("INSERT INTO rw_x (id) VALUES (1)", 17))
	var ee *database.ExecError
	if !errors.As(err, &ee) {
		t.Fatalf("Exec of a duplicate key: %T %v, want *database.ExecError", err, err)
	}
	if ee.Step != 0 || ee.Statement != 0 || ee.Line != 17 || ee.Code == "" || ee.Message == "" {
		t.Errorf("ExecError = %+v, want Step 0, Statement 0, Line 17, Code and Message set", *ee)
	}
	// The session still works after a failed Exec.
	must(t, d.Exec(c, stmt("INSERT INTO rw_x (id) VALUES (2)", 1)), "Exec after a failed Exec")
}

func (s *suite) cancelledContext(t *testing.T) {
	d, _ := s.start(t)
	c, cancel := context.WithCancel(context.Background())
	cancel()
	checkCancelled(t, "Exec", d.Exec(c, stmt("CREATE TABLE rw_c (id integer primary key)", 1)), c)
	checkCancelled(t, "ApplyTx", d.ApplyTx(c, []database.Step{{Statements: []migration.Statement{
		stmt("CREATE TABLE rw_c2 (id integer primary key)", 1)}}}), c)
	_, err := d.Lock(c, time.Second)
	checkCancelled(t, "Lock", err, c)
}

func checkCancelled(t *testing.T, what string, err error, c context.Context) {
	t.Helper()
	if err == nil {
		t.Errorf("%s with a cancelled context returned nil", what)
	} else if !errors.Is(err, c.Err()) {
		t.Errorf("%s with a cancelled context: %v, want an error wrapping %v", what, err, c.Err())
	}
}

func (s *suite) lockWaitCancelled(t *testing.T) {
	a, more := s.start(t)
	b := more()
	lock(t, a, 0, true, "first session")
	c, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	ok, err := b.Lock(c, 30*time.Second)
	el := time.Since(start)
	if ok {
		t.Fatal("Lock succeeded while another session held the lock")
	}
	checkCancelled(t, "Lock waiting past its context's deadline", err, c)
	if el > 5*time.Second {
		t.Errorf("Lock returned %v after its context ended (deadline 300ms)", el)
	}
}
