package migration

import "strings"

// StripComments returns the statement sql with each comment replaced by
// one space, under the lexical rules of dialect d (as Split reads them):
// what is inside strings, quoted identifiers and PostgreSQL dollar quotes
// is kept as it is. A MySQL executable comment (/*!40101 … */, MariaDB's
// /*M!100101 … */) is SQL to the server: its text is kept, its markers
// become spaces; but one of a version no server has (mariadb-dump's first
// line, /*M!999999\- enable the sandbox mode */) is a comment. It is for
// reading what a statement does, not for sending:
// with an unterminated string or comment, or an unknown dialect, sql comes
// back as it is.
func StripComments(d Dialect, sql string) string {
	out, _ := ReadComments(d, sql)
	return out
}

// ReadComments is StripComments that also reports whether sql could be
// read: false, with sql as it is, for an unterminated string or comment (a
// string that ends in a backslash under MySQL's NO_BACKSLASH_ESCAPES reads
// so) or an unknown dialect, where what the text holds is not known.
func ReadComments(d Dialect, sql string) (string, bool) {
	if !strings.Contains(sql, "--") && !strings.Contains(sql, "/*") && (d != MySQL || !strings.Contains(sql, "#")) {
		return sql, true
	}
	s, err := newScanner(d, sql, 1)
	if err != nil {
		return sql, false
	}
	my := d == MySQL
	var b strings.Builder
	b.Grow(len(sql))
	for s.i < len(sql) {
		c, from := sql[s.i], s.i
		var err error
		switch {
		case c == '-' && s.i+1 < len(sql) && sql[s.i+1] == '-' && (!my || s.i+2 >= len(sql) || sql[s.i+2] <= ' '),
			c == '#' && my:
			s.skipLine()
			b.WriteByte(' ')
			continue
		case c == '/' && s.i+1 < len(sql) && sql[s.i+1] == '*':
			if _, _, never, body, ok := ExecutableComment(sql[s.i:]); my && ok {
				k := strings.Index(body, "*/")
				if k < 0 {
					return sql, false
				}
				b.WriteByte(' ')
				if !never {
					b.WriteString(StripComments(d, body[:k]))
					b.WriteByte(' ')
				}
				s.i = len(sql) - len(body) + k + 2
				continue
			}
			err = s.skipBlockComment(d == Postgres)
			b.WriteByte(' ')
			if err != nil {
				return sql, false
			}
			continue
		case c == '\'':
			err = s.quoted('\'', my, "string literal")
		case c == '"':
			err = s.quoted('"', my, "quoted identifier")
		case c == '`' && d != Postgres:
			err = s.quoted('`', false, "quoted identifier")
		case c == '[' && d == SQLite:
			k := strings.IndexByte(sql[s.i:], ']')
			if k < 0 {
				return sql, false
			}
			s.i += k + 1
		case c == '$' && d == Postgres:
			err = s.dollar()
		case (c == 'e' || c == 'E') && d == Postgres && s.i+1 < len(sql) && sql[s.i+1] == '\'' &&
			(s.i == 0 || class[sql[s.i-1]]&clWord == 0):
			s.i++
			err = s.quoted('\'', true, "string literal")
		case class[c]&clWord != 0:
			// A word whole: the "$" in a PostgreSQL identifier starts no quote.
			for s.i < len(sql) && class[sql[s.i]]&clWord != 0 {
				s.i++
			}
		default:
			s.i++
		}
		if err != nil {
			return sql, false
		}
		b.WriteString(sql[from:s.i])
	}
	return b.String(), true
}

// neverRun reports whether the version of a MySQL executable comment is
// one no server has (99.0.0 and above), which marks text for the client
// alone. MariaDB reads a version of 5 digits as one of its own in /*M!
// (99999 is 9.99.99, below every MariaDB it runs on): only 6 digits can
// name a MariaDB it has yet to reach there.
func neverRun(version string, mariadb bool) bool {
	if mariadb {
		return len(version) >= 6 && version >= "990000"
	}
	return len(version) == 5 && version >= "99000" || len(version) >= 6 && version >= "990000"
}

// ExecutableComment reads the MySQL executable comment that sql starts
// with (/*!40101 SET NAMES utf8 */, MariaDB's /*M!100101 … */): mariadb
// tells MariaDB's, version is its digits, and body what follows them, to
// the end of sql. ok is false when sql starts with none. never reports a
// version no server has (mariadb-dump's /*M!999999\- enable the sandbox
// mode */), whose text is for the client alone.
func ExecutableComment(sql string) (version string, mariadb, never bool, body string, ok bool) {
	rest, ok := strings.CutPrefix(sql, "/*!")
	if !ok {
		if rest, ok = strings.CutPrefix(sql, "/*M!"); !ok {
			return "", false, false, "", false
		}
		mariadb = true
	}
	body = strings.TrimLeft(rest, "0123456789")
	version = rest[:len(rest)-len(body)]
	return version, mariadb, neverRun(version, mariadb), body, true
}

// StatementFor returns the statement that MariaDB's SET STATEMENT var =
// value [, var = value …] FOR statement runs, and true; "" and false for any
// other statement. Comments are read as the server reads them
// (StripComments); a FOR inside a quoted string, a quoted name or
// parentheses (a subquery's FOR UPDATE) is not the one. It reads the whole
// statement: callers ask it of statements that start with SET.
func StatementFor(sql string) (string, bool) {
	if !strings.Contains(strings.ToUpper(sql), "STATEMENT") {
		return "", false
	}
	s := StripComments(MySQL, sql)
	w, s := leadingWord(s)
	if !strings.EqualFold(w, "SET") {
		return "", false
	}
	if w, s = leadingWord(s); !strings.EqualFold(w, "STATEMENT") {
		return "", false
	}
	inner, found := "", false
	eachTopLevel(s, func(i int) bool {
		// Not a name that contains or ends in for: @for, t.for, a_for.
		if i+3 <= len(s) && strings.EqualFold(s[i:i+3], "FOR") && (i == 0 || !wordByte(s[i-1]) && s[i-1] != '@' && s[i-1] != '.') &&
			(i+3 == len(s) || !wordByte(s[i+3])) {
			inner, found = strings.TrimSpace(s[i+3:]), true
		}
		return found
	})
	return inner, found
}

// leadingWord returns the first word of s after blanks, and the rest.
func leadingWord(s string) (word, rest string) {
	s = strings.TrimLeft(s, " \t\r\n")
	n := 0
	for n < len(s) && wordByte(s[n]) {
		n++
	}
	return s[:n], s[n:]
}

// wordByte reports whether c can be part of an unquoted MySQL word.
func wordByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}
