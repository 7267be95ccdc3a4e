package database

import (
	"strings"
	"testing"
	"unicode"
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

// The secret patterns are compiled on first use and only for text that
// names a secret word; that check must see every spelling the patterns'
// (?i) matches, every letter in each of its Unicode case-fold forms ("ſ"
// for s, the Kelvin sign for k), or a secret would go unmasked.
func TestSecretWordEveryCase(t *testing.T) {
	for _, word := range []string{"password", "secret", "token"} {
		n := 0
		for _, spelling := range foldSpellings(word) {
			n++
			text := "host=db " + spelling + "=v4lue dbname=app"
			if !keywordSecret().MatchString(text) {
				t.Fatalf("the pattern does not match %q: the test's spellings are wrong", text)
			}
			if !namesSecret(text) {
				t.Errorf("namesSecret(%q) = false: the pattern would have masked it", text)
			}
			if got := KeywordSecrets(text); len(got) != 1 || got[0] != "v4lue" {
				t.Errorf("KeywordSecrets(%q) = %q, want [v4lue]", text, got)
			}
			if got := Redact(text); strings.Contains(got, "v4lue") {
				t.Errorf("Redact(%q) = %q: leaks the value", text, got)
			}
		}
		if n < 1<<len(word) {
			t.Errorf("%s: only %d spellings", word, n)
		}
	}
	for _, text := range []string{"host=db user=app sslmode=disable", "passwor=x secre=y toke=z", ""} {
		if namesSecret(text) {
			t.Errorf("namesSecret(%q) = true", text)
		}
		if got := KeywordSecrets(text); got != nil {
			t.Errorf("KeywordSecrets(%q) = %q, want none", text, got)
		}
	}
}

// foldSpellings is every spelling of word with each letter in each of its
// simple case-fold forms.
func foldSpellings(word string) []string {
	out := []string{""}
	for _, r := range word {
		forms := []rune{r}
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			forms = append(forms, f)
		}
		var next []string
		for _, prefix := range out {
			for _, f := range forms {
				next = append(next, prefix+string(f))
			}
		}
		out = next
	}
	return out
}
