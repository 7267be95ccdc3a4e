package migration

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"io/fs"
	"iter"
	"strings"
	"unicode/utf8"
)

// LargeFile is the size above which Load does not keep a native or Flyway
// script's text in memory: it reads the file once to check it and compute
// its checksum, and Script.StatementSeq reads it again, statement by
// statement, when it is applied. A variable so that tests can lower it.
var LargeFile = 1 << 20

// ErrChanged means a streamed file no longer has the checksum it had when
// the source was loaded: it was edited during the run.
var ErrChanged = errors.New("the file changed while the run was reading it")

// streamed is where a script whose text is not kept in memory lives.
type streamed struct {
	fsys fs.FS
	name string
}

// Streamed reports whether the script's text is read from its file when
// needed instead of being held in memory (a native or Flyway file larger
// than LargeFile).
func (s *Script) Streamed() bool { return s.stream != nil }

// StatementSeq yields the script's statements in order, as Statements
// returns them. A streamed script is read from its file a piece at a time,
// so memory is bounded by the largest statement, not by the file, and its
// checksum is verified before the last statement is yielded: a file edited
// since it was loaded ends the sequence with an error wrapping ErrChanged.
// Errors are *FileError values; the sequence stops after one.
func (s *Script) StatementSeq(d Dialect) iter.Seq2[Statement, error] {
	return func(yield func(Statement, error) bool) {
		if s.stream == nil {
			stmts, err := s.Statements(d)
			if err != nil {
				yield(Statement{}, err)
				return
			}
			for _, st := range stmts {
				if !yield(st, nil) {
					return
				}
			}
			return
		}
		f, err := s.stream.fsys.Open(s.stream.name)
		if err != nil {
			yield(Statement{}, &FileError{File: s.File, Err: err})
			return
		}
		defer f.Close()
		h := sha256.New()
		r := io.TeeReader(newNormReader(f), h)
		verify := func() error {
			if hex.EncodeToString(h.Sum(nil)) != s.Checksum {
				return ErrChanged
			}
			return nil
		}
		splitStream(d, r, 1, splitStreamChunk, verify, func(st Statement, err error) bool {
			if err != nil {
				var fe *FileError
				if errors.As(err, &fe) && fe.File == "" {
					err = &FileError{File: s.File, Line: fe.Line, Err: fe.Err}
				} else if !errors.As(err, &fe) {
					err = &FileError{File: s.File, Err: err}
				}
			}
			return yield(st, err)
		})
	}
}

// readAll returns a streamed script's normalized text, for the callers
// that need every statement at once (Statements).
func (s *streamed) readAll(file, checksum string) (string, error) {
	f, err := s.fsys.Open(s.name)
	if err != nil {
		return "", &FileError{File: file, Err: err}
	}
	defer f.Close()
	var b strings.Builder
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		// One allocation of the file's size (normalising only shortens it),
		// not a buffer grown by doubling, whose copies a large file pays.
		b.Grow(int(st.Size()))
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(&b, h), newNormReader(f)); err != nil {
		return "", &FileError{File: file, Err: err}
	}
	if hex.EncodeToString(h.Sum(nil)) != checksum {
		return "", &FileError{File: file, Err: ErrChanged}
	}
	return b.String(), nil
}

// splitStreamChunk is how much text splitStream reads at a time.
const splitStreamChunk = 256 << 10

