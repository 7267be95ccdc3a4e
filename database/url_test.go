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
		{"postgres://db/app?user=app&password=s3cret&sslmode=disable", "postgres://db/app?user=app&password=***&sslmode=disable"},
		{"sqlite:runway.db", "sqlite:runway.db"},
		{"host=db user=app password=s3cret dbname=app", "host=db user=app password=*** dbname=app"},
		{"host=db password = 's3cret x\\' y' sslpassword=p@ss", "host=db password = *** sslpassword=***"},
		{"Server=db;Password=pa/ss;Database=x", "Server=db;Password=***;Database=x"},
		{"user=app sslmode=disable", "user=app sslmode=disable"},
		{"host=db user=app password=s3c&ret dbname=app", "host=db user=app password=*** dbname=app"},
		{"app:s3cret@tcp(127.0.0.1:3306)/db", "app:***@tcp(127.0.0.1:3306)/db"},
		{"app:p@ss/w:rd@tcp(db:3306)/app?parseTime=true", "app:***@tcp(db:3306)/app?parseTime=true"},
		{"root:s3cret@/db", "root:***@/db"},
		{"root@tcp(db)/app", "root@tcp(db)/app"},
		{"jdbc:postgresql://db/app?user=app&password=s3cret&ssl=true", "jdbc:postgresql://db/app?user=app&password=***&ssl=true"},
	} {
		got := Redact(tc.in)
		if got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
		for _, secret := range []string{"s3cret", "pa/ss", "p@ss", " y", "c&ret"} {
			if strings.Contains(got, secret) {
				t.Errorf("Redact(%q) leaks %q: %q", tc.in, secret, got)
			}
		}
	}
}

func TestKeywordSecrets(t *testing.T) {
	got := KeywordSecrets(`host=db password='it\'s one' api_token=abcd sslmode=disable`)
	want := []string{`it\'s one`, "it's one", "abcd"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("KeywordSecrets = %q, want %q", got, want)
	}
}
