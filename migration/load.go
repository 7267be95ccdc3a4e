package migration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Load reads the migrations in the top-level *.sql files of fsys, detecting
// the format of each file (see ParseFile), and returns them sorted by version.
// Flyway's files are also read from sub-directories, as Flyway scans its
// locations recursively, down folders whose names do not start with ".";
// other files in sub-directories are ignored, as golang-migrate, goose,
// sql-migrate and dbmate ignore them. Files with other extensions and names
// starting with "." are ignored; a name ending in .SQL or another case of
// .sql is reported (ErrUnsupported) rather than skipped.
//
// Every problem found is reported, not only the first: the error is an
// errors.Join of *FileError values sorted by file name and line, each
// wrapping one of ErrNoVersion, ErrNoName, ErrDuplicateVersion, ErrUnknownDirective,
// ErrDownWithoutUp, ErrNoUpSection, ErrInvalidUTF8, ErrUnsupported,
// ErrMisplacedMarker or ErrOutsideSection (or the fs error reading the file).
// When the error is not nil the migrations are nil.
func Load(fsys fs.FS) ([]*Migration, error) {
	if h, ok := fsys.(holder); ok {
		held, err := h.Hold()
		if err != nil {
			return nil, err
		}
		if c, ok := held.(io.Closer); ok {
			defer c.Close()
		}
		fsys = held
	}
	top, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	entries := make([]dirEntry, len(top))
	for i, e := range top {
		entries[i] = dirEntry{e.Name(), e}
	}
	for _, e := range top {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") && path.Ext(e.Name()) != ".sql" {
			below, err := flywayBelow(fsys, e.Name())
			if err != nil {
				return nil, err
			}
			entries = append(entries, below...)
		}
	}
	var (
		problems []*FileError
		ups      []*Migration
		downs    []*Migration
	)
	// Read and parse the files in parallel: with hundreds of small files the
	// time is system calls, which overlap across cores. Results keep the
	// order of entries (fs.ReadDir sorts by name), so errors are stable.
	// Each worker claims the next entry itself and reads through a buffer
	// of its own when fsys can (ParseFile copies what it keeps).
	type result struct {
		m        *Migration
		problems []*FileError
	}
	results := make([]result, len(entries))
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range min(len(entries), runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for {
				i := int(next.Add(1)) - 1
				if i >= len(entries) {
					return
				}
				results[i].m, results[i].problems, buf = loadEntry(fsys, entries[i].name, entries[i].e, buf)
			}
		}()
	}
	wg.Wait()
	for _, r := range results {
		problems = append(problems, r.problems...)
		if r.m == nil {
			continue
		}
		if r.m.Up != nil {
			ups = append(ups, r.m)
		} else {
			downs = append(downs, r.m)
		}
	}

	sort.SliceStable(ups, func(i, j int) bool { return ups[i].Version.Compare(ups[j].Version) < 0 })
	var out []*Migration
	for _, m := range ups {
		if n := len(out); n > 0 && out[n-1].Version.Equal(m.Version) {
			problems = append(problems, duplicate(out[n-1].Up.File, m.Up.File, m.Version))
			continue
		}
		out = append(out, m)
	}
	for _, d := range downs {
		i := sort.Search(len(out), func(i int) bool { return out[i].Version.Compare(d.Version) >= 0 })
		switch {
		case i == len(out) || !out[i].Version.Equal(d.Version):
			problems = append(problems, &FileError{File: d.Down.File, Err: fmt.Errorf(
				"%w: no up file with version %s (want %s)", ErrDownWithoutUp, d.Version, upNameFor(d))})
		case out[i].Down != nil:
			problems = append(problems, duplicate(out[i].Down.File, d.Down.File, d.Version))
		case out[i].Format != d.Format:
			problems = append(problems, &FileError{File: d.Down.File, Err: fmt.Errorf(
				"%w %s: %s is a %s down file but the up file %s is %s",
				ErrDuplicateVersion, d.Version, d.Down.File, d.Format, out[i].Up.File, out[i].Format)})
		default:
			out[i].Down = d.Down
		}
	}

	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool {
			if problems[i].File != problems[j].File {
				return problems[i].File < problems[j].File
			}
			return problems[i].Line < problems[j].Line
		})
		errs := make([]error, len(problems))
		for i, p := range problems {
			errs[i] = p
		}
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// holder is a file system that can keep its folder open while Load lists and
// reads it (source's folders: each file is then opened relative to the
// folder, sparing the kernel a walk down the whole path per file). Load reads
// the fs.FS that Hold returns instead, and closes it when done if it is an
// io.Closer.
type holder interface {
	Hold() (fs.FS, error)
}

