package main

import (
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPairedRatio(t *testing.T) {
	ms := func(rep int, d float64) sample {
		return sample{rep: rep, wall: time.Duration(d * float64(time.Millisecond))}
	}
	// The machine is twice as slow in rounds 1 and 2: each round's ratio
	// is still 1.1.
	floor := []sample{ms(0, 100), ms(1, 200), ms(2, 200), ms(3, 100), ms(4, 100)}
	tool := []sample{ms(0, 110), ms(1, 220), ms(2, 220), ms(3, 110), ms(4, 110)}
	got, n := pairedRatio(tool, floor)
	if n != 5 || math.Abs(got-1.1) > 1e-9 {
		t.Fatalf("pairedRatio = %v over %d pairs, want 1.1 over 5", got, n)
	}

	// Rounds the floor missed (a failed run) are left out; an even count
	// takes the mean of the middle two.
	got, n = pairedRatio([]sample{ms(0, 120), ms(1, 300), ms(2, 100), ms(5, 1)}, []sample{ms(0, 100), ms(1, 200), ms(2, 100)})
	if n != 3 || math.Abs(got-1.2) > 1e-9 {
		t.Fatalf("pairedRatio = %v over %d pairs, want 1.2 over 3", got, n)
	}
	got, n = pairedRatio([]sample{ms(0, 110), ms(1, 130)}, []sample{ms(0, 100), ms(1, 100)})
	if n != 2 || math.Abs(got-1.2) > 1e-9 {
		t.Fatalf("pairedRatio = %v over %d pairs, want 1.2 over 2", got, n)
	}
	if got, n := pairedRatio([]sample{ms(3, 10)}, []sample{ms(0, 10)}); n != 0 || got != 0 {
		t.Fatalf("pairedRatio with no common round = %v over %d, want 0 over 0", got, n)
	}
}

func TestMedian(t *testing.T) {
	xs := []time.Duration{5, 1, 3}
	if got := median(xs); got != 3 {
		t.Errorf("median(5 1 3) = %v, want 3", got)
	}
	if xs[0] != 5 {
		t.Errorf("median sorted its argument: %v", xs)
	}
	if got := median([]int64{4, 1, 3, 2}); got != 2 { // (2+3)/2 in integers
		t.Errorf("median(4 1 3 2) = %v, want 2", got)
	}
	if got := median([]float64{}); got != 0 {
		t.Errorf("median of nothing = %v, want 0", got)
	}
}

func TestSpreadNote(t *testing.T) {
	steady := &result{Tool: "psql -1", Runs: 5, WallMinMs: 1000, WallMaxMs: 1400}
	wide := &result{Tool: "psql -1", Runs: 5, WallMinMs: 2610, WallMaxMs: 4310}
	runway := &result{Tool: "runway", Runs: 5, WallMinMs: 1100, WallMaxMs: 1300}
	wideRunway := &result{Tool: "runway", Runs: 5, WallMinMs: 1980, WallMaxMs: 5410}
	one := &result{Tool: "runway", Runs: 1, WallMinMs: 100, WallMaxMs: 100}

	if got := spreadNote(steady, runway, false); got != "" {
		t.Errorf("steady runs: got %q, want no note", got)
	}
	if got := spreadNote(nil, one, false); got != "" {
		t.Errorf("one run, no floor: got %q, want no note", got)
	}
	got := spreadNote(wide, runway, false)
	if !strings.Contains(got, "noisy: psql -1's runs spread 1.7×") || !strings.Contains(got, "-work-dir /dev/shm") {
		t.Errorf("wide floor: got %q", got)
	}
	// On a tmpfs already, the note does not send the user there.
	if got := spreadNote(wide, runway, true); strings.Contains(got, "/dev/shm") || !strings.Contains(got, "noisy") {
		t.Errorf("wide floor on tmpfs: got %q", got)
	}
	// The wider of the two is named.
	if got := spreadNote(wide, wideRunway, false); !strings.Contains(got, "runway's runs spread 2.7×") {
		t.Errorf("wide both: got %q", got)
	}
	if got := spreadNote(&result{Tool: "x", Runs: 3, WallMinMs: 0, WallMaxMs: 5}, nil, false); got != "" {
		t.Errorf("zero minimum: got %q, want no note", got)
	}
}

// The no-op targets' lines name the floor that checks integrity when it
// ran, beside Runway's own time; the verdict is still Runway's.
func TestTargetsNameTheChecksumFloor(t *testing.T) {
	b := &bench{cfg: config{w6Runners: 16}}
	b.results = []*result{
		{Workload: "W2", Tool: eListver, Runs: 3, WallMs: 7.5},
		{Workload: "W2", Tool: eListsum, Runs: 3, WallMs: 9.1},
		{Workload: "W2", Tool: eRunway, Runs: 3, WallMs: 11, Floor: eListver, EditedExit: ptr(5)},
		{Workload: "W3", Tool: eListver, Runs: 3, WallMs: 7.6},
		{Workload: "W3", Tool: eRunway, Runs: 3, WallMs: 12, Floor: eListver, Queries: ptr(int64(1))},
	}
	var out strings.Builder
	b.targets(&out)
	lines := map[string]string{}
	for _, l := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			lines[f[0]] = strings.Join(f, " ")
		}
	}
	if l := lines["W2"]; !strings.Contains(l, "MISSED 11 ms, an edited file refused (exit 5); the Go floor with checksums: 9.1 ms") {
		t.Errorf("W2's line: %q", l)
	}
	if l := lines["W3"]; !strings.Contains(l, "met 12 ms, 1 query") || strings.Contains(l, "checksums") {
		t.Errorf("W3's line, without the floor with checksums: %q", l)
	}
}

