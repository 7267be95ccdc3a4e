// Package migration is Runway's domain: migrations, versions, the file formats
// they are written in, checksums and the splitting of SQL into statements.
// It is pure: functions over an fs.FS, no database and no network.
package migration

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// Dialect selects the SQL lexical rules used to split a script into statements.
type Dialect string

// The dialects Runway speaks.
const (
	Postgres Dialect = "postgres"
	MySQL    Dialect = "mysql"
	SQLite   Dialect = "sqlite"
)

// Format is the file layout a migration was written in, detected per file.
type Format string

// The file layouts Runway reads.
const (
	FormatNative     Format = "runway"      // VERSION_name.up.sql + VERSION_name.down.sql (golang-migrate layout)
	FormatGoose      Format = "goose"       // -- +goose Up / Down
	FormatSQLMigrate Format = "sql-migrate" // -- +migrate Up / Down
	FormatDbmate     Format = "dbmate"      // -- migrate:up / migrate:down
	FormatFlyway     Format = "flyway"      // V1__name.sql, U1__name.sql
)

// Migration is one versioned change: an up script and, optionally, a down script.
type Migration struct {
	Version Version
	// VersionText is the version as written in the file name ("0003",
	// "20240101120000", "1_1"), kept so that new files follow the same style.
	VersionText string
	Name        string // the descriptive part of the file name: "create_users"
	Format      Format
	Up          *Script // nil only in what ParseFile returns for a down file
	Down        *Script // nil when the migration cannot be reverted
}

// Script is the SQL of one direction of a migration.
type Script struct {
	// File is the path of the file in the source fs.FS that holds this script.
	File string
	// NoTransaction is set by "-- runway:no-transaction" or the format's
	// equivalent (goose NO TRANSACTION, sql-migrate notransaction,
	// dbmate transaction:false): the statements run one by one outside a transaction.
	NoTransaction bool
	// Checksum is the hex SHA-256 of the script's text with CRLF and CR line
	// endings turned into LF and a leading UTF-8 BOM removed.
	Checksum string

	// Segments are the pieces of SQL text of this script, in order, as the
	// format parser found them. Split turns them into statements. Nil for a
	// streamed script (see Streamed), whose text stays in its file.
	Segments []Segment

	stream *streamed
}

// Segment is a run of SQL text from a file.
type Segment struct {
	Text string
	// Line is the 1-based line in File on which Text starts.
	Line int
	// Verbatim marks text between StatementBegin/StatementEnd markers: it is
	// one statement and is not split further.
	Verbatim bool
}

// Statement is one SQL statement of a script.
type Statement struct {
	SQL string
	// Line is the 1-based line in the script's file on which the statement starts
	// (its first non-blank, non-comment character).
	Line int
}

// Checksum returns a short fingerprint of the statement text, recorded for
// statements applied outside a transaction so a rerun can tell whether
// the statements before a failure were edited.
func (s Statement) Checksum() string {
	sum := sha256.Sum256([]byte(s.SQL))
	return hex.EncodeToString(sum[:8])
}

// Statements splits the script into statements using the dialect's lexical rules.
// Verbatim segments are returned as single statements; empty statements are dropped.
func (s *Script) Statements(d Dialect) ([]Statement, error) {
	segments := s.Segments
	if s.stream != nil {
		text, err := s.stream.readAll(s.File, s.Checksum)
		if err != nil {
			return nil, err
		}
		segments = []Segment{{Text: text, Line: 1}}
	}
	var out []Statement
	for _, seg := range segments {
		if seg.Verbatim {
			st, ok := trimStatement(seg.Text, seg.Line, d)
			if ok {
				out = append(out, st)
			}
			continue
		}
		stmts, err := Split(d, seg.Text, seg.Line)
		if err != nil {
			var fe *FileError
			if errors.As(err, &fe) && fe.File == "" {
				return nil, &FileError{File: s.File, Line: fe.Line, Err: fe.Err}
			}
			return nil, &FileError{File: s.File, Err: err}
		}
		out = append(out, stmts...)
	}
	return out, nil
}

// Errors returned, wrapped in *FileError, by Load, ParseFile, Split and
// Script.Statements. ErrMisplacedMarker is a goose, sql-migrate or dbmate
// marker out of order (a second Up, Down before Up, StatementEnd without
// StatementBegin); ErrOutsideSection is SQL before the Up marker; ErrNoName
// is a file named 0001.up.sql, whose version is not followed by "_name".
var (
	ErrNoVersion        = errors.New("file name has no version")
	ErrNoName           = errors.New("file name has no name after its version")
	ErrDuplicateVersion = errors.New("duplicate version")
	ErrUnknownDirective = errors.New("unknown directive")
	ErrDownWithoutUp    = errors.New("down migration without an up migration")
	ErrNoUpSection      = errors.New("no up section")
	ErrInvalidUTF8      = errors.New("file is not valid UTF-8: a dump with binary columns must write them as hex literals (mysqldump and mariadb-dump: --hex-blob); a file saved in another encoding must be converted (iconv -f LATIN1 -t UTF-8)")
	ErrUnsupported      = errors.New("unsupported migration file")
	ErrUnterminated     = errors.New("unterminated")
	ErrEmptyFile        = errors.New("the up file is empty (0 bytes): a truncated checkout or a failed write? Put the SQL in it, or a comment if the migration is deliberately a no-op")
	ErrNotAFile         = errors.New("is a directory, not a migration file")
	ErrMisplacedMarker  = errors.New("misplaced marker")
	ErrOutsideSection   = errors.New("SQL outside an up or down section")
)

// FileError is a problem with one migration file. Line is 0 when the problem
// is the file as a whole (its name, for example).
type FileError struct {
	File string
	Line int
	Err  error
}

func (e *FileError) Error() string {
	if e.File == "" {
		// From Split, which does not know the file.
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }
