package source

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// The lean folder reader behaves as an fs.FS should, and reads files of any
// size whole.
func TestDirFS(t *testing.T) {
	dir := t.TempDir()
	big := make([]byte, 100<<10+7)
	for i := range big {
		big[i] = byte('a' + i%26)
	}
	os.WriteFile(filepath.Join(dir, "0001_a.up.sql"), []byte("SELECT 1;\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "0002_big.up.sql"), big, 0o644)
	os.WriteFile(filepath.Join(dir, "empty.sql"), nil, 0o644)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "x.sql"), []byte("x"), 0o644)
	fsys := newDirFS(dir)
	if err := fstest.TestFS(fsys, "0001_a.up.sql", "0002_big.up.sql", "empty.sql", "sub/x.sql"); err != nil {
		t.Fatal(err)
	}
	b, err := fsys.(dirFS).ReadFile("0002_big.up.sql")
	if err != nil || string(b) != string(big) {
		t.Fatalf("big file: %v, %d bytes", err, len(b))
	}
	if _, err := fsys.(dirFS).ReadFile("missing.sql"); !os.IsNotExist(err) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := fsys.(dirFS).ReadFile("../escape.sql"); err == nil {
		t.Fatal("an invalid path was read")
	}
}
