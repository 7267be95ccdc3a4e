//go:build unix

package source

import (
	"io/fs"
	"syscall"
)

// appendFile appends a whole file to buf with open, read until EOF, close: no
// fstat, fcntl or poller registration (see dirFS). With limit >= 0 it stops
// once more than limit bytes were read and reports more.
func appendFile(buf []byte, path string, limit int) ([]byte, bool, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, false, &fs.PathError{Op: "open", Path: path, Err: err}
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
			return nil, false, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return buf, false, nil
		}
		buf = buf[:len(buf)+n]
	}
}
