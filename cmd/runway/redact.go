package main

import (
	"io"
	"net/url"
	"reflect"
	"strings"
	"sync"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/notify"
	"github.com/runwaydb/runway/report"
)

// secrets collects the secret strings of this run (database passwords) and
// scrubs them from everything the process writes: the last line of defence
// behind the redaction of URLs where they are formatted.
type secrets struct {
	mu   sync.Mutex
	list []string
	own  []string // words of the output's own kept whole (see keep)
}

// minSecret is the shortest secret scrubbed from free text: replacing every
// "ab" in the output would make it unreadable and protect nothing.
const minSecret = 4

// addURL records the password of a database URL (raw and decoded forms).
func (s *secrets) addURL(raw string) {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			s.add(pw)
			s.add(url.QueryEscape(pw))
			s.add(url.PathEscape(pw))
			// PostgreSQL folds an unquoted name to lower case (MySQL
			// may to upper): a password used as one comes back so.
			s.add(strings.ToLower(pw))
			s.add(strings.ToUpper(pw))
		}
		for k, vs := range u.Query() {
			lk := strings.ToLower(k)
			if strings.Contains(lk, "password") || strings.Contains(lk, "secret") || strings.Contains(lk, "token") {
				for _, v := range vs {
					s.add(v)
				}
			}
		}
	}
	// A Go MySQL driver DSN given where a URL belongs: user:password@tcp(…)/db.
	if pw, _, ok := database.DSNPassword(raw); ok {
		s.add(pw)
	}
	// A libpq keyword/value string given where a URL belongs: "password=…".
	for _, v := range database.KeywordSecrets(raw) {
		s.add(v)
	}
	// A URL that did not parse may still carry user:password@.
	if i := strings.Index(raw, "://"); i >= 0 {
		rest := raw[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if c := strings.Index(rest[:at], ":"); c >= 0 {
				pw := rest[c+1 : at]
				s.add(pw)
				// A parser that stops at "/" or ":" may quote only a piece of it.
				for _, piece := range strings.FieldsFunc(pw, func(r rune) bool { return r == '/' || r == ':' || r == '@' || r == '?' || r == '#' }) {
					s.add(piece)
				}
			}
		}
	}
}

// addArgs records the secrets of every database URL and web address on the
// command line, wherever it stands: a URL given as a command's argument by
// mistake ("up postgres://…") is quoted back in the usage error.
func (s *secrets) addArgs(args []string) {
	for i, arg := range args {
		name, v, ok := strings.Cut(arg, "=")
		if ok && strings.HasPrefix(arg, "-") {
			arg = v
		} else if i > 0 {
			name = args[i-1]
		}
		if name == "--dir" || name == "-dir" {
			// A migration source, not a webhook: its address is what an
			// operator must see; only its userinfo and query are secret.
			s.addSource(arg)
			continue
		}
		s.addURL(arg)
		if l := strings.ToLower(arg); strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "slack+") {
			s.addWebhook(arg) // a webhook's token, given as a stray argument
		}
	}
}

// addSource records the secret parts of a migration source's address, as
// source.Redact masks them: the password of its userinfo and its query (a
// presigned link's signature and credentials).
func (s *secrets) addSource(raw string) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return
	}
	if pw, ok := u.User.Password(); ok {
		s.add(pw)
		s.add(url.QueryEscape(pw))
	} else if u.User != nil {
		s.add(u.User.Username()) // a token given as the user (https://TOKEN@host/…)
	}
	if f := u.EscapedFragment(); f != "" && !strings.HasPrefix(f, "sha256=") {
		s.add(f)
		s.add(u.Fragment)
	}
	if u.RawQuery != "" {
		s.add(u.RawQuery)
		for _, vs := range u.Query() {
			for _, v := range vs {
				s.add(v)
				s.add(url.QueryEscape(v))
			}
		}
	}
}

// addWebhook records the secret parts of a notification target, as
// notify.Redact masks them: a Slack webhook's path is its secret, and any
// webhook may carry a token in its path, query or userinfo.
func (s *secrets) addWebhook(raw string) {
	for _, part := range notify.SecretParts(raw) {
		s.add(part)
	}
}

// addKey records a private key given as text: the whole of it and each of its
// lines, so no piece of it can be printed.
func (s *secrets) addKey(pem string) {
	s.add(pem)
	for _, line := range strings.Split(strings.ReplaceAll(pem, `\n`, "\n"), "\n") {
		if line = strings.TrimSpace(line); len(line) >= 16 && !strings.HasPrefix(line, "-----") {
			s.add(line)
		}
	}
}

