package migration

import (
	"errors"
	"fmt"
	"strings"
)

// A combined file (VERSION_name.sql) holds both directions, separated by
// marker comments whose spelling depends on the tool that wrote it:
//
//	goose:       -- +goose Up | Down | StatementBegin | StatementEnd | NO TRANSACTION
//	sql-migrate: -- +migrate Up [notransaction] | Down [notransaction] | StatementBegin | StatementEnd
//	dbmate:      -- migrate:up [transaction:false] | -- migrate:down [transaction:false]
//
// Like the tools themselves, markers are recognised line by line, wherever
// they are; unlike them, a misspelt marker is an error rather than a comment.

type markerAction int

const (
	markNone markerAction = iota
	markUp
	markDown
	markBegin
	markEnd
	markNoTx // goose NO TRANSACTION: both directions
)

type marker struct {
	format Format
	action markerAction
	noTx   bool   // sql-migrate notransaction, dbmate transaction:false
	err    error  // unknown or unsupported directive
	text   string // the marker as written, for messages
}

// noTransactionMarker is how a file of format f says that its migration
// runs outside a transaction.
func noTransactionMarker(f Format) string {
	switch f {
	case FormatGoose:
		return "-- +goose NO TRANSACTION"
	case FormatSQLMigrate:
		return "-- +migrate Up notransaction (and Down notransaction)"
	}
	return "-- migrate:up transaction:false (and migrate:down transaction:false)"
}

// readMarker reports whether line is a marker comment of one of the formats.
func readMarker(line string) (marker, bool) {
	rest, ok := strings.CutPrefix(strings.TrimLeft(line, " \t"), "--")
	if !ok {
		return marker{}, false
	}
	rest = strings.TrimLeft(rest, " \t")
	m := marker{text: strings.TrimSpace(line)}
	var args string
	switch {
	case strings.HasPrefix(rest, "+goose"):
		m.format, args = FormatGoose, rest[len("+goose"):]
	case strings.HasPrefix(rest, "+migrate"):
		m.format, args = FormatSQLMigrate, rest[len("+migrate"):]
	case strings.HasPrefix(rest, "migrate:"):
		m.format, args = FormatDbmate, " "+rest[len("migrate:"):]
	default:
		return marker{}, false
	}
	if args != "" && args[0] != ' ' && args[0] != '\t' {
		m.err = unknownMarker(m)
		return m, true
	}
	fields := strings.Fields(args)
	if len(fields) == 0 {
		m.err = unknownMarker(m)
		return m, true
	}
	cmd, opts := strings.ToLower(fields[0]), fields[1:]
	switch m.format {
	case FormatGoose:
		switch strings.ToLower(strings.Join(fields, " ")) {
		case "up":
			m.action = markUp
		case "down":
			m.action = markDown
		case "statementbegin":
			m.action = markBegin
		case "statementend":
			m.action = markEnd
		case "no transaction":
			m.action = markNoTx
		case "envsub off", "envsubst off": // goose writes ENVSUB
			m.action = markNone
		case "envsub on", "envsubst on":
			m.err = fmt.Errorf("%w: %q: environment substitution is not supported", ErrUnsupported, m.text)
		default:
			m.err = unknownMarker(m)
		}
	case FormatSQLMigrate:
		switch cmd {
		case "up", "down":
			m.action = markUp
			if cmd == "down" {
				m.action = markDown
			}
			for _, o := range opts {
				if o != "notransaction" {
					m.err = unknownMarker(m)
				}
				m.noTx = true
			}
		case "statementbegin", "statementend":
			m.action = markBegin
			if cmd == "statementend" {
				m.action = markEnd
			}
			if len(opts) > 0 {
				m.err = unknownMarker(m)
			}
		default:
			m.err = unknownMarker(m)
		}
	case FormatDbmate:
		switch cmd {
		case "up", "down":
			m.action = markUp
			if cmd == "down" {
				m.action = markDown
			}
			for _, o := range opts {
				switch o {
				case "transaction:false":
					m.noTx = true
				case "transaction:true":
				default:
					m.err = unknownMarker(m)
				}
			}
		default:
			m.err = unknownMarker(m)
		}
	}
	return m, true
}

