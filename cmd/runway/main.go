// Command runway applies versioned SQL migrations to PostgreSQL, MySQL/MariaDB
// and SQLite as a safe, observable step of a deploy. Run `runway --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// The signal context is not stopped before exiting: os.Exit ends the
	// process anyway, and stopping waits for os/signal's watcher goroutine
	// to be idle, which on a busy machine cost every run 0.1–0.2 ms on
	// average and up to 2.8 ms between the report and the exit
	// (docs/benchmarks-history.md, "The round of 2026-12-03, 06:00 UTC"). A SIGTERM that arrives after the run finished is
	// caught and ignored: the exit code stays the run's.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal the run winds down (the migration is cancelled,
	// the report and notifications still go out, briefly); a second one
	// ends the process at once, as a second Ctrl-C does elsewhere.
	go func() {
		<-ctx.Done()
		stop()
	}()
	os.Exit(runProcess(ctx))
}

// runProcess runs the command line of this process, which exits (or execs)
// when it returns: the database sessions end with CloseAtExit. The test
// scripts' runway command runs it too.
func runProcess(ctx context.Context) int {
	a := newApp(os.Stdin, os.Stdout, os.Stderr, os.Getenv, isTerminal(os.Stdin), isTerminal(os.Stderr))
	a.exitsAfterRun = true
	return a.run(ctx, os.Args[1:])
}
