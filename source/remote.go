package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"
)

// Fetcher downloads a remote source for Open, which picks one by the spec's
// URL scheme (see WithFetcher). Open has one built in for https:// (and
// http:// to loopback hosts); package source/s3 provides the one for s3://,
// kept apart so that programs which do not use S3 do not build the AWS SDK.
type Fetcher interface {
	// Fetch starts the download of req.URL under ctx and returns either
	// an archive to read or a folder of files already in memory. Its
	// errors should be *Error values with Path req.Name, and must never
	// hold a secret (a URL's query or userinfo, a key, a token).
	Fetch(ctx context.Context, req FetchRequest) (*Download, error)
}

// FetchRequest is what Open asks a Fetcher for, with the limits the
// download must be held to.
type FetchRequest struct {
	// URL is the location as written in the spec, without the sub-folder.
	// It may carry secrets (a presigned query).
	URL string
	// Name is URL with its userinfo and query redacted: the one to put in
	// errors.
	Name string
	// MaxSize is the most bytes the download may bring in all
	// (MaxTotalSize).
	MaxSize int64
	// MaxFileSize is the most bytes one file of a folder download may
	// hold (MaxEntrySize).
	MaxFileSize int64
	// MaxFiles is the most files a folder download may hold (MaxEntries).
	MaxFiles int
}

// Download is what a Fetcher brings back: an archive in Body, or, when Body
// is nil, a folder of files in Files.
type Download struct {
	// Name is the archive's file name (the last element of its URL path);
	// a known extension (.zip, .tar.gz, .tgz, .tar) tells the format,
	// otherwise the content does.
	Name string
	// Size is the archive's length when the server announced it, 0 or -1
	// otherwise: Open refuses more than MaxSize before reading any of it.
	Size int64
	// Body is the archive. Open reads all of it (at most MaxSize bytes)
	// before using any, and closes it, so a Read error at the end (a
	// checksum that does not match) refuses the download.
	Body io.ReadCloser
	// Files is a folder of files by slash-separated path, used when Body
	// is nil. Open checks the names and the limits as it does an
	// archive's.
	Files map[string][]byte
}

// openRemote fetches a remote source and reads it like a local one; name is
// the redacted location.
func openRemote(ctx context.Context, cfg *config, f Fetcher, sp spec, name string) (fs.FS, error) {
	fctx, cancel := context.WithTimeout(ctx, cfg.downloadTimeout)
	defer cancel()
	dl, err := f.Fetch(fctx, FetchRequest{
		URL:         sp.loc,
		Name:        name,
		MaxSize:     cfg.maxTotalSize,
		MaxFileSize: cfg.maxEntrySize,
		MaxFiles:    cfg.maxEntries,
	})
	if err != nil {
		return nil, fetchError(ctx, fctx, cfg, name, err)
	}
	if dl == nil || (dl.Body == nil && dl.Files == nil) {
		return nil, &Error{Path: name, Msg: "the fetcher returned neither an archive nor files"}
	}
	if dl.Body == nil {
		if sp.sub != "" {
			return nil, &Error{Path: name, Kind: ErrInvalid,
				Msg: "a //sub/folder applies to archives; for a folder of objects put it in the location (…/" + sp.sub + "/)"}
		}
		return filesFS(ctx, cfg, name, dl.Files)
	}
	defer dl.Body.Close()
	if dl.Size > cfg.maxTotalSize {
		return nil, tooLargeDownload(cfg, name, dl.Size)
	}
	r, size, done, err := spool(cfg, name, dl.Body)
	if err != nil {
		return nil, fetchError(ctx, fctx, cfg, name, err)
	}
	defer done()
	return readArchive(ctx, cfg, r, size, "download"+archiveExt(dl.Name), name, sp.sub)
}

// fetchError names a failed download; the context's own errors come first,
// and a fetcher's error that is not an *Error is wrapped in one.
func fetchError(ctx, fctx context.Context, cfg *config, name string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %w", name, ctxErr)
	}
	if fctx.Err() != nil {
		return &Error{Path: name, Msg: fmt.Sprintf("the download did not finish within %s (DownloadTimeout)", cfg.downloadTimeout),
			Err: context.DeadlineExceeded}
	}
	var se *Error
	if errors.As(err, &se) {
		return err
	}
	return &Error{Path: name, Msg: "cannot fetch", Err: err}
}

