package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runwaydb/runway/report"
)

// fast keeps retries quick in tests.
var fast = WithRetry(4, time.Millisecond)

func env(m map[string]string) Option {
	return WithGetenv(func(k string) string { return m[k] })
}

var noEnv = env(nil)

func appliedReport() *report.Report {
	return &report.Report{
		Command:     "up",
		Status:      report.StatusApplied,
		Env:         "prod",
		Database:    "postgres://app:***@db:5432/app",
		Source:      "s3://artifacts/db.zip",
		FromVersion: "20240101000000",
		ToVersion:   "20240301000000",
		Applied: []report.Applied{
			{Version: "20240115000000", Name: "add_users", DurationMS: 120, Statements: 3},
			{Version: "20240201000000", Name: "add_orders", DurationMS: 1450, Statements: 2},
			{Version: "20240301000000", Name: "index_orders", DurationMS: 65000, Statements: 1},
		},
		StartedAt:  time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC),
		DurationMS: 66600,
		Runner:     report.Runner{Host: "ip-10-0-1-17", PID: 7, RunwayVersion: "v0.9.0"},
	}
}

func failedReport() *report.Report {
	return &report.Report{
		Command:     "up",
		Status:      report.StatusFailed,
		Env:         "prod",
		Database:    "postgres://app:***@db:5432/app",
		FromVersion: "20240101000000",
		ToVersion:   "20240101000000",
		Applied:     []report.Applied{},
		Pending:     []report.Pending{{Version: "20240301000000", Name: "add_index"}},
		Error: &report.Error{
			Version:   "20240301000000",
			File:      "migrations/20240301000000_add_index.up.sql",
			Line:      14,
			Statement: 3,
			Code:      "42P07",
			Message:   `relation "orders_user_idx" already exists`,
			Hint:      "fix the file and run `runway up` again, or fix the database by hand and run `runway repair`",
		},
		StartedAt:  time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC),
		DurationMS: 40,
		Runner:     report.Runner{Host: "ip-10-0-1-17", PID: 7, RunwayVersion: "v0.9.0"},
	}
}

func noopReport() *report.Report {
	r := appliedReport()
	r.Status = report.StatusNoop
	r.FromVersion = r.ToVersion
	r.Applied = nil
	return r
}

// recorder is a webhook endpoint that answers with the given statuses in
// turn (then 200) and records every body.
type recorder struct {
	mu       sync.Mutex
	bodies   [][]byte
	attempts atomic.Int32
	statuses []int
	header   http.Header // added to non-200 answers
	srv      *httptest.Server
}

func newRecorder(t *testing.T, statuses ...int) *recorder {
	rec := &recorder{statuses: statuses}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(rec.attempts.Add(1))
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.bodies = append(rec.bodies, b)
		rec.mu.Unlock()
		if n <= len(rec.statuses) && rec.statuses[n-1] != http.StatusOK {
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.statuses[n-1])
			io.WriteString(w, "no_service")
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) last(t *testing.T) []byte {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.bodies) == 0 {
		t.Fatal("nothing was posted")
	}
	return rec.bodies[len(rec.bodies)-1]
}

func (rec *recorder) slackTarget() string { return "slack+" + rec.srv.URL + "/services/T000/B000/XXXX" }

func decodeSlack(t *testing.T, b []byte) slackMessage {
	t.Helper()
	var m slackMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a Slack message: %v\n%s", err, b)
	}
	if len(m.Attachments) != 1 {
		t.Fatalf("want one attachment, got %d", len(m.Attachments))
	}
	return m
}

// allText is every text of a Slack message, in order.
func allText(m slackMessage) string {
	parts := []string{m.Text}
	for _, a := range m.Attachments {
		for _, b := range a.Blocks {
			if b.Text != nil {
				parts = append(parts, b.Text.Text)
			}
			for _, f := range b.Fields {
				parts = append(parts, f.Text)
			}
			for _, e := range b.Elements {
				parts = append(parts, e.Text)
			}
		}
	}
	return strings.Join(parts, "\n")
}

