package postgres

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/internal/testdb"
)

// TestCopyTextSplits: the rows and fields come out the same wherever pgconn
// splits the stream, escapes undone and \N read as NULL.
func TestCopyTextSplits(t *testing.T) {
	stream := "1\tab\\tc\\\\d\t\\N\n" + // tab and backslash escaped, a NULL
		"2\t\tline\\none\\rtwo\\b\\f\\v\\x\n" + // an empty field; \x is x
		"30\tx\\\\\\ty\tend\\\\\n" // a backslash before an escape; a field ending in a backslash
	want := [][]string{
		{"1", "ab\tc\\d", "<NULL>"},
		{"2", "", "line\none\rtwo\b\f\vx"},
		{"30", "x\\\ty", "end\\"},
	}
	for cut1 := 0; cut1 <= len(stream); cut1++ {
		for cut2 := cut1; cut2 <= len(stream); cut2++ {
			var got [][]string
			c := &copyText{ncols: 3, fn: func(row [][]byte) error {
				var r []string
				for _, f := range row {
					if f == nil {
						r = append(r, "<NULL>")
					} else {
						r = append(r, string(f))
					}
				}
				got = append(got, r)
				return nil
			}}
			for _, piece := range []string{stream[:cut1], stream[cut1:cut2], stream[cut2:]} {
				if n, err := c.Write([]byte(piece)); n != len(piece) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if c.err != nil || len(c.part) != 0 || !reflect.DeepEqual(got, want) {
				t.Fatalf("cuts %d, %d: got %q (err %v, left %q), want %q", cut1, cut2, got, c.err, c.part, want)
			}
		}
	}
}

// TestCopyTextErrors: a row of the wrong width or an error from fn stops the
// rows; the rest of the stream is accepted and skipped.
func TestCopyTextErrors(t *testing.T) {
	calls := 0
	c := &copyText{ncols: 2, fn: func([][]byte) error { calls++; return nil }}
	c.Write([]byte("1\ta\n2\tb\tc\n3\td\n"))
	if c.err == nil || !strings.Contains(c.err.Error(), "3 fields, want 2") || calls != 1 {
		t.Fatalf("err %v after %d rows", c.err, calls)
	}
	if n, err := c.Write([]byte("4\te\n")); n != 4 || err != nil || calls != 1 {
		t.Fatalf("Write after the error = %d, %v; %d rows", n, err, calls)
	}
	stop := errors.New("stop")
	c = &copyText{ncols: 1, fn: func(row [][]byte) error {
		calls++
		if string(row[0]) == "b" {
			return stop
		}
		return nil
	}}
	calls = 0
	c.Write([]byte("a\nb\nc\n"))
	if c.err != stop || calls != 2 || c.rows != 2 {
		t.Fatalf("err %v, %d calls, %d rows", c.err, calls, c.rows)
	}
}

func TestISOTimestamptz(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Time
	}{
		{"2026-12-02 19:38:47.123456+00", time.Date(2026, 12, 2, 19, 38, 47, 123456000, time.UTC)},
		{"2026-12-02 19:38:47+00", time.Date(2026, 12, 2, 19, 38, 47, 0, time.UTC)},
		{"2026-12-02 19:38:47.5-03", time.Date(2026, 12, 2, 22, 38, 47, 500000000, time.UTC)},
		{"2000-01-01 05:44:59.999999+05:45", time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC)},
		{"1970-01-01 00:00:00-00:44:30", time.Date(1970, 1, 1, 0, 44, 30, 0, time.UTC)},
		{"0099-03-01 00:00:00+00", time.Date(99, 3, 1, 0, 0, 0, 0, time.UTC)},
	} {
		got, ok := isoTimestamptz([]byte(c.in))
		if !ok || !got.Equal(c.want) || got.Location() != time.UTC {
			t.Errorf("%s: got %v, %v; want %v", c.in, got, ok, c.want)
		}
	}
	for _, in := range []string{
		"", "infinity", "-infinity", "2026-12-02 19:38:47", "2026-12-02T19:38:47+00",
		"12026-12-02 19:38:47+00", "2026-12-02 19:38:47+00 BC", "2026-11-31 10:00:00+00",
		"2026-13-01 10:00:00+00", "2026-12-02 24:00:00+00", "2026-12-02 19:38:47.+00",
		"2026-12-02 19:38:47.1234567890+00", "2026-12-02 19:38:47+0", "2026-12-02 19:38:47+05:3",
		"2026-12-02 19:38:47+05:30:00:00", "2026-12-02 19:38:47+05:60", "2026-12-02 19:38:47+05-30",
		"02.12.2026 19:38:47 UTC", "Wed Dec 02 19:38:47 2026 UTC",
	} {
		if got, ok := isoTimestamptz([]byte(in)); ok {
			t.Errorf("%q read as %v", in, got)
		}
	}
}

