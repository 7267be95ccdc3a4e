package source

import (
	"errors"
	"io/fs"
	"strconv"
	"strings"
)

// Sentinel errors, matched with errors.Is. The *Error that Open returns
// carries one of them as its Kind.
var (
	// ErrNotFound: the folder, the archive or the sub-folder does not exist.
	// Errors of this kind also match fs.ErrNotExist.
	ErrNotFound = errors.New("source not found")
	// ErrUnsupported: the spec names something Open cannot read (an unknown
	// scheme, a file that is not an archive, an encrypted or unknown
	// compression inside an archive).
	ErrUnsupported = errors.New("unsupported source")
	// ErrUnsafeArchive: an archive entry, or a download, breaks one of the
	// guards in the package documentation (paths, links, sizes); the whole
	// archive is refused.
	ErrUnsafeArchive = errors.New("unsafe archive")
	// ErrCorrupt: an archive is damaged, truncated or not what its name says.
	ErrCorrupt = errors.New("unreadable archive")
	// ErrInvalid: the spec or an Option is malformed.
	ErrInvalid = errors.New("invalid source spec or option")
	// ErrAccess: the remote store refused the credentials, or they lack
	// the permission to read the source (S3 AccessDenied, HTTP 401/403).
	ErrAccess = errors.New("access to the source refused")
	// ErrChecksum: a download does not match its #sha256= pin.
	ErrChecksum = errors.New("checksum mismatch")
)

// Error is a source that Open refused or could not read. Its message names
// the culprit: "artifact.zip: entry \"../../etc/passwd\": path escapes the
// archive root".
type Error struct {
	// Path is the folder, archive or URL as written in the spec, without the
	// sub-folder, and for a URL with its userinfo and query redacted.
	Path string
	// Entry is the archive entry at fault, exactly as stored in the archive;
	// empty when the error is not about one entry.
	Entry string
	// Kind is ErrNotFound, ErrUnsupported, ErrUnsafeArchive, ErrCorrupt,
	// ErrInvalid, ErrAccess, ErrChecksum, or nil for a plain I/O or network
	// failure (then Err says what).
	Kind error
	// Msg says what is wrong, in words.
	Msg string
	// Err is the underlying error, when there is one.
	Err error
}

// maxShownName bounds how much of a hostile entry name reaches a message.
const maxShownName = 200

// Error formats as "PATH: entry \"NAME\": MSG: ERR", leaving out the parts
// that are empty.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Entry != "" {
		b.WriteString("entry ")
		b.WriteString(quoteName(e.Entry))
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Err != nil {
		if e.Msg != "" {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap makes errors.Is match the Kind, the underlying error and, for
// ErrNotFound, fs.ErrNotExist.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	if e.Kind == ErrNotFound {
		errs = append(errs, fs.ErrNotExist)
	}
	return errs
}

// quoteName quotes a name from an archive for a message: escaped, so control
// characters cannot forge output, and shortened when it is very long.
func quoteName(s string) string {
	if len(s) <= maxShownName {
		return strconv.Quote(s)
	}
	cut := maxShownName
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
