package migration

import (
	"fmt"
	"strings"
)

// Split cuts text into statements with the lexical rules of dialect d.
// startLine is the file line on which text begins, so that each
// Statement.Line points into the file.
//
// A statement runs from its first character that is neither whitespace nor
// part of a comment to the last such character before its terminating ";".
// Comments and whitespace between statements are dropped; comments inside a
// statement are kept. Semicolons inside strings, quoted identifiers, comments,
// PostgreSQL dollar quotes and BEGIN ATOMIC bodies, MySQL and SQLite trigger
// and routine bodies do not end a statement, nor, as in psql, semicolons
// inside parentheses for PostgreSQL; for MySQL the client's "DELIMITER xx"
// lines are honoured.
//
// An unterminated string, quoted identifier, comment or dollar quote is an
// error wrapping ErrUnterminated; it is a *FileError with an empty File and
// the line where the construct began.
func Split(d Dialect, text string, startLine int) ([]Statement, error) {
	spans, scanErr := splitSpans(d, text, startLine)
	out := make([]Statement, len(spans))
	for i, sp := range spans {
		var err error
		if out[i], err = spanStatement(d, text, sp); err != nil {
			return nil, err // before scanErr in the text: the first problem
		}
	}
	if scanErr != nil {
		return nil, scanErr
	}
	return out, nil
}

// checkStatement refuses a statement Runway cannot run for the file: MySQL's
// LOCK TABLES, after which the history writes between statements fail, and
// PostgreSQL's COPY … FROM STDIN, whose rows follow it in a psql script (pg_dump's plain
// format) as data lines, not SQL. Sent, the server would wait for the rows
// with the migration lock held; split, the rows are statements of garbage.
func checkStatement(d Dialect, st Statement) error {
	if d == MySQL && len(st.SQL) > 5 && strings.EqualFold(st.SQL[:5], "lock ") {
		if w := strings.Fields(strings.ToLower(st.SQL)); len(w) > 1 && (w[1] == "tables" || w[1] == "table") {
			return &FileError{Line: st.Line, Err: fmt.Errorf(
				"%w: LOCK TABLES (as mysqldump writes it) lets the session touch only the tables it names, and Runway records each statement in its history table between them: remove LOCK TABLES and UNLOCK TABLES (mysqldump and mariadb-dump leave them out with --skip-add-locks); the migration lock already keeps other runners out",
				ErrUnsupported)}
		}
	}
	if d != Postgres || len(st.SQL) < 4 || !strings.EqualFold(st.SQL[:4], "copy") {
		return nil
	}
	words := strings.Fields(strings.ToLower(st.SQL))
	for i := 1; i+1 < len(words); i++ {
		if words[i] == "from" && strings.HasPrefix(words[i+1], "stdin") {
			return &FileError{Line: st.Line, Err: fmt.Errorf(
				"%w: COPY … FROM STDIN reads its rows from psql, as data lines after the statement, which a migration cannot send: load them with INSERT statements, or COPY … FROM a file on the database server",
				ErrUnsupported)}
		}
	}
	return nil
}

// span is the byte range text[start:end] of one statement starting on line.
// A span with meta set is a psql meta-command line instead (see
// scanner.metaCommand), which Split and splitStream refuse where it stands.
type span struct {
	start, end int
	line       int
	meta       bool
}

// spanStatement returns the statement sp marks in text, or the error that
// refuses it.
func spanStatement(d Dialect, text string, sp span) (Statement, error) {
	st := Statement{SQL: text[sp.start:sp.end], Line: sp.line}
	if sp.meta {
		name := metaName(st.SQL)
		if name == "" && len(st.SQL) > 1 {
			name = st.SQL[1:2] // \\, \!, \?
		}
		if len(name) > 24 {
			name = name[:24] + "…"
		}
		return Statement{}, &FileError{Line: sp.line, Err: fmt.Errorf(
			"%w: \\%s is a psql meta-command, not SQL: Runway sends the statements to the server itself and runs no psql commands; remove the line",
			ErrUnsupported, name)}
	}
	return st, checkStatement(d, st)
}

// splitSpans is Split without copying out the text, for property tests.
// After an error, the spans are those the scan found before it.
func splitSpans(d Dialect, text string, startLine int) ([]span, error) {
	s, err := newScanner(d, text, startLine)
	if err != nil {
		return nil, err
	}
	err = s.run()
	return s.spans, err
}