// appendFileFS is a file system that reads a file into the caller's buffer
// (source's folders do): loading hundreds of small files then allocates a
// buffer per worker, not one per file. It stops once the file proves longer
// than limit, and says so.
type appendFileFS interface {
	AppendFile(buf []byte, name string, limit int) (data []byte, more bool, err error)
}

// dirEntry is a directory entry and its path in the file system.
type dirEntry struct {
	name string
	e    fs.DirEntry
}

// flywayBelow lists the Flyway files (flywayName) in folder dir of fsys and
// in its sub-folders, but those whose names start with ".".
func flywayBelow(fsys fs.FS, dir string) ([]dirEntry, error) {
	var out []dirEntry
	err := fs.WalkDir(fsys, dir, func(name string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			// A folder that cannot be listed (lost+found on a volume)
			// is passed over, as every sub-folder was before Flyway's
			// were read.
			return fs.SkipDir
		case d.IsDir() && name != dir && strings.HasPrefix(d.Name(), "."):
			return fs.SkipDir
		case !d.IsDir() && flywayName(d.Name()):
			out = append(out, dirEntry{name, d})
		}
		return nil
	})
	return out, err
}

// flywayName reports whether a file's name is one of Flyway's, with its
// default prefixes: V1__name.sql, U1__name.sql, R__name.sql (any case of
// .sql, which loadEntry reports).
func flywayName(name string) bool {
	return len(name) > 3 && strings.IndexByte("VUR", name[0]) >= 0 && strings.Contains(name, "__") &&
		strings.EqualFold(path.Ext(name), ".sql")
}

// loadEntry reads and parses one directory entry, named name in fsys: (nil,
// nil) for entries that are not migrations, the migration, or its problems.
// buf is the caller's read buffer, returned for the next call. A native or
// Flyway file larger than LargeFile is checked as a stream and not kept in
// memory.
func loadEntry(fsys fs.FS, name string, e fs.DirEntry, buf []byte) (*Migration, []*FileError, []byte) {
	if isGooseGo(name) {
		// goose's Go migrations (00002_backfill.go) sit among its SQL
		// files; skipping one would leave its work undone without a word.
		return nil, []*FileError{{File: name, Err: fmt.Errorf(
			"%w: %s is a goose Go migration: Runway runs SQL migrations only; rewrite it as %s.sql, or run it with goose before taking over with runway adopt",
			ErrUnsupported, name, strings.TrimSuffix(name, ".go"))}}, buf
	}
	// Dot files are editor and OS droppings (.#0001_x.up.sql, ._0001_x.up.sql).
	if ext := path.Ext(name); ext != ".sql" || strings.HasPrefix(name, ".") {
		if strings.EqualFold(ext, ".sql") && !strings.HasPrefix(name, ".") {
			// 0002_b.UP.SQL, V3__c.Sql: meant as migrations, and skipping
			// them would leave them unapplied without a word.
			return nil, []*FileError{{File: name, Err: fmt.Errorf(
				"%w: %s ends in %s: migration files end in lower-case .sql (and .up.sql, .down.sql); rename it", ErrUnsupported, name, ext)}}, buf
		}
		return nil, nil, buf
	}
	if e.IsDir() {
		return nil, []*FileError{{File: name, Err: ErrNotAFile}}, buf
	}
	m, kind, err := parseName(path.Base(name))
	if err != nil {
		return nil, []*FileError{{File: name, Err: err}}, buf
	}
	content, large, err := readSmall(fsys, name, buf)
	if err == nil && content != nil {
		buf = content
	}
	if err != nil {
		return nil, []*FileError{{File: name, Err: err}}, buf
	}
	if large && kind != nameCombined {
		m, err = loadStreamed(fsys, name, m, kind)
		if err != nil {
			return nil, fileErrors(name, err), buf
		}
		return m, nil, buf
	}
	if large {
		// goose, sql-migrate and dbmate files hold both directions and
		// their markers anywhere: they are parsed whole.
		if content, err = fs.ReadFile(fsys, name); err != nil {
			return nil, []*FileError{{File: name, Err: err}}, buf
		}
	}
	m, err = parseFile(name, content, m, kind)
	if err != nil {
		return nil, fileErrors(name, err), buf
	}
	if m.Up != nil && len(content) == 0 {
		// A 0-byte up file is almost always a failed write or a truncated
		// checkout, not an intended no-op (that is a file with a comment).
		// The migration is still returned and paired, so its down file is
		// not reported as orphaned.
		return m, []*FileError{{File: name, Err: ErrEmptyFile}}, buf
	}
	return m, nil, buf
}

