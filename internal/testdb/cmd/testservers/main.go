// Command testservers starts the throw-away PostgreSQL and MariaDB servers
// for a whole test run, so that every package's test binary shares them
// instead of starting its own. Once both accept connections it prints
//
//	export RUNWAY_TEST_POSTGRES='postgres://…'
//	export RUNWAY_TEST_MYSQL='mysql://…'
//
// (also written to the -env file, atomically, when given) and stays until it
// gets SIGINT, SIGTERM or SIGHUP or its standard input is closed; then it
// stops the servers and removes their files. scripts/test.sh runs it.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/runwaydb/runway/internal/testdb"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("testservers", flag.ContinueOnError)
	flags.SetOutput(stderr)
	pg := flags.Bool("postgres", true, "start a PostgreSQL server")
	my := flags.Bool("mysql", true, "start a MariaDB server")
	envFile := flags.String("env", "", "also write the export lines to this `file` once the servers are ready")
	if err := flags.Parse(args); err != nil {
		return 2
	}

	// Signals arriving during start-up are acted on once it is over.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)

	type server struct {
		env    string
		engine testdb.Engine
		srv    *testdb.Server
		err    error
	}
	var servers []*server
	if *pg {
		servers = append(servers, &server{env: testdb.EnvPostgres, engine: testdb.PostgreSQL})
	}
	if *my {
		servers = append(servers, &server{env: testdb.EnvMySQL, engine: testdb.MariaDB})
	}
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Go(func() { s.srv, s.err = testdb.Launch(s.engine) })
	}
	wg.Wait()

	failed := false
	var exports strings.Builder
	for _, r := range servers {
		if r.err != nil {
			fmt.Fprintf(stderr, "testservers: %v\n", r.err)
			failed = true
			continue
		}
		defer func() {
			if err := r.srv.Close(); err != nil {
				fmt.Fprintf(stderr, "testservers: %v\n", err)
			}
		}()
		fmt.Fprintf(stderr, "testservers: %s\n", r.srv.Startup)
		fmt.Fprintf(&exports, "export %s='%s'\n", r.env, r.srv.ServerURL())
	}
	if failed {
		return 1
	}
	if *envFile != "" {
		tmp := filepath.Join(filepath.Dir(*envFile), "."+filepath.Base(*envFile)+".tmp")
		if err := os.WriteFile(tmp, []byte(exports.String()), 0o644); err != nil {
			fmt.Fprintf(stderr, "testservers: %v\n", err)
			return 1
		}
		if err := os.Rename(tmp, *envFile); err != nil {
			fmt.Fprintf(stderr, "testservers: %v\n", err)
			return 1
		}
	}
	fmt.Fprint(stdout, exports.String())

	eof := make(chan struct{})
	go func() {
		io.Copy(io.Discard, stdin)
		close(eof)
	}()
	select {
	case s := <-sig:
		fmt.Fprintf(stderr, "testservers: %v: stopping\n", s)
	case <-eof:
		fmt.Fprintln(stderr, "testservers: standard input closed: stopping")
	}
	return 0
}
