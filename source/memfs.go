package source

import (
	"bytes"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

// memFS is the read-only, in-memory file system an archive becomes. It is
// built once by memBuilder and never changes afterwards, so it is safe for
// concurrent use.
type memFS struct {
	nodes map[string]*memNode // by fs.ValidPath name; "." is the root
}

var (
	_ fs.FS         = (*memFS)(nil)
	_ fs.ReadDirFS  = (*memFS)(nil)
	_ fs.ReadFileFS = (*memFS)(nil)
	_ fs.StatFS     = (*memFS)(nil)
)

// memNode is one file or folder; it is its own fs.FileInfo.
type memNode struct {
	name    string // base name; "." for the root
	dir     bool
	data    []byte
	modTime time.Time
	entries []fs.DirEntry // folders only, sorted by name
}

func (n *memNode) Name() string       { return n.name }
func (n *memNode) Size() int64        { return int64(len(n.data)) }
func (n *memNode) ModTime() time.Time { return n.modTime }
func (n *memNode) IsDir() bool        { return n.dir }
func (n *memNode) Sys() any           { return nil }
func (n *memNode) Mode() fs.FileMode {
	if n.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}

// memBuilder collects files and folders by valid path; build freezes them.
type memBuilder struct {
	nodes map[string]*memNode
}

func newMemBuilder() *memBuilder {
	return &memBuilder{nodes: map[string]*memNode{".": {name: ".", dir: true}}}
}

// addDir records a folder and its parents. The caller has checked that no
// file has the same name.
func (b *memBuilder) addDir(name string, modTime time.Time) {
	if n, ok := b.nodes[name]; ok {
		if n.modTime.IsZero() {
			n.modTime = modTime
		}
		return
	}
	b.nodes[name] = &memNode{name: path.Base(name), dir: true, modTime: modTime}
	if dir := path.Dir(name); dir != "." {
		b.addDir(dir, time.Time{})
	}
}

// addFile records a file and its parent folders. The caller has checked
// that the name is new.
func (b *memBuilder) addFile(name string, data []byte, modTime time.Time) {
	b.nodes[name] = &memNode{name: path.Base(name), data: data, modTime: modTime}
	if dir := path.Dir(name); dir != "." {
		b.addDir(dir, time.Time{})
	}
}

func (b *memBuilder) build() *memFS {
	for name, n := range b.nodes {
		if name == "." {
			continue
		}
		parent := b.nodes[path.Dir(name)]
		parent.entries = append(parent.entries, fs.FileInfoToDirEntry(n))
	}
	for _, n := range b.nodes {
		slices.SortFunc(n.entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	}
	fsys := &memFS{nodes: b.nodes}
	b.nodes = nil
	return fsys
}

func (m *memFS) lookup(op, name string) (*memNode, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	n, ok := m.nodes[name]
	if !ok {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return n, nil
}

// Open opens the named file or folder.
func (m *memFS) Open(name string) (fs.File, error) {
	n, err := m.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if n.dir {
		return &memDir{node: n, path: name}, nil
	}
	return &memFile{node: n, path: name, r: bytes.NewReader(n.data)}, nil
}

// ReadFile returns a copy of the named file's content.
func (m *memFS) ReadFile(name string) ([]byte, error) {
	n, err := m.lookup("readfile", name)
	if err != nil {
		return nil, err
	}
	if n.dir {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: errIsDir}
	}
	return bytes.Clone(n.data), nil
}

// ReadDir returns the named folder's entries sorted by name.
func (m *memFS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := m.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if !n.dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errNotDir}
	}
	return slices.Clone(n.entries), nil
}

// Stat describes the named file or folder.
func (m *memFS) Stat(name string) (fs.FileInfo, error) {
	n, err := m.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return n, nil
}

var (
	errIsDir  = &textError{"is a directory"}
	errNotDir = &textError{"not a directory"}
)

// textError is a constant error that matches fs.ErrInvalid.
type textError struct{ s string }

func (e *textError) Error() string        { return e.s }
func (e *textError) Is(target error) bool { return target == fs.ErrInvalid }

// memFile is an open file of a memFS.
type memFile struct {
	node   *memNode
	path   string
	r      *bytes.Reader
	closed bool
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f.node, nil }
func (f *memFile) Close() error {
	if f.closed {
		return &fs.PathError{Op: "close", Path: f.path, Err: fs.ErrClosed}
	}
	f.closed = true
	return nil
}
func (f *memFile) Read(p []byte) (int, error) {
	if f.closed {
		return 0, &fs.PathError{Op: "read", Path: f.path, Err: fs.ErrClosed}
	}
	return f.r.Read(p)
}
func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if f.closed {
		return 0, &fs.PathError{Op: "read", Path: f.path, Err: fs.ErrClosed}
	}
	return f.r.ReadAt(p, off)
}
func (f *memFile) Seek(offset int64, whence int) (int64, error) {
	if f.closed {
		return 0, &fs.PathError{Op: "seek", Path: f.path, Err: fs.ErrClosed}
	}
	return f.r.Seek(offset, whence)
}

// memDir is an open folder of a memFS.
type memDir struct {
	node   *memNode
	path   string
	offset int
	closed bool
}

func (d *memDir) Stat() (fs.FileInfo, error) { return d.node, nil }
func (d *memDir) Close() error {
	if d.closed {
		return &fs.PathError{Op: "close", Path: d.path, Err: fs.ErrClosed}
	}
	d.closed = true
	return nil
}
func (d *memDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.path, Err: errIsDir}
}

// ReadDir follows fs.ReadDirFile: at most n entries and io.EOF at the end
// when n > 0, all the remaining ones otherwise.
func (d *memDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if d.closed {
		return nil, &fs.PathError{Op: "readdir", Path: d.path, Err: fs.ErrClosed}
	}
	rest := d.node.entries[d.offset:]
	if n > 0 {
		if len(rest) == 0 {
			return nil, io.EOF
		}
		rest = rest[:min(n, len(rest))]
	}
	d.offset += len(rest)
	return slices.Clone(rest), nil
}