// isGooseGo reports whether name is a goose Go migration: VERSION_name.go,
// not a test file (a package's embed.go or migrations_test.go has no version).
func isGooseGo(name string) bool {
	stem, ok := strings.CutSuffix(name, ".go")
	if !ok || strings.HasSuffix(stem, "_test") {
		return false
	}
	digits := leadingDigits(stem)
	return digits > 0 && digits+1 < len(stem) && stem[digits] == '_'
}

// leadingDigits counts the ASCII digits s starts with: a file name's version.
func leadingDigits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// readSmall reads the named file into buf unless it is larger than
// LargeFile, which it reports instead (content nil).
func readSmall(fsys fs.FS, name string, buf []byte) (content []byte, large bool, err error) {
	if afs, ok := fsys.(appendFileFS); ok {
		content, more, err := afs.AppendFile(buf[:0], name, LargeFile)
		if err != nil || more {
			return nil, more, err
		}
		return content, false, nil
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > int64(LargeFile) {
		return nil, true, nil
	}
	content, err = io.ReadAll(f)
	return content, false, err
}

func duplicate(first, second string, v Version) *FileError {
	return &FileError{File: second, Err: fmt.Errorf("%w %s: %s and %s", ErrDuplicateVersion, v, first, second)}
}

func upNameFor(d *Migration) string {
	if d.Format == FormatFlyway {
		return "V" + d.VersionText + "__" + d.Name + ".sql"
	}
	return d.VersionText + "_" + d.Name + ".up.sql"
}

// fileErrors flattens what ParseFile returned into *FileError values.
func fileErrors(name string, err error) []*FileError {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*FileError
		for _, e := range j.Unwrap() {
			out = append(out, fileErrors(name, e)...)
		}
		return out
	}
	var fe *FileError
	if errors.As(err, &fe) {
		return []*FileError{fe}
	}
	return []*FileError{{File: name, Err: err}}
}

// ParseFile parses one migration file: name is its path (the format is
// detected from the base name, then from the content) and content its bytes.
//
// The Migration returned holds what the file defines: both directions for
// goose, sql-migrate and dbmate files, the up for native .up.sql and Flyway
// V files, and only Down (Up nil) for native .down.sql and Flyway U files,
// which Load pairs with their up file. The error, when not nil, is one
// *FileError or an errors.Join of several, and the Migration is nil.
func ParseFile(name string, content []byte) (*Migration, error) {
	m, kind, err := parseName(path.Base(name))
	if err != nil {
		return nil, &FileError{File: name, Err: err}
	}
	return parseFile(name, content, m, kind)
}

// parseFile is ParseFile for a name parseName has read into m and kind.
func parseFile(name string, content []byte, m *Migration, kind nameKind) (*Migration, error) {
	text, err := normalize(content)
	if err != nil {
		return nil, &FileError{File: name, Line: lineOfInvalidUTF8(content), Err: err}
	}
	switch kind {
	case nameUp, nameDown:
		if m.Format == FormatFlyway {
			if i := strings.Index(text, flywayPlaceholder); i >= 0 {
				return nil, flywayPlaceholderError(name, 1+strings.Count(text[:i], "\n"), text[i:])
			}
		}
		script, errs := parsePlain(name, text, contentChecksum(content, text))
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		if kind == nameUp {
			m.Up = script
		} else {
			m.Down = script
		}
		return m, nil
	default:
		return parseCombined(name, text, m)
	}
}

type nameKind int

const (
	nameUp       nameKind = iota // the up of a native or Flyway migration
	nameDown                     // the down of a native or Flyway migration
	nameCombined                 // VERSION_name.sql: goose, sql-migrate or dbmate
)

