package main

import (
	"math"
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

	if got := spreadNote(steady, runway); got != "" {
		t.Errorf("steady runs: got %q, want no note", got)
	}
	if got := spreadNote(nil, one); got != "" {
		t.Errorf("one run, no floor: got %q, want no note", got)
	}
	got := spreadNote(wide, runway)
	if !strings.Contains(got, "noisy: psql -1's runs spread 1.7×") || !strings.Contains(got, "-work-dir /dev/shm") {
		t.Errorf("wide floor: got %q", got)
	}
	// The wider of the two is named.
	if got := spreadNote(wide, wideRunway); !strings.Contains(got, "runway's runs spread 2.7×") {
		t.Errorf("wide both: got %q", got)
	}
	if got := spreadNote(&result{Tool: "x", Runs: 3, WallMinMs: 0, WallMaxMs: 5}, nil); got != "" {
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
		{Workload: "W2", Tool: eRunway, Runs: 3, WallMs: 11, Floor: eListver},
		{Workload: "W3", Tool: eListver, Runs: 3, WallMs: 7.6},
		{Workload: "W3", Tool: eRunway, Runs: 3, WallMs: 12, Floor: eListver},
	}
	var out strings.Builder
	b.targets(&out)
	lines := map[string]string{}
	for _, l := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			lines[f[0]] = l
		}
	}
	if l := lines["W2"]; !strings.Contains(l, "MISSED  11 ms; the Go floor with checksums: 9.1 ms") {
		t.Errorf("W2's line: %q", l)
	}
	if l := lines["W3"]; !strings.Contains(l, "met     12 ms") || strings.Contains(l, "checksums") {
		t.Errorf("W3's line, without the floor with checksums: %q", l)
	}
}
