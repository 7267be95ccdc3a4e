package migration

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// withLargeFile lowers LargeFile for one test.
func withLargeFile(t *testing.T, n int) {
	old := LargeFile
	LargeFile = n
	t.Cleanup(func() { LargeFile = old })
}

// A file above LargeFile is checked as a stream and read again statement by
// statement: same checksum, flags, errors and statements as in memory.
func TestStreamedScriptsMatchInMemory(t *testing.T) {
	var body strings.Builder
	for i := 0; i < 400; i++ {
		fmt.Fprintf(&body, "INSERT INTO t VALUES (%d, 'a;b', $$x;y$$); -- row %d\n", i, i)
	}
	big := body.String()
	cases := map[string]string{
		"0001_lf.up.sql":      "-- header\n-- runway:no-transaction\n\n" + big,
		"0002_crlf.up.sql":    strings.ReplaceAll("CREATE TABLE t (id int, a text, b text);\n"+big, "\n", "\r\n"),
		"0003_cr.up.sql":      strings.ReplaceAll(big, "\n", "\r"),
		"0004_bom.up.sql":     "\uFEFF" + big,
		"0005_noeol.up.sql":   strings.TrimSuffix(big, "\n"),
		"0005_noeol.down.sql": "DROP TABLE t;\n" + big,
		"V6__flyway.sql":      "SELECT 'é ✓';\n" + big,
		"0007_blank.up.sql":   strings.Repeat(" \n", 2000),
		"0008_dollars.up.sql": "DO $body$\nBEGIN\n" + strings.Repeat("  PERFORM 1; -- ;\n", 300) + "END\n$body$;\n" + big,
		"0009_goose.sql":      "-- +goose Up\n" + big + "-- +goose Down\nDROP TABLE t;\n",
	}
	fsys := fstest.MapFS{}
	for name, text := range cases {
		fsys[name] = &fstest.MapFile{Data: []byte(text)}
	}
	whole, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	withLargeFile(t, 1000)
	streamed, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if len(whole) != len(streamed) {
		t.Fatalf("%d migrations streamed, %d in memory", len(streamed), len(whole))
	}
	for i, w := range whole {
		s, format := streamed[i], w.Format
		for _, pair := range [][2]*Script{{w.Up, s.Up}, {w.Down, s.Down}} {
			w, s := pair[0], pair[1]
			if w == nil {
				continue
			}
			// goose files are parsed whole; a file of blanks has no text to stream.
			if wantStreamed := format != FormatGoose && !strings.Contains(s.File, "blank"); s.Streamed() != wantStreamed {
				t.Errorf("%s: streamed %v, want %v", s.File, s.Streamed(), wantStreamed)
			}
			if w.Checksum != s.Checksum || w.NoTransaction != s.NoTransaction {
				t.Errorf("%s: streamed checksum %s no-transaction %v, in memory %s %v", s.File, s.Checksum, s.NoTransaction, w.Checksum, w.NoTransaction)
			}
			for _, d := range []Dialect{Postgres, MySQL, SQLite} {
				want, err := w.Statements(d)
				if err != nil {
					t.Fatal(err)
				}
				all, err := s.Statements(d)
				if err != nil || len(all) != len(want) {
					t.Fatalf("%s %s: Statements of the streamed script: %d, %v; want %d", s.File, d, len(all), err, len(want))
				}
				var got []Statement
				for st, err := range s.StatementSeq(d) {
					if err != nil {
						t.Fatalf("%s %s: %v", s.File, d, err)
					}
					got = append(got, st)
				}
				if len(got) != len(want) {
					t.Fatalf("%s %s: %d statements streamed, %d in memory", s.File, d, len(got), len(want))
				}
				for k := range got {
					if got[k] != want[k] || all[k] != want[k] {
						t.Fatalf("%s %s: statement %d streamed %q line %d, in memory %q line %d", s.File, d, k+1, got[k].SQL, got[k].Line, want[k].SQL, want[k].Line)
					}
				}
			}
		}
	}
}