func mustContain(t *testing.T, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in:\n%s", w, got)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		target string
		want   string // type name, or the error's text
	}{
		{"https://hooks.slack.com/services/T000/B000/XXXX", "*notify.Slack"},
		{"slack+https://relay.example.com/slack/XXXX", "*notify.Slack"},
		{"slack+http://127.0.0.1:9/services/T/B/X", "*notify.Slack"},
		{"https://hooks.example.com/runway?token=XXXX", "*notify.Webhook"},
		{"https://hooks.slack.com/triggers/T000/123/XXXX", "*notify.Webhook"},
		{"http://localhost:8080/hook", "*notify.Webhook"},
		{"http://[::1]:8080/hook", "*notify.Webhook"},
		{"http://example.com/hook/XXXX", `http:// is allowed only for a loopback host`},
		{"slack+http://example.com/services/T/B/XXXX", `http:// is allowed only for a loopback host`},
		{"ftp://example.com/hook/XXXX", `unsupported scheme "ftp"`},
		{"hooks.slack.com/services/T000/B000/XXXX", `want an https:// webhook URL`},
		{"https:///services/XXXX", `has no host`},
		{"https://exa mple.com/services/T/B/XXXX", `not a valid URL`},
		{"", `want an https:// webhook URL`},
	} {
		n, err := Parse(tc.target, noEnv)
		var got string
		if err != nil {
			got = err.Error()
			if !errors.Is(err, ErrInvalidTarget) {
				t.Errorf("Parse(%q): %v does not wrap ErrInvalidTarget", tc.target, err)
			}
			if strings.Contains(got, "XXXX") {
				t.Errorf("Parse(%q) error leaks the secret: %s", tc.target, got)
			}
		} else {
			got = strings.SplitN(strings.TrimPrefix(typeName(n), ""), " ", 2)[0]
			if s := n.(interface{ String() string }).String(); strings.Contains(s, "XXXX") {
				t.Errorf("String() of %q leaks the secret: %s", tc.target, s)
			}
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("Parse(%q) = %q, want %q", tc.target, got, tc.want)
		}
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *Slack:
		return "*notify.Slack"
	case *Webhook:
		return "*notify.Webhook"
	}
	return "?"
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		opt  Option
		want string
	}{
		{WithTimeout(0), "WithTimeout(0s): the timeout must be positive"},
		{WithRetry(0, time.Second), "WithRetry(0, 1s): at least one attempt is needed"},
		{WithRetry(3, -time.Second), "the backoff cannot be negative"},
		{WithHTTPClient(nil), "WithHTTPClient: nil client"},
		{WithGetenv(nil), "WithGetenv: nil function"},
		{WithMaxRetryAfter(-1), "the cap cannot be negative"},
	} {
		_, err := Parse("https://example.com/hook", tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://hooks.slack.com/services/T000/B000/XXXX", "hooks.slack.com/services/T000/***"},
		{"slack+https://relay.example.com/slack/XXXX", "slack+https://relay.example.com/slack/***"},
		{"https://user:pw@example.com/hooks/abc?token=x#frag", "***@example.com/hooks/***?***"},
		{"https://example.com/hooks", "example.com/hooks"},
		{"https://example.com/hooks/", "example.com/hooks/"},
		{"https://example.com/", "example.com/"},
		{"https://example.com", "example.com"},
		{"https://webhook.site/0f3c2a8e-5b1d-4c1e-9d7a-2b6f8e9a1c3d", "webhook.site/***"},
		{"https://example.com/a1b2c3d4e5", "example.com/***"},
		{"http://127.0.0.1:8080/hook/XXXX", "http://127.0.0.1:8080/hook/***"},
		{"https://u:p/ss@example.com/x", "***@example.com/x"},
		{"hooks.slack.com/services/T000/B000/XXXX", "hooks.slack.com/services/T000/***"},
		{"", ""},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseWhenAndShouldNotify(t *testing.T) {
	for in, want := range map[string]When{"": Change, "change": Change, "FAILURE": Failure, " always ": Always} {
		if got, err := ParseWhen(in); err != nil || got != want {
			t.Errorf("ParseWhen(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseWhen("sometimes"); err == nil || !strings.Contains(err.Error(), "want failure, change or always") {
		t.Errorf("ParseWhen(sometimes) = %v", err)
	}
	statuses := []string{report.StatusApplied, report.StatusReverted, report.StatusFailed, report.StatusNoop, report.StatusOK, report.StatusPending}
	want := map[When][]bool{
		Change:  {true, true, true, false, false, false},
		Failure: {false, false, true, false, false, false},
		Always:  {true, true, true, true, true, true},
	}
	for w, wants := range want {
		for i, st := range statuses {
			if got := ShouldNotify(w, &report.Report{Status: st}); got != wants[i] {
				t.Errorf("ShouldNotify(%s, %s) = %v", w, st, got)
			}
		}
	}
	if ShouldNotify(Always, nil) {
		t.Error("ShouldNotify(Always, nil) = true")
	}
	// A wait that gave up is a failure; status --check finding work is not.
	gaveUp := &report.Report{Command: "wait", Status: report.StatusPending, Error: &report.Error{Message: "still pending"}}
	check := &report.Report{Command: "status", Status: report.StatusPending, Error: &report.Error{Message: "pending"}}
	if !ShouldNotify(Failure, gaveUp) || !ShouldNotify(Change, gaveUp) || ShouldNotify(Failure, check) || ShouldNotify(Change, check) {
		t.Error("a wait that gave up must notify under failure and change; status --check must not")
	}
}

func TestSlackSuccess(t *testing.T) {
	rec := newRecorder(t)
	n, err := Parse(rec.slackTarget(), noEnv, fast)
	if err != nil {
		t.Fatal(err)
	}
	if errs := Send(context.Background(), []Notifier{n}, Change, appliedReport()); errs != nil {
		t.Fatal(errs)
	}
	m := decodeSlack(t, rec.last(t))
	if want := "✅ prod: 3 migrations applied to postgres://app:***@db:5432/app (20240101000000 → 20240301000000)"; m.Text != want {
		t.Errorf("text = %q, want %q", m.Text, want)
	}
	if c := m.Attachments[0].Color; c != "good" {
		t.Errorf("color = %q, want good", c)
	}
	mustContain(t, allText(m),
		"*Environment*\nprod",
		"*Database*\n`postgres://app:***@db:5432/app`",
		"*Version*\n20240101000000 → 20240301000000",
		"*Runner*\nip-10-0-1-17 (pid 7, runway v0.9.0)",
		"*Applied* (3)",
		"• `20240115000000` add_users — 120 ms, 3 statements",
		"• `20240201000000` add_orders — 1.4 s, 2 statements",
		"• `20240301000000` index_orders — 1 min 05 s, 1 statement",
		"started 2024-03-01 12:00:00 UTC",
	)
	if strings.Contains(allText(m), "Failed") {
		t.Error("a success mentions a failure")
	}
}

// A repair that changed the history is a change: posted under the
// default policy, with what it changed.
func TestSlackRepair(t *testing.T) {
	rec := newRecorder(t)
	n, err := Parse(rec.slackTarget(), noEnv, fast)
	if err != nil {
		t.Fatal(err)
	}
	r := &report.Report{Command: "repair", Status: report.StatusOK, Env: "prod", Database: "postgres://app:***@db:5432/app",
		FromVersion: "1", ToVersion: "1",
		Repaired: []report.Repaired{{Version: "2", Name: "backfill", Action: "cleared", State: "failed", StatementsApplied: 1}},
		Pending:  []report.Pending{{Version: "2", Name: "backfill"}}}
	if errs := Send(context.Background(), []Notifier{n}, Change, r); errs != nil {
		t.Fatal(errs)
	}
	m := decodeSlack(t, rec.last(t))
	if want := "🔧 prod: repair changed 1 history row on postgres://app:***@db:5432/app (1 migration now pending)"; m.Text != want {
		t.Errorf("text = %q, want %q", m.Text, want)
	}
	mustContain(t, allText(m), "*Repaired* (1)", "• `2` backfill — cleared its failed row")
	if ShouldNotify(Change, &report.Report{Command: "repair", Status: report.StatusNoop}) {
		t.Error("a repair with nothing to repair is posted under change")
	}
}

func TestSlackNoop(t *testing.T) {
	rec := newRecorder(t)
	n, err := Parse(rec.slackTarget(), noEnv, fast)
	if err != nil {
		t.Fatal(err)
	}
	ns := []Notifier{n}
	for _, w := range []When{Change, Failure} {
		if errs := Send(context.Background(), ns, w, noopReport()); errs != nil {
			t.Fatal(errs)
		}
	}
	if got := rec.attempts.Load(); got != 0 {
		t.Fatalf("a no-op was posted %d times under change/failure", got)
	}
	if errs := Send(context.Background(), ns, Always, noopReport()); errs != nil {
		t.Fatal(errs)
	}
	m := decodeSlack(t, rec.last(t))
	if want := "ℹ️ prod: nothing to apply on postgres://app:***@db:5432/app (at 20240301000000)"; m.Text != want {
		t.Errorf("text = %q, want %q", m.Text, want)
	}
}

func TestSlackFailure(t *testing.T) {
	rec := newRecorder(t)
	n, err := Parse(rec.slackTarget(), noEnv, fast)
	if err != nil {
		t.Fatal(err)
	}
	r := failedReport()
	r.Error.Message = `syntax error at or near "<"` // escaped for Slack
	if errs := Send(context.Background(), []Notifier{n}, Failure, r); errs != nil {
		t.Fatal(errs)
	}
	m := decodeSlack(t, rec.last(t))
	if want := "❌ prod: migration 20240301000000 failed on postgres://app:***@db:5432/app"; m.Text != want {
		t.Errorf("text = %q, want %q", m.Text, want)
	}
	if c := m.Attachments[0].Color; c != "danger" {
		t.Errorf("color = %q, want danger", c)
	}
	mustContain(t, allText(m),
		"*Failed* at `migrations/20240301000000_add_index.up.sql:14`, statement 3, code `42P07`",
		"```syntax error at or near \"&lt;\"```",
		"*Hint* fix the file and run `runway up` again",
		"1 migration still pending",
		"*Runner*\nip-10-0-1-17",
	)
}

// A run refused at a migration (an applied one edited, a file out of
// order) ran none of it: the headline does not say it failed.
func TestSlackRefusedAtMigration(t *testing.T) {
	rec := newRecorder(t)
	n, err := Parse(rec.slackTarget(), noEnv, fast)
	if err != nil {
		t.Fatal(err)
	}
	r := failedReport()
	r.Error = &report.Error{Version: "20240101000000", File: "migrations/20240101000000_init.up.sql",
		Message: "migrations/20240101000000_init.up.sql: modified: its checksum differs from the one applied", Refused: true}
	if errs := Send(context.Background(), []Notifier{n}, Failure, r); errs != nil {
		t.Fatal(errs)
	}
	m := decodeSlack(t, rec.last(t))
	if want := "❌ prod: runway up stopped at migration 20240101000000 on postgres://app:***@db:5432/app"; m.Text != want {
		t.Errorf("text = %q, want %q", m.Text, want)
	}
	// A migration whose session was lost half way names no statement
	// either, but it did run, and failed.
	r.Error = &report.Error{Version: "20240301000000", Message: "mysql: applying 20240301000000: invalid connection"}
	if errs := Send(context.Background(), []Notifier{n}, Failure, r); errs != nil {
		t.Fatal(errs)
	}
	if m, want := decodeSlack(t, rec.last(t)), "❌ prod: migration 20240301000000 failed on postgres://app:***@db:5432/app"; m.Text != want {
		t.Errorf("text = %q, want %q", m.Text, want)
	}
}

func TestCILinks(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"CodeBuild", map[string]string{"CODEBUILD_BUILD_URL": "https://us-east-1.console.aws.amazon.com/codesuite/codebuild/projects/p/build/p%3A1/?region=us-east-1"},
			"<https://us-east-1.console.aws.amazon.com/codesuite/codebuild/projects/p/build/p%3A1/?region=us-east-1|CodeBuild build>"},
		{"CircleCI", map[string]string{"CIRCLE_BUILD_URL": "https://circleci.com/gh/acme/app/123"}, "<https://circleci.com/gh/acme/app/123|CircleCI job>"},
		{"GitHub Actions", map[string]string{"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/app", "GITHUB_RUN_ID": "987"},
			"<https://github.com/acme/app/actions/runs/987|GitHub Actions run>"},
		{"GitLab", map[string]string{"CI_JOB_URL": "https://gitlab.com/acme/app/-/jobs/42"}, "<https://gitlab.com/acme/app/-/jobs/42|GitLab job>"},
		{"not a web link", map[string]string{"CI_JOB_URL": "javascript:alert(1)"}, ""},
		{"nothing", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t)
			n, err := Parse(rec.slackTarget(), env(tc.env), fast)
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Notify(context.Background(), appliedReport()); err != nil {
				t.Fatal(err)
			}
			text := allText(decodeSlack(t, rec.last(t)))
			if tc.want == "" {
				if strings.Contains(text, "<http") || strings.Contains(text, "javascript") {
					t.Errorf("unexpected link in:\n%s", text)
				}
				return
			}
			mustContain(t, text, tc.want)
		})
	}
}

