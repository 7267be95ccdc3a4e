package database

import (
	"net/url"
	"regexp"
	"strings"
)

// Redact returns the database URL with its password (and any password or
// token query parameter) replaced by "***", fit for output, logs and reports.
// Text that does not parse as a URL has anything that looks like
// "user:password@" masked all the same.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || (u.Host == "" && u.User == nil) {
		return userinfoPassword.ReplaceAllString(raw, "${1}:***@")
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

func secretParam(k string) bool {
	k = strings.ToLower(k)
	return strings.Contains(k, "password") || strings.Contains(k, "secret") ||
		strings.Contains(k, "token") || k == "sslpassword" || k == "key"
}