// trimStatement turns the text of a verbatim segment (StatementBegin …
// StatementEnd) into one statement: leading whitespace and comments are
// dropped, as are trailing ones and one final ";", so that the statement looks
// like those Split returns. ok is false when nothing but comments remain.
func trimStatement(text string, line int, d Dialect) (Statement, bool) {
	s, err := newScanner(d, text, line)
	if err == nil {
		s.verbatim = true
		err = s.run()
	}
	if err == nil && len(s.spans) == 0 {
		return Statement{}, false
	}
	if err != nil {
		// Unknown dialect or unterminated literal: the database will say
		// what is wrong; hand it the text with only whitespace trimmed.
		trimmed := strings.TrimSpace(text)
		if trimmed == "" {
			return Statement{}, false
		}
		lead := text[:strings.Index(text, trimmed)]
		return Statement{SQL: trimmed, Line: line + strings.Count(lead, "\n")}, true
	}
	sp := s.spans[0]
	sql := text[sp.start:sp.end]
	if s.lastSemi == sp.end-1 {
		sql = strings.TrimRight(sql[:len(sql)-1], " \t\r\n\f\v")
		if sql == "" {
			return Statement{}, false
		}
	}
	return Statement{SQL: sql, Line: sp.line}, true
}

// kw classifies a significant token for the block tracking that decides
// whether a ";" ends a statement.
type kw uint8

const (
	tokOther  kw = iota // any token without a role below
	tokSemi             // ";" inside a statement
	tokColon            // ":" (a MySQL label)
	tokEq               // "=" (DEFINER=…)
	tokAt               // "@" (user@host)
	tokRParen           // ")"
	tokDot              // "." (a qualified name: the word after it is a name, never a keyword)
	tokPunct            // "(", ",", an operator: a value may follow, never a block
	kwHeader            // REPLACE DEFINER AGGREGATE CURRENT_USER TEMP TEMPORARY: may precede TRIGGER…
	kwOr                // OR: in a header (OR REPLACE), or an operator
	kwBegin
	kwAtomic
	kwCase
	kwEnd
	kwIf
	kwLoop
	kwWhile
	kwRepeat
	kwFor
	kwCreate
	kwRoutine // TRIGGER, PROCEDURE, FUNCTION, EVENT
	kwTrigger
	kwThen
	kwElse
	kwDo
	kwRow
	kwNot
	kwAlter
	kwTrait   // DETERMINISTIC, SQL, DATA, INVOKER: a routine's characteristics, before its body
	kwValue   // SELECT, SET, WHERE, AND, ON, DISTINCT, BETWEEN, INTO, WHEN, HAVING, IN, FROM, UPDATE, TABLE: a value or a name follows, never a block
	kwValueMy // BY, XOR, MOD, DIV, LIKE, JOIN, OUT, INOUT, RETURN, DECLARE: the same in MySQL, where they are reserved; SQLite names columns so
	kwAs      // AS: a name follows, never a block's END (but BEGIN: MariaDB's Oracle mode, CREATE PROCEDURE p AS BEGIN)
)

