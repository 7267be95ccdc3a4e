package database

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://app:s3cret@db:5432/app?sslmode=verify-full", "postgres://app:***@db:5432/app?sslmode=verify-full"},
		{"mysql://root:pa/ss@host:3306/db", "mysql://root:***@host:3306/db"},
		{"mysql://root:p@ss:w@rd@host/db", "mysql://root:***@host/db"},
		{"postgres://app@db/app", "postgres://app@db/app"},
		{"postgres://db/app?password=s3cret", "postgres://db/app?password=***"},
		{"sqlite:runway.db", "sqlite:runway.db"},
	} {
		got := Redact(tc.in)
		if got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
		for _, secret := range []string{"s3cret", "pa/ss", "p@ss"} {
			if strings.Contains(got, secret) {
				t.Errorf("Redact(%q) leaks %q: %q", tc.in, secret, got)
			}
		}
	}
}
