package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runwaydb/runway/internal/testdb"
)

// The secrets of this test: a database password, a password given as a URL
// parameter and a token-like parameter. None may appear in anything Runway
// prints, on any path.
const (
	secretPassword = "Pw-9f3kQz7LmX"
	secretParam    = "Tok-Zq81Vb4rW"
)

func withPassword(t *testing.T, raw, password string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), password)
	return u.String()
}

func TestSecretsNeverReachOutput(t *testing.T) {
	dir := t.TempDir()
	write := func(sub, name, body string) string {
		d := filepath.Join(dir, sub)
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, name), []byte(body), 0o644)
		return d
	}
	good := write("good", "0001_a.up.sql", "CREATE TABLE a (id int);\n")
	write("good", "0001_a.down.sql", "DROP TABLE a;\n")
	bad := write("bad", "0001_a.up.sql", "CREATE TABLE a (id int);\nINSERT INTO nope VALUES ('"+secretPassword+"');\n")
	edited := write("edited", "0001_a.up.sql", "CREATE TABLE a (id bigint);\n")
	broken := write("broken", "0001_a.up.sql", "-- runway:bogus\nSELECT 1;\n")

	// PostgreSQL here trusts every login, so a password in the URL is accepted:
	// the runs below get past connecting and fail later, carrying the URL along.
	pg := withPassword(t, testdb.Postgres(t), secretPassword)
	pgParam := pg + "&password=" + secretParam + "&sslpassword=" + secretParam
	my := withPassword(t, testdb.MySQL(t), secretPassword) // MariaDB refuses it: a connection error

	// Webhooks whose path and query carry a token: one that fails (and echoes
	// the request back in its error), one that works, in Slack and JSON form.
	// A notification of a run from a signed source names its path.
	var sourceNamed atomic.Bool
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(r.URL.Path, "/fail/") {
			http.Error(w, "rejected "+r.URL.String()+" "+string(body), http.StatusBadGateway)
			return
		}
		if strings.Contains(string(body), secretPassword) || strings.Contains(string(body), secretParam) {
			t.Errorf("a notification carried a secret: %s", body)
		}
		if strings.Contains(string(body), "/releases/v1/m.tar.gz") {
			sourceNamed.Store(true)
		}
	}))
	defer hooks.Close()
	failHook := hooks.URL + "/fail/" + secretParam + "?token=" + secretParam
	okSlack := "slack+" + hooks.URL + "/services/T000/B000/" + secretParam

	// A migration source behind a presigned link (and a password): the
	// report and the errors name it, with the signature and password hidden.
	artifact := tarGz(t, map[string]string{"0001_a.up.sql": "CREATE TABLE a (id int);\nINSERT INTO nope VALUES (1);\n"})
	artifacts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/releases/v1/m.tar.gz" {
			http.NotFound(w, r)
			return
		}
		w.Write(artifact)
	}))
	defer artifacts.Close()
	signed := func(file string) string {
		return strings.Replace(artifacts.URL, "://", "://ci:"+secretPassword+"@", 1) + "/releases/v1/" + file +
			"?X-Amz-Credential=AKIA%2F" + secretParam + "&X-Amz-Signature=" + secretParam
	}
	// What the output must show of each case: the source's path.
	wantShown := map[string]string{
		"signed source json":      "/releases/v1/m.tar.gz",
		"signed source from env":  "/releases/v1/m.tar.gz",
		"signed source not found": "/releases/v1/nothere.tar.gz",
	}

	cases := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"connect refused", nil, []string{"-d", "postgres://app:" + secretPassword + "@127.0.0.1:1/app", "--dir", good, "up"}},
		{"connect refused json", nil, []string{"--json", "-d", "postgres://app:" + secretPassword + "@127.0.0.1:1/app", "--dir", good, "up"}},
		{"wrong password mysql", nil, []string{"-v", "-d", my, "--dir", good, "up"}},
		{"wrong password mysql json", nil, []string{"--json", "-d", my, "--dir", good, "status"}},
		{"malformed url", nil, []string{"-d", "postgres://app:" + secretPassword + "@db:port/app", "--dir", good, "up"}},
		{"unparsable url", nil, []string{"-d", "mysql://app:" + secretPassword + "/x@db/app", "--dir", good, "up"}},
		{"unknown scheme", nil, []string{"-d", "oracle://app:" + secretPassword + "@db/app", "--dir", good, "up"}},
		{"keyword/value string", nil, []string{"-d", "host=127.0.0.1 user=app password=" + secretPassword + " sslpassword='" + secretParam + "' dbname=app", "--dir", good, "status"}},
		{"keyword/value string json", map[string]string{"DATABASE_URL": "host=db password=" + secretPassword}, []string{"--json", "--dir", good, "up"}},
		{"bad source", nil, []string{"-d", pg, "--dir", broken, "up"}},
		{"missing folder", nil, []string{"-d", pg, "--dir", filepath.Join(dir, "nope"), "up"}},
		{"apply verbose", nil, []string{"-v", "-d", pgParam, "--dir", good, "up"}},
		{"status json", nil, []string{"--json", "-d", pgParam, "--dir", good, "status"}},
		{"plan verbose", nil, []string{"-v", "-d", pg, "--dir", good, "plan"}},
		{"validation failure", nil, []string{"-v", "-d", pg, "--dir", edited, "up"}},
		{"validation failure json", nil, []string{"--json", "-d", pg, "--dir", edited, "validate"}},
		{"down refused", nil, []string{"-d", pg, "--dir", good, "down"}},
		{"down json", nil, []string{"--json", "-d", pg, "--dir", good, "down", "--yes"}},
		{"migration failure", nil, []string{"-v", "-d", pgParam, "--dir", bad, "up"}},
		{"migration failure json", nil, []string{"--json", "-d", pg, "--dir", bad, "up"}},
		{"from RUNWAY_DATABASE", map[string]string{"RUNWAY_DATABASE": my}, []string{"-v", "--dir", good, "up"}},
		{"from DATABASE_URL", map[string]string{"DATABASE_URL": pgParam}, []string{"--json", "--dir", bad, "up"}},
		{"bad env value", map[string]string{"RUNWAY_DATABASE": pg, "RUNWAY_LOCK_TIMEOUT": secretPassword}, []string{"--dir", good, "up"}},
		{"wait timeout", nil, []string{"-v", "-d", pg, "--dir", bad, "wait", "--timeout", "300ms", "--poll", "100ms"}},
		{"panic", nil, []string{"-d", pg, "--dir", good, "panic-for-test"}},
		{"webhook fails", nil, []string{"-v", "-d", pgParam, "--dir", bad, "--notify", failHook, "--notify", okSlack, "up"}},
		{"webhook required", map[string]string{"RUNWAY_NOTIFY": failHook + "," + okSlack}, []string{"--json", "-d", pg, "--dir", bad, "--notify-required", "up"}},
		{"webhook bad target", nil, []string{"-d", pg, "--dir", good, "--notify", "http://example.com/hook/" + secretParam, "up"}},
		{"go mysql dsn with webhooks", nil, []string{"--json", "-d", "app:" + secretPassword + "@tcp(127.0.0.1:1)/app", "--dir", good, "--notify", okSlack, "--notify", hooks.URL + "/json/hook", "--notify-on", "always", "up"}},
		{"go mysql dsn from DATABASE_URL", map[string]string{"DATABASE_URL": "app:" + secretPassword + "@tcp(127.0.0.1:1)/app"}, []string{"--json", "--dir", good, "status"}},
		{"jdbc url", nil, []string{"--json", "-d", "jdbc:postgresql://db/app?user=app&password=" + secretPassword, "--dir", good, "up"}},
		{"url as an argument", nil, []string{"--dir", good, "up", "postgres://app:" + secretPassword + "@db/app"}},
		{"webhook as an argument", nil, []string{"--dir", good, "up", hooks.URL + "/services/T000/B000/" + secretParam}},
		{"url as baseline's version", nil, []string{"-d", pg, "--dir", good, "baseline", "mysql://app:" + secretPassword + "@db/app"}},
		{"webhook from env, migration failure", map[string]string{"RUNWAY_NOTIFY": failHook, "DATABASE_URL": pgParam}, []string{"--dir", bad, "--notify-on", "always", "up"}},
		{"signed source json", nil, []string{"--json", "-d", pg, "--dir", signed("m.tar.gz"), "--notify", okSlack, "--notify", hooks.URL + "/json/hook", "--notify-on", "always", "up"}},
		{"signed source from env", map[string]string{"RUNWAY_DIR": signed("m.tar.gz"), "RUNWAY_NOTIFY": hooks.URL + "/json/hook"}, []string{"--json", "-d", pg, "up"}},
		{"signed source not found", nil, []string{"--json", "-d", pg, "--dir", signed("nothere.tar.gz"), "up"}},
	}

	// A command that panics with the URL in its message, to test the recovery path.
	commands["panic-for-test"] = &command{name: "panic-for-test", flags: func(*flag.FlagSet) any { return nil },
		run: func(ctx context.Context, a *app, _ any, _ []string) error { panic("boom while using " + a.g.database) }}
	defer delete(commands, "panic-for-test")

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			env := func(k string) string { return tc.env[k] }
			code := newApp(strings.NewReader(""), &out, &errb, env, false, false).run(context.Background(), tc.args)
			all := out.String() + errb.String()
			for _, s := range []string{secretPassword, secretParam, url.QueryEscape(secretPassword)} {
				if strings.Contains(all, s) {
					t.Errorf("exit %d: output contains the secret %q:\n%s", code, s, all)
				}
			}
			if code == 0 && tc.name != "apply verbose" && tc.name != "status json" && tc.name != "plan verbose" && tc.name != "down json" {
				t.Errorf("exit 0; this case should fail:\n%s", all)
			}
			if strings.HasPrefix(tc.name, "webhook fails") && !strings.Contains(all, "warning: notify") {
				t.Errorf("the failing webhook was not tried:\n%s", all)
			}
			if tc.name == "panic" && !strings.Contains(all, "internal error: boom while using postgres://postgres:***@") {
				t.Errorf("the panic was not recovered and reported:\n%s", all)
			}
			if all == "" {
				t.Error("no output at all: the test would prove nothing")
			}
			if w := wantShown[tc.name]; w != "" && !strings.Contains(all, w) {
				t.Errorf("the output does not name %s:\n%s", w, all)
			}
		})
	}
	if !sourceNamed.Load() {
		t.Error("no notification named the signed source's path /releases/v1/m.tar.gz")
	}
}