func TestECSLink(t *testing.T) {
	meta := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v4/abc/task" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, `{"Cluster":"arn:aws:ecs:eu-west-1:111122223333:cluster/prod-cluster",`+
			`"TaskARN":"arn:aws:ecs:eu-west-1:111122223333:task/prod-cluster/0f1e2d3c4b5a69788796a5b4c3d2e1f0","Family":"migrate"}`)
	}))
	defer meta.Close()
	rec := newRecorder(t)
	n, err := Parse(rec.slackTarget(), env(map[string]string{"ECS_CONTAINER_METADATA_URI_V4": meta.URL + "/v4/abc"}), fast)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), appliedReport()); err != nil {
		t.Fatal(err)
	}
	mustContain(t, allText(decodeSlack(t, rec.last(t))),
		"<https://console.aws.amazon.com/ecs/v2/clusters/prod-cluster/tasks/0f1e2d3c4b5a69788796a5b4c3d2e1f0?region=eu-west-1|ECS task 0f1e2d3c4b5a69788796a5b4c3d2e1f0>")

	for _, tc := range []struct{ arn, cluster, want string }{
		{"arn:aws:ecs:us-east-1:1:task/abc", "arn:aws:ecs:us-east-1:1:cluster/old", "https://console.aws.amazon.com/ecs/v2/clusters/old/tasks/abc?region=us-east-1"},
		{"arn:aws-cn:ecs:cn-north-1:1:task/c/abc", "", "https://console.amazonaws.cn/ecs/v2/clusters/c/tasks/abc?region=cn-north-1"},
		{"not an arn", "", ""},
	} {
		l, _ := ecsTaskLink(tc.arn, tc.cluster)
		if l.URL != tc.want {
			t.Errorf("ecsTaskLink(%q, %q) = %q, want %q", tc.arn, tc.cluster, l.URL, tc.want)
		}
	}

	// A metadata endpoint that does not answer costs at most the short
	// timeout, and the message goes out without a link.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, ok := ciLink(ctx, func(k string) string {
		if k == "ECS_CONTAINER_METADATA_URI_V4" {
			return hang.URL
		}
		return ""
	}); ok || time.Since(start) > 2*time.Second {
		t.Errorf("hanging metadata endpoint: ok=%v after %v", ok, time.Since(start))
	}
}

