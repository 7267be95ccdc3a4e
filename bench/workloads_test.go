package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// The checksums the Go floor compares are those of the files it reads, one
// per version of the golang-migrate layout, in version order.
func TestFileSums(t *testing.T) {
	ms := tables(12, "postgres")
	set, err := generate(t.TempDir(), ms, func() bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	// Files of other layouts and names are not migrations of this one.
	if err := os.WriteFile(filepath.Join(set.dir(layoutMigrate), "README.md"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	sums, err := fileSums(set.dir(layoutMigrate))
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != len(ms) {
		t.Fatalf("%d sums, want %d", len(sums), len(ms))
	}
	for i, m := range ms {
		want := sha256.Sum256([]byte(m.sql))
		if sums[i].version != int64(m.version) || sums[i].sum != hex.EncodeToString(want[:]) {
			t.Errorf("sum %d: %d %s, want %d %x", i, sums[i].version, sums[i].sum, m.version, want)
		}
	}
	// An edited file has another checksum.
	path := filepath.Join(set.dir(layoutMigrate), fileName(layoutMigrate, ms[3]))
	if err := os.WriteFile(path, []byte(ms[3].sql+"-- edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := fileSums(set.dir(layoutMigrate))
	if err != nil {
		t.Fatal(err)
	}
	for i := range sums {
		if changed := again[i].sum != sums[i].sum; changed != (i == 3) {
			t.Errorf("sum %d changed: %v, want %v", i, changed, i == 3)
		}
	}
}
