package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const webhookToken = "T0kenSecret-8f2a9c"

// --notify posts the JSON report to a webhook as --notify-on says; a failed
// delivery is a warning unless --notify-required; the token never shows.
func TestNotify(t *testing.T) {
	var mu sync.Mutex
	var posts []map[string]any
	fail := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if fail {
			http.Error(w, "boom "+r.URL.String(), http.StatusInternalServerError)
			return
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("webhook body is not JSON: %s", body)
		}
		posts = append(posts, m)
	}))
	defer srv.Close()
	// A comma in a URL is the URL's own: one --notify is one webhook.
	hook := srv.URL + "/hooks/" + webhookToken + "?sig=" + webhookToken + "&tags=deploy,db"

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "0001_a.up.sql"), []byte("CREATE TABLE a (id int);\n"), 0o644)
	summary := filepath.Join(t.TempDir(), "summary.md")
	db := "sqlite:" + filepath.Join(t.TempDir(), "x.db")
	env := map[string]string{"GITHUB_STEP_SUMMARY": summary}
	cli := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		a := newApp(strings.NewReader(""), &out, &errb, func(k string) string { return env[k] }, false, false)
		code := a.run(context.Background(), append([]string{"-d", db, "--dir", dir, "--env", "prod", "--notify", hook}, args...))
		all := out.String() + errb.String()
		if strings.Contains(all, webhookToken) {
			t.Fatalf("the webhook token is in the output:\n%s", all)
		}
		return code, all
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(posts) }

	if code, out := cli("up"); code != 0 || count() != 1 {
		t.Fatalf("up: exit %d, %d posts\n%s", code, count(), out)
	}
	if p := posts[0]; p["command"] != "up" || p["status"] != "applied" || p["env"] != "prod" {
		t.Fatalf("posted report: %v", p)
	}
	if b, _ := os.ReadFile(summary); !strings.Contains(string(b), "prod") || !strings.Contains(string(b), "0001") && !strings.Contains(string(b), "| 1 ") {
		t.Fatalf("GitHub job summary:\n%s", b)
	}
	if code, _ := cli("up"); code != 0 || count() != 1 {
		t.Fatalf("a no-op posted under --notify-on change: %d posts", count())
	}
	if code, _ := cli("--notify-on", "always", "up"); code != 0 || count() != 2 || posts[1]["status"] != "noop" {
		t.Fatalf("--notify-on always: %d posts", count())
	}
	mu.Lock()
	fail = true
	mu.Unlock()
	code, out := cli("--notify-on", "always", "up")
	if code != 0 || !strings.Contains(out, "warning: notify") {
		t.Fatalf("failed delivery must be a warning: exit %d\n%s", code, out)
	}
	if code, out := cli("--notify-on", "always", "--notify-required", "up"); code != exitFailed || !strings.Contains(out, "--notify-required") {
		t.Fatalf("--notify-required: exit %d\n%s", code, out)
	}
	// The --json report says why that run exits 1: not a migration.
	if code, out := cli("--json", "--notify-on", "always", "--notify-required", "up"); code != exitFailed ||
		!strings.Contains(out, `"warnings":["notification not delivered: 1 of 2 notification(s) failed (--notify-required)"]`) {
		t.Fatalf("--notify-required --json: exit %d\n%s", code, out)
	}
	if code, out := cli("--notify-on", "sometimes", "up"); code != exitUsage {
		t.Fatalf("bad --notify-on: exit %d\n%s", code, out)
	}
	// A bad target is refused before anything runs.
	os.WriteFile(filepath.Join(dir, "0002_b.up.sql"), []byte("CREATE TABLE b (id int);\n"), 0o644)
	var outb, errb bytes.Buffer
	code = newApp(strings.NewReader(""), &outb, &errb, func(string) string { return "" }, false, false).run(context.Background(),
		[]string{"-d", db, "--dir", dir, "--notify", "http://example.com/hook/" + webhookToken, "up"})
	if code != exitUsage || strings.Contains(outb.String()+errb.String(), "applied") || strings.Contains(errb.String(), webhookToken) {
		t.Fatalf("bad target: exit %d\n%s%s", code, outb.String(), errb.String())
	}

	// A run that fails before the engine has made a report (nothing listens
	// on the database's port) is reported all the same, without the
	// password, and --json still prints one object.
	mu.Lock()
	fail = false
	n := len(posts)
	mu.Unlock()
	db = "postgres://app:" + webhookToken + "@127.0.0.1:1/app"
	code, out = cli("--json", "up")
	if code != exitConnect || count() != n+1 {
		t.Fatalf("connection failure: exit %d, %d posts (want %d)\n%s", code, count(), n+1, out)
	}
	mu.Lock()
	p := posts[n]
	mu.Unlock()
	perr, _ := p["error"].(map[string]any)
	if p["command"] != "up" || p["status"] != "failed" || perr == nil || !strings.Contains(fmt.Sprint(perr["message"]), "could not connect to the database") {
		t.Fatalf("posted report of a connection failure: %v", p)
	}
	if !strings.HasPrefix(out, `{"command":"up","status":"failed"`) || strings.Count(out, `"command"`) != 1 {
		t.Fatalf("--json output of a connection failure:\n%s", out)
	}

	// So is a run that its configuration file stops after the command line
	// parsed (docs/errors.md): an environment the file lacks, a variable a
	// value names that is unset (a deploy whose secret is missing).
	for name, yaml := range map[string]string{
		"no such environment": "environments:\n  stg:\n    table: t\n",
		"unset variable":      "lock_timeout: ${RUNWAY_TEST_UNSET_TIMEOUT}\n",
	} {
		cfg := filepath.Join(t.TempDir(), "runway.yaml")
		os.WriteFile(cfg, []byte(yaml), 0o644)
		n := count()
		code, out := cli("--config", cfg, "--json", "up")
		if code != exitUsage || count() != n+1 {
			t.Fatalf("%s: exit %d, %d posts (want %d)\n%s", name, code, count(), n+1, out)
		}
		mu.Lock()
		p := posts[n]
		mu.Unlock()
		perr, _ := p["error"].(map[string]any)
		if p["status"] != "failed" || p["env"] != "prod" || perr == nil || !strings.Contains(fmt.Sprint(perr["message"]), "runway.yaml") {
			t.Fatalf("%s: posted report: %v", name, p)
		}
		if !strings.HasPrefix(out, `{"command":"up","status":"failed"`) || strings.Count(out, `"command"`) != 1 {
			t.Fatalf("%s: --json output:\n%s", name, out)
		}
	}
	// The file's own webhook hears of it too, though the setting that
	// fails (database) comes before notify in the file's order.
	cfg := filepath.Join(t.TempDir(), "runway.yaml")
	os.WriteFile(cfg, []byte("database: postgres://app:${RUNWAY_TEST_UNSET_PW}@127.0.0.1:1/app\nnotify: "+hook+"\n"), 0o644)
	n = count()
	var fout, ferr bytes.Buffer
	code = newApp(strings.NewReader(""), &fout, &ferr, func(string) string { return "" }, false, false).run(context.Background(),
		[]string{"--dir", dir, "--config", cfg, "up"})
	if code != exitUsage || count() != n+1 || strings.Contains(fout.String()+ferr.String(), webhookToken) {
		t.Fatalf("a file's failing setting with the file's webhook: exit %d, %d posts (want %d)\n%s%s", code, count(), n+1, fout.String(), ferr.String())
	}
}

