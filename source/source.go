package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Default limits for archives; see the Option functions.
const (
	// DefaultMaxEntrySize is the largest file an archive may hold: 64 MiB.
	DefaultMaxEntrySize int64 = 64 << 20
	// DefaultMaxTotalSize is how much an archive may expand to: 512 MiB.
	DefaultMaxTotalSize int64 = 512 << 20
	// DefaultMaxEntries is how many entries an archive may hold: 10,000.
	DefaultMaxEntries = 10_000
)

// supported is the list every ErrUnsupported message ends with.
const supported = "supported: a folder, or a .zip, .tar.gz, .tgz or .tar file, " +
	"each optionally followed by //sub/folder (s3:// and https:// are not supported yet)"

// Source is an opened migration source. Its FS stays valid until Close.
type Source struct {
	spec    string
	fsys    fs.FS
	cleanup func() error
	closed  bool
}

// FS returns the folder of migrations: the engine reads its top-level *.sql
// files. After Close it returns a file system whose every call fails with
// fs.ErrClosed.
func (s *Source) FS() fs.FS {
	if s.closed {
		return closedFS{}
	}
	return s.fsys
}

// String returns the spec the source was opened from, for reports.
func (s *Source) String() string { return s.spec }

// Close frees the memory and any temporary files the source holds. It is
// safe to call more than once; it must not race with reads of FS.
func (s *Source) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.fsys = nil
	if s.cleanup != nil {
		return s.cleanup()
	}
	return nil
}

type closedFS struct{}

func (closedFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrClosed}
}

// config holds what the Options set.
type config struct {
	maxEntrySize int64
	maxTotalSize int64
	maxEntries   int
	fetchers     map[string]fetcher
}

// Option changes a limit of Open. Invalid values are refused by Open with
// ErrInvalid.
type Option func(*config) error

// MaxEntrySize sets the largest file an archive may hold, counted in bytes
// actually decompressed (default 64 MiB).
func MaxEntrySize(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return &Error{Kind: ErrInvalid, Msg: fmt.Sprintf("MaxEntrySize must be positive, got %d", n)}
		}
		c.maxEntrySize = n
		return nil
	}
}

// MaxTotalSize sets how many bytes an archive may expand to in all (default
// 512 MiB). For tar the whole decompressed stream counts, headers included.
func MaxTotalSize(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return &Error{Kind: ErrInvalid, Msg: fmt.Sprintf("MaxTotalSize must be positive, got %d", n)}
		}
		c.maxTotalSize = n
		return nil
	}
}

// MaxEntries sets how many entries (files, folders and metadata records) an
// archive may hold (default 10,000).
func MaxEntries(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return &Error{Kind: ErrInvalid, Msg: fmt.Sprintf("MaxEntries must be positive, got %d", n)}
		}
		c.maxEntries = n
		return nil
	}
}

// fetcher brings a remote source (s3://…, https://…) to the local disk under
// ctx, so Open reads it like a local spec. It is the slot the remote schemes
// will fill: Open looks one up by scheme in its config, nothing registers
// itself globally.
type fetcher interface {
	fetch(ctx context.Context, loc string) (fetched, error)
}

// fetched is what a fetcher left on disk.
type fetched struct {
	path    string       // a local archive file or folder
	cleanup func() error // removes it; nil when there is nothing to remove
}

// withFetcher serves a scheme (lower case, without "://") with f.
func withFetcher(scheme string, f fetcher) Option {
	return func(c *config) error {
		if c.fetchers == nil {
			c.fetchers = map[string]fetcher{}
		}
		c.fetchers[scheme] = f
		return nil
	}
}

