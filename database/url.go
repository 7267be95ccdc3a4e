package database

import (
	"net/url"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

// Redact returns the database URL with its password (and any password or
// token query parameter) replaced by "***", fit for output, logs and reports.
// Text that does not parse as a URL has anything that looks like
// "user:password@" masked all the same, and the values of keyword/value
// settings such as "password=…" (a libpq connection string given where a
// URL was expected).
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || (u.Host == "" && u.User == nil) {
		if pw, at, ok := DSNPassword(raw); ok {
			raw = raw[:at-len(pw)] + "***" + raw[at:]
		}
		raw = userinfoPassword().ReplaceAllString(raw, "${1}:***@")
		if !namesSecret(raw) {
			return raw
		}
		raw = querySecret().ReplaceAllString(raw, "${1}***")
		return keywordSecret().ReplaceAllString(raw, "${1}***")
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "***")
		}
	}
	if u.RawQuery != "" {
		// Parameter by parameter, in their order and encoding: only the
		// secret values change.
		params := strings.Split(u.RawQuery, "&")
		for i, p := range params {
			k, _, _ := strings.Cut(p, "=")
			if dk, err := url.QueryUnescape(k); err == nil && secretParam(dk) {
				params[i] = k + "=***"
			}
		}
		u.RawQuery = strings.Join(params, "&")
	}
	return strings.ReplaceAll(u.String(), "%2A%2A%2A", "***")
}

// The patterns below are compiled on first use, not at start-up: every run
// starts this package, and most never need them (a database URL that parses
// uses none; keywordSecret and querySecret only see text that names a
// password, secret or token).

// userinfoPassword finds "scheme://user:password@" in text that is not a
// valid URL; the password may hold unescaped "/", ":" or "@" (up to the last "@").
var userinfoPassword = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(://[^:/@\s]*):\S*@`) })

// keywordSecret finds "password=value" and the like (any key naming a
// password, secret or token) in keyword/value text, the value bare or
// single-quoted with backslash escapes as libpq writes it.
var keywordSecret = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)((?:^|[\s;,])[a-z_]*(?:password|secret|token)[a-z_]*\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s;,']*)`)
})

// querySecret finds "?password=value" or "&password=value" in text that
// did not parse as a URL with a host (jdbc:postgresql://…?password=…): the
// value ends at the next "&".
var querySecret = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)([?&][a-z_]*(?:password|secret|token)[a-z_]*=)([^&\s#]*)`)
})

// namesSecret reports whether s holds "password", "secret" or "token" in
// any case, as keywordSecret and querySecret match them (?i): with Unicode's
// simple case folding, so that "ſ" and "K" (the Kelvin sign) count as "s"
// and "k". Text without them cannot match either pattern.
func namesSecret(s string) bool {
	return containsFold(s, "password") || containsFold(s, "secret") || containsFold(s, "token")
}

// containsFold reports whether s holds the ASCII word w under simple case
// folding, as a (?i) pattern compares them.
func containsFold(s, w string) bool {
	for i := range s {
		if hasPrefixFold(s[i:], w) {
			return true
		}
	}
	return false
}

func hasPrefixFold(s, w string) bool {
	for j := 0; j < len(w); j++ {
		if s == "" {
			return false
		}
		_, n := utf8.DecodeRuneInString(s)
		if !strings.EqualFold(s[:n], w[j:j+1]) {
			return false
		}
		s = s[n:]
	}
	return true
}

// DSNPassword finds the password of a Go MySQL driver DSN given where a URL
// belongs, "user:password@tcp(host:3306)/db" (the form golang-migrate and
// sql-migrate users have in their environment): the password, and the
// offset just after it. The password may hold "@", ":" and "/"; the
// driver reads the database name after the last "/" and the address after
// the last "@" before it, and so does this.
func DSNPassword(raw string) (pw string, end int, ok bool) {
	if strings.Contains(raw, "://") {
		return "", 0, false
	}
	slash := strings.LastIndexByte(raw, '/')
	if slash < 0 {
		return "", 0, false
	}
	at := strings.LastIndexByte(raw[:slash], '@')
	if at < 0 || !dsnAddress().MatchString(raw[at+1:slash]) {
		return "", 0, false
	}
	user, pw, found := strings.Cut(raw[:at], ":")
	if !found || pw == "" || strings.ContainsAny(user, " \t/@") {
		return "", 0, false
	}
	return pw, at, true
}

// dsnAddress is what follows a Go MySQL DSN's "@": tcp(host:port),
// unix(/path), or nothing.
var dsnAddress = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(?:[a-z0-9]+(?:\([^()]*\))?)?$`) })

// KeywordSecrets returns the values that Redact masks in keyword/value text
// ("password=s3cret" gives s3cret), unquoted, for a caller that scrubs them
// from free text too.
func KeywordSecrets(raw string) []string {
	if !namesSecret(raw) {
		return nil
	}
	var out []string
	for _, m := range keywordSecret().FindAllStringSubmatch(raw, -1) {
		v := m[2]
		if strings.HasPrefix(v, "'") {
			v = strings.TrimSuffix(v[1:], "'")
			out = append(out, v)
			v = strings.NewReplacer(`\'`, "'", `\\`, `\`).Replace(v)
		}
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

func secretParam(k string) bool {
	k = strings.ToLower(k)
	return strings.Contains(k, "password") || strings.Contains(k, "secret") ||
		strings.Contains(k, "token") || k == "sslpassword" || k == "key"
}
