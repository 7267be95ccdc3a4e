package source

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/runwaydb/runway/migration"
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

// migration.Load reads a folder through one reused buffer per worker: every
// migration still gets its own file's text, whatever the order of sizes.
func TestLoadThroughReusedBuffers(t *testing.T) {
	dir := t.TempDir()
	want := map[string]string{}
	for i := 1; i <= 300; i++ {
		// Sizes go up and down so a short file follows a long one in a buffer.
		body := fmt.Sprintf("CREATE TABLE t_%d (id integer);\n", i) + strings.Repeat(fmt.Sprintf("-- filler %d\n", i), (i*37)%200)
		name := fmt.Sprintf("%04d_t%d.up.sql", i, i)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		want[name] = body
	}
	ms, err := migration.Load(newDirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != len(want) {
		t.Fatalf("loaded %d migrations, want %d", len(ms), len(want))
	}
	for _, m := range ms {
		if got := m.Up.Segments[0].Text; got != want[m.Up.File] {
			t.Fatalf("%s: text %q…, want %q…", m.Up.File, got[:min(40, len(got))], want[m.Up.File][:40])
		}
		if sum := sha256.Sum256([]byte(want[m.Up.File])); m.Up.Checksum != hex.EncodeToString(sum[:]) {
			t.Fatalf("%s: checksum %s is not the file's", m.Up.File, m.Up.Checksum)
		}
	}
}

// A file longer than migration.LargeFile is not read whole by the folder
// reader: Load checks it as a stream, and its statements come from the file.
func TestLargeFileIsStreamed(t *testing.T) {
	old := migration.LargeFile
	migration.LargeFile = 1 << 10
	t.Cleanup(func() { migration.LargeFile = old })
	dir := t.TempDir()
	big := strings.Repeat("INSERT INTO t VALUES (1);\n", 1000)
	os.WriteFile(filepath.Join(dir, "0001_small.up.sql"), []byte("CREATE TABLE t (id int);\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "0002_big.up.sql"), []byte(big), 0o644)
	ms, err := migration.Load(newDirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Up.Streamed() || !ms[1].Up.Streamed() || ms[1].Up.Segments != nil {
		t.Fatalf("streamed: %v %v", ms[0].Up.Streamed(), ms[1].Up.Streamed())
	}
	if sum := sha256.Sum256([]byte(big)); ms[1].Up.Checksum != hex.EncodeToString(sum[:]) {
		t.Fatal("checksum of the streamed file is not the file's")
	}
	n := 0
	for st, err := range ms[1].Up.StatementSeq(migration.Postgres) {
		if err != nil || st.SQL != "INSERT INTO t VALUES (1)" {
			t.Fatalf("statement %d: %q, %v", n+1, st.SQL, err)
		}
		n++
	}
	if n != 1000 {
		t.Fatalf("%d statements, want 1000", n)
	}
}
