package source

import (
	"io/fs"
	"os"
	"path/filepath"
)

// dirFS is os.DirFS with a leaner ReadFile. Every deploy reads every
// migration file to check it against the history, and with hundreds of small
// files os.ReadFile's system calls dominate: besides open, read and close it
// stats the file, switches it to non-blocking mode and tries to register it
// with the network poller. appendFile (dirfs_unix.go) does open, read until
// EOF, close.
type dirFS struct {
	fs.FS
	root string
}

var (
	_ fs.ReadFileFS = dirFS{}
	_ fs.ReadDirFS  = dirFS{}
	_ fs.StatFS     = dirFS{}
)

func newDirFS(root string) fs.FS { return dirFS{FS: os.DirFS(root), root: root} }

// ReadFile reads the named file.
func (d dirFS) ReadFile(name string) ([]byte, error) {
	b, _, err := d.AppendFile(make([]byte, 0, 4<<10), name, -1)
	return b, err
}

// AppendFile appends the named file's content to buf and returns the
// extended buffer. migration.Load reads every file through one buffer per
// worker this way instead of allocating one per file. With limit >= 0 it
// stops once the file proves longer than limit bytes and reports more.
func (d dirFS) AppendFile(buf []byte, name string, limit int) ([]byte, bool, error) {
	if !fs.ValidPath(name) {
		return nil, false, &fs.PathError{Op: "readfile", Path: name, Err: fs.ErrInvalid}
	}
	b, more, err := appendFile(buf, filepath.Join(d.root, filepath.FromSlash(name)), limit)
	if err != nil {
		if pe, ok := err.(*fs.PathError); ok {
			pe.Path = name // as os.DirFS reports it: relative to the folder
		}
		return nil, false, err
	}
	return b, more, nil
}

// ReadDir lists the named folder.
func (d dirFS) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(d.FS, name) }

// Stat describes the named file.
func (d dirFS) Stat(name string) (fs.FileInfo, error) { return fs.Stat(d.FS, name) }
