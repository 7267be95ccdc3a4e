// Package faults is Runway's fault-injection suite: real runner processes
// (the CLI, built once) against real PostgreSQL, MariaDB and SQLite
// databases, killed, cut off or starved of their server in the middle of a
// migration. Every test then checks that a fresh `up` completes and that
// every migration is applied exactly once — its history row, its table and
// its one row in the shared applied_log table — and, where the database can
// roll back (PostgreSQL, SQLite), that nothing was left half-applied.
package faults

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/runwaydb/runway/internal/testdb"
)

// runwayBin is the CLI under test, built once by TestMain.
var runwayBin string

// hasKeepalive reports whether the CLI has the --lock-keepalive flag (the
// engine's lock watchdog).
var hasKeepalive bool

func TestMain(m *testing.M) {
	// The test's own MariaDB pool notices the connections a stopped server
	// closed; that is expected here, not worth a log line.
	mysql.SetLogger(log.New(io.Discard, "", 0))
	dir, err := os.MkdirTemp("", "runway-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if sqliteCountRate, err = measureSQLiteCountRate(); err != nil {
		fmt.Fprintln(os.Stderr, "faults: timing SQLite:", err)
		os.Exit(1)
	}
	runwayBin = filepath.Join(dir, "runway")
	build := exec.Command("go", "build", "-o", runwayBin, "github.com/runwaydb/runway/cmd/runway")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "faults: building the runway CLI: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	help, _ := exec.Command(runwayBin, "up", "--help").CombinedOutput()
	hasKeepalive = bytes.Contains(help, []byte("--lock-keepalive"))
	if !hasKeepalive {
		fmt.Fprintln(os.Stderr, "faults: note: the CLI has no --lock-keepalive flag; the stall tests will show the runner hanging")
	}
	// The tests mostly wait (on sleeps in the database, on runner
	// processes): run more of them at once than there are cores, unless
	// -parallel was given.
	flag.Parse()
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		flag.Set("test.parallel", "8")
	}
	// This suite kills, stops and cuts off servers and sessions on purpose:
	// it runs on throw-away servers of its own, never on the servers other
	// packages share (RUNWAY_TEST_*), so nothing it does can reach them.
	os.Unsetenv(testdb.EnvPostgres)
	os.Unsetenv(testdb.EnvMySQL)
	code := testdb.Wrap(m).Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cleanEnv is this process's environment without anything that would steer
// the runner to another database or change its flags.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "RUNWAY_") || k == "DATABASE_URL" {
			continue
		}
		env = append(env, kv)
	}
	return env
}
