package database

import (
	"net/url"
	"regexp"
	"strings"
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
		raw = userinfoPassword.ReplaceAllString(raw, "${1}:***@")
		return keywordSecret.ReplaceAllString(raw, "${1}***")
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "***")
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			if secretParam(k) {
				q.Set(k, "***")
			}
		}
		u.RawQuery = q.Encode()
	}
	return strings.ReplaceAll(u.String(), "%2A%2A%2A", "***")
}

// userinfoPassword finds "scheme://user:password@" in text that is not a
// valid URL; the password may hold unescaped "/", ":" or "@" (up to the last "@").
var userinfoPassword = regexp.MustCompile(`(://[^:/@\s]*):\S*@`)

// keywordSecret finds "password=value" and the like (any key naming a
// password, secret or token) in keyword/value text, the value bare or
// single-quoted with backslash escapes as libpq writes it.
var keywordSecret = regexp.MustCompile(`(?i)((?:^|[\s;,])[a-z_]*(?:password|secret|token)[a-z_]*\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s;,']*)`)

// KeywordSecrets returns the values that Redact masks in keyword/value text
// ("password=s3cret" gives s3cret), unquoted, for a caller that scrubs them
// from free text too.
func KeywordSecrets(raw string) []string {
	var out []string
	for _, m := range keywordSecret.FindAllStringSubmatch(raw, -1) {
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