// keyword classifies a word. w holds only identifier bytes, so OR-ing 0x20
// lowercases letters and leaves digits, '_' and '$' distinct from letters.
func keyword(w string) kw {
	switch len(w) {
	case 2:
		switch {
		case eqFold(w, "if"):
			return kwIf
		case eqFold(w, "in"), eqFold(w, "on"):
			return kwValue
		case eqFold(w, "as"):
			return kwAs
		case eqFold(w, "do"):
			return kwDo
		case eqFold(w, "or"):
			return kwOr
		case eqFold(w, "by"):
			return kwValueMy
		}
	case 3:
		switch {
		case eqFold(w, "end"):
			return kwEnd
		case eqFold(w, "row"):
			return kwRow
		case eqFold(w, "for"):
			return kwFor
		case eqFold(w, "not"):
			return kwNot
		case eqFold(w, "sql"):
			return kwTrait
		case eqFold(w, "and"):
			return kwValue
		case eqFold(w, "xor"), eqFold(w, "out"), eqFold(w, "mod"), eqFold(w, "div"):
			return kwValueMy
		case eqFold(w, "set"):
			return kwValue
		}
	case 4:
		switch {
		case eqFold(w, "case"):
			return kwCase
		case eqFold(w, "then"):
			return kwThen
		case eqFold(w, "else"):
			return kwElse
		case eqFold(w, "loop"):
			return kwLoop
		case eqFold(w, "temp"):
			return kwHeader
		case eqFold(w, "data"):
			return kwTrait
		case eqFold(w, "into"), eqFold(w, "when"), eqFold(w, "from"):
			return kwValue
		case eqFold(w, "like"), eqFold(w, "join"):
			return kwValueMy
		}
	case 5:
		switch {
		case eqFold(w, "begin"):
			return kwBegin
		case eqFold(w, "while"):
			return kwWhile
		case eqFold(w, "event"):
			return kwRoutine
		case eqFold(w, "alter"):
			return kwAlter
		case eqFold(w, "where"), eqFold(w, "table"):
			return kwValue
		case eqFold(w, "inout"):
			return kwValueMy
		}
	case 6:
		switch {
		case eqFold(w, "atomic"):
			return kwAtomic
		case eqFold(w, "create"):
			return kwCreate
		case eqFold(w, "repeat"):
			return kwRepeat
		case eqFold(w, "select"), eqFold(w, "having"), eqFold(w, "update"):
			return kwValue
		case eqFold(w, "return"):
			return kwValueMy
		}
	case 7:
		switch {
		case eqFold(w, "trigger"):
			return kwTrigger
		case eqFold(w, "replace"), eqFold(w, "definer"):
			return kwHeader
		case eqFold(w, "invoker"):
			return kwTrait
		case eqFold(w, "between"):
			return kwValue
		case eqFold(w, "declare"):
			return kwValueMy
		}
	case 8:
		switch {
		case eqFold(w, "function"):
			return kwRoutine
		case eqFold(w, "distinct"):
			return kwValue
		}
	case 9:
		switch {
		case eqFold(w, "procedure"):
			return kwRoutine
		case eqFold(w, "aggregate"), eqFold(w, "temporary"):
			return kwHeader
		}
	case 12:
		if eqFold(w, "current_user") {
			return kwHeader
		}
	case 13:
		if eqFold(w, "deterministic") {
			return kwTrait
		}
	}
	return tokOther
}

// eqFold compares an identifier to a lowercase ASCII keyword of the same length.
func eqFold(w, lower string) bool {
	for i := 0; i < len(lower); i++ {
		if w[i]|0x20 != lower[i] {
			return false
		}
	}
	return true
}

// hasPrefixFold reports whether s starts with the lowercase ASCII word lower,
// ignoring case.
func hasPrefixFold(s, lower string) bool {
	if len(s) < len(lower) {
		return false
	}
	for i := 0; i < len(lower); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// Byte classes.
const (
	clWord  = 1 << iota // may continue an identifier or number
	clStart             // may start an identifier or number
	clSpace             // whitespace other than '\n'
)

var class = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c >= 0x80:
			t[c] = clWord | clStart
		case c == '$':
			t[c] = clWord
		case c == ' ', c == '\t', c == '\r', c == '\f', c == '\v':
			t[c] = clSpace
		}
	}
	return t
}()

// scanner is a single pass over the bytes of a script.
type scanner struct {
	d    Dialect
	src  string
	i    int
	line int

	// The statement being read: start is -1 between statements.
	start, startLine int
	end              int // end of the last significant token
	lastSemi         int // offset of the last ";" token kept inside a statement
	words            int
	header           bool   // MySQL/SQLite: still in "CREATE [OR REPLACE] [DEFINER=…]" (MySQL: or "ALTER [DEFINER=…]")
	anonBlock        bool   // MySQL: the statement began with BEGIN, maybe MariaDB's "BEGIN NOT ATOMIC"
	compound         bool   // MySQL/SQLite CREATE TRIGGER|PROCEDURE|FUNCTION|EVENT, MySQL ALTER EVENT, MariaDB BEGIN NOT ATOMIC
	depth            int    // open BEGIN/CASE/IF/LOOP… blocks (or BEGIN ATOMIC for PostgreSQL)
	cases            []bool // MySQL/SQLite: cases[d-1] tells whether the block open at depth d is a CASE
	parens           int    // PostgreSQL: psql does not split inside parentheses
	prev             kw     // the previous significant token

	delim    string // MySQL client delimiter when not ";"
	noEscape bool   // MySQL: a SET sql_mode before turned NO_BACKSLASH_ESCAPES on
	verbatim bool   // never split: trimStatement
	spans    []span

	// cut is the offset just after the last delimiter that ended a
	// statement: what precedes it is final whatever text follows, so a
	// stream can be scanned again from there (see splitStream), with the
	// line and the MySQL delimiter in force at that point.
	cut, cutLine int
	cutDelim     string
	cutNoEscape  bool
}