func ptr[T any](v T) *T { return &v }

// targetLine is workload w's line of b's targets, its blanks made single.
func targetLine(b *bench, w string) string {
	var out strings.Builder
	b.targets(&out)
	for _, l := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == w {
			return strings.Join(f, " ")
		}
	}
	return ""
}

// W2's target asks that the no-op check integrity: a run with an applied
// file edited must be refused with exit 5, or the target is missed; when
// that run did not happen, the target is not checked.
func TestTargetsW2Integrity(t *testing.T) {
	w2 := func(edited *int) string {
		b := &bench{}
		b.results = []*result{
			{Workload: "W2", Tool: eListver, Runs: 3, WallMs: 7.5},
			{Workload: "W2", Tool: eRunway, Runs: 3, WallMs: 9, Floor: eListver, EditedExit: edited},
		}
		for _, p := range toolEntries[1:] {
			b.results = append(b.results, &result{Workload: "W2", Tool: p, Runs: 3, WallMs: 20, EditedExit: ptr(0)})
		}
		return targetLine(b, "W2")
	}
	if l := w2(ptr(5)); !strings.Contains(l, "met 9.0 ms, an edited file refused (exit 5)") {
		t.Errorf("refused: %q", l)
	}
	if l := w2(ptr(0)); !strings.Contains(l, "MISSED 9.0 ms, an edited file not refused (exit 0, want 5)") {
		t.Errorf("not noticed: %q", l)
	}
	if l := w2(ptr(6)); !strings.Contains(l, "MISSED 9.0 ms, an edited file not refused (exit 6, want 5)") {
		t.Errorf("another failure: %q", l)
	}
	if l := w2(nil); !strings.Contains(l, "UNCHECKED 9.0 ms, the edit check did not run") {
		t.Errorf("not run: %q", l)
	}
}

