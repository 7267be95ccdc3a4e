package source

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"slices"
	"strings"
	"unicode/utf8"
)

// format is an archive format Open reads.
type format int

const (
	formatUnknown format = iota
	formatZip
	formatTarGz
	formatTar
)

// detectFormat goes by the file name's extension and, without a known one,
// by the first bytes (remote objects such as CodePipeline artifacts often
// have no extension).
func detectFormat(name string, r io.ReaderAt) format {
	lower := strings.ToLower(name)
	switch {
	case strings.HasSuffix(lower, ".zip"):
		return formatZip
	case strings.HasSuffix(lower, ".tar.gz"), strings.HasSuffix(lower, ".tgz"):
		return formatTarGz
	case strings.HasSuffix(lower, ".tar"):
		return formatTar
	}
	head := make([]byte, 262)
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return formatZip
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return formatTarGz
	case len(head) >= 262 && string(head[257:262]) == "ustar":
		return formatTar
	}
	return formatUnknown
}

// openArchive reads the archive file at p into memory and returns the
// sub-folder sub of it.
func openArchive(ctx context.Context, cfg *config, p, name, sub string) (fs.FS, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, &Error{Path: name, Msg: "cannot read", Err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, &Error{Path: name, Msg: "cannot read", Err: err}
	}
	return readArchive(ctx, cfg, f, st.Size(), p, name, sub)
}

// readArchive reads the archive in r (size bytes long) into memory and
// returns the sub-folder sub of it; fileName's extension, if it has a known
// one, tells the format.
func readArchive(ctx context.Context, cfg *config, r io.ReaderAt, size int64, fileName, name, sub string) (fs.FS, error) {
	if size == 0 {
		return nil, &Error{Path: name, Kind: ErrCorrupt, Msg: "is empty (0 bytes), not an archive"}
	}
	b := &archiveReader{
		ctx:   ctx,
		cfg:   cfg,
		name:  name,
		sub:   sub,
		names: map[string]bool{},
		files: newMemBuilder(),
	}
	var err error
	switch detectFormat(fileName, r) {
	case formatZip:
		err = b.readZip(ctxReaderAt{ctx, r}, size)
	case formatTarGz:
		err = b.readTar(ctxReader{ctx, io.NewSectionReader(r, 0, size)}, true)
	case formatTar:
		err = b.readTar(ctxReader{ctx, io.NewSectionReader(r, 0, size)}, false)
	default:
		return nil, &Error{Path: name, Kind: ErrUnsupported,
			Msg: "is a file, not a folder or an archive; " + cfg.supported()}
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("%s: %w", name, ctxErr)
		}
		return nil, err
	}
	if err := b.checkSub(); err != nil {
		return nil, err
	}
	return b.files.build(), nil
}

// archiveReader checks every entry of one archive and keeps the files under
// the sub-folder.
type archiveReader struct {
	ctx   context.Context
	cfg   *config
	name  string          // the archive as errors call it
	sub   string          // "" for the root
	count int             // entries seen
	read  int64           // content bytes decompressed so far
	names map[string]bool // every cleaned name and implied parent → is a folder
	files *memBuilder
}

// kind is what an entry is, as far as the guards care.
type kind int

const (
	kindFile kind = iota
	kindDir
	kindMeta // archive metadata (pax global header): counted, not kept
)