// The scrubbing of webhook secrets from the output masks the webhook's
// secret parts, not the words its path shares with the report: the JSON
// keeps its keys and values ("database", "runway_migrations", a folder
// named services/…).
func TestScrubKeepsTheReport(t *testing.T) {
	dir := t.TempDir()
	mig := filepath.Join(dir, "services", "orders", "migrations")
	os.MkdirAll(mig, 0o755)
	os.WriteFile(filepath.Join(mig, "0001_a.up.sql"), []byte("CREATE TABLE a (id int);\n"), 0o644)
	const token = "XyZ0123456789abcdefTOKEN"
	var out, errb bytes.Buffer
	code := newApp(strings.NewReader(""), &out, &errb, func(string) string { return "" }, false, false).run(context.Background(), []string{
		"--json", "-d", "sqlite:" + filepath.Join(dir, "x.db"), "--dir", mig,
		"--notify", "http://127.0.0.1:9/ok/database/abc?source=runway&token=" + token,
		"--notify", "slack+http://127.0.0.1:9/services/T0/B0/" + token,
		"status"})
	var rep map[string]any
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || code != 0 {
		t.Fatalf("exit %d, report does not parse: %v\n%s\n%s", code, err, out.String(), errb.String())
	}
	if rep["table"] != "runway_migrations" || !strings.HasSuffix(fmt.Sprint(rep["source"]), filepath.Join("services", "orders", "migrations")) ||
		!strings.HasPrefix(fmt.Sprint(rep["database"]), "sqlite:") {
		t.Errorf("the report was mangled:\n%s", out.String())
	}
	if strings.Contains(out.String()+errb.String(), token) {
		t.Errorf("the webhook token reached the output:\n%s%s", out.String(), errb.String())
	}
}

