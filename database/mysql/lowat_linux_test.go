package mysql

import (
	"syscall"
	"testing"
)

// gathersOn says whether rawconn.Gather does anything to d's session: on
// Linux, over TCP.
func gathersOn(d *Driver) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sessionNet != nil && d.sessionNet.RemoteAddr().Network() == "tcp"
}

// sessionLowat reads SO_RCVLOWAT of d's session socket: above 1 while the
// answers to a message are gathered (rawconn.Gather).
func sessionLowat(t *testing.T, d *Driver) int {
	t.Helper()
	d.mu.Lock()
	nc := d.sessionNet
	d.mu.Unlock()
	raw, err := nc.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	v := -1
	var gerr error
	if err := raw.Control(func(fd uintptr) { v, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT) }); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	return v
}
