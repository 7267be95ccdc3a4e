//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package sqlite

import (
	"fmt"
	"runtime"
)

// fileLock stands in for the flock(2) lock of lock_unix.go on systems without
// flock: only in-memory databases can be locked there.
type fileLock struct {
	memory bool
}

func (l *fileLock) held() bool { return l.memory }

func (l *fileLock) tryLock(path, holder string) (bool, error) {
	return false, fmt.Errorf("sqlite: file lock not supported on this OS (%s): cannot lock %s", runtime.GOOS, path)
}

func (l *fileLock) unlock() error { return nil }

func lockHolder(string) (string, error) { return "", nil }