// wait and exec retry a database that cannot be reached yet, but not one
// that refuses the password: that does not change by itself, and an init
// container would sit out its whole --timeout saying nothing.
func TestWaitGivesUpOnARefusedPassword(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "0001_a.up.sql"), []byte("SELECT 1;\n"), 0o644)
	my := withPassword(t, testdb.MySQL(t), "Wr0ng-pa55word")
	for _, args := range [][]string{
		{"-d", my, "--dir", dir, "wait", "--timeout", "20s"},
		{"-d", my, "--dir", dir, "exec", "--timeout", "20s", "--", "true"},
	} {
		var out, errb bytes.Buffer
		a := newApp(strings.NewReader(""), &out, &errb, func(string) string { return "" }, false, false)
		start := time.Now()
		code := a.run(context.Background(), args)
		if code != exitConnect || !strings.Contains(errb.String(), "refused the credentials") || time.Since(start) > 10*time.Second {
			t.Errorf("%s with a refused password: exit %d after %v: %s", args[4], code, time.Since(start), errb.String())
		}
	}
}

// tarGz is a .tar.gz archive of files.
func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A failure the database words with the password in it (here a table named
// after it) is kept in the history table redacted: a later status, with
// other credentials, does not print the password.
func TestHistoryKeepsNoSecret(t *testing.T) {
	dir := t.TempDir()
	// Unquoted, PostgreSQL folds the name, the password, to lower case.
	const password = "Pw9f3kQz7LmXv"
	os.WriteFile(filepath.Join(dir, "0001_a.up.sql"), []byte("-- runway:no-transaction\nINSERT INTO "+password+" VALUES (1);\n"), 0o644)
	plain := testdb.Postgres(t)
	cli := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := newApp(strings.NewReader(""), &out, &errb, func(string) string { return "" }, false, false).run(context.Background(), append([]string{"--dir", dir}, args...))
		return code, out.String() + errb.String()
	}
	if code, out := cli("-d", withPassword(t, plain, password), "up"); code != exitFailed {
		t.Fatalf("up: exit %d, want 1\n%s", code, out)
	}
	code, out := cli("-d", plain, "--json", "status")
	if !strings.Contains(out, `"state":"failed"`) || strings.Contains(strings.ToLower(out), strings.ToLower(password)) {
		t.Fatalf("status with other credentials: exit %d, the failure missing or the password shown:\n%s", code, out)
	}
}