func newScanner(d Dialect, src string, line int) (*scanner, error) {
	switch d {
	case Postgres, MySQL, SQLite:
	default:
		return nil, fmt.Errorf("unknown SQL dialect %q (want %s, %s or %s)", d, Postgres, MySQL, SQLite)
	}
	return &scanner{d: d, src: src, line: line, start: -1, lastSemi: -1, prev: tokSemi}, nil
}

func unterminated(line int, what string) error {
	return &FileError{Line: line, Err: fmt.Errorf("%w %s", ErrUnterminated, what)}
}

// mark records the first significant token of a statement.
func (s *scanner) mark(begin, line int) {
	if s.start < 0 {
		s.start = begin
		s.startLine = line
	}
}

// terminate ends the current statement, if any.
func (s *scanner) terminate() {
	if s.start >= 0 {
		s.spans = append(s.spans, span{start: s.start, end: s.end, line: s.startLine})
		if s.d == MySQL {
			if on, ok := noBackslashEscapes(s.src[s.start:s.end]); ok {
				s.noEscape = on
			}
		}
	}
	s.start = -1
	s.words = 0
	s.header = false
	s.anonBlock = false
	s.compound = false
	s.depth = 0
	s.cases = s.cases[:0]
	s.parens = 0
	s.prev = tokSemi
}

func (s *scanner) run() error {
	src := s.src
	n := len(src)
	pg, my, lite := s.d == Postgres, s.d == MySQL, s.d == SQLite
	for s.i < n {
		c := src[s.i]
		if c == '\n' {
			s.line++
			s.i++
			continue
		}
		if class[c]&clSpace != 0 {
			s.i++
			continue
		}
		if s.delim != "" && c == s.delim[0] && strings.HasPrefix(src[s.i:], s.delim) {
			s.terminate()
			s.i += len(s.delim)
			s.cut, s.cutLine, s.cutDelim, s.cutNoEscape = s.i, s.line, s.delim, s.noEscape
			continue
		}
		begin, line := s.i, s.line
		kind := tokOther
		switch {
		case c == ';':
			if s.delim == "" && !s.verbatim && s.depth == 0 && s.parens == 0 {
				s.terminate()
				s.i++
				s.cut, s.cutLine, s.cutDelim, s.cutNoEscape = s.i, s.line, s.delim, s.noEscape
				continue
			}
			s.lastSemi = s.i
			s.i++
			kind = tokSemi

		case c == '-' && s.i+1 < n && src[s.i+1] == '-' && (!my || s.start < 0 || s.i+2 >= n || src[s.i+2] <= ' '):
			// MySQL wants a blank after "--", but where a statement would
			// begin the mysql client takes any "--" to the end of the line
			// as a comment, as drizzle-kit's "--> statement-breakpoint"
			// lines expect; no statement begins with "--".
			s.skipLine()
			continue

		case c == '#' && my:
			s.skipLine()
			continue

		case c == '/' && s.i+1 < n && src[s.i+1] == '*':
			if my && s.i+2 < n && (src[s.i+2] == '!' || src[s.i+2] == '+' ||
				(src[s.i+2] == 'M' && s.i+3 < n && src[s.i+3] == '!')) {
				// Executable comment or optimizer hint: SQL to MySQL.
				k := strings.Index(src[s.i+2:], "*/")
				if k < 0 {
					return unterminated(line, "executable comment /*! … */")
				}
				s.advance(s.i + 2 + k + 2)
				break
			}
			if err := s.skipBlockComment(pg); err != nil {
				return err
			}
			continue

		case c == '\'':
			if err := s.quoted('\'', my && !s.noEscape, "string literal"); err != nil {
				return err
			}

		case c == '"':
			what := "quoted identifier"
			if my {
				what = "string literal"
			}
			if err := s.quoted('"', my && !s.noEscape, what); err != nil {
				return err
			}

		case c == '`' && (my || lite):
			if err := s.quoted('`', false, "quoted identifier"); err != nil {
				return err
			}

		case c == '[' && lite:
			k := strings.IndexByte(src[s.i+1:], ']')
			if k < 0 {
				return unterminated(line, "bracketed identifier")
			}
			s.advance(s.i + 1 + k + 1)

		case c == '\\' && pg && !s.verbatim:
			s.metaCommand()
			continue

		case c == '$' && pg:
			if err := s.dollar(); err != nil {
				return err
			}

		case c == '(':
			if pg {
				s.parens++
			}
			kind = tokPunct
			s.i++

		case c == ')':
			if pg && s.parens > 0 {
				s.parens--
			}
			kind = tokRParen
			s.i++

		case c == ':':
			kind = tokColon
			s.i++

		case c == '=':
			kind = tokEq
			s.i++

		case c == '@':
			kind = tokAt
			s.i++

		case c == '.':
			kind = tokDot
			s.i++

		case class[c]&clStart != 0:
			if pg && (c == 'e' || c == 'E') && s.i+1 < n && src[s.i+1] == '\'' {
				s.i++
				if err := s.quoted('\'', true, "string literal"); err != nil {
					return err
				}
				break
			}
			if my && s.start < 0 && (c == 'd' || c == 'D') && s.delimiterCommand() {
				continue
			}
			j := s.i + 1
			for j < n && class[src[j]]&clWord != 0 {
				if s.delim != "" && src[j] == s.delim[0] && strings.HasPrefix(src[j:], s.delim) {
					break // END$$
				}
				j++
			}
			s.i = j
			kind = tokOther
			if s.prev != tokDot {
				// NEW.end, t.begin: a column, not the end of a block.
				kind = keyword(src[begin:j])
			}
			if (kind == kwEnd || kind == kwBegin) && s.compound && !pg && s.columnAt(kind, j) {
				kind = tokOther
			}
			s.mark(begin, line)
			s.word(kind)

		default:
			if c != '}' { // {d '2024-01-01'} ends a value
				kind = tokPunct
			}
			s.i++
		}
		s.mark(begin, line)
		s.end = s.i
		s.prev = kind
	}
	s.terminate()
	return nil
}