// A run stopped by a signal still sends its report, but does not wait a
// minute on a slow webhook: once the run's context ends, the delivery has
// notifyGrace left.
func TestNotifyCutShortBySignal(t *testing.T) {
	srv := hangingWebhook(t)
	old := notifyGrace
	notifyGrace = 300 * time.Millisecond
	defer func() { notifyGrace = old }()

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "0001_a.up.sql"), []byte("CREATE TABLE a (id int);\n"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel) // the SIGTERM, while the webhook hangs
	var out, errb bytes.Buffer
	start := time.Now()
	newApp(strings.NewReader(""), &out, &errb, func(string) string { return "" }, false, false).run(ctx,
		[]string{"-d", "sqlite:" + filepath.Join(dir, "x.db"), "--dir", dir, "--notify", srv.URL + "/slow", "up"})
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the run took %v after the signal to give up on a slow webhook\n%s", took, errb.String())
	}
	if !strings.Contains(errb.String(), "warning: notify") {
		t.Errorf("the cut-short delivery was not reported:\n%s", errb.String())
	}
}

// exec's notifications have execNotifyBudget, not a minute: the
// application's start (and its start-up probe) waits on them.
func TestExecDoesNotWaitLongOnAWebhook(t *testing.T) {
	srv := hangingWebhook(t)
	old := execNotifyBudget
	execNotifyBudget = 300 * time.Millisecond
	defer func() { execNotifyBudget = old }()

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "0001_a.up.sql"), []byte("CREATE TABLE a (id int);\n"), 0o644)
	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(""), &out, &errb, func(string) string { return "" }, false, false)
	a.deferExec = true // stop short of replacing the test's process
	start := time.Now()
	code := a.run(context.Background(), []string{"-d", "sqlite:" + filepath.Join(dir, "x.db"), "--dir", dir,
		"--notify", srv.URL + "/slow", "exec", "--migrate", "--", "true"})
	if took := time.Since(start); code != 0 || took > 5*time.Second || a.execPath == "" {
		t.Fatalf("exec: exit %d after %v with a hanging webhook (command %q)\n%s", code, took, a.execPath, errb.String())
	}
	if !strings.Contains(errb.String(), "warning: notify") {
		t.Errorf("the cut-short delivery was not reported:\n%s", errb.String())
	}
}

// hangingWebhook is a webhook that never answers while the test runs.
func hangingWebhook(t *testing.T) *httptest.Server {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})
	return srv
}
