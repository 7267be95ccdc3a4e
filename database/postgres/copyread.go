package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// A fresh backend answers COPY table (columns) TO STDOUT without planning a
// query: no index of the table is opened, which on a new connection is about
// a third of reading a thousand-row history (4.2 ms against 5.5 ms for the
// three columns up's no-op reads, 4.9 ms against 6.6 ms for the whole rows,
// medians of 40 new sessions each on the AMD machine; docs/benchmarks-history.md,
// "The round of 2026-12-02, 19:35 UTC").
// Every run of up and status reads the history once on a new connection, so
// the history is read this way, and with a SELECT when the server refuses
// the COPY (a view, a server or proxy without COPY).

// copyRows reads columns of the history table with COPY … TO STDOUT in the
// text format and calls fn with each row's fields (see copyText). A missing
// table or schema is no rows. refused reports that the server refused the
// COPY before any row reached fn: the caller can read with a SELECT instead.
func (d *Driver) copyRows(ctx context.Context, columns string, ncols int, fn func(row [][]byte) error) (refused bool, err error) {
	dec := &copyText{ncols: ncols, fn: fn}
	_, err = d.pg.CopyTo(ctx, dec, "COPY "+d.table+" ("+columns+") TO STDOUT")
	switch {
	case dec.err != nil:
		return false, fmt.Errorf("postgres: reading %s: %w", d.table, dec.err)
	case err == nil && len(dec.part) > 0:
		return false, fmt.Errorf("postgres: reading %s: the server's COPY data ended inside a row (a proxy cut the stream?); run again, and if it persists connect without the proxy", d.table)
	case err == nil:
		return false, nil
	}
	if herr := d.historyError(err); herr == nil {
		return false, nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && dec.rows == 0 && ctx.Err() == nil {
		return true, err
	}
	return false, fmt.Errorf("postgres: reading %s: %w", d.table, err)
}

// copyText decodes the text format of COPY … TO STDOUT, in whatever pieces
// the stream is written to it, and calls fn with each row's fields: nil for
// NULL, otherwise the field with its escapes undone. The slices are valid
// only during the call. A Write never fails, because pgconn closes the
// connection when a writer does: the first error (a row of the wrong width,
// or fn's) is kept in err and the rest of the stream is skipped.
type copyText struct {
	ncols int
	fn    func(row [][]byte) error
	rows  int    // rows passed to fn
	err   error  // the first error; the stream is skipped after it
	part  []byte // the start of a row whose end has not arrived
	row   [][]byte
}

func (c *copyText) Write(p []byte) (int, error) {
	n := len(p)
	if c.err != nil {
		return n, nil
	}
	if len(c.part) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.part = append(c.part, p...)
			return n, nil
		}
		c.part = append(c.part, p[:i]...)
		if c.err = c.line(c.part); c.err != nil {
			return n, nil
		}
		c.part = c.part[:0]
		p = p[i+1:]
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.part = append(c.part, p...)
			break
		}
		if c.err = c.line(p[:i]); c.err != nil {
			break
		}
		p = p[i+1:]
	}
	return n, nil
}

// line splits one row at its tabs (a tab or newline inside a field is
// escaped) and passes it to fn.
func (c *copyText) line(l []byte) error {
	c.row = c.row[:0]
	for {
		i := bytes.IndexByte(l, '\t')
		if i < 0 {
			c.row = append(c.row, copyField(l))
			break
		}
		c.row = append(c.row, copyField(l[:i]))
		l = l[i+1:]
	}
	if len(c.row) != c.ncols {
		return fmt.Errorf("a COPY row of %d fields, want %d", len(c.row), c.ncols)
	}
	c.rows++
	return c.fn(c.row)
}

// copyField is one field of a COPY text row as its value: nil for \N (NULL),
// else with the escapes COPY TO writes undone: \b \f \n \r \t \v for those
// control characters, and a backslash before any other character (itself,
// the delimiter) for that character. Without a backslash the field is its own
// value, not copied.
func copyField(f []byte) []byte {
	if len(f) == 2 && f[0] == '\\' && f[1] == 'N' {
		return nil
	}
	i := bytes.IndexByte(f, '\\')
	if i < 0 {
		return f[:len(f):len(f)]
	}
	out := make([]byte, i, len(f))
	copy(out, f[:i])
	for ; i < len(f); i++ {
		b := f[i]
		if b != '\\' || i+1 == len(f) {
			out = append(out, b)
			continue
		}
		i++
		if c := copyEscapes[f[i]]; c != 0 {
			out = append(out, c)
		} else {
			out = append(out, f[i])
		}
	}
	return out
}

// copyEscapes maps the letter after a backslash to the control character
// COPY TO wrote it for.
var copyEscapes = [256]byte{'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v'}

// isoTimestamptz reads a timestamptz as PostgreSQL writes it in DateStyle
// ISO: "2026-12-02 19:38:47.123456+00", the offset also as +05:45 or
// -00:44:30, the fraction from none to six digits. ok is false for anything
// else (a year past 9999, BC, ±infinity): the caller reads the history in
// binary instead.
func isoTimestamptz(b []byte) (t time.Time, ok bool) {
	if len(b) < 22 || b[4] != '-' || b[7] != '-' || b[10] != ' ' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 ||
		month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	i, nsec := 19, 0
	if b[i] == '.' {
		j := i + 1
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		n := j - i - 1
		if n < 1 || n > 9 {
			return time.Time{}, false
		}
		nsec, _ = digits(b[i+1 : j])
		for ; n < 9; n++ {
			nsec *= 10
		}
		i = j
	}
	if i >= len(b) || b[i] != '+' && b[i] != '-' {
		return time.Time{}, false
	}
	sign, zone := 1, b[i+1:]
	if b[i] == '-' {
		sign = -1
	}
	// ±HH, ±HH:MM or ±HH:MM:SS.
	offset, scale := 0, 3600
	for k := 0; k < 3 && len(zone) > 0; k++ {
		if k > 0 {
			if zone[0] != ':' {
				return time.Time{}, false
			}
			zone = zone[1:]
		}
		if len(zone) < 2 {
			return time.Time{}, false
		}
		n, ok := digits(zone[:2])
		if !ok || k > 0 && n > 59 {
			return time.Time{}, false
		}
		offset += n * scale
		scale /= 60
		zone = zone[2:]
	}
	if len(zone) > 0 || scale == 3600 {
		return time.Time{}, false
	}
	local := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if local.Day() != day {
		return time.Time{}, false // 31 November and the like
	}
	return local.Add(-time.Duration(sign*offset) * time.Second), true
}

// digits reads b as a decimal number of ASCII digits only.
func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
