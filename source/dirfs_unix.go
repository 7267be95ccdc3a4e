//go:build unix

package source

import (
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// appendFile appends a whole file to buf with open, read until EOF, close: no
// fstat, fcntl or poller registration (see dirFS). With limit >= 0 it stops
// once more than limit bytes were read and reports more.
func appendFile(buf []byte, path string, limit int) ([]byte, bool, error) {
	return appendAt(buf, unix.AT_FDCWD, path, path, limit)
}

// appendAt is appendFile for path opened relative to the folder descriptor
// dirfd (unix.AT_FDCWD: the working folder); errors name the file as name.
func appendAt(buf []byte, dirfd int, path, name string, limit int) ([]byte, bool, error) {
	var fd int
	var err error
	for {
		fd, err = unix.Openat(dirfd, path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, false, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer syscall.Close(fd)
	start := len(buf)
	for {
		if limit >= 0 && len(buf)-start > limit {
			return buf, true, nil
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, false, &fs.PathError{Op: "read", Path: name, Err: err}
		}
		if n == 0 {
			return buf, false, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// Hold opens the folder once for a batch of reads: migration.Load lists the
// folder and reads every file through what it returns, then closes it. Each
// file is opened relative to the folder's descriptor, so the kernel walks one
// name instead of the whole path: about an eighth of a small file's read
// (measured in docs/benchmarks-history.md, "The round of 2026-12-03, 13:00 UTC").
// Holding the folder only for one load keeps a long-lived program reading
// the folder its path names now, not one renamed away since.
func (d dirFS) Hold() (fs.FS, error) {
	f, err := os.Open(d.root)
	if err != nil {
		if pe, ok := err.(*fs.PathError); ok {
			pe.Path = "." // as os.DirFS reports it: relative to the folder
		}
		return nil, err
	}
	return &heldDir{dirFS: d, f: f, fd: int(f.Fd())}, nil
}

// heldDir is a dirFS with its folder open (see Hold).
type heldDir struct {
	dirFS
	f  *os.File
	fd int

	once    sync.Once
	entries []fs.DirEntry
	err     error
}

var (
	_ fs.ReadDirFS = (*heldDir)(nil)
	_ fs.StatFS    = (*heldDir)(nil)
)

// ReadDir lists the named folder; the held folder itself through its open
// descriptor, sorted by name as fs.ReadDir is.
func (h *heldDir) ReadDir(name string) ([]fs.DirEntry, error) {
	if name != "." {
		return h.dirFS.ReadDir(name)
	}
	h.once.Do(func() {
		h.entries, h.err = h.f.ReadDir(-1)
		slices.SortFunc(h.entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	})
	if h.err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: h.err}
	}
	return slices.Clone(h.entries), nil
}

// ReadFile reads the named file.
func (h *heldDir) ReadFile(name string) ([]byte, error) {
	b, _, err := h.AppendFile(make([]byte, 0, 4<<10), name, -1)
	return b, err
}

// AppendFile is dirFS.AppendFile, opening the file relative to the folder.
func (h *heldDir) AppendFile(buf []byte, name string, limit int) ([]byte, bool, error) {
	if !fs.ValidPath(name) {
		return nil, false, &fs.PathError{Op: "readfile", Path: name, Err: fs.ErrInvalid}
	}
	return appendAt(buf, h.fd, name, name, limit)
}

// Close releases the folder.
func (h *heldDir) Close() error { return h.f.Close() }
