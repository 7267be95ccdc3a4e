// Package rawconn gives a database session's socket reads and writes that
// skip the Go scheduler's system-call bookkeeping.
//
// Every read or write on a net.Conn is a system call made through the
// scheduler's entry path, which wakes the runtime's monitor thread (sysmon)
// whenever the program was idle before it: a futex call, a thread switch and
// a few 20 µs sleeps of that thread, on every wake-up. A migration run is
// idle most of the time, waiting for the server, and wakes on every answer:
// on 1,000 small MariaDB migrations that is ~9,000 extra thread switches and
// half of the client's CPU. A Go socket is non-blocking, so a read or write on
// it returns at once (data or EAGAIN); made as a raw system call it needs no
// bookkeeping, and the netpoller still does the waiting, deadlines included.
//
// On Linux, Wrap does this for TCP and Unix sockets; elsewhere, and for any
// other connection (an SSH tunnel's channel, a TLS connection, a pipe), it
// returns the connection unchanged.
package rawconn

import (
	"context"
	"net"
)

// WrapDial returns a dial function (net.Dialer.DialContext's shape) that
// dials with dial and wraps what it returns.
func WrapDial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return Wrap(c), nil
	}
}