// TestHistoryReadAsCopy: on a table holding what a COPY's text has to escape,
// NULLs (a table made by hand) and times in zones with odd offsets, History
// and ScanStates read what the SELECT reads, through the COPY, whatever the
// session's DateStyle. The SELECT is what decodes a DateStyle other than
// ISO and the rows the COPY's text cannot say exactly (BC, a year past
// 9999), and what reads a view.
func TestHistoryReadAsCopy(t *testing.T) {
	ctx := context.Background()
	d := open(t, testdb.Postgres(t), database.Config{Table: "copied"})
	query(t, d, `CREATE TABLE copied (version text PRIMARY KEY, name text, checksum text, state text,
	applied_at timestamptz, duration_ms bigint, applied_by text, statements_applied integer,
	statements_total integer, statement_checksums text, error text)`)
	query(t, d, `INSERT INTO copied VALUES
	('1', E'tab\there\nnew line\\back\\\\slash', 'sum1', 'applied', '2026-12-02 19:38:47.123456+00', 12, E'ci\r\n', 2, 2, 'a,b', E'\b\f' || chr(11)),
	('2', NULL, NULL, 'applied', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	('3', '\N', '', 'failed', '1970-01-01 00:00:00-00:44:30', 0, '', 1, 3, '', 'boom'),
	('4', 'kathmandu', 's4', 'applied', '1999-12-31 23:59:59.999999+05:45', 5, 'x', 1, 1, 's', '')`)
	query(t, d, "SET TimeZone = 'Africa/Monrovia'") // -00:44:30 before 1972
	if query(t, d, "SELECT '1970-01-01 00:00:00-00:44:30'::timestamptz::text") != "1970-01-01 00:00:00-00:44:30" {
		t.Fatal("the session does not write the offset with seconds")
	}
	read := func(label string, wantSelects int) []database.Revision {
		t.Helper()
		before := d.selectReads
		revs, err := d.History(ctx)
		if err != nil || len(revs) != 4 {
			t.Fatalf("%s: History = %v, %v", label, revs, err)
		}
		var scanned []string
		err = d.ScanStates(ctx, func(v, sum, state []byte) error {
			scanned = append(scanned, fmt.Sprintf("%s|%s|%s", v, sum, state))
			return nil
		})
		want := []string{"1|sum1|applied", "2||applied", "3||failed", "4|s4|applied"}
		if err != nil || !reflect.DeepEqual(scanned, want) {
			t.Fatalf("%s: ScanStates = %q, %v; want %q", label, scanned, err, want)
		}
		if got := d.selectReads - before; got != wantSelects {
			t.Fatalf("%s: %d of the two reads were a SELECT, want %d", label, got, wantSelects)
		}
		return revs
	}
	iso := read("DateStyle ISO", 0)
	r := iso[0]
	if r.Name != "tab\there\nnew line\\back\\\\slash" || r.AppliedBy != "ci\r\n" || r.Error != "\b\f\v" ||
		r.Duration != 12*time.Millisecond || r.StatementsApplied != 2 || r.StatementsTotal != 2 ||
		!reflect.DeepEqual(r.StatementChecksums, []string{"a", "b"}) ||
		!r.AppliedAt.Equal(time.Date(2026, 12, 2, 19, 38, 47, 123456000, time.UTC)) {
		t.Errorf("row 1: %+v", r)
	}
	if r := iso[1]; r.Name != "" || r.Checksum != "" || r.Duration != 0 || r.StatementChecksums != nil ||
		!r.AppliedAt.Equal(time.UnixMicro(0)) || r.AppliedAt.Location() != time.UTC {
		t.Errorf("row of NULLs: %+v", r)
	}
	if r := iso[2]; r.Name != `\N` || !r.AppliedAt.Equal(time.Date(1970, 1, 1, 0, 44, 30, 0, time.UTC)) {
		t.Errorf("row 3: name %q, applied at %v", r.Name, r.AppliedAt)
	}
	if r := iso[3]; !r.AppliedAt.Equal(time.Date(1999, 12, 31, 18, 14, 59, 999999000, time.UTC)) {
		t.Errorf("row 4: applied at %v", r.AppliedAt)
	}

	query(t, d, "SET DateStyle = 'German'")
	if got := read("DateStyle German", 1); !reflect.DeepEqual(got, iso) {
		t.Errorf("DateStyle German:\n got %+v\nwant %+v", got, iso)
	}
	query(t, d, "SET DateStyle = 'ISO, DMY'")
	query(t, d, "UPDATE copied SET applied_at = '0044-03-15 12:00:00+00 BC' WHERE version = '4'")
	bc := read("a BC row", 1)
	if !bc[3].AppliedAt.Equal(time.Date(-43, 3, 15, 12, 0, 0, 0, time.UTC)) || !reflect.DeepEqual(bc[:3], iso[:3]) {
		t.Errorf("a BC row: %+v", bc)
	}

	query(t, d, "ALTER TABLE copied RENAME TO copied_t")
	query(t, d, "CREATE VIEW copied AS SELECT * FROM copied_t")
	if got := read("a view", 2); !reflect.DeepEqual(got, bc) {
		t.Errorf("a view:\n got %+v\nwant %+v", got, bc)
	}
}

