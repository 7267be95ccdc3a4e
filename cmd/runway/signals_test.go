package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runwaydb/runway/internal/testdb"
)

// signalGraceEnv sets signalGrace in a test binary run as main (TestMain).
const signalGraceEnv = "RUNWAY_TEST_SIGNAL_GRACE"

// mainProcess is the test binary started as the runway command, with its
// stderr read line by line.
type mainProcess struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
	lines  chan string
	done   chan error
}

func startMain(t *testing.T, dbURL, grace string, args ...string) *mainProcess {
	t.Helper()
	return startMainWith(t, nil, dbURL, grace, args...)
}

// startMainWith is startMain with the process's attributes (a new PID
// namespace, say).
func startMainWith(t *testing.T, attr *syscall.SysProcAttr, dbURL, grace string, args ...string) *mainProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.SysProcAttr = attr
	cmd.Env = append(os.Environ(), asMainEnv+"=1", signalGraceEnv+"="+grace, "DATABASE_URL="+dbURL, "AWS_EC2_METADATA_DISABLED=true")
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &mainProcess{cmd: cmd, lines: make(chan string, 100), done: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	go func() {
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		io.Copy(io.Discard, errPipe)
		p.done <- cmd.Wait()
	}()
	return p
}

func (p *mainProcess) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// waitFor waits for a line of stderr containing s.
func (p *mainProcess) waitFor(t *testing.T, s string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l := <-p.lines:
			if strings.Contains(l, s) {
				return
			}
		case <-timeout:
			t.Fatalf("no line with %q on stderr in 30 s:\n%s", s, p.output())
		}
	}
}

// signal sends sig and waits (at most 10 s) for the process to end.
func (p *mainProcess) signal(t *testing.T, sig syscall.Signal) *exec.ExitError {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		if ee == nil {
			t.Fatalf("exited 0 after %v:\n%s", sig, p.output())
		}
		return ee
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10 s after %v:\n%s", sig, p.output())
	}
	return nil
}

// SIGTERM and SIGINT stop a run that holds the lock and is applying a
// migration: the running statement is cancelled, the run reports it and
// exits 1. Catching them is armed by taking the lock (the grace is an hour
// here); a runner waiting for the lock catches them once it has run for the
// grace, and until then a signal ends the process as it would any program.
func TestSignals(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "0001_slow.up.sql"), []byte("SELECT pg_sleep(60);\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sleeping := func(dbURL string) int {
		t.Helper()
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%' AND state = 'active'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			dbURL := testdb.Postgres(t)
			holder := startMain(t, dbURL, "1h", "--dir", dir, "up")
			holder.waitFor(t, "applying 1_slow")

			t.Run("waiter past the grace", func(t *testing.T) {
				w := startMain(t, dbURL, "100ms", "--dir", dir, "up")
				time.Sleep(500 * time.Millisecond) // waiting for the lock, silent for lockQuiet (1 s)
				ee := w.signal(t, sig)
				if ee.ExitCode() != exitFailed || !strings.Contains(w.output(), "interrupted") {
					t.Fatalf("a waiter past the grace: %v, want exit %d, interrupted:\n%s", ee, exitFailed, w.output())
				}
			})
			t.Run("waiter within the grace", func(t *testing.T) {
				w := startMain(t, dbURL, "1h", "--dir", dir, "up")
				time.Sleep(500 * time.Millisecond)
				ee := w.signal(t, sig)
				if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != sig {
					t.Fatalf("a waiter within the grace: %v, want ended by %v:\n%s", ee, sig, w.output())
				}
			})

			ee := holder.signal(t, sig)
			if ee.ExitCode() != exitFailed || !strings.Contains(holder.output(), "interrupted") {
				t.Fatalf("the run holding the lock: %v, want exit %d, interrupted:\n%s", ee, exitFailed, holder.output())
			}
			if n := sleeping(dbURL); n != 0 {
				t.Fatalf("%d pg_sleep(60) still running after the run was stopped", n)
			}
		})
	}
}

// As process 1 of its PID namespace (a container's entry point), Runway
// catches the signals from the start: the kernel does not end process 1 by a
// signal it does not catch, and the Go runtime would exit 2 (a usage error)
// instead. A wait for a database that refuses connections, with an hour's
// grace, stopped by SIGTERM: exit 1, not 2.
func TestSignalsAsProcessOne(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test starts the command in a new PID namespace, which needs root (CI and scripts/test.sh run as root)")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "0001_a.up.sql"), []byte("CREATE TABLE a (id int);\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startMainWith(t, &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID},
		"postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=1", "1h", "--dir", dir, "wait", "--timeout", "1m")
	p.waitFor(t, "waiting for the database")
	ee := p.signal(t, syscall.SIGTERM)
	if ee.ExitCode() != exitFailed {
		t.Fatalf("as process 1: %v, want exit %d:\n%s", ee, exitFailed, p.output())
	}
}
