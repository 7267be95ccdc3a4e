// Package source turns a --dir spec into the fs.FS of migrations the engine
// reads: a local folder, or a local .zip, .tar.gz, .tgz or .tar archive, an
// https:// archive, or, with the fetcher of package source/s3, an S3 object
// or prefix; archives and folders optionally followed by //sub/folder to
// pick a folder inside ("artifact.zip//db/migrations", "./repo//migrations",
// "s3://bucket/pipeline/Source.zip//db/migrations").
//
// Open does all the I/O, under its context; the engine then only reads the
// returned fs.FS. A remote source is downloaded whole first, by the Fetcher
// that WithFetcher gives for its URL scheme, and then read like a local
// one: an archive through the guards below, a folder of objects into memory.
//
// # Remote sources
//
// https://host/path/archive.tar.gz is built in (net/http only). An optional
// pin, https://host/m.tar.gz#sha256=HEX, is checked over the whole download
// before any of it is used; a mismatch is ErrChecksum, naming the expected
// and the actual digest. Redirects are followed only to https:// URLs;
// http:// is accepted only for loopback hosts (tests, local mirrors). A
// status other than 2xx is an error naming the status (404 and 410 match
// ErrNotFound, 401 and 403 ErrAccess). WithHTTPClient sets the client,
// DownloadTimeout the time allowed (default 10 minutes), and
// WithFetcher("https", nil) turns downloads off. The sub-folder of an
// https spec goes right after the path or after the pin
// ("https://h/m.tgz//db?X-Amz-Signature=…", "https://h/m.tgz#sha256=…//db"),
// since a query may hold anything.
//
// s3://bucket/key (an archive) and s3://bucket/prefix/ (trailing slash:
// every .sql object directly under the prefix) are read by package
// source/s3 through the AWS SDK for Go v2:
//
//	f, err := s3.New()
//	src, err := source.Open(ctx, spec, source.WithFetcher("s3", f))
//
// It is a package of its own so that a program which imports source, or
// the engine, builds no AWS code; see its documentation for credentials,
// region and S3-compatible endpoints.
//
// Every download is held to MaxTotalSize: refused before reading when its
// announced size is larger, and cut off as soon as the bytes read cross it.
// An archive is spooled to an unlinked temporary file (or to memory when no
// temporary file can be made) and read into memory like a local one.
//
// A URL's userinfo and query string (presigned tokens) and any fragment
// other than a #sha256= pin are redacted in every error and in
// Source.String: "https://[redacted]@host/m.tgz?[redacted]".
//
// # Guarantees for archives
//
// An archive is read into memory, never extracted to disk: no file system
// path is ever built from an entry name, so an entry cannot write outside
// anything, and nothing is left behind when the process dies. Only the files
// under the chosen sub-folder are kept. Every entry of the archive, kept or
// not, is checked first, and one bad entry refuses the whole archive (Open
// returns an error and no fs.FS, so nothing can be applied from it):
//
//   - names that are absolute ("/etc/x", `C:\x`, `\\host\x`), contain a NUL
//     byte, or contain a ".." element (whether or not it escapes the root)
//     are refused; backslashes are read as separators, as Windows tools
//     write them;
//   - symbolic links, hard links, devices, FIFOs and every other entry type
//     but regular files and folders are refused;
//   - two entries that clean to the same name, or a file that is also used
//     as a folder, are refused (one would shadow the other);
//   - an archive with more than MaxEntries entries (default 10,000) is
//     refused before any content is read;
//   - content is counted as it is decompressed, never trusted from headers:
//     a file larger than MaxEntrySize (default 64 MiB), or an archive that
//     expands beyond MaxTotalSize in all (default 512 MiB; for tar the whole
//     decompressed stream counts, headers included), is refused as soon as
//     the limit is crossed, so a decompression bomb costs at most the limit;
//   - a zip entry whose content does not match its declared size or CRC-32,
//     a truncated or damaged stream, and encrypted or unknown compression
//     are refused too.
//
// The returned file system holds only regular files (mode 0444) and folders
// (0555), its paths are all valid fs.ValidPath names, and it is safe for
// concurrent use.
//
// # Errors
//
// Every error Open returns, except the context's own, is an *Error that
// names the path or the redacted URL and, for archives, the entry at
// fault, and matches one of ErrNotFound, ErrUnsupported, ErrUnsafeArchive,
// ErrCorrupt, ErrInvalid, ErrAccess or ErrChecksum with errors.Is, or has
// no kind for a network or I/O failure (the cause is in Err). All of them
// are input errors (exit code 2 in the CLI).
package source