func TestWebhookPostsTheJSONReport(t *testing.T) {
	rec := newRecorder(t)
	n, err := Parse(rec.srv.URL+"/hooks/runway", noEnv, fast)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*report.Report{appliedReport(), failedReport()} {
		if errs := Send(context.Background(), []Notifier{n}, Always, r); errs != nil {
			t.Fatal(errs)
		}
		var want bytes.Buffer
		if err := report.WriteJSON(&want, r); err != nil {
			t.Fatal(err)
		}
		if got := rec.last(t); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("body:\n%s\nwant:\n%s", got, want.Bytes())
		}
	}
}

func TestGitHubSummary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "summary.md")
	ns := FromEnvironment(func(k string) string {
		if k == "GITHUB_STEP_SUMMARY" {
			return path
		}
		return ""
	})
	if len(ns) != 1 {
		t.Fatalf("FromEnvironment: %d notifiers, want 1", len(ns))
	}
	if got := FromEnvironment(func(string) string { return "" }); got != nil {
		t.Errorf("FromEnvironment without GITHUB_STEP_SUMMARY = %v", got)
	}
	ctx := context.Background()
	if errs := Send(ctx, ns, Change, appliedReport()); errs != nil {
		t.Fatal(errs)
	}
	if errs := Send(ctx, ns, Change, failedReport()); errs != nil {
		t.Fatal(errs)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, string(b),
		"### ✅ prod: 3 migrations applied to postgres://app:\\*\\*\\*@db:5432/app (20240101000000 → 20240301000000)\n",
		"**Database** `postgres://app:***@db:5432/app`",
		"| Version | Migration | Statements | Duration |\n|---|---|---:|---:|\n",
		"| 20240115000000 | add\\_users | 3 | 120 ms |\n",
		"| 20240301000000 | index\\_orders | 1 | 1 min 05 s |\n",
		"### ❌ prod: migration 20240301000000 failed on postgres://app:\\*\\*\\*@db:5432/app\n",
		"**Failed** at `migrations/20240301000000_add_index.up.sql:14`, statement 3, code `42P07`",
		"```text\nrelation \"orders_user_idx\" already exists\n```",
		"> **Hint** fix the file and run `runway up` again",
	)
	if i, j := strings.Index(string(b), "### ✅"), strings.Index(string(b), "### ❌"); i < 0 || j < i {
		t.Error("the second run was not appended after the first")
	}
}