func (b *archiveReader) fail(entry string, k error, format string, args ...any) error {
	return &Error{Path: b.name, Entry: entry, Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// countEntry enforces MaxEntries.
func (b *archiveReader) countEntry() error {
	b.count++
	if b.count > b.cfg.maxEntries {
		return &Error{Path: b.name, Kind: ErrUnsafeArchive,
			Msg: fmt.Sprintf("holds more than %d entries (the MaxEntries limit)", b.cfg.maxEntries)}
	}
	return nil
}

// admit checks an entry's name against the path and shadowing guards and
// records it. It returns the name relative to the sub-folder and whether the
// entry lies under it.
func (b *archiveReader) admit(raw string, k kind) (rel string, keep bool, err error) {
	name, reason := cleanEntryName(raw)
	if reason != "" {
		return "", false, b.fail(raw, ErrUnsafeArchive, "%s", reason)
	}
	if name == "." {
		if k == kindDir {
			return ".", b.sub == "", nil
		}
		return "", false, b.fail(raw, ErrUnsafeArchive, "a file cannot be the archive root")
	}
	// Parents become folders; none may be a file.
	for i := 0; i < len(name); i++ {
		if name[i] != '/' {
			continue
		}
		parent := name[:i]
		if isDir, ok := b.names[parent]; ok && !isDir {
			return "", false, b.fail(raw, ErrUnsafeArchive, "lies inside %q, which is a file", parent)
		}
		b.names[parent] = true
	}
	if wasDir, ok := b.names[name]; ok {
		switch {
		case k == kindDir && wasDir:
			// A folder listed twice, or after its files: shadows nothing.
		case k == kindDir:
			return "", false, b.fail(raw, ErrUnsafeArchive, "folder has the name of an earlier file %q", name)
		case wasDir:
			return "", false, b.fail(raw, ErrUnsafeArchive, "file has the name of a folder %q", name)
		default:
			return "", false, b.fail(raw, ErrUnsafeArchive, "duplicate entry: an earlier entry is also %q", name)
		}
	}
	b.names[name] = k == kindDir
	switch {
	case b.sub == "":
		return name, true, nil
	case name == b.sub:
		return ".", k == kindDir, nil // a file there is reported by checkSub
	case strings.HasPrefix(name, b.sub+"/"):
		return name[len(b.sub)+1:], true, nil
	}
	return "", false, nil
}

// cleanEntryName turns a stored entry name into a valid fs path, or says
// why it is refused. Backslashes count as separators (Windows tools write
// them). "." elements and repeated or trailing slashes are dropped; a ".."
// element is refused even when it would not escape: no archiver writes one.
func cleanEntryName(raw string) (name, reason string) {
	if raw == "" {
		return "", "empty entry name"
	}
	if strings.IndexByte(raw, 0) >= 0 {
		return "", "entry name contains a NUL byte"
	}
	s := strings.ReplaceAll(raw, `\`, "/")
	if strings.HasPrefix(s, "/") {
		return "", "absolute path"
	}
	if len(s) >= 2 && s[1] == ':' && (s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return "", "absolute path (Windows drive)"
	}
	for elem := range strings.SplitSeq(s, "/") {
		if elem == ".." {
			if c := path.Clean(s); c == ".." || strings.HasPrefix(c, "../") {
				return "", "path escapes the archive root"
			}
			return "", `path contains a ".." element`
		}
	}
	if !utf8.ValidString(s) {
		return "", "entry name is not valid UTF-8"
	}
	name = path.Clean(s)
	if !fs.ValidPath(name) {
		return "", "invalid path"
	}
	return name, ""
}

// readContent reads one kept file, counting the bytes actually produced
// against MaxEntrySize and MaxTotalSize; declared is the header's claim,
// used only to refuse early, never to size a buffer beyond the limits.
func (b *archiveReader) readContent(raw string, r io.Reader, declared int64) ([]byte, error) {
	entryLimit := b.cfg.maxEntrySize
	remaining := b.cfg.maxTotalSize - b.read
	if declared > entryLimit {
		return nil, b.fail(raw, ErrUnsafeArchive, "declares %s, larger than the %s entry limit (MaxEntrySize)",
			sizeText(declared), sizeText(entryLimit))
	}
	if declared > remaining {
		return nil, b.tooBig(raw)
	}
	limit := min(entryLimit, remaining)
	var buf bytes.Buffer
	buf.Grow(int(min(max(declared, 0), limit, 1<<20)) + 1) // a hint, never more than 1 MiB up front
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	b.read += n
	if err != nil {
		if errors.Is(err, errStreamLimit) {
			return nil, b.tooBig(raw)
		}
		return nil, &Error{Path: b.name, Entry: raw, Kind: ErrCorrupt, Msg: "cannot read", Err: err}
	}
	if n > limit {
		if limit == entryLimit {
			return nil, b.fail(raw, ErrUnsafeArchive, "larger than the %s entry limit (MaxEntrySize)", sizeText(entryLimit))
		}
		return nil, b.tooBig(raw)
	}
	return buf.Bytes(), nil
}

func (b *archiveReader) tooBig(raw string) error {
	return b.fail(raw, ErrUnsafeArchive, "archive expands beyond the %s total limit (MaxTotalSize)",
		sizeText(b.cfg.maxTotalSize))
}

// checkSub makes sure the sub-folder exists and is a folder, with a hint
// when it sits one level down (GitHub and git archive put everything under
// a top folder).
func (b *archiveReader) checkSub() error {
	if b.sub == "" {
		return nil
	}
	isDir, ok := b.names[b.sub]
	if ok && isDir {
		return nil
	}
	if ok {
		return &Error{Path: b.name, Kind: ErrNotFound, Msg: fmt.Sprintf("sub-folder %q is a file, not a folder", b.sub)}
	}
	msg := fmt.Sprintf("no sub-folder %q in the archive", b.sub)
	var near []string
	for n, dir := range b.names {
		if dir && strings.HasSuffix(n, "/"+b.sub) {
			near = append(near, n)
		}
	}
	if len(near) > 0 {
		slices.SortFunc(near, func(a, b string) int {
			if len(a) != len(b) {
				return len(a) - len(b)
			}
			return strings.Compare(a, b)
		})
		msg += fmt.Sprintf("; did you mean %q?", near[0])
	} else {
		var top []string
		for n, dir := range b.names {
			if !strings.Contains(n, "/") {
				if dir {
					n += "/"
				}
				top = append(top, n)
			}
		}
		slices.Sort(top)
		if len(top) > 10 {
			top = append(top[:10], "…")
		}
		if len(top) == 0 {
			msg += " (the archive is empty)"
		} else {
			msg += " (its top level holds: " + strings.Join(top, ", ") + ")"
		}
	}
	return &Error{Path: b.name, Kind: ErrNotFound, Msg: msg}
}

// readZip checks every entry's name and type before reading any content.
func (b *archiveReader) readZip(r io.ReaderAt, size int64) error {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // our own guards judge paths
		return &Error{Path: b.name, Kind: ErrCorrupt, Msg: "not a valid zip archive", Err: err}
	}
	if len(zr.File) > b.cfg.maxEntries {
		return &Error{Path: b.name, Kind: ErrUnsafeArchive,
			Msg: fmt.Sprintf("holds %d entries, more than the %d limit (MaxEntries)", len(zr.File), b.cfg.maxEntries)}
	}
	type kept struct {
		f   *zip.File
		rel string
	}
	var files []kept
	for _, f := range zr.File {
		if err := b.countEntry(); err != nil {
			return err
		}
		k, err := b.zipKind(f)
		if err != nil {
			return err
		}
		rel, keep, err := b.admit(f.Name, k)
		if err != nil {
			return err
		}
		switch {
		case !keep:
		case k == kindDir:
			if rel != "." {
				b.files.addDir(rel, f.Modified)
			}
		default:
			files = append(files, kept{f, rel})
		}
	}
	if err := b.checkSub(); err != nil {
		return err
	}
	for _, k := range files {
		if err := b.ctx.Err(); err != nil {
			return err
		}
		data, err := b.readZipFile(k.f)
		if err != nil {
			return err
		}
		b.files.addFile(k.rel, data, k.f.Modified)
	}
	return nil
}

func (b *archiveReader) zipKind(f *zip.File) (kind, error) {
	m := f.Mode()
	switch {
	case m&fs.ModeSymlink != 0:
		return 0, b.fail(f.Name, ErrUnsafeArchive, "symbolic links are not allowed")
	case m&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket|fs.ModeIrregular) != 0:
		return 0, b.fail(f.Name, ErrUnsafeArchive, "only regular files and folders are allowed, not a %s", fileType(m))
	case m.IsDir(), strings.HasSuffix(f.Name, "/"):
		return kindDir, nil
	}
	return kindFile, nil
}

// readZipFile decompresses one entry itself (rather than through
// zip.File.Open) so that the bytes counted are the bytes produced, whatever
// the headers say, and a lying header is named as such.
func (b *archiveReader) readZipFile(f *zip.File) ([]byte, error) {
	if f.Flags&0x1 != 0 {
		return nil, b.fail(f.Name, ErrUnsupported, "encrypted entries are not supported")
	}
	raw, err := f.OpenRaw()
	if err != nil {
		return nil, &Error{Path: b.name, Entry: f.Name, Kind: ErrCorrupt, Msg: "cannot read", Err: err}
	}
	var r io.Reader
	switch f.Method {
	case zip.Store:
		r = raw
	case zip.Deflate:
		fr := flate.NewReader(raw)
		defer fr.Close()
		r = fr
	default:
		return nil, b.fail(f.Name, ErrUnsupported, "compression method %d is not supported (only stored and deflate)", f.Method)
	}
	crc := crc32.NewIEEE()
	declared := int64(math.MaxInt64)
	if f.UncompressedSize64 < math.MaxInt64 {
		declared = int64(f.UncompressedSize64)
	}
	data, err := b.readContent(f.Name, io.TeeReader(r, crc), declared)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != declared {
		return nil, b.fail(f.Name, ErrCorrupt, "holds %d bytes but its header declares %d", len(data), declared)
	}
	if f.CRC32 != 0 && crc.Sum32() != f.CRC32 {
		return nil, b.fail(f.Name, ErrCorrupt, "CRC-32 does not match its header")
	}
	return data, nil
}

// readTar streams the archive once: every header is checked as it comes,
// kept content is read through the limits, and the decompressed stream as
// a whole is capped at MaxTotalSize, so skipped content counts too.
func (b *archiveReader) readTar(r io.Reader, gzipped bool) error {
	stream := io.Reader(bufio.NewReader(r))
	var zr *gzip.Reader
	if gzipped {
		var err error
		zr, err = gzip.NewReader(stream)
		if err != nil {
			return &Error{Path: b.name, Kind: ErrCorrupt, Msg: "not a gzip stream", Err: err}
		}
		stream = zr
	}
	counted := &limitedStream{r: stream, limit: b.cfg.maxTotalSize}
	tr := tar.NewReader(counted)
	last := ""
	// The end of the last entry's padded data: a complete archive ends with
	// at least one zero block after it. tar.Reader also takes a bare EOF
	// there for the end, so a download cut at an entry boundary would pass
	// for a shorter archive without this check. (tar.Reader reads exactly
	// what it needs from counted, so counted.n is its position.)
	var dataEnd int64
	for {
		if err := b.ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			if counted.n < dataEnd+512 {
				msg := "truncated: no end-of-archive marker"
				if last != "" {
					msg += " after entry " + quoteName(last)
				}
				return &Error{Path: b.name, Kind: ErrCorrupt, Msg: msg}
			}
			break
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) { // our own guards judge paths
			if errors.Is(err, errStreamLimit) {
				return b.tooBig(last)
			}
			msg := "damaged tar stream"
			if last != "" {
				msg = fmt.Sprintf("damaged tar stream after entry %s", quoteName(last))
			}
			return &Error{Path: b.name, Kind: ErrCorrupt, Msg: msg, Err: err}
		}
		last = hdr.Name
		if err := b.countEntry(); err != nil {
			return err
		}
		k, err := b.tarKind(hdr)
		if err != nil {
			return err
		}
		dataEnd = counted.n
		if k == kindFile {
			dataEnd += (hdr.Size + 511) &^ 511
		}
		if k == kindMeta {
			continue
		}
		rel, keep, err := b.admit(hdr.Name, k)
		if err != nil || !keep {
			if err == nil && k == kindFile && hdr.Size > b.cfg.maxTotalSize {
				return b.tooBig(hdr.Name) // skipping it would hit the stream cap anyway
			}
			if err != nil {
				return err
			}
			continue
		}
		if k == kindDir {
			if rel != "." {
				b.files.addDir(rel, hdr.ModTime)
			}
			continue
		}
		data, err := b.readContent(hdr.Name, tr, hdr.Size)
		if err != nil {
			return err
		}
		b.files.addFile(rel, data, hdr.ModTime)
	}
	if zr != nil {
		// Read to the end of the gzip member so its CRC-32 is checked: a
		// damaged download must not pass for a short archive.
		zr.Multistream(false)
		if _, err := io.Copy(io.Discard, counted); err != nil {
			if errors.Is(err, errStreamLimit) {
				return b.tooBig(last)
			}
			return &Error{Path: b.name, Kind: ErrCorrupt, Msg: "damaged gzip stream", Err: err}
		}
	}
	return nil
}

func (b *archiveReader) tarKind(hdr *tar.Header) (kind, error) {
	switch hdr.Typeflag {
	case tar.TypeReg, '\x00', tar.TypeCont:
		if strings.HasSuffix(hdr.Name, "/") {
			return kindDir, nil
		}
		return kindFile, nil
	case tar.TypeDir:
		return kindDir, nil
	case tar.TypeXGlobalHeader: // git archive writes one: metadata, no file
		return kindMeta, nil
	case tar.TypeSymlink:
		return 0, b.fail(hdr.Name, ErrUnsafeArchive, "symbolic links are not allowed (it points to %s)", quoteName(hdr.Linkname))
	case tar.TypeLink:
		return 0, b.fail(hdr.Name, ErrUnsafeArchive, "hard links are not allowed (it links to %s)", quoteName(hdr.Linkname))
	case tar.TypeChar, tar.TypeBlock:
		return 0, b.fail(hdr.Name, ErrUnsafeArchive, "only regular files and folders are allowed, not a device")
	case tar.TypeFifo:
		return 0, b.fail(hdr.Name, ErrUnsafeArchive, "only regular files and folders are allowed, not a named pipe")
	case tar.TypeGNUSparse:
		return 0, b.fail(hdr.Name, ErrUnsafeArchive, "sparse files are not allowed")
	}
	return 0, b.fail(hdr.Name, ErrUnsafeArchive, "only regular files and folders are allowed, not entry type %q", hdr.Typeflag)
}

// errStreamLimit ends a stream that went past MaxTotalSize.
var errStreamLimit = errors.New("stream exceeds the total size limit")

// limitedStream counts the bytes read and fails once there are more than
// limit of them.
type limitedStream struct {
	r     io.Reader
	n     int64
	limit int64
}

func (l *limitedStream) Read(p []byte) (int, error) {
	if l.n > l.limit {
		return 0, errStreamLimit
	}
	if room := l.limit - l.n + 1; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.limit {
		return n, errStreamLimit
	}
	return n, err
}

// ctxReader and ctxReaderAt stop reading the archive file once ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

type ctxReaderAt struct {
	ctx context.Context
	r   io.ReaderAt
}

func (c ctxReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.ReadAt(p, off)
}

// sizeText writes a byte count the way the limits are usually set.
func sizeText(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
