package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A person at a terminal is asked before down reverts anything, and only
// "yes" proceeds. (testscript cannot give a script a terminal.)
func TestDownAsksOnATerminal(t *testing.T) {
	dir := t.TempDir()
	mig := filepath.Join(dir, "migrations")
	os.Mkdir(mig, 0o755)
	os.WriteFile(filepath.Join(mig, "0001_a.up.sql"), []byte("CREATE TABLE a (id int);\n"), 0o644)
	os.WriteFile(filepath.Join(mig, "0001_a.down.sql"), []byte("DROP TABLE a;\n"), 0o644)
	db := "sqlite:" + filepath.Join(dir, "x.db")
	env := func(string) string { return "" }
	cli := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		a := newApp(strings.NewReader(stdin), &out, &errb, env, true, false)
		code := a.run(context.Background(), append([]string{"-d", db, "--dir", mig}, args...))
		return code, out.String(), errb.String()
	}
	if code, _, e := cli("", "up"); code != 0 {
		t.Fatalf("up: %d %s", code, e)
	}
	code, _, e := cli("no\n", "down")
	if code != exitUsage || !strings.Contains(e, "This reverts 1 migration(s) on sqlite:") || !strings.Contains(e, "1_a") || !strings.Contains(e, "down cancelled: nothing was reverted") {
		t.Fatalf("answer no: exit %d\n%s", code, e)
	}
	if code, out, _ := cli("", "status"); code != 0 || !strings.Contains(out, "applied") {
		t.Fatalf("down reverted despite the no: %s", out)
	}
	code, out, e := cli("yes\n", "down")
	if code != 0 || !strings.Contains(out, "reverted 1 migration(s)") {
		t.Fatalf("answer yes: exit %d\n%s\n%s", code, out, e)
	}
}

// readerFunc answers a read by calling fn first, once: what happens while a
// person reads the prompt.
type readerFunc struct {
	fn     func()
	answer *strings.Reader
}

func (r *readerFunc) Read(p []byte) (int, error) {
	if r.fn != nil {
		r.fn()
		r.fn = nil
	}
	return r.answer.Read(p)
}

// The question is asked before the lock is taken: when the history changes
// while the person reads it (another runner applied a migration), down
// reverts nothing rather than something that was not shown. What down would
// refuse is refused before asking.
func TestDownRevertsWhatWasConfirmed(t *testing.T) {
	dir := t.TempDir()
	mig := filepath.Join(dir, "migrations")
	os.Mkdir(mig, 0o755)
	for _, n := range []string{"1_a", "2_b"} {
		os.WriteFile(filepath.Join(mig, "000"+n+".up.sql"), []byte("CREATE TABLE t"+n+" (id int);\n"), 0o644)
		os.WriteFile(filepath.Join(mig, "000"+n+".down.sql"), []byte("DROP TABLE t"+n+";\n"), 0o644)
	}
	db := "sqlite:" + filepath.Join(dir, "x.db")
	env := func(string) string { return "" }
	cli := func(stdin io.Reader, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		a := newApp(stdin, &out, &errb, env, true, false)
		code := a.run(context.Background(), append([]string{"-d", db, "--dir", mig}, args...))
		return code, out.String(), errb.String()
	}
	if code, _, e := cli(strings.NewReader(""), "up"); code != 0 {
		t.Fatalf("up: %d %s", code, e)
	}
	os.WriteFile(filepath.Join(mig, "0003_c.up.sql"), []byte("CREATE TABLE t3_c (id int);\n"), 0o644)
	os.WriteFile(filepath.Join(mig, "0003_c.down.sql"), []byte("DROP TABLE t3_c;\n"), 0o644)
	meanwhile := &readerFunc{answer: strings.NewReader("yes\n"), fn: func() {
		if code, _, e := cli(strings.NewReader(""), "up"); code != 0 {
			t.Errorf("the other runner's up: %d %s", code, e)
		}
	}}
	code, out, e := cli(meanwhile, "down")
	if code != exitUsage || !strings.Contains(e, "  2_b\n") || !strings.Contains(e, "the history changed since the migrations to revert were shown (now: 3; shown: 2)") {
		t.Fatalf("down after the history changed: exit %d\n%s\n%s", code, out, e)
	}
	if code, out, _ := cli(strings.NewReader(""), "status"); code != 0 || strings.Count(out, "applied") != 3 {
		t.Fatalf("down reverted something it did not show:\n%s", out)
	}
	// A down script without statements is said in the question, before the "yes".
	os.WriteFile(filepath.Join(mig, "0003_c.down.sql"), []byte("-- write the down migration here\n"), 0o644)
	code, _, e = cli(strings.NewReader("no\n"), "down")
	if code != exitUsage || !strings.Contains(e, "  3_c (its down script has no statements: only its history row is removed)\n") {
		t.Fatalf("question for an empty down script: exit %d\n%s", code, e)
	}
	// No down script for the newest: refused (exit 5) before the question.
	os.Remove(filepath.Join(mig, "0003_c.down.sql"))
	code, _, e = cli(strings.NewReader("yes\n"), "down")
	if code != exitValidation || strings.Contains(e, "Type 'yes'") || !strings.Contains(e, "has no down migration") {
		t.Fatalf("down of a migration without a down script: exit %d\n%s", code, e)
	}
}

