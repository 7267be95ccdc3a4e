//go:build !linux

package rawconn

import (
	"net"
	"time"
)

// Wrap returns c: raw socket calls are made on Linux only.
func Wrap(c net.Conn) net.Conn { return c }

// LeaveToExit does nothing and reports false: it is made on Linux only.
func LeaveToExit(c net.Conn) bool { return false }

// Gather does nothing: it is made on Linux only.
func Gather(c net.Conn, tick time.Duration) (stop func()) { return func() {} }

// Gathering reports false: Gather is made on Linux only.
func Gathering(c net.Conn) bool { return false }