func unknownMarker(m marker) error {
	var want string
	switch m.format {
	case FormatGoose:
		want = "-- +goose Up, Down, StatementBegin, StatementEnd or NO TRANSACTION"
	case FormatSQLMigrate:
		want = "-- +migrate Up [notransaction], Down [notransaction], StatementBegin or StatementEnd"
	default:
		want = "-- migrate:up [transaction:false] or -- migrate:down [transaction:false]"
	}
	return fmt.Errorf("%w %q: want %s", ErrUnknownDirective, m.text, want)
}

// combinedParser is the state of parseCombined.
type combinedParser struct {
	name, text string
	format     Format
	errs       []error

	up, down     *Script
	cur          *Script // the section being read; nil before the Up marker
	upAt, downAt int     // offsets of the Up and Down marker lines
	upLine       int
	beginLine    int // line of an open StatementBegin, or 0
	segStart     int // where the current segment's text starts
	segLine      int
	outside      bool // SQL before the Up marker was reported
}

func (p *combinedParser) fail(line int, err error) {
	p.errs = append(p.errs, &FileError{File: p.name, Line: line, Err: err})
}

// flush closes the segment that runs up to offset end.
func (p *combinedParser) flush(end int, verbatim bool) {
	if p.cur != nil && p.segStart < end {
		if t := p.text[p.segStart:end]; strings.TrimSpace(t) != "" {
			p.cur.Segments = append(p.cur.Segments, Segment{Text: t, Line: p.segLine, Verbatim: verbatim})
		}
	}
}

