// Package source turns a --dir spec into the fs.FS of migrations the engine
// reads: a local folder, or a local .zip, .tar.gz, .tgz or .tar archive, each
// optionally followed by //sub/folder to pick a folder inside it
// ("artifact.zip//db/migrations", "./repo//migrations").
//
// Open does all the I/O, under its context; the engine then only reads the
// returned fs.FS. Remote schemes (s3://, https://) will download first and
// hand over a local file the same way; until then they are refused with
// ErrUnsupported.
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
// names the path and, for archives, the entry at fault, and matches one of
// ErrNotFound, ErrUnsupported, ErrUnsafeArchive, ErrCorrupt or ErrInvalid
// with errors.Is. All of them are input errors (exit code 2 in the CLI).
package source
