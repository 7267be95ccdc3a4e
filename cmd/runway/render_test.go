package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/runwaydb/runway/report"
)

// TestMigrationTableMatchesTabwriter holds writeMigrationTable to the output
// of text/tabwriter (padding 2, the layout status printed before): same
// columns, same padding, trailing spaces included, widths in runes.
func TestMigrationTableMatchesTabwriter(t *testing.T) {
	words := []string{"", "x", "create_users", "añadir_índice", "テーブル", "a_very_long_migration_name_that_sets_the_width"}
	states := []string{"applied", "pending", "failed", "running", "out-of-order", "baselined", "missing"}
	details := []string{"", "pending, older than the newest applied migration", "statement 3 of 7 failed: ¿qué?"}
	at := time.Date(2026, 11, 21, 23, 5, 9, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	cases := [][]report.Migration{nil, {{Version: "1", Name: "a", State: "pending"}}}
	for range 200 {
		var ms []report.Migration
		for range rng.IntN(12) {
			m := report.Migration{
				Version: fmt.Sprint(rng.Uint64N(1 << uint(rng.IntN(60)+1))),
				Name:    words[rng.IntN(len(words))],
				State:   states[rng.IntN(len(states))],
				Detail:  details[rng.IntN(len(details))],
			}
			if rng.IntN(2) == 0 {
				t := at.Add(time.Duration(rng.Int64N(1e15)))
				m.AppliedAt = &t
			}
			ms = append(ms, m)
		}
		cases = append(cases, ms)
	}
	for i, ms := range cases {
		var want bytes.Buffer
		tw := tabwriter.NewWriter(&want, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tNAME\tSTATE\tAPPLIED AT\tDETAIL")
		for _, m := range ms {
			applied := ""
			if m.AppliedAt != nil {
				applied = m.AppliedAt.Format(appliedAtLayout)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Version, m.Name, m.State, applied, m.Detail)
		}
		tw.Flush()
		var got bytes.Buffer
		writeMigrationTable(&got, ms)
		if got.String() != want.String() {
			t.Fatalf("case %d: table differs from tabwriter's\ngot:\n%q\nwant:\n%q", i, got.String(), want.String())
		}
	}
}

func TestStatementNumbers(t *testing.T) {
	for _, c := range []struct {
		ns   []int
		want string
	}{
		{[]int{2}, "statement 2"},
		{[]int{2, 3}, "statements 2 and 3"},
		{[]int{2, 3, 5}, "statements 2, 3 and 5"},
		{[]int{2, 3, 5, 7, 11, 13, 17, 19, 801}, "9 statements (2, 3, 5, … 801)"},
	} {
		if got := statementNumbers(c.ns); got != c.want {
			t.Errorf("statementNumbers(%v) = %q, want %q", c.ns, got, c.want)
		}
	}
}
