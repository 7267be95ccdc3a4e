//go:build unix

package source

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"testing/fstest"

	"github.com/runwaydb/runway/migration"
)

// A held folder (what migration.Load reads a source folder through) is an
// fs.FS like the folder itself, opens files relative to the folder, and
// gives its descriptor back when closed.
func TestHeldDir(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "0002_b.up.sql"), []byte("SELECT 2;\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "0001_a.up.sql"), []byte("SELECT 1;\n"), 0o644)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "x.sql"), []byte("x"), 0o644)
	fsys, err := newDirFS(dir).(dirFS).Hold()
	if err != nil {
		t.Fatal(err)
	}
	h := fsys.(*heldDir)
	if err := fstest.TestFS(fsys, "0001_a.up.sql", "0002_b.up.sql", "sub/x.sql"); err != nil {
		t.Fatal(err)
	}
	// The folder is renamed away and another put in its place: the held
	// folder still reads the one it opened, by its descriptor.
	if err := os.Rename(dir, dir+".old"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir + ".old") })
	os.Mkdir(dir, 0o755)
	if b, err := h.ReadFile("0002_b.up.sql"); err != nil || string(b) != "SELECT 2;\n" {
		t.Fatalf("read through the descriptor: %q, %v", b, err)
	}
	if _, err := h.ReadFile("missing.sql"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	} else if pe, ok := err.(*fs.PathError); !ok || pe.Path != "missing.sql" {
		t.Fatalf("the error names %v, want the file as given", err)
	}
	for _, bad := range []string{"../x.sql", "/etc/passwd", ""} {
		if _, _, err := h.AppendFile(nil, bad, -1); !errors.Is(err, fs.ErrInvalid) {
			t.Fatalf("%q was read: %v", bad, err)
		}
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ReadFile("0001_a.up.sql"); err == nil {
		t.Fatal("read after Close")
	}
}

// migration.Load holds a source folder only while it reads it: it closes
// the descriptor it opened, and a missing folder is still fs.ErrNotExist.
func TestLoadReleasesTheFolder(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts descriptors in /proc/self/fd")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "0001_a.up.sql"), []byte("SELECT 1;\n"), 0o644)
	fsys := newDirFS(dir)
	open := func() int {
		es, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	before := open()
	for range 20 {
		if ms, err := migration.Load(fsys); err != nil || len(ms) != 1 {
			t.Fatalf("load: %d, %v", len(ms), err)
		}
	}
	if after := open(); after > before {
		t.Fatalf("%d descriptors open after 20 loads, %d before", after, before)
	}
	if _, err := migration.Load(newDirFS(filepath.Join(dir, "gone"))); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing folder: %v", err)
	} else if pe, ok := err.(*fs.PathError); !ok || pe.Path != "." {
		t.Fatalf("missing folder: %v, want the path as os.DirFS gives it", err)
	}
}