// W3's target asks for one query as well as the time: more is a miss, and
// a count the proxy could not make leaves the target unchecked.
func TestTargetsW3OneQuery(t *testing.T) {
	w3 := func(queries *int64) string {
		b := &bench{}
		b.results = []*result{
			{Workload: "W3", Tool: eListver, Runs: 3, WallMs: 7.6},
			{Workload: "W3", Tool: eRunway, Runs: 3, WallMs: 12, Floor: eListver, Queries: queries},
		}
		return targetLine(b, "W3")
	}
	if l := w3(ptr(int64(1))); !strings.Contains(l, "one query met 12 ms, 1 query") {
		t.Errorf("one query: %q", l)
	}
	if l := w3(ptr(int64(1001))); !strings.Contains(l, "MISSED 12 ms, 1001 queries") {
		t.Errorf("a query per migration: %q", l)
	}
	if l := w3(nil); !strings.Contains(l, "UNCHECKED 12 ms, queries not counted") {
		t.Errorf("not counted: %q", l)
	}
}

// "Below every peer" is met only against peers that ran: a peer left out by
// -tools, or one that failed, is named as not compared, and the verdict
// is not "met".
func TestTargetsBelowEveryPeer(t *testing.T) {
	w1 := func(b *bench, peers ...*result) string {
		b.results = append([]*result{
			{Workload: "W1", Tool: ePsql1, Runs: 3, WallMs: 1000},
			{Workload: "W1", Tool: eRunway, Runs: 3, WallMs: 900, Ratio: 0.9, Floor: ePsql1},
		}, peers...)
		return targetLine(b, "W1")
	}
	slower := func(tool string) *result { return &result{Workload: "W1", Tool: tool, Runs: 3, WallMs: 1200} }
	all := []*result{slower(eGoose), slower(eMigrate), slower(eSQLMigrate), slower(eDbmate)}
	if l := w1(&bench{}, all...); !strings.Contains(l, "met 0.90×") || strings.Contains(l, "not") {
		t.Errorf("every peer slower: %q", l)
	}
	faster := &result{Workload: "W1", Tool: eGoose, Runs: 3, WallMs: 800}
	if l := w1(&bench{}, faster, slower(eMigrate), slower(eSQLMigrate), slower(eDbmate)); !strings.Contains(l, "MISSED") || !strings.Contains(l, "not below: goose") {
		t.Errorf("goose faster: %q", l)
	}
	failed := &result{Workload: "W1", Tool: eGoose, Runs: 0, Error: "exit status 1"}
	if l := w1(&bench{}, failed, slower(eMigrate), slower(eSQLMigrate), slower(eDbmate)); !strings.Contains(l, "UNCHECKED") || !strings.Contains(l, "not compared: goose (failed)") {
		t.Errorf("goose failed: %q", l)
	}
	partly := &result{Workload: "W1", Tool: eGoose, Runs: 2, WallMs: 1200, Error: "exit status 1"}
	if l := w1(&bench{}, partly, slower(eMigrate), slower(eSQLMigrate), slower(eDbmate)); !strings.Contains(l, "UNCHECKED") || !strings.Contains(l, "goose (failed after 2 runs)") {
		t.Errorf("goose failed in some runs: %q", l)
	}
	only := &bench{cfg: config{tools: map[string]bool{eRunway: true}}}
	if l := w1(only); !strings.Contains(l, "UNCHECKED") || !strings.Contains(l, "not compared: goose (not run), golang-migrate (not run), sql-migrate (not run), dbmate (not run)") {
		t.Errorf("-tools runway: %q", l)
	}
	quick := &bench{cfg: config{quick: true}}
	w1(quick, all...)
	var out strings.Builder
	quick.targets(&out)
	if !strings.Contains(out.String(), "not a verdict") {
		t.Errorf("-quick: no caveat in %q", out.String())
	}
}

// Every workload plan lists is a name -workloads accepts, and no other.
func TestWorkloadNames(t *testing.T) {
	var names []string
	for _, w := range (&bench{}).plan() {
		names = append(names, w.name)
	}
	if !slices.Equal(names, workloadNames) {
		t.Errorf("plan lists %v, -workloads accepts %v", names, workloadNames)
	}
}