func TestRetryThenDelivered(t *testing.T) {
	rec := newRecorder(t, 503, 503, 200)
	n, _ := Parse(rec.srv.URL+"/hook", noEnv, fast)
	if errs := Send(context.Background(), []Notifier{n}, Always, appliedReport()); errs != nil {
		t.Fatal(errs)
	}
	if got := rec.attempts.Load(); got != 3 {
		t.Errorf("attempts = %d, want 3", got)
	}
}

func TestRetryGivesUp(t *testing.T) {
	rec := newRecorder(t, 500, 502, 503, 504, 200)
	n, _ := Parse(rec.slackTarget(), noEnv, fast)
	err := n.Notify(context.Background(), appliedReport())
	var ne *Error
	if !errors.As(err, &ne) || ne.Attempts != 4 || ne.StatusCode != 504 {
		t.Fatalf("err = %#v", err)
	}
	if want := `notify slack+http://` + strings.TrimPrefix(rec.srv.URL, "http://") + `/services/***: HTTP 504 Gateway Timeout after 4 attempts: "no_service"`; err.Error() != want {
		t.Errorf("err = %q\nwant  %q", err, want)
	}
}

func TestNoRetryOn4xx(t *testing.T) {
	for _, code := range []int{400, 403, 404, 410, 302} {
		rec := newRecorder(t, code, code, code)
		n, _ := Parse(rec.srv.URL+"/hook", noEnv, fast)
		err := n.Notify(context.Background(), appliedReport())
		var ne *Error
		if !errors.As(err, &ne) || ne.StatusCode != code {
			t.Errorf("%d: err = %v", code, err)
		}
		if got := rec.attempts.Load(); got != 1 {
			t.Errorf("%d: attempts = %d, want 1", code, got)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	rec := newRecorder(t, 429, 200)
	rec.header = http.Header{"Retry-After": {"1"}}
	n, _ := Parse(rec.srv.URL+"/hook", noEnv, fast)
	start := time.Now()
	if err := n.Notify(context.Background(), appliedReport()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("retried after %v, before the server's Retry-After: 1", d)
	}

	// A Retry-After beyond the cap waits the cap.
	rec = newRecorder(t, 503, 200)
	rec.header = http.Header{"Retry-After": {"3600"}}
	n, _ = Parse(rec.srv.URL+"/hook", noEnv, fast, WithMaxRetryAfter(50*time.Millisecond))
	start = time.Now()
	if err := n.Notify(context.Background(), appliedReport()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the cap was not applied: %v", d)
	}
	if got := rec.attempts.Load(); got != 2 {
		t.Errorf("attempts = %d, want 2", got)
	}
}

func TestPerAttemptTimeout(t *testing.T) {
	var attempts atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		io.Copy(io.Discard, r.Body) // the server notices a closed connection only once the body is read
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	n, _ := Parse(srv.URL+"/hook/XXXX", noEnv, WithRetry(2, time.Millisecond), WithTimeout(100*time.Millisecond))
	start := time.Now()
	err := n.Notify(context.Background(), appliedReport())
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "after 2 attempts: no response within 100ms") {
		t.Errorf("err = %v", err)
	}
	if attempts.Load() != 2 {
		t.Errorf("attempts = %d, want 2", attempts.Load())
	}
	if strings.Contains(err.Error(), "XXXX") {
		t.Errorf("error leaks the path: %v", err)
	}
}

func TestContextCancellation(t *testing.T) {
	rec := newRecorder(t, 503, 503, 503, 503)
	n, _ := Parse(rec.srv.URL+"/hook", noEnv, WithRetry(4, 10*time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	errs := Send(ctx, []Notifier{n}, Always, appliedReport())
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancellation took %v", d)
	}
	if len(errs) != 1 || !errors.Is(errs[0], context.Canceled) {
		t.Fatalf("errs = %v", errs)
	}
	if got := rec.attempts.Load(); got != 1 {
		t.Errorf("attempts = %d, want 1", got)
	}
}

func TestNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	target := srv.URL + "/hook/XXXX?token=YYYY"
	srv.Close() // nothing listens any more
	n, _ := Parse(target, noEnv, WithRetry(2, time.Millisecond))
	err := n.Notify(context.Background(), appliedReport())
	if err == nil || !strings.Contains(err.Error(), "after 2 attempts") || !strings.Contains(err.Error(), "connect") {
		t.Fatalf("err = %v", err)
	}
	if s := err.Error(); strings.Contains(s, "XXXX") || strings.Contains(s, "YYYY") {
		t.Errorf("error leaks the target: %s", s)
	}
}

func TestSendConcurrentlyCollectsFailures(t *testing.T) {
	ok := newRecorder(t)
	bad := newRecorder(t, 400)
	n1, _ := Parse(ok.srv.URL+"/a", noEnv, fast)
	n2, _ := Parse(bad.slackTarget(), noEnv, fast)
	errs := Send(context.Background(), []Notifier{n1, n2, panicky{}}, Change, appliedReport())
	if len(errs) != 2 || !strings.Contains(errs[0].Error(), "HTTP 400") || !strings.Contains(errs[1].Error(), "panic: boom https://***@example.com/") {
		t.Fatalf("errs = %v", errs)
	}
	if ok.attempts.Load() != 1 {
		t.Error("the healthy target was not posted")
	}
}

type panicky struct{}

func (panicky) Notify(context.Context, *report.Report) error {
	panic("boom https://user:hunter2@example.com/")
}

// TestNoSecretLeaves pushes a report whose database URL was not redacted
// upstream, and webhook URLs whose path and query are secrets, through
// payloads, errors and String: none of the secrets appears anywhere.
func TestNoSecretLeaves(t *testing.T) {
	const password, token, slackKey, userPass = "hunter2-db-pass", "tok-7f3a9c1e5b", "SLACKKEY9f8e7d6c", "basicpw-55aa"
	r := failedReport()
	r.Database = "postgres://app:" + password + "@db:5432/app?sslmode=require"
	r.Source = "https://deploy:" + userPass + "@artifacts.example.com/db.zip?token=" + token
	r.Error.Message = "cannot connect to postgres://app:" + password + "@db:5432/app: host=db password=" + password + " refused"
	r.Error.Hint = "check https://hooks.slack.com/services/T000/B000/" + slackKey
	r.Warnings = []string{"notify target https://example.com/hook?token=" + token + " was slow"}
	secrets := []string{password, token, slackKey, userPass}

	var (
		mu   sync.Mutex
		seen []string
	)
	capture := func(status int) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			b, _ := io.ReadAll(req.Body)
			mu.Lock()
			seen = append(seen, string(b))
			mu.Unlock()
			w.WriteHeader(status)
			// A server that echoes the request URL and body in its error.
			io.WriteString(w, req.URL.String()+" "+string(b))
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	// The real Slack URL, its requests sent to a local server.
	slackSrv := capture(200)
	toLocal := &http.Client{Transport: rewriteHost{to: slackSrv.URL}}
	failing := capture(403)
	retrying := capture(503)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()

	targets := []struct {
		target string
		opts   []Option
	}{
		{"https://hooks.slack.com/services/T000/B000/" + slackKey, []Option{WithHTTPClient(toLocal)}},
		{"slack+" + failing.URL + "/services/T000/B000/" + slackKey + "?token=" + token, nil},
		{retrying.URL + "/hook/" + slackKey + "?token=" + token, nil},
		{strings.Replace(dead.URL, "http://", "http://u:"+userPass+"@", 1) + "/hook/" + slackKey + "?token=" + token, nil},
	}
	var ns []Notifier
	var out []string
	for _, tc := range targets {
		n, err := Parse(tc.target, append([]Option{noEnv, WithRetry(2, time.Millisecond)}, tc.opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		ns = append(ns, n)
		out = append(out, n.(interface{ String() string }).String(), Redact(tc.target))
	}
	path := filepath.Join(t.TempDir(), "summary.md")
	ns = append(ns, GitHubSummary(path))
	errs := Send(context.Background(), ns, Always, r)
	if len(errs) != 3 {
		t.Errorf("want 3 failures (403, 503, refused), got %v", errs)
	}
	for _, err := range errs {
		out = append(out, err.Error(), strings.TrimSpace(strings.Join(strings.Fields(err.Error()), " ")))
		var ne *Error
		if errors.As(err, &ne) {
			out = append(out, ne.Body, ne.Target)
			if ne.Err != nil {
				out = append(out, ne.Err.Error())
			}
		}
	}
	for _, bad := range []string{
		"https://hooks.slack.com/services/T/B/" + slackKey,
		"ftp://u:" + password + "@x/" + slackKey,
		"http://example.com/" + slackKey + "?token=" + token,
	} {
		if _, err := Parse(bad); err != nil {
			out = append(out, err.Error())
		}
	}
	summary, _ := os.ReadFile(path)
	out = append(out, string(summary))
	mu.Lock()
	out = append(out, seen...)
	if len(seen) < 4 {
		t.Errorf("only %d payloads captured", len(seen))
	}
	mu.Unlock()
	all := strings.Join(out, "\n")
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("secret %q leaked:\n%s", s, all)
		}
	}
	// The redacted forms are there.
	mustContain(t, all, "postgres://app:***@db:5432/app", "hooks.slack.com/services/T000/***")
}

// rewriteHost sends every request to a local server, keeping the path.
type rewriteHost struct{ to string }

func (rh rewriteHost) RoundTrip(req *http.Request) (*http.Response, error) {
	u, _ := url.Parse(rh.to)
	r := req.Clone(req.Context())
	r.URL.Scheme, r.URL.Host, r.Host = u.Scheme, u.Host, ""
	return http.DefaultTransport.RoundTrip(r)
}

func TestNoRetryOnBadCertificate(t *testing.T) {
	var attempts atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { attempts.Add(1) }))
	defer srv.Close()
	n, _ := Parse(srv.URL+"/hook/XXXX", noEnv, fast) // the default client does not trust the test CA
	err := n.Notify(context.Background(), appliedReport())
	if err == nil || !strings.Contains(err.Error(), "certificate") || strings.Contains(err.Error(), "attempts") {
		t.Fatalf("err = %v", err)
	}
	// With the server's own client (trusting its CA) it is delivered.
	n, _ = Parse(srv.URL+"/hook/XXXX", noEnv, fast, WithHTTPClient(srv.Client()))
	if err := n.Notify(context.Background(), appliedReport()); err != nil {
		t.Fatal(err)
	}
	if attempts.Load() != 1 {
		t.Errorf("attempts = %d", attempts.Load())
	}
}

// A URL at the end of a sentence keeps the sentence's punctuation outside:
// the copy a webhook gets reads as the report does ("?sslmode=disable:",
// not "?sslmode=disable%3A").
func TestScrubTextLeavesPunctuation(t *testing.T) {
	in := "could not connect to postgres://app:s3cret@127.0.0.1:5999/db?sslmode=disable: dial tcp: refused."
	got := scrubText(in)
	want := "could not connect to postgres://app:***@127.0.0.1:5999/db?sslmode=disable: dial tcp: refused."
	if got != want {
		t.Errorf("scrubText:\n got %s\nwant %s", got, want)
	}
}