// A password that is a common word is masked wherever it stands, but in
// the output's own words: the JSON report's keys and its status, state and
// command values, the history table's name and a URL's scheme.
// postgres:postgres, the most common CI credential, and passwords such as
// runway or applied had rewritten the report's keys (runway_version,
// applied), its table and its status. A secret after an escape (%3D, \n,
// \u003c) or glued to other letters is masked as before.
func TestScrubCommonWordPasswords(t *testing.T) {
	for _, c := range []struct{ pw, in, want string }{
		{"postgres", "postgres://postgres:postgres@db:5432/app", "postgres://***:***@db:5432/app"},
		{"postgres", `password authentication failed for user "postgres"`, `password authentication failed for user "***"`},
		{"runway", `{"table":"runway_migrations","runner":{"runway_version":"dev"},"error":{"message":"runway"}}`,
			`{"table":"runway_migrations","runner":{"runway_version":"dev"},"error":{"message":"***"}}`},
		{"applied", `{"command":"up","status":"applied","applied":[],"error":{"message":"applied"}}`, `{"command":"up","status":"applied","applied":[],"error":{"message":"***"}}`},
		{"migration", `{"migrations":[{"version":"1"}],"table":"runway_migrations"}`, `{"migrations":[{"version":"1"}],"table":"runway_migrations"}`},
		{"S3cret-pw", `X="S3cret-pw": want a duration`, `X="***": want a duration`},
		{"hunter2", "a=hunter2;b=xhunter2", "a=***;b=x***"},
		{"S3cr3tPw", "options=-c%20search_path%3DS3cr3tPw", "options=-c%20search_path%3D***"},
		{"S3cr3tPw", `{"message":"line one\nS3cr3tPw \u003cS3cr3tPw\u003e"}`, `{"message":"line one\n*** \u003c***\u003e"}`},
		{"S3cr3tPw", `{"S3cr3tPw":1,"status":"S3cr3tPw"}`, `{"***":1,"status":"***"}`},
	} {
		var s secrets
		s.keep("runway_migrations")
		s.add(c.pw)
		if got := s.scrub(c.in); got != c.want {
			t.Errorf("password %q:\n got %s\nwant %s", c.pw, got, c.want)
		}
	}
	// The whole report, through a real run.
	u, err := url.Parse(testdb.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), "applied")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "0001_a.up.sql"), []byte("CREATE TABLE a (id int);\n"), 0o644)
	var out, errb bytes.Buffer
	code := newApp(strings.NewReader(""), &out, &errb, func(string) string { return "" }, false, false).run(context.Background(),
		[]string{"--json", "-d", u.String(), "--dir", dir, "up"})
	var rep struct {
		Status  string           `json:"status"`
		Applied []map[string]any `json:"applied"`
		Table   string           `json:"table"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || code != 0 || rep.Status != "applied" || len(rep.Applied) != 1 || rep.Table != "runway_migrations" {
		t.Fatalf("exit %d, %v: the report was mangled:\n%s\n%s", code, err, out.String(), errb.String())
	}
}