// copyOut writes fields as PostgreSQL's COPY TO writes a row in the text
// format (CopyAttributeOutText): \b \f \n \r \t \v and the backslash escaped,
// other bytes as they are, NULL (nil) as \N.
func copyOut(fields [][]byte) []byte {
	var b []byte
	for i, f := range fields {
		if i > 0 {
			b = append(b, '\t')
		}
		if f == nil {
			b = append(b, `\N`...)
			continue
		}
		for _, c := range f {
			switch c {
			case '\b', '\f', '\n', '\r', '\t', '\v', '\\':
				b = append(b, '\\', map[byte]byte{'\b': 'b', '\f': 'f', '\n': 'n', '\r': 'r', '\t': 't', '\v': 'v', '\\': '\\'}[c])
			default:
				b = append(b, c)
			}
		}
	}
	return append(b, '\n')
}

// FuzzCopyText: rows written as the server writes them read back as they
// were, wherever the stream is cut; and a timestamp written as the server
// writes it in DateStyle ISO reads back as the same instant.
func FuzzCopyText(f *testing.F) {
	f.Add([]byte("a\tb\\c"), []byte(`\N`), true, uint16(3), int64(1764704327123456), int32(20700))
	f.Add([]byte(""), []byte("\n\r\x00"), false, uint16(0), int64(-2208988800000000), int32(-2670))
	f.Fuzz(func(t *testing.T, a, b []byte, bNull bool, cut uint16, us int64, offset int32) {
		if bNull {
			b = nil
		}
		rows := [][][]byte{{a, b}, {b, a}, {[]byte("x"), nil}}
		var stream []byte
		for _, r := range rows {
			stream = append(stream, copyOut(r)...)
		}
		var got [][][]byte
		c := &copyText{ncols: 2, fn: func(row [][]byte) error {
			var r [][]byte
			for _, f := range row {
				if f != nil {
					f = append([]byte{}, f...)
				}
				r = append(r, f)
			}
			got = append(got, r)
			return nil
		}}
		k := int(cut) % (len(stream) + 1)
		c.Write(stream[:k])
		c.Write(stream[k:])
		if c.err != nil || len(c.part) != 0 || len(got) != len(rows) {
			t.Fatalf("%q: %d rows, err %v, left %q", stream, len(got), c.err, c.part)
		}
		for i := range rows {
			for j := range rows[i] {
				if (got[i][j] == nil) != (rows[i][j] == nil) || string(got[i][j]) != string(rows[i][j]) {
					t.Fatalf("%q: row %d field %d = %q, want %q", stream, i, j, got[i][j], rows[i][j])
				}
			}
		}

		// Years 1–9999, offsets within ±15:59:59 as PostgreSQL allows.
		const lo, hi = -62135596800000000, 253402300799999999
		us = lo + int64(uint64(us)%uint64(hi-lo))
		off := int(offset) % (16 * 3600)
		at := time.UnixMicro(us).UTC()
		local := at.Add(time.Duration(off) * time.Second)
		if local.Year() < 1 || local.Year() > 9999 {
			return
		}
		text := local.Format("2006-01-02 15:04:05")
		if frac := local.Nanosecond() / 1000; frac != 0 {
			text += strings.TrimRight(fmt.Sprintf(".%06d", frac), "0")
		}
		sign, a2 := "+", off
		if off < 0 {
			sign, a2 = "-", -off
		}
		text += fmt.Sprintf("%s%02d", sign, a2/3600)
		if a2%3600 != 0 {
			text += fmt.Sprintf(":%02d", a2%3600/60)
			if a2%60 != 0 {
				text += fmt.Sprintf(":%02d", a2%60)
			}
		}
		if got, ok := isoTimestamptz([]byte(text)); !ok || !got.Equal(at) {
			t.Fatalf("%s: read %v, %v; want %v", text, got, ok, at)
		}
	})
}
