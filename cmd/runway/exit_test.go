package main

import (
	"context"
	"fmt"
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