// parseName reads the version, name and format from a file's base name.
func parseName(base string) (*Migration, nameKind, error) {
	stem, ok := strings.CutSuffix(base, ".sql")
	if !ok {
		return nil, 0, fmt.Errorf("%w: %s is not a .sql file", ErrUnsupported, base)
	}
	digits := leadingDigits(stem)
	if digits == 0 {
		return parseFlywayName(base, stem)
	}
	vtext, rest := stem[:digits], stem[digits:]
	v, err := ParseVersion(vtext)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrNoVersion, err)
	}
	m := &Migration{Version: v, VersionText: vtext}
	label, ok := strings.CutPrefix(rest, "_")
	if !ok {
		// sql-migrate's own "new" writes VERSION-name.sql (a timestamp and
		// a dash): a combined file, read as such. The up/down pairs of
		// golang-migrate always use "_".
		if l, dash := strings.CutPrefix(rest, "-"); dash && !strings.HasSuffix(l, ".up") && !strings.HasSuffix(l, ".down") {
			m.Name = l
			return m, nameCombined, nil
		}
		if rest == "" || rest == ".up" || rest == ".down" {
			return nil, 0, fmt.Errorf("%w: want %s_NAME%s.sql", ErrNoName, vtext, rest)
		}
		return nil, 0, fmt.Errorf("%w: want VERSION_name.up.sql, VERSION_name.down.sql, VERSION_name.sql or VERSION-name.sql, where VERSION is digits", ErrNoVersion)
	}
	m.Format = FormatNative
	if n, ok := strings.CutSuffix(label, ".up"); ok {
		m.Name = n
		return m, nameUp, nil
	}
	if n, ok := strings.CutSuffix(label, ".down"); ok {
		m.Name = n
		return m, nameDown, nil
	}
	m.Name = label
	m.Format = "" // decided by the content
	return m, nameCombined, nil
}

// parseFlywayName reads V1__name.sql, V1.1__name.sql and U1__name.sql.
func parseFlywayName(base, stem string) (*Migration, nameKind, error) {
	if strings.HasPrefix(stem, "R__") {
		return nil, 0, fmt.Errorf("%w: %s is a Flyway repeatable migration; repeatable migrations are not supported: give it a version (V<version>__name.sql)", ErrUnsupported, base)
	}
	for _, cb := range []string{"before", "after"} {
		if rest, ok := strings.CutPrefix(stem, cb); ok && rest != "" && rest[0] >= 'A' && rest[0] <= 'Z' {
			return nil, 0, fmt.Errorf("%w: %s looks like a Flyway callback; callbacks are not supported", ErrUnsupported, base)
		}
	}
	if len(stem) < 2 || stem[1] < '0' || stem[1] > '9' || !strings.Contains(stem, "__") {
		return nil, 0, fmt.Errorf("%w: want VERSION_name.up.sql, VERSION_name.sql or Flyway's V<version>__name.sql, where VERSION is digits", ErrNoVersion)
	}
	vtext, label, _ := strings.Cut(stem[1:], "__")
	v, err := ParseVersion(vtext)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrNoVersion, err)
	}
	m := &Migration{Version: v, VersionText: vtext, Name: label, Format: FormatFlyway}
	switch stem[0] {
	case 'V':
		return m, nameUp, nil
	case 'U':
		return m, nameDown, nil
	case 'B':
		return nil, 0, fmt.Errorf("%w: %s is a Flyway baseline migration; baseline migrations are not supported", ErrUnsupported, base)
	}
	return nil, 0, fmt.Errorf("%w: Flyway prefix %q: want V (versioned) or U (undo)", ErrUnsupported, stem[:1])
}

// encodingError is ErrInvalidUTF8 for a file that begins with head, or, for
// one that begins with a UTF-16 byte-order mark (Windows tools save so),
// an error that says what the file is: errors.Is(err, ErrInvalidUTF8) holds.
func encodingError(head []byte) error {
	if len(head) >= 2 && (head[0] == 0xFF && head[1] == 0xFE || head[0] == 0xFE && head[1] == 0xFF) {
		return utf16Error{}
	}
	return ErrInvalidUTF8
}

type utf16Error struct{}

func (utf16Error) Error() string {
	return "file is UTF-16, not UTF-8 (it starts with a UTF-16 byte-order mark): save it as UTF-8 (iconv -f UTF-16 -t UTF-8)"
}

func (utf16Error) Is(target error) bool { return target == ErrInvalidUTF8 }