// splitStream yields the statements of the text r delivers, as Split would
// for the whole text, holding only the statement being read and one chunk.
// Text is scanned up to its last complete line; the statements ended by a
// delimiter are final and yielded, and the scan starts again after the last
// of them. When none ended, it waits for twice as much text, so one huge
// statement is not scanned over and over. verify runs at the end of the
// text, before the statements still held are yielded.
func splitStream(d Dialect, r io.Reader, startLine, chunkSize int, verify func() error, yield func(Statement, error) bool) {
	if _, err := newScanner(d, "", startLine); err != nil {
		yield(Statement{}, err)
		return
	}
	var (
		pending  []byte // text from the start of the line holding from
		from     int    // where the next scan starts: between statements
		line     = startLine
		delim    string
		noEscape bool
		wait     int // do not scan again before pending is this long
		eof      bool
	)
	for {
		if !eof {
			if cap(pending)-len(pending) < chunkSize {
				pending = append(pending, make([]byte, chunkSize)...)[:len(pending)]
			}
			n, err := io.ReadFull(r, pending[len(pending):len(pending)+chunkSize])
			pending = pending[:len(pending)+n]
			switch {
			case err == io.EOF || err == io.ErrUnexpectedEOF:
				eof = true
			case err != nil:
				yield(Statement{}, err)
				return
			}
		}
		end := len(pending)
		if !eof {
			end = bytes.LastIndexByte(pending, '\n') + 1
			if end <= from || end < wait {
				continue
			}
		} else if verify != nil {
			if err := verify(); err != nil {
				yield(Statement{}, err)
				return
			}
		}
		// The statements yielded share this copy; pending is reused.
		text := string(pending[:end])
		s, _ := newScanner(d, text, line)
		s.i, s.delim, s.noEscape = from, delim, noEscape
		s.cut, s.cutLine, s.cutDelim, s.cutNoEscape = from, line, delim, noEscape
		err := s.run()
		if eof {
			if err != nil {
				// A span refused before the error is the first problem.
				for _, sp := range s.spans {
					if _, rerr := spanStatement(d, text, sp); rerr != nil {
						err = rerr
						break
					}
				}
				yield(Statement{}, err)
				return
			}
			for _, sp := range s.spans {
				if !yieldSpan(d, text, sp, yield) {
					return
				}
			}
			return
		}
		if err != nil && !errors.Is(err, ErrUnterminated) {
			yield(Statement{}, err)
			return
		}
		// An unterminated construct may end in text not read yet: only the
		// statements before the cut are final.
		for _, sp := range s.spans {
			if sp.end > s.cut {
				break
			}
			if !yieldSpan(d, text, sp, yield) {
				return
			}
		}
		if s.cut > from {
			ls := strings.LastIndexByte(text[:s.cut], '\n') + 1
			pending = pending[:copy(pending, pending[ls:])]
			from = s.cut - ls
			line, delim, noEscape = s.cutLine, strings.Clone(s.cutDelim), s.cutNoEscape
			wait = 0
		} else {
			wait = 2 * end
		}
	}
}

// normReader delivers a file's text as checksums see it: a leading UTF-8
// BOM removed, CRLF and lone CR turned into LF (see normalize).
type normReader struct {
	r       *bufio.Reader
	started bool
	cr      bool // the last byte delivered was a CR turned into LF
}

func newNormReader(r io.Reader) *normReader {
	return &normReader{r: bufio.NewReaderSize(r, 64<<10)}
}

func (n *normReader) Read(p []byte) (int, error) {
	if !n.started {
		n.started = true
		if b, _ := n.r.Peek(3); len(b) == 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
			n.r.Discard(3)
		}
	}
	for {
		k, err := n.r.Read(p)
		if k > 0 && !n.cr && bytes.IndexByte(p[:k], '\r') < 0 {
			return k, err // LF line endings: nothing to change
		}
		w := 0
		for _, c := range p[:k] {
			switch {
			case c == '\r':
				p[w] = '\n'
				w++
				n.cr = true
			case c == '\n' && n.cr:
				n.cr = false // the LF of a CRLF already delivered
			default:
				p[w] = c
				w++
				n.cr = false
			}
		}
		if w > 0 || err != nil {
			return w, err
		}
	}
}