func tooLargeDownload(cfg *config, name string, size int64) error {
	msg := "the download is larger than the %s limit (MaxTotalSize)"
	if size > 0 {
		msg = sizeText(size) + ", larger than the %s limit (MaxTotalSize)"
	}
	return &Error{Path: name, Kind: ErrUnsafeArchive, Msg: fmt.Sprintf(msg, sizeText(cfg.maxTotalSize))}
}

// archiveExt returns the archive extension of name, or "".
func archiveExt(name string) string {
	lower := strings.ToLower(name)
	for _, ext := range []string{".tar.gz", ".tgz", ".zip", ".tar"} {
		if strings.HasSuffix(lower, ext) {
			return ext
		}
	}
	return ""
}

// spool reads body to its end, at most MaxTotalSize bytes, into a temporary
// file (unlinked at once where the system allows, so a killed process
// leaves nothing behind) or, when no temporary file can be made (a
// read-only root file system), into memory. done releases it.
func spool(cfg *config, name string, body io.Reader) (r io.ReaderAt, size int64, done func(), err error) {
	src := &limitedStream{r: body, limit: cfg.maxTotalSize}
	copyErr := func(err error) error {
		var se *Error
		switch {
		case errors.Is(err, errStreamLimit):
			return tooLargeDownload(cfg, name, 0)
		case errors.As(err, &se):
			return err
		}
		return &Error{Path: name, Msg: "the download broke off", Err: err}
	}
	tmp, err := os.CreateTemp("", "runway-source-*")
	if err != nil {
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(src); err != nil {
			return nil, 0, nil, copyErr(err)
		}
		return bytes.NewReader(buf.Bytes()), int64(buf.Len()), func() {}, nil
	}
	removed := os.Remove(tmp.Name()) == nil
	done = func() {
		tmp.Close()
		if !removed {
			os.Remove(tmp.Name())
		}
	}
	n, err := io.Copy(tmp, src)
	if err != nil {
		done()
		return nil, 0, nil, copyErr(err)
	}
	return tmp, n, done, nil
}

// filesFS turns a fetched folder into the in-memory file system, through the
// same name, shadowing and size guards as an archive's entries.
func filesFS(ctx context.Context, cfg *config, name string, files map[string][]byte) (fs.FS, error) {
	b := &archiveReader{
		ctx:   ctx,
		cfg:   cfg,
		name:  name,
		names: map[string]bool{},
		files: newMemBuilder(),
	}
	if len(files) > cfg.maxEntries {
		return nil, &Error{Path: name, Kind: ErrUnsafeArchive,
			Msg: fmt.Sprintf("holds %d files, more than the %d limit (MaxEntries)", len(files), cfg.maxEntries)}
	}
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := b.countEntry(); err != nil {
			return nil, err
		}
		rel, _, err := b.admit(k, kindFile)
		if err != nil {
			return nil, err
		}
		data, err := b.readContent(k, bytes.NewReader(files[k]), int64(len(files[k])))
		if err != nil {
			return nil, err
		}
		b.files.addFile(rel, data, time.Time{})
	}
	return b.files.build(), nil
}

// Redact hides what may be secret in a location before it reaches an error
// or a report: the userinfo ("user:token@") and the query (presigned
// tokens), and a fragment other than a #sha256= pin. Local paths are
// returned as they are.
func Redact(loc string) string {
	i := strings.Index(loc, "://")
	if i < 2 || !isScheme(loc[:i]) {
		return loc
	}
	rest := loc[i+3:]
	frag := ""
	if j := strings.IndexByte(rest, '#'); j >= 0 {
		rest, frag = rest[:j], rest[j:]
	}
	query := ""
	if j := strings.IndexByte(rest, '?'); j >= 0 {
		rest, query = rest[:j], "?[redacted]"
	}
	auth, p := rest, ""
	if j := strings.IndexByte(rest, '/'); j >= 0 {
		auth, p = rest[:j], rest[j:]
	}
	if j := strings.LastIndexByte(auth, '@'); j >= 0 {
		auth = "[redacted]@" + auth[j+1:]
	}
	if frag != "" && !isPin(frag[1:]) {
		frag = "#[redacted]"
	}
	return loc[:i+3] + auth + p + query + frag
}
