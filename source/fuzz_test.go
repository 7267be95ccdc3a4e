package source

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// fuzzLimits keep a fuzzed archive from using much memory.
// fuzzSeq names each run's file; the fuzz function runs concurrently.
var fuzzSeq atomic.Int64

var fuzzLimits = []Option{MaxEntrySize(fuzzEntry), MaxTotalSize(fuzzTotal), MaxEntries(100)}

const (
	fuzzEntry = 4 << 10
	fuzzTotal = 64 << 10
)

// checkFuzzed opens data as the named file and checks the promises: no
// panic, errors are *Error, and a returned file system exposes only valid,
// relative, clean paths of regular files and folders within the limits.
func checkFuzzed(t *testing.T, dir, name string, data []byte) {
	p := filepath.Join(dir, fmt.Sprint(fuzzSeq.Add(1)), name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(filepath.Dir(p))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{p, p + "//db"} {
		src, err := Open(t.Context(), spec, fuzzLimits...)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error %v is %T, not *Error", err, err)
			}
			if se.Kind == nil && !errors.Is(err, fs.ErrPermission) {
				t.Fatalf("error without a kind: %v", err)
			}
			continue
		}
		var total int64
		err = fs.WalkDir(src.FS(), ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !fs.ValidPath(p) || strings.HasPrefix(p, "/") || strings.Contains(p, `\`) ||
				strings.Contains(p, "\x00") || (len(p) >= 2 && p[1] == ':') {
				t.Fatalf("exposed path %q", p)
			}
			for elem := range strings.SplitSeq(p, "/") {
				if elem == ".." {
					t.Fatalf("exposed path %q", p)
				}
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			switch {
			case d.IsDir():
			case info.Mode().IsRegular():
				b, err := fs.ReadFile(src.FS(), p)
				if err != nil {
					return err
				}
				if len(b) > fuzzEntry {
					t.Fatalf("%q holds %d bytes, over the entry limit", p, len(b))
				}
				total += int64(len(b))
			default:
				t.Fatalf("%q has mode %v", p, info.Mode())
			}
			return nil
		})
		if err != nil {
			t.Fatalf("walking the opened archive: %v", err)
		}
		if total > fuzzTotal {
			t.Fatalf("%d bytes in all, over the total limit", total)
		}
		src.Close()
	}
}

func seedArchives(build func(...entry) []byte, f interface{ Add(...any) }) {
	f.Add(build(migrations...))
	f.Add(build(file("db/0001_a.up.sql", "x"), entry{name: "db/"}, file("./db/b.sql", "y")))
	f.Add(build(file("../../etc/passwd", "x")))
	f.Add(build(file("/etc/x", "x"), file(`C:\x`, "y")))
	f.Add(build(file("a", "x"), file("a/b", "y")))
	f.Add(build(file("a.sql", "x"), file("a.sql", "y")))
	f.Add(build(file("big.sql", strings.Repeat("z", 5<<10))))
}

// FuzzZip: any bytes opened as a .zip never panic and never expose an
// unsafe path.
func FuzzZip(f *testing.F) {
	seedArchives(func(e ...entry) []byte { return zipBytes(f, e...) }, f)
	f.Add(zipBytes(f, entry{name: "l", body: "/etc", mode: fs.ModeSymlink | 0o777}))
	f.Add(lyingZip(f, "a.sql", make([]byte, 8<<10), 10))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFuzzed(t, dir, "f.zip", data)
	})
}

// FuzzTar: any bytes opened as a .tar and as a .tgz never panic and never
// expose an unsafe path.
func FuzzTar(f *testing.F) {
	seedArchives(func(e ...entry) []byte { return tarBytes(f, false, e...) }, f)
	seedArchives(func(e ...entry) []byte { return tarBytes(f, true, e...) }, f)
	f.Add(tarBytes(f, false, entry{name: "l", typ: '2', link: "/etc"}, entry{name: "h", typ: '1', link: "l"}))
	f.Add(tarBytes(f, true, entry{typ: 'g', body: "commit"}, file("x.sql", "x")))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFuzzed(t, dir, "f.tar", data)
		checkFuzzed(t, dir, "f.tgz", data)
	})
}

// FuzzSpec: parsing a spec never panics and never yields a sub-folder that
// leaves the source.
func FuzzSpec(f *testing.F) {
	for _, s := range []string{"m", "a.zip//db/m", "/x//../y", "s3://b/k//d", "C://x", "//", "a///b//c",
		"https://h/a.tgz//db?q=1#sha256=ab", "https://h/a.tgz?x=//y#p//d", "http://h//"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := parseSpec(s)
		if err != nil {
			return
		}
		if sp.sub != "" && (!fs.ValidPath(sp.sub) || strings.Contains("/"+sp.sub+"/", "/../")) {
			t.Fatalf("parseSpec(%q).sub = %q", s, sp.sub)
		}
		if sp.loc == "" {
			t.Fatalf("parseSpec(%q).loc is empty", s)
		}
	})
}

// FuzzRedact: a query (or userinfo) never survives redactURL, nor reaches
// a parseSpec error, wherever it sits in the spec.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"h/a.tgz", "u:p@h/a.tgz//db", "h/a.tgz//db", "h/a.tgz#sha256=x//d", "[::1/x", "h/a.tgz//../x"} {
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, s, tail string) {
		if strings.Contains(s+tail, "tok") {
			return
		}
		for _, spec := range []string{"https://" + s + "?tok=1" + tail, "https://tok:tok@" + s + tail, "s3://tok@" + s + tail} {
			if r := Redact(spec); strings.Contains(r, "tok") {
				t.Fatalf("Redact(%q) = %q", spec, r)
			}
			sp, err := parseSpec(spec)
			if err != nil {
				if strings.Contains(err.Error(), "tok") {
					t.Fatalf("parseSpec(%q): %v", spec, err)
				}
				continue
			}
			if r := Redact(sp.loc); strings.Contains(r, "tok") {
				t.Fatalf("Redact(%q) = %q", sp.loc, r)
			}
		}
	})
}
