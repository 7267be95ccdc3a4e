package main

import (
	"io"
	"net/url"
	"strings"
	"sync"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/notify"
)

// secrets collects the secret strings of this run (database passwords) and
// scrubs them from everything the process writes: the last line of defence
// behind the redaction of URLs where they are formatted.
type secrets struct {
	mu   sync.Mutex
	list []string
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
	for _, v := range s.list {
		text = scrubOne(text, v)
	}
	return text
}

// scrubOne replaces secret v in text with "***" wherever it stands as a
// value: not where it is only a piece of a longer word, a JSON key or a URL
// scheme of the output's own. A password that is a common word (postgres,
// runway, applied) otherwise rewrote the report's keys ("runway_version",
// "applied"), its table (runway_migrations) and Runway's messages
// ("fragment"), and a pipeline's jq read null; what is kept there says
// nothing of the password.
func scrubOne(text, v string) string {
	if !strings.Contains(text, v) {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	from := 0
	for at := 0; ; {
		i := strings.Index(text[at:], v)
		if i < 0 {
			break
		}
		i += at
		j := i + len(v)
		at = j
		if partOfWord(text, i, j) || jsonKey(text, i, j) || enumValue(text, i, j) || strings.HasPrefix(text[j:], "://") && (i == 0 || !wordByte(text[i-1])) {
			continue
		}
		b.WriteString(text[from:i])
		b.WriteString("***")
		from = j
	}
	b.WriteString(text[from:])
	return b.String()
}

// wordByte reports whether c is a letter, a digit or "_" (ASCII).
func wordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// partOfWord reports whether text[i:j] is a piece of a longer word: a
// letter, digit or "_" runs on across one of its ends.
func partOfWord(text string, i, j int) bool {
	return wordByte(text[i]) && i > 0 && wordByte(text[i-1]) || wordByte(text[j-1]) && j < len(text) && wordByte(text[j])
}

// enumValue reports whether text[i:j] is the whole value of one of the
// report's keys whose values are Runway's own words ("status":"applied").
func enumValue(text string, i, j int) bool {
	if j >= len(text) || text[j] != '"' {
		return false
	}
	for _, k := range []string{`"status":"`, `"command":"`, `"state":"`} {
		if strings.HasSuffix(text[:i], k) {
			return true
		}
	}
	return false
}

// jsonKey reports whether text[i:j] is (in) a key of a JSON object as the
// report writes them: a word in quotes, after "{" or ",", before a colon
// ({"applied":…, ,"runway_version":…).
func jsonKey(text string, i, j int) bool {
	for k := i; k < j; k++ {
		if !wordByte(text[k]) {
			return false
		}
	}
	for i > 0 && wordByte(text[i-1]) {
		i--
	}
	for j < len(text) && wordByte(text[j]) {
		j++
	}
	return i >= 2 && text[i-1] == '"' && (text[i-2] == '{' || text[i-2] == ',') &&
		j+1 < len(text) && text[j] == '"' && text[j+1] == ':'
}

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
