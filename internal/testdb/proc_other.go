//go:build !linux

package testdb

import (
	"syscall"
	"time"
)

// sysProcAttr runs a server in its own process group and as user cred if
// not nil. Outside Linux there is no parent-death signal: a server outlives
// a test binary killed before it could stop it, until the next run's sweep.
func sysProcAttr(cred *syscall.Credential, deathSig syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Credential: cred}
}

// waitGroupGone waits up to timeout for process group pgid to be gone.
func waitGroupGone(pgid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for groupAlive(pgid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// groupAlive reports whether process group pgid has a process left.
func groupAlive(pgid int) bool { return syscall.Kill(-pgid, 0) != syscall.ESRCH }

// processUsesDir cannot tell outside Linux; the sweep leaves such servers be.
func processUsesDir(pid int, dir string) bool { return false }
