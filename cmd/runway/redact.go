package main

import (
	"io"
	"net/url"
	"strings"
	"sync"

	"github.com/runwaydb/runway/database"
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

// addWebhook records the secret parts of a notification target: a Slack
// webhook's path is its secret, and any webhook may carry a token in its path,
// query or userinfo.
func (s *secrets) addWebhook(raw string) {
	s.add(raw)
	u, err := url.Parse(raw)
	if err != nil {
		return
	}
	if u.User != nil {
		s.add(u.User.String())
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if len(seg) >= 8 {
			s.add(seg)
		}
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			s.add(v)
		}
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
		text = strings.ReplaceAll(text, v, "***")
	}
	return text
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