// word updates the block tracking for a keyword.
func (s *scanner) word(k kw) {
	s.words++
	if s.verbatim || s.delim != "" || s.d == Postgres && s.depth == 0 && k != kwAtomic {
		return
	}
	if s.words == 1 {
		s.header = k == kwCreate || k == kwAlter && s.d == MySQL
		s.anonBlock = k == kwBegin && s.d == MySQL
		return
	}
	if s.anonBlock {
		// MariaDB's anonymous compound statement, "BEGIN NOT ATOMIC …
		// END", is one statement; a plain BEGIN [WORK] starts a transaction.
		if s.words == 2 && k == kwNot {
			return
		}
		s.anonBlock = false
		if s.words == 3 && k == kwAtomic {
			s.compound, s.depth = true, 1
		}
		return
	}
	if s.header {
		// Only "CREATE [OR REPLACE] [DEFINER=user@host] [AGGREGATE]
		// TRIGGER|PROCEDURE|FUNCTION|EVENT" (SQLite: "CREATE [TEMP] TRIGGER";
		// MySQL: also "ALTER [DEFINER=…] EVENT … DO body") opens a body
		// whose semicolons do not end the statement; a column named event
		// in a CREATE TABLE does not.
		switch {
		case k == kwTrigger || k == kwRoutine && s.d == MySQL:
			s.compound = true
			s.header = false
			return
		case k == kwHeader || k == kwOr || s.prev == tokEq || s.prev == tokAt || s.prev == tokDot:
		default:
			s.header = false
		}
	}
	switch s.d {
	case Postgres:
		switch {
		case k == kwAtomic && s.prev == kwBegin:
			s.depth++
		case k == kwCase:
			s.depth++
		case k == kwEnd:
			s.depth--
		}
	case SQLite:
		if !s.compound {
			return
		}
		switch k {
		case kwBegin, kwCase:
			s.open(k == kwCase)
		case kwEnd:
			if s.depth > 0 {
				s.depth--
			}
		}
	case MySQL:
		if !s.compound {
			return
		}
		switch k {
		case kwBegin:
			s.open(false)
		case kwCase:
			if s.prev != kwEnd {
				s.open(true)
			}
		case kwIf, kwLoop, kwWhile, kwRepeat, kwFor:
			// Only at the start of a statement in the body: not IF(…),
			// REPEAT(…), IF EXISTS, FOR EACH ROW, or END IF.
			switch s.prev {
			case tokSemi, tokColon, kwBegin, kwThen, kwElse, kwDo, kwLoop, kwRepeat, kwRow:
				s.open(false)
			case tokRParen, kwTrait:
				// A routine whose body is one compound statement right
				// after its parameters or characteristics: "CREATE
				// PROCEDURE p(x INT) [READS SQL DATA] IF x THEN …; END IF".
				// Not FOR, which follows a parenthesis in "… IN (1, 2) FOR
				// UPDATE".
				if s.depth == 0 && k != kwFor {
					s.open(false)
				}
			}
		case kwEnd:
			if s.depth > 0 {
				s.depth--
			}
		}
	}
}

