package migration

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Version identifies a migration. Versions compare numerically, part by part:
// "0002" equals "2", "20240101120000" is a plain number, and Flyway's dotted
// versions ("1.1", "1_1" in a file name) compare as 1 then 1.
type Version struct {
	parts []uint64
}

// ErrBadVersion is returned by ParseVersion for text that is not a version.
var ErrBadVersion = errors.New("not a version: want digits, optionally dotted (1, 0001, 20240101120000, 1.2.3)")

// ParseVersion reads a version written as digits with optional "." or "_"
// separators between numeric parts. Leading zeros are not significant.
func ParseVersion(s string) (Version, error) {
	if s == "" {
		return Version{}, ErrBadVersion
	}
	// Most versions are one number (0001, 20240101120000): read it
	// directly, as every history row and file name is read on each run.
	if n, err := strconv.ParseUint(s, 10, 64); err == nil { // no sign, no "_" in base 10
		return Version{parts: []uint64{n}}, nil
	}
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == '.' || r == '_' })
	if len(fields) == 0 || strings.HasPrefix(s, ".") || strings.HasPrefix(s, "_") ||
		strings.HasSuffix(s, ".") || strings.HasSuffix(s, "_") ||
		strings.Contains(s, "..") || strings.Contains(s, "__") {
		return Version{}, fmt.Errorf("%q: %w", s, ErrBadVersion)
	}
	parts := make([]uint64, len(fields))
	for i, f := range fields {
		n, err := strconv.ParseUint(f, 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return Version{}, fmt.Errorf("%q: %w: %s is larger than 18446744073709551615, the largest number a version (or a part of one) may hold", s, ErrBadVersion, f)
		}
		if err != nil {
			return Version{}, fmt.Errorf("%q: %w", s, ErrBadVersion)
		}
		parts[i] = n
	}
	// Trailing zero parts do not change the value: 1.0 == 1.
	for len(parts) > 1 && parts[len(parts)-1] == 0 {
		parts = parts[:len(parts)-1]
	}
	return Version{parts: parts}, nil
}

// MustParseVersion is ParseVersion for constants known to be valid; it panics otherwise.
func MustParseVersion(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

// Number returns v as one number, and false when v is dotted (1.1) or the
// zero Version.
func (v Version) Number() (uint64, bool) {
	if len(v.parts) != 1 {
		return 0, false
	}
	return v.parts[0], true
}

// IsZero reports whether v is the zero Version (no version at all).
func (v Version) IsZero() bool { return len(v.parts) == 0 }

// String returns the canonical form: parts without leading zeros joined by ".".
// It is what the history table stores, so renaming 0002 to 2 is not a change.
func (v Version) String() string {
	switch len(v.parts) {
	case 0:
		return ""
	case 1:
		return strconv.FormatUint(v.parts[0], 10)
	}
	var b strings.Builder
	for i, p := range v.parts {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.FormatUint(p, 10))
	}
	return b.String()
}

// Compare returns -1, 0 or +1 as v is lower than, equal to or higher than w.
// The zero Version (no version: an empty history's) is lower than every
// version, 0 included.
func (v Version) Compare(w Version) int {
	if len(v.parts) == 0 || len(w.parts) == 0 {
		return cmp.Compare(len(v.parts), len(w.parts))
	}
	for i := 0; i < len(v.parts) || i < len(w.parts); i++ {
		var a, b uint64
		if i < len(v.parts) {
			a = v.parts[i]
		}
		if i < len(w.parts) {
			b = w.parts[i]
		}
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
	}
	return 0
}

// Equal reports whether v and w are the same version.
func (v Version) Equal(w Version) bool { return v.Compare(w) == 0 }
