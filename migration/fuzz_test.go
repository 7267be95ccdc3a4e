package migration

import (
	"strings"
	"testing"
)

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1", "0001", "20240101120000", "1.1", "1_1", "2.0.3", "1.0", "", ".", "1..2", "_1", "18446744073709551616"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		if v.IsZero() {
			t.Fatalf("ParseVersion(%q) accepted a zero version", s)
		}
		w, err := ParseVersion(v.String())
		if err != nil || !w.Equal(v) || w.String() != v.String() {
			t.Fatalf("ParseVersion(%q).String() = %q does not parse back: %v", s, v.String(), err)
		}
		if v.Compare(w) != 0 || w.Compare(v) != 0 {
			t.Fatalf("Compare not symmetric for %q", s)
		}
	})
}

func FuzzParseFile(f *testing.F) {
	seeds := []struct{ name, content string }{
		{"0001_a.up.sql", "-- runway:no-transaction\nSELECT 1;"},
		{"0001_a.down.sql", "SELECT 1;"},
		{"1_a.sql", "-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n-- +goose StatementEnd\n-- +goose Down\nSELECT 2;"},
		{"2_b.sql", "-- +migrate Up notransaction\nSELECT 1;\n-- +migrate Down\n"},
		{"3_c.sql", "-- migrate:up transaction:false\r\nSELECT 1;\r\n-- migrate:down\r\n"},
		{"V1.1__x.sql", "\ufeffSELECT 1;"},
		{"U1__x.sql", ""},
		{"R__x.sql", ""},
		{"schema.sql", "\xff"},
		{"V0__.sql", "\r000"}, // a lone CR ends a line (found by fuzzing the oracle)
	}
	for _, s := range seeds {
		f.Add(s.name, s.content)
	}
	f.Fuzz(func(t *testing.T, name, content string) {
		m, err := ParseFile(name, []byte(content))
		if err != nil {
			if m != nil {
				t.Fatal("a Migration returned with an error")
			}
			return
		}
		if m.Up == nil && m.Down == nil {
			t.Fatal("a Migration with neither direction")
		}
		// The same file with CRLF line endings and a BOM is the same migration.
		variant := content
		if !strings.Contains(content, "\r") {
			variant = strings.ReplaceAll(content, "\n", "\r\n")
		}
		variant = "\ufeff" + strings.TrimPrefix(variant, "\ufeff")
		m2, err := ParseFile(name, []byte(variant))
		if err != nil {
			t.Fatalf("CRLF variant failed: %v", err)
		}
		// CRLF, and a lone CR, each end one line.
		lines := strings.Count(strings.ReplaceAll(content, "\r\n", "\n"), "\n") + strings.Count(strings.ReplaceAll(content, "\r\n", ""), "\r") + 1
		for i, s := range []*Script{m.Up, m.Down} {
			s2 := []*Script{m2.Up, m2.Down}[i]
			if (s == nil) != (s2 == nil) {
				t.Fatal("CRLF variant has different directions")
			}
			if s == nil {
				continue
			}
			if s.Checksum != s2.Checksum {
				t.Fatalf("CRLF variant has checksum %s, want %s", s2.Checksum, s.Checksum)
			}
			for _, seg := range s.Segments {
				if seg.Line < 1 || seg.Line > lines {
					t.Fatalf("segment on line %d of %d", seg.Line, lines)
				}
			}
			for _, d := range dialects {
				stmts, err := s.Statements(d)
				if err != nil {
					continue
				}
				for _, st := range stmts {
					if st.Line < 1 || st.Line > lines || st.SQL == "" {
						t.Fatalf("%s statement %+v out of %d lines", d, st, lines)
					}
				}
			}
		}
	})
}
