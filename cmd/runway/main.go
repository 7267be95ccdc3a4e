// Command runway applies versioned SQL migrations to PostgreSQL, MySQL/MariaDB
// and SQLite as a safe, observable step of a deploy. Run `runway --help`.
package main

import (
	"context"
	"os"
)

func main() {
	// SIGINT and SIGTERM stop the run once it has taken the migration lock
	// or run for signalGrace (signals). The signal context is not stopped
	// before exiting: os.Exit ends the process anyway, and stopping waits
	// for os/signal's watcher goroutine to be idle, which on a busy machine
	// cost every run 0.1–0.2 ms on average and up to 2.8 ms between the
	// report and the exit (docs/benchmarks-history.md, "The round of
	// 2026-12-03, 06:00 UTC"). A SIGTERM that arrives after an armed run
	// finished is caught and ignored: the exit code stays the run's.
	sig := newSignals(signalGrace)
	os.Exit(runProcess(sig.ctx, sig.arm))
}

// runProcess runs the command line of this process, which exits (or execs)
// when it returns: the database sessions end with CloseAtExit. armSignals,
// when not nil, starts catching SIGINT and SIGTERM; it is called before the
// run changes the database. The test scripts' runway command runs it too.
func runProcess(ctx context.Context, armSignals func()) int {
	a := newApp(os.Stdin, os.Stdout, os.Stderr, os.Getenv, isTerminal(os.Stdin), isTerminal(os.Stderr))
	a.exitsAfterRun = true
	a.armSignals = armSignals
	return a.run(ctx, os.Args[1:])
}