// Runway's own result over the runs that worked, when others failed, is not
// a verdict either.
func TestTargetsRunwayFailedSomeRuns(t *testing.T) {
	b := &bench{}
	b.results = []*result{
		{Workload: "W4", Tool: eMariaDB, Runs: 3, WallMs: 1000},
		{Workload: "W4", Tool: eRunway, Runs: 2, WallMs: 900, Ratio: 0.9, Floor: eMariaDB, Error: "exit status 4"},
	}
	var out strings.Builder
	b.targets(&out)
	if l := strings.Join(strings.Fields(out.String()), " "); !strings.Contains(l, "UNCHECKED 0.90×") || !strings.Contains(l, "runway failed after 2 runs: exit status 4") {
		t.Errorf("W4 with a failed run: %q", l)
	}
}

// The queries and edit-check columns appear on the workloads that have
// them, with a cell for every tool, failed ones included.
func TestReportExtraColumns(t *testing.T) {
	b := &bench{cfg: config{reps: 1, cheapReps: 1}, log: io.Discard}
	run := []sample{{wall: 10 * time.Millisecond}}
	b.results = []*result{
		{Workload: "W2", Tool: eListver, Kind: "floor", samples: run, Queries: ptr(int64(1)), EditedExit: ptr(0)},
		{Workload: "W2", Tool: eRunway, Kind: "tool", samples: run, Queries: ptr(int64(1)), EditedExit: ptr(5)},
		{Workload: "W2", Tool: eGoose, Kind: "tool", Error: "exit status 1"},
		{Workload: "W4", Tool: eMariaDB, Kind: "floor", samples: run},
		// Counted in the timed runs: the runs that differ give a range.
		{Workload: "W1-lat", Tool: ePsql1, Kind: "floor", samples: []sample{
			{rep: 0, wall: time.Second, queries: 202, counted: true}, {rep: 1, wall: time.Second, queries: 202, counted: true}}},
		{Workload: "W1-lat", Tool: eRunway, Kind: "tool", samples: []sample{
			{rep: 0, wall: time.Second, queries: 11, counted: true}, {rep: 1, wall: time.Second, queries: 12, counted: true}}},
		// One run not counted: no count.
		{Workload: "W1-lat", Tool: eGoose, Kind: "tool", samples: []sample{
			{rep: 0, wall: time.Second, queries: 500, counted: true}, {rep: 1, wall: time.Second}}},
	}
	var out strings.Builder
	b.report(&out, time.Second)
	text := out.String()
	for _, want := range []string{
		"| tool | runs | wall | × floor | paired | CPU (user+sys) | peak RSS | wall min–max | queries | an applied file edited |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
		"| runway | 1 | 10 ms | 1.00× | 1.00× | 0.0 ms | 0.0 MiB | 10 ms–10 ms | 1 | refused (exit 5) |\n",
		"| Go floor (listver) (floor) | 1 | 10 ms | 1.00× | 1.00× | 0.0 ms | 0.0 MiB | 10 ms–10 ms | 1 | not noticed (exit 0) |\n",
		"| goose | 0 | FAILED | | | | | | | |\n",
		"| psql -1 (floor) | 2 | 1.00 s | 1.00× | 1.00× | 0.0 ms | 0.0 MiB | 1.00 s–1.00 s | 202 |\n",
		"| runway | 2 | 1.00 s | 1.00× | 1.00× | 0.0 ms | 0.0 MiB | 1.00 s–1.00 s | 11–12 |\n",
		"| goose | 2 | 1.00 s | 1.00× | 1.00× | 0.0 ms | 0.0 MiB | 1.00 s–1.00 s | ? |\n",
		// W4 has neither column.
		"| tool | runs | wall | × floor | paired | CPU (user+sys) | peak RSS | wall min–max |\n|---|--:|--:|--:|--:|--:|--:|--:|\n| mariadb (floor) |",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
}