// open records a block opened in a MySQL or SQLite body, a CASE or not.
func (s *scanner) open(isCase bool) {
	s.depth++
	s.cases = append(s.cases[:min(len(s.cases), s.depth-1)], isCase)
}

// inCase reports whether the innermost open block is a CASE.
func (s *scanner) inCase() bool {
	return s.depth > 0 && s.depth <= len(s.cases) && s.cases[s.depth-1]
}

// columnAt reports whether the BEGIN or END word k that ends at j is a
// column in a body (SET end = NOW(), WHERE begin IS NULL, SELECT begin,
// a + end, x BETWEEN begin AND end), not a block's start or end. A block's
// BEGIN or END is never compared, nor follows an operator, NOT, OR or a
// word that wants a value; an END never follows THEN or ELSE. A BEGIN
// followed by what only follows a value (an operator, ",", ")", ";", AND,
// FROM, THEN …) is a column too, so that no BEGIN is left open whose END
// reads as a column.
func (s *scanner) columnAt(k kw, j int) bool {
	switch s.prev {
	case tokEq, tokPunct:
		return true
	case kwValue, kwNot, kwOr:
		// Not before an SQLite trigger's body, where the word before its
		// BEGIN may be a table's name.
		if s.d == MySQL || s.depth > 0 {
			return true
		}
	case kwValueMy:
		if s.d == MySQL {
			return true
		}
	case kwThen, kwElse:
		if k == kwEnd {
			return true
		}
	case kwCase:
		return true // CASE end WHEN …
	case kwAs:
		if k == kwEnd {
			return true
		}
	}
	if k == kwEnd {
		// The END of a CASE may be compared or followed by anything
		// (CASE … END = 1, CASE … END AS x); a block's END is followed by
		// ";", a label or IF, LOOP …, never by what follows a value.
		return !s.inCase() && (comparedAt(s.src, j) || valueFollows(s.d, s.src, j, false))
	}
	return comparedAt(s.src, j) || valueFollows(s.d, s.src, j, true)
}

// valueFollows reports whether the text at i, after blanks, is what only
// follows a value: an operator, ",", ")", ".", ";" (with semi: after a
// BEGIN, not after an END), or a word such as AND, FROM or THEN; a comment
// does not count. DESC is a MySQL statement (DESC t), so it follows a
// value in SQLite only.
func valueFollows(d Dialect, src string, i int, semi bool) bool {
	for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
		i++
	}
	if i >= len(src) {
		return false
	}
	switch c := src[i]; c {
	case ';':
		return semi
	case ',', ')', '.', '+', '*', '%', '|', '&', '^', '=', '<', '>', '!':
		return true
	case '-', '/':
		return i+1 < len(src) && src[i+1] != c && src[i+1] != '*'
	}
	j := i
	for j < len(src) && class[src[j]]&clWord != 0 {
		j++
	}
	switch w := strings.ToLower(src[i:j]); w {
	case "and", "or", "xor", "from", "as", "then", "else", "when", "is", "in", "like", "between",
		"div", "mod", "regexp", "rlike", "asc", "limit", "into", "group", "order", "having",
		"where", "union", "on", "using", "join", "collate":
		return true
	case "desc":
		return d == SQLite
	}
	return false
}

