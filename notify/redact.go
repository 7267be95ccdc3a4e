package notify

import (
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/report"
)

// Redact returns target fit for output, logs and error messages: the
// userinfo, the query string, the fragment and the path beyond its first
// segment are replaced by "***" (for a Slack webhook, whose path is the
// secret, beyond "services/TEAM"); a first segment that looks like a token is
// masked as well. The "https://" scheme is left out for brevity:
//
//	https://hooks.slack.com/services/T000/B000/XXXX → hooks.slack.com/services/T000/***
//	https://user:pw@example.com/hooks/abc?token=x   → ***@example.com/hooks/***?***
//
// Redact never fails: text that is not a URL is masked in the same spirit.
func Redact(target string) string {
	rest := strings.TrimSpace(target)
	if rest == "" {
		return ""
	}
	var prefix string
	if i := strings.Index(rest, "://"); i >= 0 {
		if scheme := strings.ToLower(rest[:i]); scheme != "https" {
			prefix = scheme + "://"
		}
		rest = rest[i+3:]
	}
	var tail string
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		tail = rest[i:i+1] + "***"
		rest = rest[:i]
	}
	// Everything up to the last "@" is userinfo, even when a password holds
	// an unescaped "/": masking too much beats leaking.
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		prefix += "***@"
		rest = rest[i+1:]
	}
	host, path, hasPath := strings.Cut(rest, "/")
	out := prefix + host
	if !hasPath {
		return out + tail
	}
	segs := strings.Split(path, "/")
	keep := 1
	if isSlackHost(host) {
		keep = 2 // services/TEAM: the team id is not the secret, the rest is
	}
	var kept []string
	for i, seg := range segs {
		if i >= keep || (keep == 1 && tokenLike(seg)) {
			break
		}
		kept = append(kept, seg)
	}
	out += "/" + strings.Join(kept, "/")
	switch dropped := segs[len(kept):]; {
	case len(dropped) == 1 && dropped[0] == "":
		out += "/" // a trailing slash
	case len(dropped) > 0:
		if len(kept) > 0 {
			out += "/"
		}
		out += "***"
	}
	return out + tail
}

// SecretParts returns the parts of target that Redact masks, for a caller
// that scrubs them from free text as well: the whole target, its userinfo,
// its query and fragment, each query value that looks like a token or whose
// key names one (token, key, secret, sig, pass, auth), the masked rest of its
// path as one string, and each segment of that rest that looks like a token.
// A word of the path on its own ("services", "database") is not returned:
// scrubbing it from all output would mangle it (a JSON key, a folder name)
// and protect nothing.
func SecretParts(target string) []string {
	target = strings.TrimSpace(target)
	out := []string{target}
	u, err := url.Parse(target)
	if err != nil {
		return out
	}
	if u.User != nil {
		out = append(out, u.User.String())
	}
	if u.RawQuery != "" {
		out = append(out, u.RawQuery)
		for k, vs := range u.Query() {
			k = strings.ToLower(k)
			secretKey := strings.Contains(k, "token") || strings.Contains(k, "key") || strings.Contains(k, "secret") ||
				strings.Contains(k, "sig") || strings.Contains(k, "pass") || strings.Contains(k, "auth") || k == "code"
			for _, v := range vs {
				if secretKey || tokenLike(v) {
					out = append(out, v)
				}
			}
		}
	}
	if u.Fragment != "" {
		out = append(out, u.Fragment)
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	keep := 1
	if isSlackHost(u.Hostname()) {
		keep = 2
	}
	if keep == 1 && len(segs) > 0 && tokenLike(segs[0]) {
		keep = 0
	}
	if len(segs) > keep {
		out = append(out, strings.Join(segs[keep:], "/"))
		for _, seg := range segs[keep:] {
			if tokenLike(seg) {
				out = append(out, seg)
			}
		}
	}
	return out
}

func isSlackHost(host string) bool {
	host = strings.ToLower(host)
	return host == "hooks.slack.com" || host == "hooks.slack-gov.com"
}

// tokenLike reports whether a path segment looks like a generated secret
// (a webhook id or key) rather than a word such as "hooks" or "v1".
func tokenLike(seg string) bool {
	if len(seg) >= 16 {
		return true
	}
	var letter, digit bool
	for _, c := range seg {
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			letter = true
		}
	}
	return len(seg) >= 8 && letter && digit
}

