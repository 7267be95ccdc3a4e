package database

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"

	"github.com/runwaydb/runway/migration"
)

// ListedSums is how many statement checksums a history row lists one by
// one (Revision.StatementChecksums); past it, the row keeps one digest of
// all of them instead (see Sums).
const ListedSums = 64

// digestPrefix starts the one element of a StatementChecksums that is a
// digest: "sha256:K:HEX" for the first K statements.
const digestPrefix = "sha256:"

// Sums builds a Revision's StatementChecksums as statements are applied:
// each statement's checksum, in order, while there are at most ListedSums,
// and past that one digest of all of them, the SHA-256 chain of their
// checksums (d₀ is 32 zero bytes, dᵢ = SHA-256(dᵢ₋₁ ‖ checksumᵢ)). A row
// written after every statement so stays the same size however long the
// script: listing them all made a run of N statements write N²/2
// checksums (8,000 statements: 40 s on PostgreSQL, where psql took 4 s).
// What the digest loses is which applied statement an edit changed: a
// resumed run still refuses any edit (see Changed).
type Sums struct {
	list  []string
	n     int
	chain [sha256.Size]byte
}

// SumsOf returns the Sums of stmts.
func SumsOf(stmts []migration.Statement) Sums {
	var s Sums
	for _, st := range stmts {
		s.Add(st.Checksum())
	}
	return s
}

// Add records the checksum of the next statement.
func (s *Sums) Add(sum string) {
	s.n++
	h := sha256.New()
	h.Write(s.chain[:])
	h.Write([]byte(sum))
	h.Sum(s.chain[:0])
	if s.n <= ListedSums {
		s.list = append(s.list, sum)
	}
}

// Len is the number of statements recorded.
func (s Sums) Len() int { return s.n }

// Column returns the StatementChecksums of a row recording them. The slice
// is the caller's to keep: later Adds do not change it.
func (s Sums) Column() []string {
	if s.n <= ListedSums {
		return slices.Clip(s.list)
	}
	return []string{digestPrefix + strconv.Itoa(s.n) + ":" + hex.EncodeToString(s.chain[:])}
}

// Changed tells whether column, a row's StatementChecksums, records other
// statements than stmts: at is the first one that differs where the row
// lists them one by one (as rows written before the digest do, whatever
// their length), or -1 where the row keeps a digest, which cannot tell
// which one.
func Changed(column []string, stmts []migration.Statement) (at int, changed bool) {
	c := NewChangeCheck(column)
	for _, st := range stmts {
		c.Add(st.Checksum())
	}
	return c.Result()
}

// ChangeCheck is Changed for statements that come one at a time, as a file
// too large to hold is read: Add each statement's checksum in order, then
// ask Result. It keeps no statement.
type ChangeCheck struct {
	column []string
	digest bool
	sums   Sums // digest rows only
	n      int
	at     int // listed rows: the first statement that differs, or -1
}

// NewChangeCheck returns a check of statements against column, a row's
// StatementChecksums.
func NewChangeCheck(column []string) *ChangeCheck {
	return &ChangeCheck{
		column: column,
		digest: len(column) == 1 && strings.HasPrefix(column[0], digestPrefix),
		at:     -1,
	}
}

// Add records the checksum of the next statement.
func (c *ChangeCheck) Add(sum string) {
	if c.digest {
		c.sums.Add(sum)
	} else if c.at < 0 && (c.n >= len(c.column) || c.column[c.n] != sum) {
		c.at = c.n
	}
	c.n++
}

// Result is Changed's answer for the statements added.
func (c *ChangeCheck) Result() (at int, changed bool) {
	if c.digest {
		if c.n <= ListedSums || c.sums.Column()[0] != c.column[0] {
			return -1, true
		}
		return 0, false
	}
	if c.at >= 0 {
		return c.at, true
	}
	return 0, false
}