// comparedAt reports whether the text at i, after blanks, compares or
// assigns (=, <, >, !=, :=, IS): the word before it is a value.
func comparedAt(src string, i int) bool {
	for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
		i++
	}
	if i >= len(src) {
		return false
	}
	switch src[i] {
	case '=', '<', '>':
		return true
	case '!', ':':
		return i+1 < len(src) && src[i+1] == '='
	case 'i', 'I':
		return i+1 < len(src) && (src[i+1] == 's' || src[i+1] == 'S') && (i+2 == len(src) || class[src[i+2]]&clWord == 0)
	}
	return false
}

// advance moves to offset j, counting the newlines passed.
func (s *scanner) advance(j int) {
	s.line += strings.Count(s.src[s.i:j], "\n")
	s.i = j
}

// metaCommand handles a psql meta-command at s.i: a backslash outside a
// string, quoted identifier, dollar quote or comment, which no PostgreSQL
// statement holds. Its arguments run to the end of the line; one after a
// statement's text (SELECT … \gset) ends that statement, as in psql. pg_dump's plain format opens and
// closes with \restrict and \unrestrict (since PostgreSQL 17.6, 16.10,
// 15.14, 14.19 and 13.22), which only limit what psql itself may run:
// they are skipped, so that a schema dump is a migration as it is. Any
// other is kept as a meta span, which Split and splitStream refuse.
func (s *scanner) metaCommand() {
	s.terminate()
	begin, line := s.i, s.line
	s.skipLine()
	text := strings.TrimRight(s.src[begin:s.i], " \t\r")
	if name := metaName(text); name != "restrict" && name != "unrestrict" {
		s.spans = append(s.spans, span{start: begin, end: begin + len(text), line: line, meta: true})
	}
	s.cut, s.cutLine, s.cutDelim, s.cutNoEscape = s.i, s.line, s.delim, s.noEscape
}

// metaName returns the name of the psql meta-command line text begins
// with, without its backslash: up to a blank or the next backslash.
func metaName(text string) string {
	name := text[1:]
	if k := strings.IndexAny(name, " \t\\"); k >= 0 {
		name = name[:k]
	}
	return name
}

func (s *scanner) skipLine() {
	k := strings.IndexByte(s.src[s.i:], '\n')
	if k < 0 {
		s.i = len(s.src)
		return
	}
	s.i += k // the '\n' is counted by the main loop
}

func (s *scanner) skipBlockComment(nested bool) error {
	src, line := s.src, s.line
	if !nested {
		k := strings.Index(src[s.i+2:], "*/")
		if k < 0 {
			return unterminated(line, "block comment /* … */")
		}
		s.advance(s.i + 2 + k + 2)
		return nil
	}
	depth := 0
	j := s.i
	for j+1 < len(src) {
		switch {
		case src[j] == '/' && src[j+1] == '*':
			depth++
			j += 2
		case src[j] == '*' && src[j+1] == '/':
			depth--
			j += 2
			if depth == 0 {
				s.advance(j)
				return nil
			}
		default:
			j++
		}
	}
	return unterminated(line, "block comment /* … */")
}

// quoted reads a string or quoted identifier opened by q at s.i. A doubled q
// stands for itself; with backslash, "\" escapes the next byte.
func (s *scanner) quoted(q byte, backslash bool, what string) error {
	src, line := s.src, s.line
	j := s.i + 1
	for {
		var k int
		if backslash {
			k = indexEither(src[j:], q, '\\')
		} else {
			k = strings.IndexByte(src[j:], q)
		}
		if k < 0 {
			return unterminated(line, what)
		}
		j += k
		if src[j] == '\\' {
			j += 2
			if j > len(src) {
				return unterminated(line, what)
			}
			continue
		}
		if j+1 < len(src) && src[j+1] == q {
			j += 2
			continue
		}
		s.advance(j + 1)
		return nil
	}
}

// indexEither is the index of the first a or b in s, or -1.
func indexEither(s string, a, b byte) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == a || c == b {
			return i
		}
	}
	return -1
}

