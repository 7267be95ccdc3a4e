package runway

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/database/sqlite"
	"github.com/runwaydb/runway/migration"
)

// TestAnalyzePairsByVersion checks the merge in analyze against the pairing
// it must produce, whatever order the files and rows come in: one entry per
// version, ascending, a file paired with the row of the same version even
// when the names differ in leading zeros or trailing zero parts.
func TestAnalyzePairsByVersion(t *testing.T) {
	mig := func(v string) *migration.Migration {
		return &migration.Migration{Version: migration.MustParseVersion(v), VersionText: v, Name: "m" + v,
			Up: &migration.Script{File: v + "_m.up.sql", Checksum: "c" + v}}
	}
	rev := func(v, checksum string, st database.State) database.Revision {
		return database.Revision{Version: migration.MustParseVersion(v), Checksum: checksum, State: st}
	}
	ms := []*migration.Migration{mig("0001"), mig("0002"), mig("1.1"), mig("3"), mig("10"), mig("2.0.1")}
	revs := []database.Revision{
		rev("10", "c10", database.StateApplied),
		rev("1", "c0001", database.StateApplied),
		rev("2", "changed", database.StateApplied),
		rev("1.1.0", "c1.1", database.StateFailed),
		rev("4", "c4", database.StateApplied),   // no file, older than the newest file
		rev("11", "c11", database.StateApplied), // no file, newer than every file
	}
	want := "1=file+row 1.1=file+row 2=file+row 2.0.1=file 3=file 4=row 10=file+row 11=row " +
		"pending[2.0.1 3] incomplete[1.1] modified[2] missing[4] ahead[11] outOfOrder[2.0.1 3] current=11"

	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 50 {
		m, r := slices.Clone(ms), slices.Clone(revs)
		if i > 0 { // the first round as given: files sorted by name order, rows not
			rng.Shuffle(len(m), func(a, b int) { m[a], m[b] = m[b], m[a] })
			rng.Shuffle(len(r), func(a, b int) { r[a], r[b] = r[b], r[a] })
		}
		if got := describe(analyze(m, r)); got != want {
			t.Fatalf("round %d:\ngot  %s\nwant %s", i, got, want)
		}
	}
	if a := analyze(ms[:2], []database.Revision{rev("2", "c0002", database.StateApplied), rev("01", "c0001", database.StateApplied)}); !a.exact() {
		t.Errorf("every file applied unchanged, rows out of order: exact() = false, want true: %s", describe(a))
	}
}

// TestAnalyzeDuplicateFiles: WithMigrations may be given a hand-made slice
// with two migrations of one version; the last one is used, as before.
func TestAnalyzeDuplicateFiles(t *testing.T) {
	first := &migration.Migration{Version: migration.MustParseVersion("1"), Name: "first", Up: &migration.Script{}}
	second := &migration.Migration{Version: migration.MustParseVersion("01"), Name: "second", Up: &migration.Script{}}
	a := analyze([]*migration.Migration{first, second}, nil)
	if len(a.entries) != 1 || a.entries[0].m != second {
		t.Fatalf("entries = %s, want one: second", describe(a))
	}
}

func describe(a *analysis) string {
	var b strings.Builder
	for _, e := range a.entries {
		kind := "file+row"
		switch {
		case e.rev == nil:
			kind = "file"
		case e.m == nil:
			kind = "row"
		}
		if e.m != nil && e.rev != nil && !e.m.Version.Equal(e.rev.Version) {
			kind = "MISPAIRED"
		}
		fmt.Fprintf(&b, "%s=%s ", e.version(), kind)
	}
	list := func(name string, es []entry) {
		var vs []string
		for _, e := range es {
			vs = append(vs, e.version().String())
		}
		if len(vs) > 0 {
			fmt.Fprintf(&b, "%s[%s] ", name, strings.Join(vs, " "))
		}
	}
	list("pending", a.pending)
	list("incomplete", a.incomplete)
	list("modified", a.modified)
	list("missing", a.missing)
	list("ahead", a.ahead)
	list("orphaned", a.orphaned)
	list("outOfOrder", a.outOfOrder)
	fmt.Fprintf(&b, "current=%s", a.current)
	return b.String()
}