// Open reads spec and returns the source of migrations it names:
//
//	./migrations                 a folder (read through os.DirFS)
//	artifact.zip                 a .zip, .tar.gz, .tgz or .tar file, read into memory
//	artifact.zip//db/migrations  a sub-folder inside an archive
//	./repo//migrations           a sub-folder inside a folder
//
// A file without one of those extensions is recognised by its content.
// Archives are checked as the package documentation says; one bad entry
// refuses the whole archive. Errors are *Error values (see the sentinels),
// except ctx's own error when ctx ends first.
func Open(ctx context.Context, spec string, opts ...Option) (*Source, error) {
	cfg := config{
		maxEntrySize: DefaultMaxEntrySize,
		maxTotalSize: DefaultMaxTotalSize,
		maxEntries:   DefaultMaxEntries,
	}
	for _, opt := range opts {
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sp, err := parseSpec(spec)
	if err != nil {
		return nil, err
	}
	src := &Source{spec: spec}
	local := sp.loc
	if sp.scheme != "" {
		f, ok := cfg.fetchers[sp.scheme]
		if !ok {
			return nil, &Error{Path: sp.loc, Kind: ErrUnsupported,
				Msg: fmt.Sprintf("unsupported scheme %q; %s", sp.scheme+"://", supported)}
		}
		got, err := f.fetch(ctx, sp.loc)
		if err != nil {
			var se *Error
			if errors.As(err, &se) || ctx.Err() != nil {
				return nil, err
			}
			return nil, &Error{Path: sp.loc, Msg: "cannot fetch", Err: err}
		}
		local, src.cleanup = got.path, got.cleanup
	}
	fsys, err := openLocal(ctx, &cfg, local, sp.loc, sp.sub)
	if err != nil {
		if src.cleanup != nil {
			err = errors.Join(err, src.cleanup())
		}
		return nil, err
	}
	src.fsys = fsys
	return src, nil
}

// spec is a parsed --dir value.
type spec struct {
	scheme string // lower case, "" for a local path
	loc    string // the path or URL without the sub-folder, as written
	sub    string // a valid fs path inside loc, "" for its root
}

// parseSpec splits "LOC//SUB". For URLs the separator is the first "//"
// after the scheme's; for local paths the first one after any leading
// slashes, so "/data//migrations" is the folder /data, sub-folder migrations.
func parseSpec(raw string) (spec, error) {
	if raw == "" {
		return spec{}, &Error{Kind: ErrInvalid, Msg: "empty source: give a folder or an archive; " + supported}
	}
	var sp spec
	start := 0
	if i := strings.Index(raw, "://"); i >= 2 && isScheme(raw[:i]) {
		sp.scheme = strings.ToLower(raw[:i])
		start = i + 3
	} else {
		for start < len(raw) && raw[start] == '/' {
			start++
		}
	}
	sp.loc = raw
	sub := ""
	if j := strings.Index(raw[start:], "//"); j >= 0 {
		sp.loc, sub = raw[:start+j], raw[start+j+2:]
	}
	if sp.loc == "" || (sp.scheme != "" && len(sp.loc) == start) {
		return spec{}, &Error{Path: raw, Kind: ErrInvalid, Msg: "no folder, archive or location before the sub-folder"}
	}
	sub = strings.Trim(sub, "/")
	if sub != "" {
		for elem := range strings.SplitSeq(sub, "/") {
			if elem == ".." {
				return spec{}, &Error{Path: sp.loc, Kind: ErrInvalid,
					Msg: fmt.Sprintf("sub-folder %s must stay inside the source (no \"..\")", quoteName(sub))}
			}
		}
		if strings.ContainsRune(sub, 0) {
			return spec{}, &Error{Path: sp.loc, Kind: ErrInvalid, Msg: "sub-folder contains a NUL byte"}
		}
		sub = path.Clean(sub)
		if sub == "." {
			sub = ""
		} else if !fs.ValidPath(sub) {
			return spec{}, &Error{Path: sp.loc, Kind: ErrInvalid,
				Msg: fmt.Sprintf("sub-folder %s is not a valid path (it must be UTF-8)", quoteName(sub))}
		}
	}
	sp.sub = sub
	return sp, nil
}

// isScheme reports whether s is a URL scheme (RFC 3986). One letter is a
// Windows drive, not a scheme; the caller requires two.
func isScheme(s string) bool {
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// openLocal opens a local folder or archive file; name is how errors call it.
func openLocal(ctx context.Context, cfg *config, p, name, sub string) (fs.FS, error) {
	st, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &Error{Path: name, Kind: ErrNotFound, Msg: "no such file or folder"}
		}
		return nil, &Error{Path: name, Msg: "cannot read", Err: err}
	}
	switch {
	case st.IsDir():
		return openFolder(p, name, sub)
	case st.Mode().IsRegular():
		return openArchive(ctx, cfg, p, name, sub)
	default:
		return nil, &Error{Path: name, Kind: ErrUnsupported,
			Msg: fmt.Sprintf("is a %s, not a folder or an archive; %s", fileType(st.Mode()), supported)}
	}
}

func fileType(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// openFolder checks that the folder (and sub-folder) can be listed, so a
// wrong --dir fails here and not in the middle of a plan. What is inside
// (symlink loops, unreadable files) is the reader's business.
func openFolder(p, name, sub string) (fs.FS, error) {
	dir, err := filepath.Abs(p)
	if err != nil {
		return nil, &Error{Path: name, Msg: "cannot resolve", Err: err}
	}
	if sub != "" {
		dir = filepath.Join(dir, filepath.FromSlash(sub))
		st, err := os.Stat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, &Error{Path: name, Kind: ErrNotFound, Msg: fmt.Sprintf("no sub-folder %q", sub)}
		case err != nil:
			return nil, &Error{Path: name, Msg: fmt.Sprintf("cannot read sub-folder %q", sub), Err: err}
		case !st.IsDir():
			return nil, &Error{Path: name, Kind: ErrNotFound, Msg: fmt.Sprintf("sub-folder %q is a file, not a folder", sub)}
		}
	}
	f, err := os.Open(dir)
	if err == nil {
		_, err = f.ReadDir(1)
		f.Close()
		if err == io.EOF {
			err = nil
		}
	}
	if err != nil {
		return nil, &Error{Path: name, Msg: "cannot read folder", Err: err}
	}
	return os.DirFS(dir), nil
}
