package runway_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/runwaydb/runway"
	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/migration"
)

// A script of more statements than one message carries (MySQL sends them
// many at a time with their records, database.ProgressBatcher), applied
// statement by statement: a failure deep in it stops at that statement,
// the row counts exactly those before it, and the fixed file's rerun
// resumes there, running none of them twice (each would fail on its
// primary key) and leaving the row as a run from empty does.
func TestLongScriptResumesAtTheFailingStatement(t *testing.T) {
	const n, bad = 450, 330 // statements; the one that fails (1-based)
	eachDB(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		mark, _ := asWritten(tg)
		// pad makes the file larger than migration.LargeFile, so that it is
		// read as it runs (the padding's lines come before the statements).
		pad := ""
		script := func(dup bool) string {
			var b strings.Builder
			b.WriteString(mark + pad + "CREATE TABLE lw (id integer primary key);\n")
			for i := 2; i <= n; i++ {
				id := i
				if dup && i == bad {
					id = 2
				}
				fmt.Fprintf(&b, "INSERT INTO lw VALUES (%d);\n", id)
			}
			return b.String()
		}
		count := func(drv database.Driver) string {
			t.Helper()
			rows, err := drv.(database.Querier).QueryStrings(ctx, "SELECT COUNT(*) FROM lw")
			if err != nil {
				t.Fatal(err)
			}
			return *rows[0][0]
		}
		for _, size := range []string{"small", "large"} {
			if size == "large" {
				// Not lowerLargeFile: the three databases run in parallel,
				// and the limit is the package's.
				pad = strings.Repeat("-- padding, so that the file is read as it runs ------------\n", migration.LargeFile/60+1)
			}
			fresh := newTarget(t, tg.name)
			drv := fresh.open(t)
			src := files("0001_pre.up.sql", "CREATE TABLE lw_pre (id integer);\n", "0002_long.up.sql", script(true))
			_, err := up(t, drv, src)
			var me *runway.MigrationError
			if !errors.As(err, &me) || me.Statement != bad || me.Applied != bad-1 {
				t.Fatalf("%s: %v (%+v); want statement %d failed, %d applied", size, err, me, bad, bad-1)
			}
			line := bad + strings.Count(mark+pad, "\n") // the statement's line
			if !strings.Contains(err.Error(), fmt.Sprintf("0002_long.up.sql:%d:", line)) {
				t.Errorf("%s: the error does not name the failing line: %v", size, err)
			}
			other := fresh.open(t)
			if h := history(t, other)["2"]; h.State != database.StateFailed || h.StatementsApplied != bad-1 {
				t.Fatalf("%s: history row %+v; want failed with %d statements applied", size, h, bad-1)
			}
			if got := count(other); got != strconv.Itoa(bad-2) {
				t.Fatalf("%s: %s rows after the failure; want %d", size, got, bad-2)
			}

			src["0002_long.up.sql"] = &fstest.MapFile{Data: []byte(script(false))}
			drv.Close(ctx)
			mustUp(t, other, src)
			if got := count(other); got != strconv.Itoa(n-1) {
				t.Fatalf("%s: %s rows after the rerun; want %d", size, got, n-1)
			}
			resumed := history(t, other)["2"]

			// The same file applied from empty records the same row.
			clean := newTarget(t, tg.name).open(t)
			mustUp(t, clean, src)
			want := history(t, clean)["2"]
			if resumed.State != database.StateApplied || resumed.StatementsApplied != n || resumed.StatementsTotal != n ||
				strings.Join(resumed.StatementChecksums, ",") != strings.Join(want.StatementChecksums, ",") {
				t.Fatalf("%s: the resumed row %+v; want it applied as from empty: %+v", size, resumed, want)
			}
		}
	})
}

// The statements a message could not take, its bytes being bounded too,
// wait for those read next: a script of statements of ~1 KB went in
// messages of 63 statements and 1, alternately, each straggler a round trip
// of its own.
func TestLongScriptMessagesLeaveNoStragglers(t *testing.T) {
	const n = 400
	drv := newTarget(t, "mysql").open(t)
	var b strings.Builder
	b.WriteString("CREATE TABLE ls (id integer primary key, pad text);\n")
	for i := 2; i <= n; i++ {
		fmt.Fprintf(&b, "INSERT INTO ls VALUES (%d, '%s');\n", i, strings.Repeat("x", 1000))
	}
	var sizes []int
	r, err := runway.New(drv, files("0001_long.up.sql", b.String()), runway.WithObserver(func(e runway.Event) {
		if e.Kind == runway.EventStatementStart {
			sizes = append(sizes, max(e.Through-e.Statement+1, 1))
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Up(context.Background(), runway.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	total := 0
	for i, s := range sizes {
		total += s
		if s < 10 && i < len(sizes)-1 {
			t.Fatalf("messages of %v statements: one of %d before the last", sizes, s)
		}
	}
	if total != n || len(sizes) > n*1030/(64<<10)+2 {
		t.Fatalf("messages of %v statements (%d in all); want %d statements in about %d messages", sizes, total, n, n*1030/(64<<10)+1)
	}
}

// A migration's own result named as Runway's markers were (runway_applied
// on MySQL, runway_marker on PostgreSQL) is not taken for one: a migration
// that then fails is not reported applied, and the failure is pinned on its
// statement, not on the next migration's.
func TestResultsNamedLikeMarkers(t *testing.T) {
	eachDB(t, func(t *testing.T, tg target) {
		drv := tg.open(t)
		src := files(
			"0001_t.up.sql", "CREATE TABLE mk (id integer primary key);\n",
			"0002_a.up.sql", "SELECT 1 AS runway_applied;\nSELECT 1 AS runway_marker;\nINSERT INTO mk VALUES (1);\nINSERT INTO mk VALUES (1);\n",
			"0003_b.up.sql", "INSERT INTO mk VALUES (5);\n",
		)
		rep, err := up(t, drv, src)
		var me *runway.MigrationError
		if !errors.As(err, &me) || me.Version.String() != "2" || me.Statement != 4 {
			t.Fatalf("%v (%+v); want migration 2 failed at its statement 4", err, me)
		}
		for _, a := range rep.Applied {
			if a.Version != "1" {
				t.Fatalf("reported applied: %+v; want only migration 1", rep.Applied)
			}
		}
		h := history(t, tg.open(t))
		if _, ran := h["3"]; h["2"].State == database.StateApplied || ran {
			t.Fatalf("history: 2 %+v, 3 %+v; want 2 not applied and 3 not run", h["2"], h["3"])
		}
	})
}
