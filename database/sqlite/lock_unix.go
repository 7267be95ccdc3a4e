//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package sqlite

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// fileLock is the migration lock: flock(2) LOCK_EX on a sidecar file,
// "<database file>.runway-lock", rather than a SQLite lock or a lock on the
// database file itself:
//
//   - A SQLite write lock held for the run would force the whole run into one
//     transaction, and no-transaction migrations (VACUUM, PRAGMA journal_mode)
//     could not run at all.
//   - flock on the database file itself does not block SQLite on Linux (flock
//     and fcntl locks are independent there; tried), but it disturbs it all the
//     same: SQLite's locks are POSIX record locks, which the kernel drops for
//     the whole process at any close(2) of any descriptor of the file. Closing
//     our lock descriptor at Unlock, or the one LockHolder opens to probe, would
//     silently release the locks of every SQLite connection of the process on
//     that file. Independence is also a Linux promise only: Linux NFS clients
//     emulate flock with a whole-file fcntl lock, which conflicts with SQLite's
//     byte-range locks. SQLite never opens the sidecar file.
//   - The sidecar also holds who took the lock, which LockHolder reads.
//
// flock locks belong to the open file description: the kernel drops them when
// the process dies, and two Drivers in one process exclude each other (POSIX
// fcntl locks would not).
//
// The holder removes the file when it unlocks, so a clean run leaves no file
// behind (a killed one does, harmlessly). A waiter may then have locked the
// removed file: after flock succeeds, tryLock checks that the path still names
// the file it locked, and starts over when it does not.
type fileLock struct {
	f      *os.File
	path   string
	memory bool // an in-memory database: nobody else can reach it
}

func (l *fileLock) held() bool { return l.f != nil || l.memory }

// tryLock tries once; it reports false, nil when another open file holds the lock.
func (l *fileLock) tryLock(path, holder string) (bool, error) {
	// Each lap is one attempt; a lap only repeats when the holder removed the
	// file between our open and our flock.
	for range 100 {
		ok, again, err := l.tryLockFile(path, holder)
		if !again {
			return ok, err
		}
	}
	return false, nil
}

func (l *fileLock) tryLockFile(path, holder string) (ok, again bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	readOnly := false
	if errors.Is(err, fs.ErrPermission) {
		// Another user's lock file: flock works on a read-only descriptor,
		// only the holder text cannot be written.
		f, err = os.Open(path)
		readOnly = true
	}
	if err != nil {
		return false, false, fmt.Errorf("sqlite: lock file: %w", err)
	}
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return false, false, nil
		}
		return false, false, fmt.Errorf("sqlite: lock file %s: flock: %w", path, err)
	}
	locked, err := f.Stat()
	if err != nil {
		f.Close()
		return false, false, fmt.Errorf("sqlite: lock file %s: %w", path, err)
	}
	if now, err := os.Stat(path); err != nil || !os.SameFile(locked, now) {
		f.Close() // a removed file: locking it excludes nobody
		return false, true, nil
	}
	if !readOnly {
		// Best effort: the lock is held whether or not the holder is written.
		if f.Truncate(0) == nil {
			_, _ = f.WriteAt([]byte(holder+"\n"), 0)
		}
	}
	l.f, l.path = f, path
	return true, false, nil
}

func (l *fileLock) unlock() error {
	if l.f == nil {
		return nil
	}
	// Removed before it is unlocked: whoever locks this file after us finds
	// the path gone (or naming a newer file) and starts over. Truncated first in
	// case the removal fails (a directory we may not write): LockHolder says "".
	_ = l.f.Truncate(0)
	_ = os.Remove(l.path)
	err := flock(l.f, syscall.LOCK_UN)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	if err != nil {
		return fmt.Errorf("sqlite: unlock: %w", err)
	}
	return nil
}

// lockHolder returns the text the holder wrote into the lock file, or "" when
// the lock is free. A shared lock that can be taken means no holder; stale
// text left by a holder that died is therefore never reported.
func lockHolder(path string) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: lock file: %w", err)
	}
	defer f.Close()
	err = flock(f, syscall.LOCK_SH|syscall.LOCK_NB)
	if err == nil {
		_ = flock(f, syscall.LOCK_UN)
		return "", nil
	}
	if !errors.Is(err, syscall.EWOULDBLOCK) {
		return "", fmt.Errorf("sqlite: lock file %s: flock: %w", path, err)
	}
	b, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return "", fmt.Errorf("sqlite: lock file %s: %w", path, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func flock(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = syscall.Flock(int(fd), how)
			if ferr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return ferr
}