// normalize removes a leading UTF-8 BOM, checks the encoding and turns CRLF
// and CR line endings into LF, so that line numbers, checksums and statement
// texts are the same on every checkout.
func normalize(content []byte) (string, error) {
	content = trimBOM(content)
	if !utf8.Valid(content) {
		return "", encodingError(content)
	}
	s := string(content)
	if strings.IndexByte(s, '\r') < 0 {
		return s, nil
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n"), nil
}

func trimBOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		return b[3:]
	}
	return b
}

// lineOfInvalidUTF8 is the line of the first byte that is not valid UTF-8.
func lineOfInvalidUTF8(content []byte) int {
	content = trimBOM(content)
	line := 1
	for i := 0; i < len(content); {
		r, size := utf8.DecodeRune(content[i:])
		if r == utf8.RuneError && size <= 1 {
			return line
		}
		if content[i] == '\n' || content[i] == '\r' && (i+1 == len(content) || content[i+1] != '\n') {
			line++
		}
		i += size
	}
	return 0
}

func checksum(text string) string {
	return hexSum(sha256.Sum256([]byte(text)))
}

// hexSum is sum in lowercase hex: one allocation, the string, where
// hex.EncodeToString makes two (its buffer, then the string), which on a
// thousand files is 64 KB more fresh memory for every run.
func hexSum(sum [sha256.Size]byte) string {
	var b [2 * sha256.Size]byte
	hex.Encode(b[:], sum[:])
	return string(b[:])
}

// contentChecksum is checksum(text) for the text normalize made of content.
// When normalizing only dropped a BOM it hashes content's own bytes: every
// run checksums every file, and this saves a copy of each.
func contentChecksum(content []byte, text string) string {
	if b := trimBOM(content); bytes.IndexByte(b, '\r') < 0 {
		return hexSum(sha256.Sum256(b))
	}
	return checksum(text)
}

// parsePlain reads a native or Flyway file: the whole file is the script,
// and "-- runway:" directives may precede its first statement.
func parsePlain(name, text, sum string) (*Script, []error) {
	p := plainParser{sc: &Script{File: name, Checksum: sum}, header: true}
	if strings.TrimSpace(text) != "" {
		p.sc.Segments = []Segment{{Text: text, Line: 1}}
	}
	for ln, line := range lines(text) {
		inHeader := p.header
		if !p.line(ln, line.text) && inHeader {
			// Past the header only misplaced directives matter: a file
			// without "runway:" further on has none, and its lines need
			// not be walked one by one.
			if !strings.Contains(text[line.offset:], "runway:") {
				break
			}
		}
	}
	p.errs = append(p.errs, foreignMarkers(name, text)...)
	return p.sc, p.errs
}

