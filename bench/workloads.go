package main

import (
	"bufio"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// migration is one generated migration: the same SQL goes into every tool's
// file layout.
type migration struct {
	version int
	name    string
	sql     string // ends with a newline
}

// layouts, one per file format: runway and golang-migrate share the
// golang-migrate layout (Runway's native one).
const (
	layoutMigrate    = "migrate"     // 0001_name.up.sql
	layoutGoose      = "goose"       // 0001_name.sql, -- +goose Up
	layoutSQLMigrate = "sql-migrate" // 0001_name.sql, -- +migrate Up
	layoutDbmate     = "dbmate"      // 0001_name.sql, -- migrate:up
)

func pgTable(n int) string {
	return fmt.Sprintf("CREATE TABLE t_%d (id bigserial primary key, name text not null, created_at timestamptz default now());\nCREATE INDEX ON t_%d(name);\n", n, n)
}

func myTable(n int) string {
	return fmt.Sprintf("CREATE TABLE t_%d (id bigint auto_increment primary key, name varchar(255) not null, created_at timestamp default current_timestamp);\nCREATE INDEX t_%d_name_idx ON t_%d(name);\n", n, n, n)
}

// tables is W1/W4/W6's workload: count migrations each creating a table and
// an index.
func tables(count int, engine string) []migration {
	ms := make([]migration, count)
	for i := range ms {
		n := i + 1
		sql := pgTable(n)
		if engine == "mariadb" {
			sql = myTable(n)
		}
		ms[i] = migration{version: n, name: fmt.Sprintf("t_%d", n), sql: sql}
	}
	return ms
}

// bigInsert is W5's single migration: a table and rows inserted 1,000 per
// statement, one row per line (so that line-based parsers are not hit by a
// line-length limit), about 100 bytes a row.
func bigInsert(rows int) migration {
	var b strings.Builder
	b.Grow(rows * 101)
	b.WriteString("CREATE TABLE big (id bigint primary key, name text not null, payload text not null);\n")
	const perStmt = 1000
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	payload := make([]byte, 70)
	x := uint32(2463534242)
	for i := 1; i <= rows; i++ {
		if (i-1)%perStmt == 0 {
			b.WriteString("INSERT INTO big (id, name, payload) VALUES\n")
		}
		for j := range payload {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			payload[j] = alphabet[x%uint32(len(alphabet))]
		}
		fmt.Fprintf(&b, "(%d,'name_%07d','%s')", i, i, payload)
		if i%perStmt == 0 || i == rows {
			b.WriteString(";\n")
		} else {
			b.WriteString(",\n")
		}
	}
	return migration{version: 1, name: "big_insert", sql: b.String()}
}

// singleInserts is W7's single migration: a table and n single-row
// INSERTs, which every tool that records a migration's progress statement
// by statement (Runway on MariaDB) records n times: a cost that must grow
// with n, not with n².
func singleInserts(n int) migration {
	var b strings.Builder
	b.Grow(n * 48)
	b.WriteString("CREATE TABLE ins (id bigint primary key, name varchar(32) not null);\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "INSERT INTO ins (id, name) VALUES (%d, 'name_%07d');\n", i, i)
	}
	return migration{version: 1, name: "single_inserts", sql: b.String()}
}

func fileName(layout string, m migration) string {
	if layout == layoutMigrate {
		return fmt.Sprintf("%04d_%s.up.sql", m.version, m.name)
	}
	return fmt.Sprintf("%04d_%s.sql", m.version, m.name)
}

func header(layout string) string {
	switch layout {
	case layoutGoose:
		return "-- +goose Up\n"
	case layoutSQLMigrate:
		return "-- +migrate Up\n"
	case layoutDbmate:
		return "-- migrate:up\n"
	}
	return ""
}

// writeLayout writes ms into dir in the given layout. Only up sections: no
// tool is asked to revert.
func writeLayout(dir, layout string, ms []migration, stopped func() bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, m := range ms {
		if stopped() {
			return errStopped
		}
		f, err := os.Create(filepath.Join(dir, fileName(layout, m)))
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		w.WriteString(header(layout))
		w.WriteString(m.sql)
		if layout == layoutDbmate {
			w.WriteString("\n-- migrate:down\n")
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

// writeAll writes every migration's SQL, in order, into one file: what the
// database's own client runs as the floor.
func writeAll(path string, ms []migration) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for _, m := range ms {
		w.WriteString(m.sql)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// migrationSet is one generated workload on disk: a folder per layout and
// all.sql.
type migrationSet struct {
	root  string
	count int
	bytes int64
}

func (s migrationSet) dir(layout string) string { return filepath.Join(s.root, layout) }
func (s migrationSet) all() string              { return filepath.Join(s.root, "all.sql") }

// errStopped is what generate returns once stopped says the run is stopping.
var errStopped = errors.New("stopped")

func generate(root string, ms []migration, stopped func() bool) (migrationSet, error) {
	set := migrationSet{root: root, count: len(ms)}
	for _, l := range []string{layoutMigrate, layoutGoose, layoutSQLMigrate, layoutDbmate} {
		if err := writeLayout(set.dir(l), l, ms, stopped); err != nil {
			return set, err
		}
	}
	if err := writeAll(set.all(), ms); err != nil {
		return set, err
	}
	for _, m := range ms {
		set.bytes += int64(len(m.sql))
	}
	return set, nil
}

// versionSum is a migration file's version and the hex SHA-256 of its
// bytes: Runway's checksum of a file with no BOM and no carriage return.
type versionSum struct {
	version int64
	sum     string
}

// fileSums reads every VERSION_NAME.up.sql file of dir (the golang-migrate
// layout) and returns each one's version and checksum, in version order.
func fileSums(dir string) ([]versionSum, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var sums []versionSum
	for _, e := range entries {
		digits, _, ok := strings.Cut(e.Name(), "_")
		if !ok || !strings.HasSuffix(e.Name(), ".up.sql") {
			continue
		}
		v, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: no version: %v", e.Name(), err)
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		sums = append(sums, versionSum{v, hex.EncodeToString(sum[:])})
	}
	slices.SortFunc(sums, func(a, b versionSum) int { return cmp.Compare(a.version, b.version) })
	return sums, nil
}