// dollar reads a PostgreSQL dollar quote, a $1 parameter or a lone "$" at s.i.
// The main loop reads identifiers whole, including any "$" in them, so a "$"
// seen here does not follow an identifier character.
func (s *scanner) dollar() error {
	src, line := s.src, s.line
	j := s.i + 1
	if j < len(src) && src[j] >= '0' && src[j] <= '9' {
		for j < len(src) && src[j] >= '0' && src[j] <= '9' {
			j++
		}
		s.i = j
		return nil
	}
	for j < len(src) && class[src[j]]&clStart != 0 {
		j++
	}
	if j >= len(src) || src[j] != '$' {
		s.i++
		return nil
	}
	tag := src[s.i : j+1]
	k := strings.Index(src[j+1:], tag)
	if k < 0 {
		return unterminated(line, "dollar-quoted string "+tag)
	}
	s.advance(j + 1 + k + len(tag))
	return nil
}

// delimiterCommand handles a mysql client "DELIMITER xx" line at s.i, which
// starts a word between statements. It reports false when the text is not
// such a line.
func (s *scanner) delimiterCommand() bool {
	src := s.src
	if !atLineStart(src, s.i) || !hasPrefixFold(src[s.i:], "delimiter") {
		return false
	}
	j := s.i + len("delimiter")
	if j >= len(src) || (src[j] != ' ' && src[j] != '\t') {
		return false
	}
	for j < len(src) && (src[j] == ' ' || src[j] == '\t') {
		j++
	}
	a := j
	for j < len(src) && src[j] > ' ' {
		j++
	}
	if a == j {
		return false
	}
	s.delim = src[a:j]
	if s.delim == ";" {
		s.delim = ""
	}
	s.i = j
	s.skipLine()
	return true
}

// noBackslashEscapes tells, for a MySQL statement that sets the session's
// sql_mode (SET sql_mode = '…', as mysqldump writes it before a routine
// created under another mode: /*!50003 SET sql_mode = '…' */), whether
// backslashes stop escaping in the strings of the statements after it
// (NO_BACKSLASH_ESCAPES). A value that is not a literal (@saved_sql_mode,
// DEFAULT) is taken for the server's default, with escapes. ok is false
// for any other statement, and for what leaves the session's mode as it
// is: SET GLOBAL, MariaDB's SET STATEMENT … FOR, a user variable.
func noBackslashEscapes(stmt string) (on, ok bool) {
	if strings.HasPrefix(stmt, "/*!") || strings.HasPrefix(stmt, "/*M!") {
		stmt = strings.TrimSuffix(strings.TrimLeft(stmt[strings.IndexByte(stmt, '!')+1:], "0123456789"), "*/")
	}
	w := strings.Fields(stmt[:min(len(stmt), 32)])
	if len(w) < 2 || !strings.EqualFold(w[0], "set") || strings.EqualFold(w[1], "statement") {
		return false, false
	}
	stmt = strings.TrimLeft(stmt, " \t\r\n")[3:]
	for _, a := range SplitTopLevel(stmt, ',') {
		name, value, found := strings.Cut(a, "=")
		if !found {
			continue
		}
		name = strings.ToLower(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(name), ":")))
		for _, scope := range []string{"session ", "local ", "@@session.", "@@local.", "@@"} {
			name = strings.TrimSpace(strings.TrimPrefix(name, scope))
		}
		if name != "sql_mode" {
			continue // another variable, a user variable, GLOBAL or @@global.
		}
		value = strings.TrimSpace(value)
		ok = true
		on = value != "" && (value[0] == '\'' || value[0] == '"') && strings.Contains(strings.ToUpper(value), "NO_BACKSLASH_ESCAPES")
	}
	return on, ok
}

// SplitTopLevel splits s, MySQL text, at sep outside quoted strings and
// identifiers (with backslash escapes) and parentheses: the assignments of
// a SET.
func SplitTopLevel(s string, sep byte) []string {
	var out []string
	from := 0
	eachTopLevel(s, func(i int) bool {
		if s[i] == sep {
			out = append(out, s[from:i])
			from = i + 1
		}
		return false
	})
	return append(out, s[from:])
}

// eachTopLevel calls at with the index of each byte of s, MySQL text, that
// is outside quoted strings and identifiers (with backslash escapes) and
// parentheses, and is none of those delimiters, until at returns true.
func eachTopLevel(s string, at func(i int) bool) {
	var quote byte
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote != '`' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 0:
			if at(i) {
				return
			}
		}
	}
}

// atLineStart reports whether only spaces and tabs precede offset i on its line.
func atLineStart(src string, i int) bool {
	for i > 0 {
		i--
		switch src[i] {
		case '\n':
			return true
		case ' ', '\t', '\r':
		default:
			return false
		}
	}
	return true
}