// foreignMarkers reports the goose, sql-migrate and dbmate markers in a
// native or Flyway file. Such a file is read whole as one direction's SQL,
// so a marker there does nothing, and the statements under a down marker
// would run on up: a file converted from a combined layout by renaming it
// alone. Comments that only resemble a marker ("-- migrate: see ticket")
// are left alone.
func foreignMarkers(name, text string) []error {
	if !strings.Contains(text, "+goose") && !strings.Contains(text, "+migrate") && !strings.Contains(text, "migrate:") {
		return nil
	}
	var errs []error
	for ln, line := range lines(text) {
		if err := foreignMarker(name, ln, line.text); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// foreignMarker is foreignMarkers for line number ln of the file.
func foreignMarker(name string, ln int, line string) error {
	m, ok := readMarker(line)
	if !ok || m.err != nil || m.action == markNone {
		return nil
	}
	return &FileError{File: name, Line: ln, Err: fmt.Errorf(
		"%w %q: a %s marker in a file read whole as one direction's SQL, where it does nothing and a down section would run on up; "+
			"remove the markers, or name the file VERSION_name.sql to read it as a %s file",
		ErrMisplacedMarker, m.text, m.format, m.format)}
}

// flywayPlaceholder begins a placeholder of Flyway's own, which Flyway
// replaces before it runs a script.
const flywayPlaceholder = "${flyway:"

// flywayPlaceholderError refuses a Flyway script holding a placeholder of
// Flyway's own on line ln; from is the text from the placeholder on. Run as
// written, the row would hold the placeholder's text.
func flywayPlaceholderError(name string, ln int, from string) error {
	ph := from
	if end := strings.IndexAny(from, "}\n"); end >= 0 {
		ph = from[:end+1]
	}
	return &FileError{File: name, Line: ln, Err: fmt.Errorf(
		"%w: %s is a Flyway placeholder, which Runway does not replace: write its value in the script", ErrUnsupported, strings.TrimSpace(ph))}
}

// plainParser reads the directives of a native or Flyway file line by line.
type plainParser struct {
	sc      *Script
	header  bool // no statement seen yet
	comment bool // in the header, inside a /* … */ comment
	errs    []error
}

// line reads line number ln; it reports whether the header goes on.
func (p *plainParser) line(ln int, line string) bool {
	trimmed := strings.TrimLeft(line, " \t")
	if p.header && (p.comment || strings.HasPrefix(trimmed, "/*")) {
		// A block comment (a licence, a description) may precede the
		// directives: the header goes on if nothing but blanks follows
		// its end on that line.
		rest := trimmed
		if !p.comment {
			rest = rest[2:]
		}
		end := strings.Index(rest, "*/")
		if end < 0 {
			p.comment = true
			return true
		}
		p.comment = false
		if after := strings.TrimSpace(rest[end+2:]); after != "" && !strings.HasPrefix(after, "--") {
			p.header = false
		}
		return p.header
	}
	directive, isDirective := runwayDirective(trimmed)
	switch {
	case isDirective && !p.header:
		p.errs = append(p.errs, &FileError{File: p.sc.File, Line: ln, Err: fmt.Errorf(
			"%w: %q: directives must come before the first statement", ErrUnknownDirective, strings.TrimSpace(line))})
	case isDirective && directive == "no-transaction":
		p.sc.NoTransaction = true
	case isDirective:
		p.errs = append(p.errs, &FileError{File: p.sc.File, Line: ln, Err: fmt.Errorf(
			"%w %q: the only runway directive is \"-- runway:no-transaction\"", ErrUnknownDirective, strings.TrimSpace(line))})
	case trimmed == "" || strings.HasPrefix(trimmed, "--"):
	default:
		p.header = false
	}
	return p.header
}

// runwayDirective reports whether line (with leading blanks removed) is a
// "-- runway:xxx" comment, and returns xxx.
func runwayDirective(line string) (string, bool) {
	rest, ok := strings.CutPrefix(line, "--")
	if !ok {
		return "", false
	}
	rest = strings.TrimLeft(rest, " \t")
	// "-- Runway:No-Transaction" is the directive too, not a comment that
	// would silently run the file in a transaction.
	if len(rest) < len("runway:") || !strings.EqualFold(rest[:len("runway:")], "runway:") {
		return "", false
	}
	return strings.ToLower(strings.TrimSpace(rest[len("runway:"):])), true
}

// textLine is one line of a normalized file: its text without the "\n" and
// the offset where it starts.
type textLine struct {
	text   string
	offset int
}

// lines iterates over the lines of text with their 1-based numbers.
func lines(text string) func(yield func(int, textLine) bool) {
	return func(yield func(int, textLine) bool) {
		n := 1
		for off := 0; off < len(text); n++ {
			end := strings.IndexByte(text[off:], '\n')
			if end < 0 {
				end = len(text) - off
			}
			if !yield(n, textLine{text: text[off : off+end], offset: off}) {
				return
			}
			off += end + 1
		}
	}
}

// NextVersion returns the version for a new migration after ms. When there
// are none, or the highest version looks like a timestamp (12 digits or
// more), it is now in UTC as YYYYMMDDHHMMSS, or the highest plus one when the
// clock is behind. Otherwise it is the next integer, zero-padded to the width
// of the highest version's text: after 0003 comes 0004.
func NextVersion(ms []*Migration, now time.Time) string {
	stamp := now.UTC().Format("20060102150405")
	var top *Migration
	for _, m := range ms {
		if top == nil || m.Version.Compare(top.Version) > 0 {
			top = m
		}
	}
	if top == nil || top.Version.IsZero() {
		return stamp
	}
	first := top.Version.parts[0] // a parsed version has at least one part
	if len(top.Version.parts) > 1 {
		// Flyway 2.0.3: the next major.
		return strconv.FormatUint(first+1, 10)
	}
	width := len(top.VersionText)
	if first >= 100_000_000_000 { // 12 digits or more: a timestamp
		if MustParseVersion(stamp).Compare(top.Version) > 0 {
			return stamp
		}
	}
	return fmt.Sprintf("%0*d", width, first+1)
}