// parseCombined reads a goose, sql-migrate or dbmate file into m.
func parseCombined(name, text string, m *Migration) (*Migration, error) {
	p := &combinedParser{name: name, text: text, downAt: -1}
	noTx := false
	badMarker := false // a misspelt marker may be the missing Up: say that, not both
	// The file's format is its first valid marker's: a comment that only
	// resembles another tool's marker ("-- migrate: moved from dbmate")
	// does not decide it.
	for _, line := range lines(text) {
		if mk, ok := readMarker(line.text); ok && mk.err == nil {
			p.format = mk.format
			break
		}
	}
	type directiveLine struct {
		ln   int
		text string
		sec  *Script // the section it is in; nil before the first marker
	}
	// "-- runway:no-transaction" lines where a directive would go (before
	// a section's first statement), which do nothing here.
	var directives []directiveLine
	stmtSeen := false // the current section has SQL before this line
	inBlock := false  // inside a /* … */ comment before the section's SQL
	for ln, line := range lines(text) {
		mk, ok := readMarker(line.text)
		if !ok {
			trimmed := strings.TrimLeft(line.text, " \t")
			if d, isDirective := runwayDirective(trimmed); isDirective && d == "no-transaction" && !stmtSeen && !inBlock && p.beginLine == 0 {
				directives = append(directives, directiveLine{ln, strings.TrimSpace(line.text), p.cur})
			}
			if p.cur != nil && !stmtSeen {
				// Block comments before a section's SQL (a description)
				// are no SQL, as in a native file's header.
				rest := trimmed
				if !inBlock && strings.HasPrefix(rest, "/*") {
					inBlock, rest = true, rest[2:]
				}
				if inBlock {
					end := strings.Index(rest, "*/")
					if end < 0 {
						continue
					}
					inBlock, rest = false, strings.TrimSpace(rest[end+2:])
				}
				if rest != "" && !strings.HasPrefix(rest, "--") {
					stmtSeen = true
				}
			}
			if p.cur == nil && !p.outside {
				if t := strings.TrimSpace(line.text); t != "" && !strings.HasPrefix(t, "--") {
					p.outside = true
					p.fail(ln, fmt.Errorf("%w: statements must follow the up marker", ErrOutsideSection))
				}
			}
			continue
		}
		if p.format == "" {
			p.format = mk.format
		}
		if mk.format != p.format {
			if mk.err != nil {
				continue // not even a marker of the other tool's: a comment, as the tool reads it
			}
			p.fail(ln, fmt.Errorf("%w %q: a %s marker in a %s file", ErrUnknownDirective, mk.text, mk.format, p.format))
			continue
		}
		if mk.err != nil {
			p.fail(ln, mk.err)
			badMarker = true
			continue
		}
		next := min(line.offset+len(line.text)+1, len(text))
		switch mk.action {
		case markNoTx:
			noTx = true
		case markUp:
			if p.up != nil {
				p.fail(ln, fmt.Errorf("%w %q: a second up marker (the first is on line %d)", ErrMisplacedMarker, mk.text, p.upLine))
				continue
			}
			p.up = &Script{File: name, NoTransaction: mk.noTx}
			p.cur, p.upAt, p.upLine = p.up, line.offset, ln
			stmtSeen, inBlock = false, false
			p.segStart, p.segLine = next, ln+1
		case markDown:
			switch {
			case p.up == nil:
				p.fail(ln, fmt.Errorf("%w %q: the down section comes before any up marker", ErrMisplacedMarker, mk.text))
				continue
			case p.down != nil:
				p.fail(ln, fmt.Errorf("%w %q: a second down marker", ErrMisplacedMarker, mk.text))
				continue
			case p.beginLine > 0:
				p.fail(ln, fmt.Errorf("%w %q: inside the StatementBegin block of line %d", ErrMisplacedMarker, mk.text, p.beginLine))
				continue
			}
			p.flush(line.offset, false)
			p.down = &Script{File: name, NoTransaction: mk.noTx}
			p.cur, p.downAt = p.down, line.offset
			stmtSeen, inBlock = false, false
			p.segStart, p.segLine = next, ln+1
		case markBegin:
			switch {
			case p.cur == nil:
				p.fail(ln, fmt.Errorf("%w %q: before the up marker", ErrMisplacedMarker, mk.text))
				continue
			case p.beginLine > 0:
				p.fail(ln, fmt.Errorf("%w %q: the StatementBegin of line %d is still open", ErrMisplacedMarker, mk.text, p.beginLine))
				continue
			}
			p.flush(line.offset, false)
			p.beginLine = ln
			p.segStart, p.segLine = next, ln+1
		case markEnd:
			if p.beginLine == 0 {
				p.fail(ln, fmt.Errorf("%w %q: no StatementBegin before it", ErrMisplacedMarker, mk.text))
				continue
			}
			p.flush(line.offset, true)
			p.beginLine = 0
			p.segStart, p.segLine = next, ln+1
		}
	}
	for _, d := range directives {
		if p.format == "" {
			break // no marker at all: the missing up section is the error to read
		}
		sec := d.sec
		if sec == nil {
			sec = p.up // before the first marker: what the file says of up
		}
		if noTx || sec != nil && sec.NoTransaction {
			continue // the tool's own marker says it already: nothing is lost
		}
		// Silently ignored, it would leave the migration in a transaction
		// its author meant it to run outside of.
		p.fail(d.ln, fmt.Errorf("%w %q: a Runway directive in a %s file, where it does nothing: write %s",
			ErrUnknownDirective, d.text, p.format, noTransactionMarker(p.format)))
	}
	if p.beginLine > 0 {
		p.fail(p.beginLine, fmt.Errorf("%w: StatementBegin without StatementEnd", ErrMisplacedMarker))
	} else {
		p.flush(len(text), false)
	}
	if p.up == nil && !badMarker {
		var err error
		if p.format == "" {
			err = fmt.Errorf("%w: a VERSION_name.sql file needs an up marker: -- +goose Up (goose), -- +migrate Up (sql-migrate) or -- migrate:up (dbmate); or name it VERSION_name.up.sql", ErrNoUpSection)
		} else {
			err = fmt.Errorf("%w: the file has %s markers but no up marker", ErrNoUpSection, p.format)
		}
		p.errs = append([]error{&FileError{File: name, Err: err}}, p.errs...)
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	upEnd := len(text)
	if p.down != nil {
		upEnd = p.downAt
		p.down.Checksum = checksum(text[p.downAt:])
		p.down.NoTransaction = p.down.NoTransaction || noTx
	}
	p.up.Checksum = checksum(text[p.upAt:upEnd])
	p.up.NoTransaction = p.up.NoTransaction || noTx
	m.Format = p.format
	m.Up, m.Down = p.up, p.down
	return m, nil
}