// The patterns are compiled on first use, not at start-up: every run of the
// CLI links this package, few of them notify.
var (
	// urlInText finds URLs inside free text (error messages, hints, warnings).
	urlInText = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.\-]*://[^\s"'<>` + "`" + `]+`)
	})
	// secretAssignment finds key=value secrets, as in a libpq connection string.
	secretAssignment = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)=("[^"]*"|'[^']*'|[^\s&;,]+)`)
	})
)

// scrubText masks secrets that may hide in free text: passwords and secret
// query parameters of any URL, the userinfo of web URLs, the path of Slack
// webhooks, key=value secrets, and the literal strings in known.
func scrubText(s string, known ...string) string {
	known = append([]string(nil), known...)
	sort.Slice(known, func(i, j int) bool { return len(known[i]) > len(known[j]) })
	for _, k := range known {
		if len(k) >= 8 { // shorter ones would mask ordinary words
			s = strings.ReplaceAll(s, k, "***")
		}
	}
	s = urlInText().ReplaceAllStringFunc(s, func(u string) string {
		// Punctuation that ends the sentence ("…?sslmode=disable: dial
		// tcp…") is not the URL's: left in, the redacted URL would carry it
		// re-encoded (disable%3A).
		trimmed := strings.TrimRight(u, ":;,.!)]}")
		tail := u[len(trimmed):]
		if strings.Count(trimmed, "[") > strings.Count(trimmed, "]") && strings.HasPrefix(tail, "]") {
			// The URL's own bracket: "?[redacted]", an IPv6 host.
			trimmed, tail = trimmed+"]", tail[1:]
		}
		return scrubURL(trimmed) + tail
	})
	s = secretAssignment().ReplaceAllString(s, "${1}=***")
	return s
}

// scrubURL masks the secrets of one URL found in free text.
func scrubURL(u string) string {
	scheme, rest, _ := strings.Cut(u, "://")
	if after, ok := strings.CutPrefix(rest, "[redacted]@"); ok {
		// Redacted already, as a migration source's address is: its path
		// is what the reader must see, not a webhook's secret.
		_, r, _ := strings.Cut(scrubURL(scheme+"://"+after), "://")
		return scheme + "://[redacted]@" + r
	}
	switch strings.ToLower(scheme) {
	case "http", "https", "slack+http", "slack+https":
		host, _, _ := strings.Cut(rest, "/")
		if i := strings.LastIndex(host, "@"); i >= 0 {
			host = host[i+1:]
		}
		if isSlackHost(host) || strings.Contains(rest, "@") {
			r := Redact(u)
			if !strings.Contains(r, "://") {
				r = "https://" + r
			}
			return r
		}
	}
	return database.Redact(u)
}

// scrubbed returns a copy of r whose free-text fields have passed scrubText
// and whose database URL has passed database.Redact again. The report should
// arrive redacted; this is the last line of defence before it leaves the
// process. For a clean report the copy is identical to r.
func scrubbed(r *report.Report, known ...string) *report.Report {
	c := *r
	c.Database = scrubText(database.Redact(r.Database), known...)
	c.Source = scrubText(r.Source, known...)
	if r.Warnings != nil {
		c.Warnings = make([]string, len(r.Warnings))
		for i, w := range r.Warnings {
			c.Warnings[i] = scrubText(w, known...)
		}
	}
	if r.Migrations != nil {
		c.Migrations = append([]report.Migration(nil), r.Migrations...)
		for i := range c.Migrations {
			c.Migrations[i].Detail = scrubText(c.Migrations[i].Detail, known...)
		}
	}
	if r.Error != nil {
		e := *r.Error
		e.Message = scrubText(e.Message, known...)
		e.Hint = scrubText(e.Hint, known...)
		c.Error = &e
	}
	return &c
}