// TestScanExactAgreesWithAnalyze checks the no-op fast path's row-by-row
// comparison against analysis.exact on random sources and histories written
// to a real (SQLite) history table: files with and without rows, rows without
// files, in every state, with the file's checksum, another, or none, and
// versions spelt as they are stored (canonical) against files named with
// leading zeros.
func TestScanExactAgreesWithAnalyze(t *testing.T) {
	ctx := t.Context()
	drv, err := sqlite.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "h.db"), database.Config{Identity: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close(ctx)
	if err := drv.EnsureHistory(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := New(drv, fstest.MapFS{})
	if err != nil {
		t.Fatal(err)
	}
	pool := []string{"0001", "2", "3", "10", "2.1", "20240101120000", "0009"}
	states := []database.State{database.StateApplied, database.StateApplied, database.StateBaseline, database.StateRunning, database.StateFailed}
	rng := rand.New(rand.NewPCG(1, 2))
	var written []migration.Version
	exactSeen := 0
	for i := range 200 {
		for _, v := range written {
			if err := drv.RemoveRevision(ctx, v); err != nil {
				t.Fatal(err)
			}
		}
		written = written[:0]
		var ms []*migration.Migration
		for _, v := range pool {
			if rng.IntN(4) > 0 {
				ms = append(ms, &migration.Migration{Version: migration.MustParseVersion(v), VersionText: v, Name: "m",
					Up: &migration.Script{File: v + "_m.up.sql", Checksum: "c" + migration.MustParseVersion(v).String()}})
			}
		}
		if len(ms) == 0 {
			continue
		}
		rng.Shuffle(len(ms), func(a, b int) { ms[a], ms[b] = ms[b], ms[a] })
		// The history: every file's row, applied unchanged (an exact
		// match, mostly), one file's row left out (a pending file), rows
		// without files too, or anything.
		mode := rng.IntN(4)
		skip := ms[rng.IntN(len(ms))].Version
		for _, v := range pool {
			ver := migration.MustParseVersion(v)
			hasFile := slices.ContainsFunc(ms, func(m *migration.Migration) bool { return m.Version.Equal(ver) })
			switch {
			case mode == 0 && !hasFile, mode == 1 && (!hasFile || ver.Equal(skip)), mode == 3 && rng.IntN(3) == 0:
				continue
			}
			rev := database.Revision{Version: ver, Name: "m", State: database.StateApplied, Checksum: "c" + ver.String()}
			if mode == 3 || rng.IntN(8) == 0 {
				rev.State = states[rng.IntN(len(states))]
				switch rng.IntN(4) {
				case 0:
					rev.Checksum = ""
				case 1:
					rev.Checksum = "other"
				}
			}
			if err := drv.WriteRevision(ctx, rev); err != nil {
				t.Fatal(err)
			}
			written = append(written, ver)
		}
		revs, err := drv.States(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := analyze(ms, revs).exact()
		got, rows := r.scanExact(ctx, ms)
		if got != want {
			t.Fatalf("case %d: scanExact = %v, analyze says exact = %v\nfiles: %s\nrows: %+v", i, got, want, describeFiles(ms), revs)
		}
		if got {
			exactSeen++
			if rows != len(revs) {
				t.Fatalf("case %d: exact after %d rows, the history has %d", i, rows, len(revs))
			}
		}
		if len(revs) == 0 && rows != 0 {
			t.Fatalf("case %d: no rows, scanExact says %d", i, rows)
		}
	}
	if exactSeen < 20 {
		t.Fatalf("only %d exact histories among the cases: the test does not exercise the match", exactSeen)
	}
}

func describeFiles(ms []*migration.Migration) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%s(%s) ", m.VersionText, m.Up.Checksum)
	}
	return b.String()
}