func (s *secrets) add(v string) {
	if len(v) < minSecret {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.list {
		if x == v {
			return
		}
	}
	s.list = append(s.list, v)
}

func (s *secrets) scrub(text string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var spans [][2]int
	fresh := false // spans are those of text as it is now
	for _, v := range s.list {
		if !strings.Contains(text, v) {
			continue
		}
		if !fresh {
			spans, fresh = ownSpans(text, s.own), true
		}
		if out := scrubOne(text, v, spans); out != text {
			text, fresh = out, false
		}
	}
	return text
}

// keep has the scrubber leave word, one of Runway's own (the history
// table's name), alone wherever it stands: a password that is a piece of it
// does not rewrite it.
func (s *secrets) keep(word string) {
	if word == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.own = append(s.own, word)
}

// scrubOne replaces secret v in text with "***" wherever it stands, but
// inside spans of the output's own words (ownSpans): a password that is a
// common word (postgres, runway, applied) otherwise rewrote the report's
// keys ("runway_version", "applied") and values ("status":"applied"), the
// history table's name and the URL's scheme, and a pipeline's jq read null;
// what is kept there says nothing of the password.
func scrubOne(text, v string, spans [][2]int) string {
	var b strings.Builder
	from := 0
	for at := 0; ; {
		i := strings.Index(text[at:], v)
		if i < 0 {
			break
		}
		i += at
		j := i + len(v)
		at = j
		if within(spans, i, j) {
			continue
		}
		if from == 0 {
			b.Grow(len(text))
		}
		b.WriteString(text[from:i])
		b.WriteString("***")
		from = j
	}
	if from == 0 {
		return text
	}
	b.WriteString(text[from:])
	return b.String()
}

// within reports whether [i, j) lies inside one of spans.
func within(spans [][2]int, i, j int) bool {
	for _, sp := range spans {
		if sp[0] <= i && j <= sp[1] {
			return true
		}
	}
	return false
}

// ownSpans returns where text holds the output's own words (in no order): the
// JSON report's keys ("applied":), the values of its keys whose values are
// Runway's words ("status":"applied"), URL schemes (postgres://) and the
// words given to keep.
func ownSpans(text string, words []string) [][2]int {
	var spans [][2]int
	add := func(tok string) {
		for at := 0; ; {
			i := strings.Index(text[at:], tok)
			if i < 0 {
				return
			}
			i += at
			spans = append(spans, [2]int{i, i + len(tok)})
			at = i + len(tok)
		}
	}
	for _, k := range reportKeys() {
		add(`"` + k + `":`)
	}
	for _, k := range []string{`"status":"`, `"state":"`, `"command":"`, `"action":"`} {
		for at := 0; ; {
			i := strings.Index(text[at:], k)
			if i < 0 {
				break
			}
			i += at
			at = i + len(k)
			end := strings.IndexByte(text[at:], '"')
			if end < 0 {
				break
			}
			if ownValues[text[at:at+end]] {
				spans = append(spans, [2]int{i, at + end + 1})
			}
		}
	}
	for _, sch := range []string{"postgres://", "postgresql://", "mysql://", "mariadb://", "s3://", "https://", "http://"} {
		add(sch)
	}
	for _, w := range words {
		add(w)
	}
	return spans
}

// ownValues are the values the report's status, state, command and action
// keys take: Runway's words, never a secret's.
var ownValues = map[string]bool{
	"applied": true, "noop": true, "failed": true, "pending": true, "ok": true, "reverted": true, "baseline": true,
	"missing": true, "modified": true, "running": true, "reverting": true, "out-of-order": true,
	"cleared": true, "accepted-checksum": true,
	"up": true, "down": true, "status": true, "plan": true, "validate": true, "repair": true, "wait": true, "exec": true,
	"new": true, "version": true, "adopt": true,
}

// reportKeys lists the keys of the JSON report (report.Report and what it
// holds), and of --all-targets' combined one.
var reportKeys = sync.OnceValue(func() []string {
	keys := []string{"targets", "failed"}
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name != "" && name != "-" {
				keys = append(keys, name)
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeFor[report.Report]())
	return keys
})

// writer returns w behind the scrubber.
func (s *secrets) writer(w io.Writer) io.Writer { return &scrubWriter{s: s, w: w} }

type scrubWriter struct {
	s *secrets
	w io.Writer
}

func (sw *scrubWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(sw.w, sw.s.scrub(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
