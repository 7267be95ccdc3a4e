package postgres

import (
	"syscall"
	"testing"
)

// gathersOn says whether rawconn.Gather does anything to d's session: on
// Linux, over TCP.
func gathersOn(d *Driver) bool { return d.conn.PgConn().Conn().RemoteAddr().Network() == "tcp" }

// sessionLowat reads SO_RCVLOWAT of d's session socket: above 1 while the
// answers to a query are gathered (rawconn.Gather).
func sessionLowat(t *testing.T, d *Driver) int {
	t.Helper()
	raw, err := d.conn.PgConn().Conn().(syscall.Conn).SyscallConn()
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
