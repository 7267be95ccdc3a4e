package runway

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/runwaydb/runway/database"
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
