package source

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Default limits for archives; see the Option functions.
const (
	// DefaultMaxEntrySize is the largest file an archive may hold: 64 MiB.
	DefaultMaxEntrySize int64 = 64 << 20
	// DefaultMaxTotalSize is how much an archive may expand to: 512 MiB.
	DefaultMaxTotalSize int64 = 512 << 20
	// DefaultMaxEntries is how many entries an archive may hold: 10,000.
	DefaultMaxEntries = 10_000
	// DefaultDownloadTimeout bounds fetching a remote source: 10 minutes.
	DefaultDownloadTimeout = 10 * time.Minute
)

// Source is an opened migration source. Its FS stays valid until Close.
type Source struct {
	spec   string // as String shows it: URLs redacted
	fsys   fs.FS
	closed bool
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

// String returns the spec the source was opened from, for reports, with a
// URL's userinfo and query (presigned tokens) redacted.
func (s *Source) String() string { return s.spec }

// Close frees the memory the source holds (a download leaves no temporary
// file behind once Open returns). It is safe to call more than once; it
// must not race with reads of FS.
func (s *Source) Close() error {
	s.closed = true
	s.fsys = nil
	return nil
}

type closedFS struct{}

func (closedFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrClosed}
}

// config holds what the Options set.
type config struct {
	maxEntrySize    int64
	maxTotalSize    int64
	maxEntries      int
	downloadTimeout time.Duration
	httpClient      *http.Client
	fetchers        map[string]Fetcher // a nil value turns a scheme off
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
// A download (the archive as fetched, or all the files of an S3 prefix) is
// held to it too.
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

// DownloadTimeout bounds how long fetching a remote source may take, from
// the first request to the last byte (default 10 minutes). The context
// given to Open still applies.
func DownloadTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return &Error{Kind: ErrInvalid, Msg: fmt.Sprintf("DownloadTimeout must be positive, got %s", d)}
		}
		c.downloadTimeout = d
		return nil
	}
}

// WithHTTPClient makes the built-in https:// fetcher use client (its
// transport, proxy and TLS settings). Whatever its CheckRedirect says, a
// redirect to anything but https:// is refused.
func WithHTTPClient(client *http.Client) Option {
	return func(c *config) error {
		if client == nil {
			return &Error{Kind: ErrInvalid, Msg: "WithHTTPClient needs a client, got nil"}
		}
		c.httpClient = client
		return nil
	}
}

// WithFetcher serves the URL scheme (such as "s3", without "://"; matched
// without regard to case) with f, replacing the built-in fetcher for
// https and http if there is one. A nil f turns the scheme off, so Open
// refuses it with ErrUnsupported: WithFetcher("https", nil) keeps Open off
// the network.
func WithFetcher(scheme string, f Fetcher) Option {
	return func(c *config) error {
		s := strings.ToLower(scheme)
		if len(s) < 2 || !isScheme(s) {
			return &Error{Kind: ErrInvalid, Msg: fmt.Sprintf("WithFetcher: %q is not a URL scheme", scheme)}
		}
		if c.fetchers == nil {
			c.fetchers = map[string]Fetcher{}
		}
		c.fetchers[s] = f
		return nil
	}
}

// fetcher returns the fetcher for a scheme, or nil.
func (c *config) fetcher(scheme string) Fetcher {
	if f, ok := c.fetchers[scheme]; ok {
		return f
	}
	if scheme == "https" || scheme == "http" {
		return &httpsFetcher{client: c.httpClient}
	}
	return nil
}

// supported is the list every ErrUnsupported message ends with: what this
// Open call reads, given its fetchers.
func (c *config) supported() string {
	s := "supported: a folder, or a .zip, .tar.gz, .tgz or .tar file"
	if c.fetcher("https") != nil {
		s += ", or an https:// URL of one (optionally pinned with #sha256=HEX)"
	}
	if c.fetcher("s3") != nil {
		s += ", or an s3://bucket/key object or an s3://bucket/prefix/ of .sql objects"
	}
	s += ", each optionally followed by //sub/folder"
	var other []string
	for scheme, f := range c.fetchers {
		if f != nil && scheme != "https" && scheme != "http" && scheme != "s3" {
			other = append(other, scheme+"://")
		}
	}
	if len(other) > 0 {
		slices.Sort(other)
		s += "; also " + strings.Join(other, ", ")
	}
	if c.fetcher("s3") == nil {
		s += " (s3:// is not enabled here: it needs the fetcher of package source/s3)"
	}
	return s
}