// Problems in a large file are found as in a small one, on the same line.
func TestStreamedLoadErrors(t *testing.T) {
	filler := strings.Repeat("SELECT 1;\n", 300)
	// A placeholder cut between two of the reader's 64 KiB pieces.
	long := "SELECT '" + strings.Repeat("x", 64<<10-12) + "${flyway:user}';\n"
	cases := map[string]string{
		"misplaced directive":  "SELECT 0;\n" + filler + "-- runway:no-transaction\n",
		"unknown directive":    "-- runway:nope\n" + filler,
		"invalid utf-8":        filler + "SELECT '\xff';\n",
		"utf-8 cut at the end": filler + "SELECT 'x';\n\xe2\x82",
		"utf-16":               "\xff\xfeS\x00E\x00L\x00\n\x00" + filler,
		// A combined file renamed alone: its down section would run on up.
		"goose markers":                    "-- +goose Up\nCREATE TABLE a (id int);\n" + filler + "-- +goose Down\nDROP TABLE a;\n",
		"sql-migrate marker":               filler + "-- +migrate Down\nDROP TABLE a;\n",
		"dbmate marker":                    filler + "--  migrate:down\nDROP TABLE a;\n",
		"V1__a.sql flyway placeholder":     filler + "INSERT INTO a VALUES ('${flyway:user}');\n",
		"V1__a.sql flyway placeholder cut": filler + long,
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			file := "0001_a.up.sql"
			if f, _, ok := strings.Cut(name, " "); strings.HasSuffix(f, ".sql") && ok {
				file = f
			}
			fsys := fstest.MapFS{file: &fstest.MapFile{Data: []byte(text)}}
			_, want := Load(fsys)
			if want == nil {
				t.Fatal("the in-memory load found no problem")
			}
			withLargeFile(t, 100)
			_, got := Load(fsys)
			if got == nil || got.Error() != want.Error() {
				t.Fatalf("streamed load: %v\nin memory:     %v", got, want)
			}
		})
	}
}

// A streamed file edited between loading and applying ends its statements
// with ErrChanged, before the last one: nothing of the edit is applied.
func TestStreamedFileChangedDuringRun(t *testing.T) {
	withLargeFile(t, 100)
	text := strings.Repeat("SELECT 1;\n", 100)
	fsys := fstest.MapFS{"0001_a.up.sql": &fstest.MapFile{Data: []byte(text)}}
	ms, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	fsys["0001_a.up.sql"].Data = []byte(strings.Replace(text, "SELECT 1", "SELECT 2", 1))
	n := 0
	var last error
	for _, err := range ms[0].Up.StatementSeq(Postgres) {
		if err != nil {
			last = err
			break
		}
		n++
	}
	if !errors.Is(last, ErrChanged) || n >= 100 {
		t.Fatalf("after %d statements: %v (want ErrChanged before the last)", n, last)
	}
	if _, err := ms[0].Up.Statements(Postgres); !errors.Is(err, ErrChanged) {
		t.Fatalf("Statements of the changed file: %v", err)
	}
}

// BenchmarkLoadStreamed loads a 48 MB file of multi-row INSERTs (W5's
// shape), checked as a stream: encoding, directives, foreign markers and
// checksum. go test -run XXX -bench LoadStreamed ./migration
func BenchmarkLoadStreamed(b *testing.B) {
	var sb strings.Builder
	for i := 0; sb.Len() < 48<<20; i++ {
		if i%1000 == 0 {
			sb.WriteString("INSERT INTO t (id, name, email) VALUES\n")
		}
		fmt.Fprintf(&sb, "(%d, 'name %d', 'user%d@example.com'),\n", i, i, i)
		if i%1000 == 999 {
			sb.WriteString("(0, 'x', 'y');\n")
		}
	}
	fsys := fstest.MapFS{"0001_a.up.sql": &fstest.MapFile{Data: []byte(sb.String())}}
	b.SetBytes(int64(sb.Len()))
	for b.Loop() {
		if _, err := Load(fsys); err != nil {
			b.Fatal(err)
		}
	}
}
