package source

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/runwaydb/runway/migration"
)

var migrations = []entry{
	file("0001_init.up.sql", "CREATE TABLE a (id int);"),
	file("0001_init.down.sql", "DROP TABLE a;"),
	file("0002_b.up.sql", "CREATE TABLE b (id int);"),
}

func wantFiles(t *testing.T, fsys fs.FS, want map[string]string) {
	t.Helper()
	got := readAll(t, fsys)
	if !maps.Equal(got, want) {
		t.Fatalf("files = %v\nwant    %v", got, want)
	}
}

func asMap(entries []entry, prefix string) map[string]string {
	m := map[string]string{}
	for _, e := range entries {
		if !strings.HasSuffix(e.name, "/") {
			m[strings.TrimPrefix(e.name, prefix)] = e.body
		}
	}
	return m
}

func openOK(t *testing.T, spec string, opts ...Option) *Source {
	t.Helper()
	src, err := Open(t.Context(), spec, opts...)
	if err != nil {
		t.Fatalf("Open(%q): %v", spec, err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func openErr(t *testing.T, spec string, kind error, opts ...Option) *Error {
	t.Helper()
	src, err := Open(t.Context(), spec, opts...)
	if err == nil {
		src.Close()
		t.Fatalf("Open(%q) succeeded, want %v", spec, kind)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("Open(%q) = %v, want it to match %v", spec, err, kind)
	}
	return asError(t, err)
}

func TestFolder(t *testing.T) {
	dir := t.TempDir()
	for _, e := range migrations {
		writeFile(t, dir, e.name, []byte(e.body))
	}
	src := openOK(t, dir)
	if src.String() != dir {
		t.Errorf("String() = %q, want %q", src.String(), dir)
	}
	wantFiles(t, src.FS(), asMap(migrations, ""))
}

func TestFolderSub(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, e := range migrations {
		writeFile(t, "repo/db/migrations", e.name, []byte(e.body))
	}
	writeFile(t, "repo", "README.md", []byte("hi"))
	for _, spec := range []string{"./repo//db/migrations", "repo//db/migrations/", "repo///db//migrations"} {
		wantFiles(t, openOK(t, spec).FS(), asMap(migrations, ""))
	}
	// A trailing "//" picks the root.
	if got := readAll(t, openOK(t, "repo//").FS()); got["README.md"] != "hi" {
		t.Errorf("repo// did not open the root: %v", got)
	}
}

func TestFolderErrors(t *testing.T) {
	t.Chdir(t.TempDir())
	writeFile(t, "repo", "notes.txt", []byte("x"))
	writeFile(t, ".", "0001_a.up.sql", []byte("x"))

	e := openErr(t, "./migrations", ErrNotFound)
	if e.Error() != "./migrations: no such file or folder" || !errors.Is(e, fs.ErrNotExist) {
		t.Errorf("missing folder: %q", e)
	}
	e = openErr(t, "repo//migrations", ErrNotFound)
	if e.Error() != `repo: no sub-folder "migrations"` {
		t.Errorf("missing sub-folder: %q", e)
	}
	e = openErr(t, "repo//notes.txt", ErrNotFound)
	if e.Error() != `repo: sub-folder "notes.txt" is a file, not a folder` {
		t.Errorf("sub-folder is a file: %q", e)
	}
	e = openErr(t, "0001_a.up.sql", ErrUnsupported)
	if !strings.HasPrefix(e.Error(), "0001_a.up.sql: is a file, not a folder or an archive; supported: a folder, or a .zip") {
		t.Errorf("plain file: %q", e)
	}
	e = openErr(t, "repo//../etc", ErrInvalid)
	if e.Error() != `repo: sub-folder "../etc" must stay inside the source (no "..")` {
		t.Errorf("escaping sub-folder: %q", e)
	}
	openErr(t, "", ErrInvalid)
	openErr(t, "a.zip//db/../../x", ErrInvalid)

	if os.Getuid() != 0 {
		os.MkdirAll("locked", 0o000)
		defer os.Chmod("locked", 0o755)
		_, err := Open(t.Context(), "locked")
		if e := asError(t, err); !errors.Is(err, fs.ErrPermission) || !strings.HasPrefix(e.Error(), "locked: cannot read folder") {
			t.Errorf("unreadable folder: %v", err)
		}
	}
}

func TestUnsupportedSchemes(t *testing.T) {
	for _, spec := range []string{"ftp://host/m.zip", "s3://bucket/key.zip", "git+ssh://h/r"} {
		e := openErr(t, spec, ErrUnsupported)
		if !strings.Contains(e.Error(), "unsupported scheme") || !strings.Contains(e.Error(), "supported: a folder") {
			t.Errorf("%s: %q", spec, e)
		}
	}
	// The message lists what this call can read.
	e := openErr(t, "s3://bucket/key.zip", ErrUnsupported)
	want := `s3://bucket/key.zip: unsupported scheme "s3://"; supported: a folder, or a .zip, .tar.gz, .tgz or .tar file, ` +
		"or an https:// URL of one (optionally pinned with #sha256=HEX), each optionally followed by //sub/folder " +
		"(s3:// is not enabled here: it needs the fetcher of package source/s3)"
	if e.Error() != want {
		t.Errorf("error = %q\nwant    %q", e, want)
	}
	e = openErr(t, "ftp://host/m.zip", ErrUnsupported, WithFetcher("s3", &fakeFetcher{}))
	if !strings.HasSuffix(e.Error(), "or an s3://bucket/key object or an s3://bucket/prefix/ of .sql objects, each optionally followed by //sub/folder") {
		t.Errorf("with s3: %q", e)
	}
	// https can be turned off, keeping Open off the network.
	e = openErr(t, "https://example.com/m.zip//db", ErrUnsupported, WithFetcher("https", nil))
	if strings.Contains(e.Error(), "https:// URL") {
		t.Errorf("https off: %q", e)
	}
	// Plain http is refused before any connection, except to loopback.
	e = openErr(t, "HTTP://example.com/y.zip", ErrUnsupported)
	if e.Error() != "HTTP://example.com/y.zip: plain http:// is refused (anyone on the way could change the migrations): use https://" {
		t.Errorf("http: %q", e)
	}
	openErr(t, "x.zip", ErrInvalid, WithFetcher("3x", nil))
}

// Every archive format, with and without an extension, at the root and in
// a sub-folder.
func TestArchiveFormats(t *testing.T) {
	nested := []entry{file("README.md", "readme"), {name: "db/"}, {name: "db/migrations/"}}
	for _, e := range migrations {
		nested = append(nested, file("db/migrations/"+e.name, e.body))
	}
	build := map[string]func(...entry) []byte{
		".zip":    func(e ...entry) []byte { return zipBytes(t, e...) },
		".tar.gz": func(e ...entry) []byte { return tarBytes(t, true, e...) },
		".tgz":    func(e ...entry) []byte { return tarBytes(t, true, e...) },
		".tar":    func(e ...entry) []byte { return tarBytes(t, false, e...) },
		".TGZ":    func(e ...entry) []byte { return tarBytes(t, true, e...) },
	}
	for ext, mk := range build {
		t.Run(ext, func(t *testing.T) {
			dir := t.TempDir()
			flat := writeFile(t, dir, "flat"+ext, mk(migrations...))
			wantFiles(t, openOK(t, flat).FS(), asMap(migrations, ""))

			deep := writeFile(t, dir, "deep"+ext, mk(nested...))
			wantFiles(t, openOK(t, deep+"//db/migrations").FS(), asMap(migrations, ""))
			wantFiles(t, openOK(t, deep+"//db/migrations/").FS(), asMap(migrations, ""))
			all := asMap(nested, "")
			wantFiles(t, openOK(t, deep).FS(), all)

			// Without an extension the content tells the format.
			bare := writeFile(t, dir, "artifact-"+strings.Trim(ext, "."), mk(nested...))
			wantFiles(t, openOK(t, bare+"//db").FS(), asMap(nested[3:], "db/"))

			e := openErr(t, deep+"//db/migration", ErrNotFound)
			if !strings.HasSuffix(e.Error(), `: no sub-folder "db/migration" in the archive (its top level holds: README.md, db/)`) {
				t.Errorf("missing sub-folder: %q", e)
			}
			e = openErr(t, deep+"//README.md", ErrNotFound)
			if !strings.HasSuffix(e.Error(), `: sub-folder "README.md" is a file, not a folder`) {
				t.Errorf("sub-folder is a file: %q", e)
			}
			openErr(t, filepath.Join(dir, "missing"+ext), ErrNotFound)
		})
	}
}

// A CodePipeline source artifact is the whole repository zipped, without
// folder entries; the migrations sit in db/migrations.
func TestCodePipelineArtifact(t *testing.T) {
	t.Chdir(t.TempDir())
	entries := []entry{
		file("buildspec.yml", "version: 0.2"),
		file("src/main.go", "package main"),
		file("db/migrations/20240101000000_init.up.sql", "CREATE TABLE users (id bigint primary key);"),
		file("db/migrations/20240101000000_init.down.sql", "DROP TABLE users;"),
		file("db/migrations/20240201000000_email.sql", "-- +goose Up\nALTER TABLE users ADD email text;\n-- +goose Down\nALTER TABLE users DROP email;\n"),
		file("db/seeds/dev.sql", "INSERT INTO users VALUES (1);"),
	}
	writeFile(t, ".", "artifact.zip", zipBytes(t, entries...))
	src := openOK(t, "artifact.zip//db/migrations")
	if src.String() != "artifact.zip//db/migrations" {
		t.Errorf("String() = %q", src.String())
	}
	ms, err := migration.Load(src.FS())
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Name != "init" || ms[1].Name != "email" {
		t.Fatalf("loaded %d migrations: %+v", len(ms), ms)
	}
	// Only the chosen folder is kept in memory.
	if _, err := fs.Stat(src.FS(), "../seeds/dev.sql"); err == nil {
		t.Error("a path outside the sub-folder is reachable")
	}
	if err := fstest.TestFS(src.FS(), "20240101000000_init.up.sql", "20240101000000_init.down.sql", "20240201000000_email.sql"); err != nil {
		t.Fatal(err)
	}
}

// GitHub and git archive put the repository under a top folder.
func TestSubFolderHint(t *testing.T) {
	t.Chdir(t.TempDir())
	writeFile(t, ".", "repo.tar.gz", tarBytes(t, true,
		entry{typ: 'g', body: "commit 0123abc"}, // git archive's pax global header
		file("runway-0123abc/db/migrations/0001_a.up.sql", "SELECT 1;")))
	e := openErr(t, "repo.tar.gz//db/migrations", ErrNotFound)
	if e.Error() != `repo.tar.gz: no sub-folder "db/migrations" in the archive; did you mean "runway-0123abc/db/migrations"?` {
		t.Errorf("%q", e)
	}
	wantFiles(t, openOK(t, "repo.tar.gz//runway-0123abc/db/migrations").FS(), map[string]string{"0001_a.up.sql": "SELECT 1;"})
}

// Names the way real tools write them: "./" prefixes (tar -C dir .),
// backslashes (Windows PowerShell's Compress-Archive).
func TestArchiveNameForms(t *testing.T) {
	dir := t.TempDir()
	tgz := writeFile(t, dir, "dot.tgz", tarBytes(t, true, entry{name: "./"}, entry{name: "./m/"}, file("./m/0001_a.up.sql", "A"), file("m//0002_b.up.sql", "B")))
	wantFiles(t, openOK(t, tgz+"//m").FS(), map[string]string{"0001_a.up.sql": "A", "0002_b.up.sql": "B"})

	z := writeFile(t, dir, "win.zip", zipBytes(t, file(`db\migrations\0001_a.up.sql`, "A")))
	wantFiles(t, openOK(t, z+"//db/migrations").FS(), map[string]string{"0001_a.up.sql": "A"})

	empty := writeFile(t, dir, "empty.zip", zipBytes(t))
	wantFiles(t, openOK(t, empty).FS(), map[string]string{})
	e := openErr(t, empty+"//db", ErrNotFound)
	if !strings.HasSuffix(e.Error(), `no sub-folder "db" in the archive (the archive is empty)`) {
		t.Errorf("%q", e)
	}
}

// The guards: each crafted archive is refused as a whole, with a message
// naming the archive and the entry.
func TestGuards(t *testing.T) {
	ok := file("0001_ok.up.sql", "SELECT 1;")
	cases := []struct {
		name    string
		zip     []entry // nil: tar only
		tar     []entry // nil: zip only
		sub     string
		entry   string
		message string
	}{
		{name: "traversal", zip: []entry{ok, file("../../etc/passwd", "x")}, tar: []entry{ok, file("../../etc/passwd", "x")},
			entry: "../../etc/passwd", message: "path escapes the archive root"},
		{name: "traversal after a folder", zip: []entry{file("a/../../b.sql", "x")}, tar: []entry{file("a/../../b.sql", "x")},
			entry: "a/../../b.sql", message: "path escapes the archive root"},
		{name: "backslash traversal", zip: []entry{file(`..\..\evil.sql`, "x")}, tar: []entry{file(`..\..\evil.sql`, "x")},
			entry: `..\..\evil.sql`, message: "path escapes the archive root"},
		{name: "dot-dot inside", zip: []entry{file("a/../0001_b.up.sql", "x")}, tar: []entry{file("a/../0001_b.up.sql", "x")},
			entry: "a/../0001_b.up.sql", message: `path contains a ".." element`},
		{name: "absolute", zip: []entry{file("/etc/cron.d/x", "x")}, tar: []entry{file("/etc/cron.d/x", "x")},
			entry: "/etc/cron.d/x", message: "absolute path"},
		{name: "windows drive", zip: []entry{file(`C:\Windows\x.sql`, "x")}, tar: []entry{file(`C:\Windows\x.sql`, "x")},
			entry: `C:\Windows\x.sql`, message: "absolute path (Windows drive)"},
		{name: "windows drive relative", zip: []entry{file(`c:x.sql`, "x")},
			entry: `c:x.sql`, message: "absolute path (Windows drive)"},
		{name: "UNC", zip: []entry{file(`\\host\share\x.sql`, "x")}, tar: []entry{file(`\\host\share\x.sql`, "x")},
			entry: `\\host\share\x.sql`, message: "absolute path"},
		{name: "NUL", zip: []entry{file("a.sql\x00.txt", "x")},
			entry: "a.sql\x00.txt", message: "entry name contains a NUL byte"},
		{name: "not UTF-8", zip: []entry{file("0001_caf\xe9.up.sql", "x")}, tar: []entry{file("0001_caf\xe9.up.sql", "x")},
			entry: "0001_caf\xe9.up.sql", message: "entry name is not valid UTF-8"},
		{name: "symlink", zip: []entry{ok, {name: "0002_x.up.sql", body: "/etc/passwd", mode: fs.ModeSymlink | 0o777}},
			tar:   []entry{ok, {name: "0002_x.up.sql", typ: '2', link: "/etc/passwd"}},
			entry: "0002_x.up.sql", message: "symbolic links are not allowed"},
		{name: "symlink folder", zip: []entry{{name: "db", body: "/", mode: fs.ModeSymlink | 0o777}, file("db/x.sql", "x")},
			tar:   []entry{{name: "db", typ: '2', link: "/"}, file("db/x.sql", "x")},
			entry: "db", message: "symbolic links are not allowed"},
		{name: "hard link", tar: []entry{ok, {name: "0002_x.up.sql", typ: '1', link: "0001_ok.up.sql"}},
			entry: "0002_x.up.sql", message: `hard links are not allowed (it links to "0001_ok.up.sql")`},
		{name: "char device", tar: []entry{{name: "null", typ: '3'}},
			entry: "null", message: "only regular files and folders are allowed, not a device"},
		{name: "block device", tar: []entry{{name: "sda", typ: '4'}},
			entry: "sda", message: "only regular files and folders are allowed, not a device"},
		{name: "fifo", zip: []entry{{name: "pipe", mode: fs.ModeNamedPipe | 0o644}}, tar: []entry{{name: "pipe", typ: '6'}},
			entry: "pipe", message: "only regular files and folders are allowed, not a named pipe"},
		{name: "duplicate", zip: []entry{ok, file("0001_ok.up.sql", "DROP TABLE users;")}, tar: []entry{ok, file("0001_ok.up.sql", "DROP TABLE users;")},
			entry: "0001_ok.up.sql", message: `duplicate entry: an earlier entry is also "0001_ok.up.sql"`},
		{name: "duplicate after cleaning", zip: []entry{ok, file("./0001_ok.up.sql", "x")}, tar: []entry{ok, file("./0001_ok.up.sql", "x")},
			entry: "./0001_ok.up.sql", message: `duplicate entry: an earlier entry is also "0001_ok.up.sql"`},
		{name: "duplicate by backslash", zip: []entry{file("m/a.sql", "1"), file(`m\a.sql`, "2")},
			entry: `m\a.sql`, message: `duplicate entry: an earlier entry is also "m/a.sql"`},
		{name: "file then folder", zip: []entry{file("m", "x"), file("m/a.sql", "1")}, tar: []entry{file("m", "x"), file("m/a.sql", "1")},
			entry: "m/a.sql", message: `lies inside "m", which is a file`},
		{name: "folder then file", zip: []entry{file("m/a.sql", "1"), file("m", "x")}, tar: []entry{file("m/a.sql", "1"), file("m", "x")},
			entry: "m", message: `file has the name of a folder "m"`},
		{name: "file then folder entry", zip: []entry{file("m", "x"), {name: "m/"}}, tar: []entry{file("m", "x"), {name: "m/"}},
			entry: "m/", message: `folder has the name of an earlier file "m"`},
		{name: "file as root", zip: []entry{file(".", "x")}, tar: []entry{file(".", "x")},
			entry: ".", message: "a file cannot be the archive root"},
		{name: "outside the chosen sub-folder", sub: "db/migrations",
			zip:   []entry{file("db/migrations/0001_a.up.sql", "x"), {name: "node_modules/.bin/x", mode: fs.ModeSymlink | 0o777, body: "../x"}},
			tar:   []entry{file("db/migrations/0001_a.up.sql", "x"), {name: "node_modules/.bin/x", typ: '2', link: "../x"}},
			entry: "node_modules/.bin/x", message: "symbolic links are not allowed"},
	}
	t.Chdir(t.TempDir())
	for _, c := range cases {
		for _, f := range []struct {
			file    string
			entries []entry
			build   func() []byte
		}{
			{"artifact.zip", c.zip, func() []byte { return zipBytes(t, c.zip...) }},
			{"artifact.tar.gz", c.tar, func() []byte { return tarBytes(t, true, c.tar...) }},
			{"artifact.tar", c.tar, func() []byte { return tarBytes(t, false, c.tar...) }},
		} {
			if f.entries == nil {
				continue
			}
			t.Run(c.name+"/"+f.file, func(t *testing.T) {
				writeFile(t, ".", f.file, f.build())
				spec := f.file
				if c.sub != "" {
					spec += "//" + c.sub
				}
				e := openErr(t, spec, ErrUnsafeArchive)
				if e.Entry != c.entry || e.Path != f.file {
					t.Errorf("Path, Entry = %q, %q; want %q, %q", e.Path, e.Entry, f.file, c.entry)
				}
				want := f.file + ": entry " + quoteName(c.entry) + ": " + c.message
				if !strings.HasPrefix(e.Error(), want) {
					t.Errorf("error = %q\nwant prefix %q", e.Error(), want)
				}
			})
		}
	}
}

// The message the CLI shows for the classic zip-slip entry, pinned.
func TestTraversalMessage(t *testing.T) {
	t.Chdir(t.TempDir())
	writeFile(t, ".", "artifact.zip", zipBytes(t, file("../../etc/passwd", "root::0:0::/:/bin/sh")))
	_, err := Open(t.Context(), "artifact.zip")
	if got, want := err.Error(), `artifact.zip: entry "../../etc/passwd": path escapes the archive root`; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
	// A hostile name cannot forge output lines and is shortened.
	writeFile(t, ".", "evil.zip", zipBytes(t, file("/x\n"+strings.Repeat("a", 1000), "x")))
	_, err = Open(t.Context(), "evil.zip")
	if msg := err.Error(); strings.Contains(msg, "\n") || len(msg) > 300 {
		t.Errorf("error = %q", msg)
	}
}

func TestLimits(t *testing.T) {
	t.Chdir(t.TempDir())
	zeros := make([]byte, 1<<20)
	mib := string(zeros)

	t.Run("entry with an honest header", func(t *testing.T) {
		writeFile(t, ".", "big.zip", zipBytes(t, file("big.sql", strings.Repeat("x", 200))))
		e := openErr(t, "big.zip", ErrUnsafeArchive, MaxEntrySize(100))
		if e.Error() != `big.zip: entry "big.sql": declares 200 bytes, larger than the 100 bytes entry limit (MaxEntrySize)` {
			t.Errorf("%q", e)
		}
		writeFile(t, ".", "big.tar", tarBytes(t, false, file("big.sql", strings.Repeat("x", 200))))
		openErr(t, "big.tar", ErrUnsafeArchive, MaxEntrySize(100))
	})
	t.Run("zip entry with a lying header", func(t *testing.T) {
		// 1 MiB of zeros whose header claims 10 bytes: stopped by counting.
		writeFile(t, ".", "liar.zip", lyingZip(t, "0001_a.up.sql", zeros, 10))
		e := openErr(t, "liar.zip", ErrUnsafeArchive, MaxEntrySize(1<<10))
		if e.Error() != `liar.zip: entry "0001_a.up.sql": larger than the 1 KiB entry limit (MaxEntrySize)` {
			t.Errorf("%q", e)
		}
		// Within the limit the lie is still caught.
		writeFile(t, ".", "liar2.zip", lyingZip(t, "0001_a.up.sql", []byte("SELECT 1; SELECT 2;"), 10))
		e = openErr(t, "liar2.zip", ErrCorrupt)
		if e.Error() != `liar2.zip: entry "0001_a.up.sql": holds 19 bytes but its header declares 10` {
			t.Errorf("%q", e)
		}
		writeFile(t, ".", "short.zip", lyingZip(t, "0001_a.up.sql", []byte("SELECT 1;"), 100))
		openErr(t, "short.zip", ErrCorrupt)
	})
	bomb := make([]entry, 20)
	for i := range bomb {
		bomb[i] = file(strings.Repeat("b", i+1)+".sql", mib)
	}
	t.Run("zip bomb", func(t *testing.T) {
		writeFile(t, ".", "bomb.zip", zipBytes(t, bomb...))
		e := openErr(t, "bomb.zip", ErrUnsafeArchive, MaxTotalSize(5<<20))
		if e.Error() != `bomb.zip: entry "bbbbbb.sql": archive expands beyond the 5 MiB total limit (MaxTotalSize)` {
			t.Errorf("%q", e)
		}
	})
	t.Run("tar.gz bomb", func(t *testing.T) {
		writeFile(t, ".", "bomb.tgz", tarBytes(t, true, bomb...))
		e := openErr(t, "bomb.tgz", ErrUnsafeArchive, MaxTotalSize(5<<20))
		if !strings.HasSuffix(e.Error(), "archive expands beyond the 5 MiB total limit (MaxTotalSize)") {
			t.Errorf("%q", e)
		}
		// Content outside the chosen sub-folder is never kept but still
		// decompressed, so it counts against the total too.
		e = openErr(t, "bomb.tgz//db", ErrUnsafeArchive, MaxTotalSize(5<<20))
		if !strings.HasSuffix(e.Error(), "archive expands beyond the 5 MiB total limit (MaxTotalSize)") {
			t.Errorf("%q", e)
		}
		// One entry larger than the total, header honest: refused before
		// reading it.
		writeFile(t, ".", "one.tgz", tarBytes(t, true, file("x/huge.bin", strings.Repeat(mib, 3))))
		openErr(t, "one.tgz//db", ErrUnsafeArchive, MaxTotalSize(2<<20))
	})
	t.Run("too many entries", func(t *testing.T) {
		var many []entry
		for i := range 6 {
			many = append(many, file(strings.Repeat("m", i+1)+".sql", "x"))
		}
		writeFile(t, ".", "many.zip", zipBytes(t, many...))
		e := openErr(t, "many.zip", ErrUnsafeArchive, MaxEntries(5))
		if e.Error() != "many.zip: holds 6 entries, more than the 5 limit (MaxEntries)" {
			t.Errorf("%q", e)
		}
		writeFile(t, ".", "many.tar.gz", tarBytes(t, true, many...))
		e = openErr(t, "many.tar.gz", ErrUnsafeArchive, MaxEntries(5))
		if e.Error() != "many.tar.gz: holds more than 5 entries (the MaxEntries limit)" {
			t.Errorf("%q", e)
		}
		openOK(t, "many.tar.gz", MaxEntries(6))
		openOK(t, "many.zip", MaxEntries(6))
	})
	t.Run("within the defaults", func(t *testing.T) {
		writeFile(t, ".", "ok.tgz", tarBytes(t, true, bomb...))
		if got := len(readAll(t, openOK(t, "ok.tgz").FS())); got != 20 {
			t.Errorf("%d files", got)
		}
	})
	t.Run("invalid options", func(t *testing.T) {
		for _, opt := range []Option{MaxEntrySize(0), MaxTotalSize(-1), MaxEntries(0)} {
			e := openErr(t, "ok.tgz", ErrInvalid, opt)
			if !strings.Contains(e.Error(), "must be positive") {
				t.Errorf("%q", e)
			}
		}
	})
}

func TestCorruptArchives(t *testing.T) {
	t.Chdir(t.TempDir())
	good := tarBytes(t, true, migrations...)
	damaged := slices.Clone(good)
	damaged[len(damaged)-6] ^= 0xff // the gzip CRC-32
	cases := map[string][]byte{
		"empty.zip":     nil,
		"text.zip":      []byte("not a zip"),
		"empty.tar.gz":  nil,
		"plain.tar.gz":  tarBytes(t, false, migrations...),
		"cut.tgz":       good[:len(good)/2],
		"crc.tgz":       damaged,
		"cut.tar":       tarBytes(t, false, migrations...)[:700],
		"notgzip.tgz":   zipBytes(t, migrations...),
		"ziptrunc.zip":  zipBytes(t, migrations...)[:60],
		"empty.tar":     nil,
		"notrailer.tar": tarBytes(t, false, migrations...)[:2048],
		"tarheader.tar": append(make([]byte, 100), []byte("garbage garbage garbage garbage garbage")...),
	}
	for name, data := range cases {
		writeFile(t, ".", name, data)
		e := openErr(t, name, ErrCorrupt)
		if e.Path != name {
			t.Errorf("%s: %q", name, e)
		}
		t.Logf("%s", e)
	}
}

func TestClose(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "m.zip", zipBytes(t, migrations...))
	src, err := Open(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := fs.ReadDir(src.FS(), "."); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("ReadDir after Close: %v", err)
	}
}

func TestCanceled(t *testing.T) {
	p := writeFile(t, t.TempDir(), "m.zip", zipBytes(t, migrations...))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Open(ctx, p); !errors.Is(err, context.Canceled) {
		t.Errorf("Open with a canceled context: %v", err)
	}
}

// fakeFetcher stands in for a remote store: it "downloads" an archive
// (data) or a folder (files).
type fakeFetcher struct {
	data     []byte
	files    map[string][]byte
	closed   bool
	gotReq   FetchRequest
	gotCtxOK bool
}

func (f *fakeFetcher) Fetch(ctx context.Context, req FetchRequest) (*Download, error) {
	f.gotReq, f.gotCtxOK = req, ctx.Err() == nil
	if f.files != nil {
		return &Download{Files: f.files}, nil
	}
	return &Download{Name: path.Base(req.URL), Size: int64(len(f.data)), Body: &closeRecorder{bytes.NewReader(f.data), &f.closed}}, nil
}

type closeRecorder struct {
	io.Reader
	closed *bool
}

func (c *closeRecorder) Close() error { *c.closed = true; return nil }

func TestFetcherSlot(t *testing.T) {
	var nested []entry
	for _, e := range migrations {
		nested = append(nested, file("db/"+e.name, e.body))
	}
	f := &fakeFetcher{data: zipBytes(t, nested...)}
	src, err := Open(t.Context(), "S3://bucket/pipeline/SourceArti/Ab12Cd//db", WithFetcher("s3", f), MaxEntries(7))
	if err != nil {
		t.Fatal(err)
	}
	want := FetchRequest{URL: "S3://bucket/pipeline/SourceArti/Ab12Cd", Name: "S3://bucket/pipeline/SourceArti/Ab12Cd",
		MaxSize: DefaultMaxTotalSize, MaxFileSize: DefaultMaxEntrySize, MaxFiles: 7}
	if f.gotReq != want || !f.gotCtxOK {
		t.Errorf("Fetch(%+v)", f.gotReq)
	}
	if !f.closed {
		t.Error("the download's body was not closed")
	}
	wantFiles(t, src.FS(), asMap(migrations, ""))
	src.Close()

	// A refused download is named by its URL.
	f = &fakeFetcher{data: zipBytes(t, file("../x", "x"))}
	_, err = Open(t.Context(), "s3://bucket/key.zip", WithFetcher("s3", f))
	if e := asError(t, err); e.Path != "s3://bucket/key.zip" || !errors.Is(err, ErrUnsafeArchive) || !f.closed {
		t.Errorf("err = %v, closed = %v", err, f.closed)
	}

	// A folder download goes through the same name and size guards.
	f = &fakeFetcher{files: map[string][]byte{"0001_a.up.sql": []byte("A"), "0002_b.up.sql": []byte("B")}}
	wantFiles(t, openOK(t, "s3://b/m/", WithFetcher("s3", f)).FS(), map[string]string{"0001_a.up.sql": "A", "0002_b.up.sql": "B"})
	e := openErr(t, "s3://b/m//db", ErrInvalid, WithFetcher("s3", f))
	if e.Error() != "s3://b/m: a //sub/folder applies to archives; for a folder of objects put it in the location (…/db/)" {
		t.Errorf("%q", e)
	}
	openErr(t, "s3://b/m/", ErrUnsafeArchive, WithFetcher("s3", f), MaxTotalSize(1))
	openErr(t, "s3://b/m/", ErrUnsafeArchive, WithFetcher("s3", f), MaxEntries(1))
	f = &fakeFetcher{files: map[string][]byte{"../0001_a.up.sql": []byte("A")}}
	e = openErr(t, "s3://b/m/", ErrUnsafeArchive, WithFetcher("s3", f))
	if e.Error() != `s3://b/m/: entry "../0001_a.up.sql": path escapes the archive root` {
		t.Errorf("%q", e)
	}
}

func TestMemFS(t *testing.T) {
	p := writeFile(t, t.TempDir(), "m.tgz", tarBytes(t, true,
		file("a/b/c.sql", "c"), file("a/d.sql", "d"), entry{name: "e/"}, file("z.sql", "")))
	fsys := openOK(t, p).FS()
	if err := fstest.TestFS(fsys, "a/b/c.sql", "a/d.sql", "e", "z.sql"); err != nil {
		t.Fatal(err)
	}
	st, _ := fs.Stat(fsys, "a/d.sql")
	if st.Mode() != 0o444 {
		t.Errorf("file mode %v", st.Mode())
	}
	b, _ := fs.ReadFile(fsys, "a/d.sql")
	b[0] = 'X'
	if b2, _ := fs.ReadFile(fsys, "a/d.sql"); string(b2) != "d" {
		t.Error("ReadFile exposes the stored bytes")
	}
}

func TestParseSpec(t *testing.T) {
	cases := []struct{ in, scheme, loc, sub string }{
		{"migrations", "", "migrations", ""},
		{"./migrations/", "", "./migrations/", ""},
		{"/abs/path", "", "/abs/path", ""},
		{"/data//db/migrations", "", "/data", "db/migrations"},
		{"//srv/x", "", "//srv/x", ""},
		{"a.zip//", "", "a.zip", ""},
		{"a.zip//./db/./m/", "", "a.zip", "db/m"},
		{"a.zip///db", "", "a.zip", "db"},
		{`C:\art.zip`, "", `C:\art.zip`, ""},
		{"C://x", "", "C:", "x"},
		{"s3://bucket/key.zip//db", "s3", "s3://bucket/key.zip", "db"},
		{"HTTPS://h/a.tgz", "https", "HTTPS://h/a.tgz", ""},
	}
	for _, c := range cases {
		sp, err := parseSpec(c.in)
		if err != nil || sp.scheme != c.scheme || sp.loc != c.loc || sp.sub != c.sub {
			t.Errorf("parseSpec(%q) = %+v, %v; want %q %q %q", c.in, sp, err, c.scheme, c.loc, c.sub)
		}
	}
	for _, bad := range []string{"", "s3://", "s3:////x", "a//..", "a//b/../../c", "a//\xfc"} {
		if _, err := parseSpec(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("parseSpec(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}
