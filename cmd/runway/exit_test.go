package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/runwaydb/runway"
	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/source"
)

// The one error → exit code map, row by row (DESIGN §2).
func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{&runway.MigrationError{File: "x.sql", Code: "42P01", Message: "no"}, 1},
		{fmt.Errorf("stopped: %w", runway.ErrLockLost), 1},
		{fmt.Errorf("apply: %w", context.Canceled), 1},
		{usagef("bad flag"), 2},
		{fmt.Errorf("%w: x", runway.ErrUsage), 2},
		{fmt.Errorf("%w: x", runway.ErrSource), 2},
		{runway.ErrNoMigrations, 2},
		{fmt.Errorf("x.sql: nothing applied: %w", database.ErrUnsafeLock), 2},
		{&source.Error{Path: "a.zip", Kind: source.ErrUnsafeArchive}, 2},
		{fmt.Errorf("%w: 2 pending", runway.ErrPending), 3},
		{fmt.Errorf("%w after 1s", runway.ErrLockTimeout), 4},
		{&runway.ValidationError{}, 5},
		{fmt.Errorf("%w: refused", database.ErrConnect), 6},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// The line under the caret is cut to a window around the spot: a dump's
// one-line INSERT of megabytes is not printed whole, twice.
func TestCaretOfALongLine(t *testing.T) {
	long := "INSERT INTO t VALUES " + strings.Repeat("(1, 'x'), ", 100000) + "(2, oops)"
	pos := strings.Index(long, "oops") + 1
	me := &runway.MigrationError{File: "1_big.up.sql", Line: 3, SQL: "-- data\n" + long, Position: len("-- data\n") + pos}
	got := caret(me)
	lines := strings.Split(got, "\n")
	if len(got) > 600 || len(lines) != 2 {
		t.Fatalf("caret of a %d-character line: %d characters:\n%.300s", len(long), len(got), got)
	}
	if !strings.HasPrefix(lines[0], "    1_big.up.sql:4 | …") || !strings.Contains(lines[0], "(2, oops)") {
		t.Fatalf("the excerpt: %q", lines[0])
	}
	// The caret stands under the o of oops.
	at := len([]rune(lines[1])) - 1
	if lines[1][len(lines[1])-1] != '^' || string([]rune(lines[0])[at:at+4]) != "oops" {
		t.Fatalf("the caret is not under oops:\n%s", got)
	}
	// Wide characters take two columns on a terminal, a combining mark
	// none: the caret stands under the spot all the same.
	me = &runway.MigrationError{File: "1_名前.up.sql", Line: 1, SQL: "SELECT '名前', 'e\u0301', oops", Position: 20}
	if got, want := caret(me), "    1_名前.up.sql:1 | SELECT '名前', 'e\u0301', oops\n"+strings.Repeat(" ", 4+len("1_")+4+len(".up.sql:1 | SELECT '")+4+len("', 'e', "))+"^"; got != want {
		t.Fatalf("wide characters:\n%s\nwant\n%s", got, want)
	}
	// A short line is shown whole.
	me = &runway.MigrationError{File: "1_a.up.sql", Line: 1, SQL: "SELECT oops", Position: 8}
	if got := caret(me); got != "    1_a.up.sql:1 | SELECT oops\n"+strings.Repeat(" ", len("    1_a.up.sql:1 | SELECT "))+"^" {
		t.Fatalf("short line:\n%s", got)
	}
}