// loadStreamed checks a large native or Flyway file without keeping its
// text: encoding, directives, foreign markers, Flyway's own placeholders and
// checksum, as ParseFile does, reading it a piece at a time. m comes from
// parseName.
func loadStreamed(fsys fs.FS, name string, m *Migration, kind nameKind) (*Migration, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, &FileError{File: name, Err: err}
	}
	defer f.Close()
	var (
		h     hash.Hash = sha256.New()
		br              = bufio.NewReaderSize(newNormReader(f), 64<<10)
		p               = plainParser{sc: &Script{File: name}, header: true}
		utf   utf8Checker
		ln    int
		start = true // the next piece begins a line
		blank = true // nothing but whitespace so far
		// The end of the last piece, for a placeholder cut between two
		// pieces of a long line.
		tail   []byte
		flyway = m.Format == FormatFlyway
		errs   []error
	)
	for {
		piece, err := br.ReadSlice('\n')
		if len(piece) > 0 {
			h.Write(piece)
			// Past the header only a line holding "runway:" can be a
			// (misplaced) directive.
			if start {
				ln++
				if p.header || bytes.Contains(piece, []byte("runway:")) {
					p.line(ln, string(bytes.TrimSuffix(piece, []byte{'\n'})))
				}
				if c := piece[0]; (c == '-' || c == ' ' || c == '\t') && mayHoldMarker(piece) {
					if merr := foreignMarker(name, ln, string(bytes.TrimSuffix(piece, []byte{'\n'}))); merr != nil {
						errs = append(errs, merr)
					}
				}
			}
			if flyway {
				joined := append(tail, piece...)
				if i := bytes.Index(joined, []byte(flywayPlaceholder)); i >= 0 {
					return nil, flywayPlaceholderError(name, ln, string(joined[i:]))
				}
				tail = append(tail[:0], joined[max(0, len(joined)-len(flywayPlaceholder)+1):]...)
			}
			if bad := utf.check(piece, ln); bad > 0 {
				err := ErrInvalidUTF8
				if ln == 1 {
					err = encodingError(piece)
				}
				return nil, &FileError{File: name, Line: bad, Err: err}
			}
			if blank && len(bytes.TrimSpace(piece)) > 0 {
				blank = false
			}
			start = piece[len(piece)-1] == '\n'
		}
		if err == io.EOF {
			break
		}
		if err != nil && err != bufio.ErrBufferFull {
			return nil, &FileError{File: name, Err: err}
		}
	}
	if bad := utf.finish(ln); bad > 0 {
		return nil, &FileError{File: name, Line: bad, Err: ErrInvalidUTF8}
	}
	if errs = append(p.errs, errs...); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sc := p.sc
	sc.Checksum = hex.EncodeToString(h.Sum(nil))
	if !blank {
		sc.stream = &streamed{fsys: fsys, name: name}
	}
	if kind == nameUp {
		m.Up = sc
	} else {
		m.Down = sc
	}
	return m, nil
}

// mayHoldMarker is foreignMarkers' first test, for one line: a marker is a
// "--" comment line. Most lines of a large file are not: two bytes tell.
func mayHoldMarker(line []byte) bool {
	i := 0
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	if len(line)-i < 2 || line[i] != '-' || line[i+1] != '-' {
		return false
	}
	return bytes.Contains(line, []byte("+goose")) || bytes.Contains(line, []byte("+migrate")) || bytes.Contains(line, []byte("migrate:"))
}

// utf8Checker validates UTF-8 across the pieces of a stream, carrying a
// sequence cut at the end of one piece over to the next.
type utf8Checker struct {
	carry []byte
}

// check validates piece, a line or a part of one (bufio.Reader.ReadSlice
// gives no more than one line), on line ln; it returns ln when the piece
// holds an invalid sequence, or 0.
func (u *utf8Checker) check(piece []byte, ln int) int {
	b := piece
	if len(u.carry) > 0 {
		b = append(u.carry, piece...)
		u.carry = nil
	}
	// Hold back a sequence the piece cuts short.
	cut := len(b)
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				cut = i
			}
			break
		}
	}
	if !utf8.Valid(b[:cut]) {
		return ln
	}
	u.carry = append([]byte(nil), b[cut:]...)
	return 0
}

// finish reports a sequence left incomplete at the end of the stream.
func (u *utf8Checker) finish(ln int) int {
	if len(u.carry) > 0 {
		return max(ln, 1)
	}
	return 0
}

// yieldSpan yields the statement sp marks in text, or the error that
// refuses it (and stops).
func yieldSpan(d Dialect, text string, sp span, yield func(Statement, error) bool) bool {
	st, err := spanStatement(d, text, sp)
	if err != nil {
		yield(Statement{}, err)
		return false
	}
	return yield(st, nil)
}