// On a terminal a running migration shows a live timer redrawn in place.
func TestLiveTimerOnATerminal(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "0001_slow.up.sql"), []byte(
		"CREATE TABLE s (id int);\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 3000000) SELECT count(*) FROM c;\n"), 0o644)
	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(""), &out, &errb, func(string) string { return "" }, false, true)
	code := a.run(context.Background(), []string{"-d", "sqlite:" + filepath.Join(dir, "x.db"), "--dir", dir, "--progress-interval", "5ms", "up"})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "\r\033[Kapplying 1_slow … ") {
		t.Fatalf("no live timer on the terminal:\n%q", errb.String())
	}
	if strings.Contains(errb.String(), "still running") {
		t.Fatalf("terminal got the off-terminal heartbeat lines:\n%q", errb.String())
	}
}

// --progress-interval 0 turns the still-running lines off (it used to
// panic when a migration started); a negative interval is a usage error.
func TestProgressIntervalZero(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "0001_slow.up.sql"), []byte(
		"CREATE TABLE s (id int);\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 300000) SELECT count(*) FROM c;\n"), 0o644)
	for _, terminal := range []bool{false, true} {
		var out, errb bytes.Buffer
		a := newApp(strings.NewReader(""), &out, &errb, func(string) string { return "" }, false, terminal)
		db := filepath.Join(dir, fmt.Sprintf("zero-%v.db", terminal))
		if code := a.run(context.Background(), []string{"-d", "sqlite:" + db, "--dir", dir, "--progress-interval", "0", "up"}); code != 0 {
			t.Fatalf("terminal %v: exit %d: %s", terminal, code, errb.String())
		}
		if strings.Contains(errb.String(), "still running") {
			t.Errorf("terminal %v: still-running lines with --progress-interval 0:\n%s", terminal, errb.String())
		}
	}
	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(""), &out, &errb, func(string) string { return "" }, false, false)
	code := a.run(context.Background(), []string{"-d", "sqlite:" + filepath.Join(dir, "neg.db"), "--dir", dir, "--progress-interval", "-1s", "up"})
	if code != exitUsage || !strings.Contains(errb.String(), "--progress-interval -1s: must be positive, or 0 to turn the still-running lines off") {
		t.Errorf("negative interval: exit %d, %q; want exit %d and the flag named", code, errb.String(), exitUsage)
	}
	if _, err := os.Stat(filepath.Join(dir, "neg.db")); err == nil {
		t.Errorf("the refused run created its database")
	}
}

// Off a terminal a long migration says it is still running every progress
// interval, and stops saying it once it is done.
func TestHeartbeatOffATerminal(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "0001_slow.up.sql"), []byte(
		"CREATE TABLE s (id int);\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 300000) SELECT count(*) FROM c;\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "0002_fast.up.sql"), []byte("CREATE TABLE f (id int);\n"), 0o644)
	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(""), &out, &errb, func(string) string { return "" }, false, false)
	code := a.run(context.Background(), []string{"-d", "sqlite:" + filepath.Join(dir, "x.db"), "--dir", dir, "--progress-interval", "5ms", "up"})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	e := errb.String()
	beats := strings.Count(e, "still running applying 1_slow … ")
	if beats < 2 {
		t.Fatalf("want a heartbeat line every 5ms while 1_slow runs, got %d:\n%s", beats, e)
	}
	if strings.Contains(e, "\r") {
		t.Fatalf("terminal codes off a terminal:\n%q", e)
	}
	// Nothing after the run: the timer of the last migration was stopped.
	before := errb.Len()
	time.Sleep(30 * time.Millisecond)
	if errb.Len() != before {
		t.Fatalf("heartbeat lines after the run ended:\n%s", errb.String()[before:])
	}
	if i, j := strings.LastIndex(e, "still running applying 1_slow"), strings.Index(e, "applied 1_slow"); i > j {
		t.Fatalf("a heartbeat after 1_slow was reported applied:\n%s", e)
	}
}

// wait says why it is still waiting for the database at once and every
// --progress-interval, not at every attempt (an error naming the client's
// port changes at every one).
func TestWaitSaysWhyItWaitsForTheDatabase(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "0001_a.up.sql"), []byte("CREATE TABLE a (id int);\n"), 0o644)
	// A proxy that accepts and resets: each error names the client's port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()
	var out, errb bytes.Buffer
	code := newApp(strings.NewReader(""), &out, &errb, func(string) string { return "" }, false, false).run(context.Background(),
		[]string{"-d", "postgres://app@" + ln.Addr().String() + "/app?sslmode=disable", "--dir", dir, "--progress-interval", "1s",
			"wait", "--timeout", "1500ms", "--poll", "50ms"})
	n := strings.Count(errb.String(), "waiting for the database")
	if code != exitPending || n < 1 || n > 2 {
		t.Fatalf("exit %d, %d lines saying why (want 1 or 2 in 1.5 s, 30 attempts):\n%s", code, n, errb.String())
	}
}