// Open reads spec and returns the source of migrations it names:
//
//	./migrations                          a folder (read through os.DirFS)
//	artifact.zip                          a .zip, .tar.gz, .tgz or .tar file, read into memory
//	artifact.zip//db/migrations           a sub-folder inside an archive
//	./repo//migrations                    a sub-folder inside a folder
//	https://host/m.tar.gz#sha256=HEX//db  an archive downloaded over https, checked against its pin
//	s3://bucket/key.zip//db               an S3 object (with WithFetcher("s3", …) from source/s3)
//	s3://bucket/prefix/                   the .sql objects directly under an S3 prefix
//
// A file without one of those extensions is recognised by its content.
// Archives are checked as the package documentation says; one bad entry
// refuses the whole archive. Errors are *Error values (see the sentinels),
// except ctx's own error when ctx ends first.
func Open(ctx context.Context, spec string, opts ...Option) (*Source, error) {
	cfg := config{
		maxEntrySize:    DefaultMaxEntrySize,
		maxTotalSize:    DefaultMaxTotalSize,
		maxEntries:      DefaultMaxEntries,
		downloadTimeout: DefaultDownloadTimeout,
	}
	for _, opt := range opts {
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if spec == "" {
		return nil, &Error{Kind: ErrInvalid, Msg: "empty source: give a folder or an archive; " + cfg.supported()}
	}
	sp, err := parseSpec(spec)
	if err != nil {
		return nil, err
	}
	name := Redact(sp.loc)
	src := &Source{spec: spec}
	if sp.scheme == "" {
		src.fsys, err = openLocal(ctx, &cfg, sp.loc, name, sp.sub)
	} else {
		src.spec = name
		if sp.sub != "" {
			src.spec += "//" + sp.sub
		}
		f := cfg.fetcher(sp.scheme)
		if f == nil {
			return nil, &Error{Path: name, Kind: ErrUnsupported,
				Msg: fmt.Sprintf("unsupported scheme %q; %s", sp.scheme+"://", cfg.supported())}
		}
		src.fsys, err = openRemote(ctx, &cfg, f, sp, name)
	}
	if err != nil {
		return nil, err
	}
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
// An http(s) URL's query may hold anything (a presigned token), so there the
// sub-folder goes before the query and the fragment
// ("https://h/a.tgz//db?sig=…#sha256=…") or after the fragment
// ("https://h/a.tgz?sig=…#sha256=…//db"), and a "//" inside the query is
// part of the query.
func parseSpec(raw string) (spec, error) {
	if raw == "" {
		return spec{}, &Error{Kind: ErrInvalid, Msg: "empty source: give a folder or an archive"}
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
	if sp.scheme == "http" || sp.scheme == "https" {
		var err error
		if sp.loc, sub, err = splitURLSub(raw, start); err != nil {
			return spec{}, err
		}
	} else if j := strings.Index(raw[start:], "//"); j >= 0 {
		sp.loc, sub = raw[:start+j], raw[start+j+2:]
	}
	if sp.loc == "" || (sp.scheme != "" && len(sp.loc) == start) {
		return spec{}, &Error{Path: Redact(raw), Kind: ErrInvalid, Msg: "no folder, archive or location before the sub-folder"}
	}
	name := Redact(sp.loc)
	sub = strings.Trim(sub, "/")
	if sub != "" {
		for elem := range strings.SplitSeq(sub, "/") {
			if elem == ".." {
				return spec{}, &Error{Path: name, Kind: ErrInvalid,
					Msg: fmt.Sprintf("sub-folder %s must stay inside the source (no \"..\")", quoteName(sub))}
			}
		}
		if strings.ContainsRune(sub, 0) {
			return spec{}, &Error{Path: name, Kind: ErrInvalid, Msg: "sub-folder contains a NUL byte"}
		}
		sub = path.Clean(sub)
		if sub == "." {
			sub = ""
		} else if !fs.ValidPath(sub) {
			return spec{}, &Error{Path: name, Kind: ErrInvalid,
				Msg: fmt.Sprintf("sub-folder %s is not a valid path (it must be UTF-8)", quoteName(sub))}
		}
	}
	sp.sub = sub
	return sp, nil
}

// splitURLSub finds the sub-folder of an http(s) spec; start is where the
// authority begins.
func splitURLSub(raw string, start int) (loc, sub string, err error) {
	body, frag := raw, ""
	if k := strings.IndexByte(raw[start:], '#'); k >= 0 {
		body, frag = raw[:start+k], raw[start+k:]
	}
	fragSub, hasFragSub := "", false
	if k := strings.Index(frag, "//"); k >= 0 {
		frag, fragSub, hasFragSub = frag[:k], frag[k+2:], true
	}
	head, query := body, ""
	if k := strings.IndexByte(body[start:], '?'); k >= 0 {
		head, query = body[:start+k], body[start+k:]
	}
	pathSub, hasPathSub := "", false
	if k := strings.Index(head[start:], "//"); k >= 0 {
		head, pathSub, hasPathSub = head[:start+k], head[start+k+2:], true
	}
	loc = head + query + frag
	if hasPathSub && hasFragSub {
		return "", "", &Error{Path: Redact(loc), Kind: ErrInvalid,
			Msg: "two sub-folders: give one, after the path or after the #sha256= pin"}
	}
	sub = pathSub
	if hasFragSub {
		sub = fragSub
	}
	if strings.ContainsAny(sub, "?#") {
		// Not quoted: it may be a misplaced query, token and all.
		return "", "", &Error{Path: Redact(loc), Kind: ErrInvalid,
			Msg: "the sub-folder holds a '?' or '#': write the URL's query and #sha256= pin before it, or the sub-folder right after the path"}
	}
	return loc, sub, nil
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
			Msg: fmt.Sprintf("is a %s, not a folder or an archive; %s", fileType(st.Mode()), cfg.supported())}
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
	// Opening a folder checks that it may be read; listing the first entry
	// would also fill a buffer with the first few hundred names, which the
	// loader lists again.
	f, err := os.Open(dir)
	if err == nil {
		f.Close()
	}
	if err != nil {
		return nil, &Error{Path: name, Msg: "cannot read folder", Err: err}
	}
	return newDirFS(dir), nil
}
