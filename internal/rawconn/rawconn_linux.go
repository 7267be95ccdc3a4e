//go:build linux

package rawconn

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// maxRW caps one read or write, as the standard library does (some kernels
// refuse a count of 2 GiB or more).
const maxRW = 1 << 30

// Wrap returns c with its reads and writes made as raw system calls when c is
// a TCP or Unix socket, and c itself otherwise. The result keeps c's
// deadlines, Close and addresses, and its errors read as c's would.
func Wrap(c net.Conn) net.Conn {
	var network string
	switch c.(type) {
	case *net.TCPConn:
		network = "tcp"
	case *net.UnixConn:
		network = "unix"
	default:
		return c
	}
	sc := c.(syscall.Conn)
	raw, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	w := &conn{Conn: c, network: network, sc: sc, raw: raw}
	w.r.trap, w.w.trap = syscall.SYS_READ, syscall.SYS_WRITE
	w.r.fn, w.w.fn = w.r.call, w.w.call
	return w
}

// conn is a socket whose Read and Write go through its syscall.RawConn: the
// netpoller waits (and keeps the deadlines); the call itself is raw.
type conn struct {
	net.Conn // the socket, for Close, the addresses and the deadlines
	network  string
	sc       syscall.Conn
	raw      syscall.RawConn
	r, w     rawOp
	// leave makes Close leave the socket open for the process's exit to
	// close (LeaveToExit).
	leave atomic.Bool
	// gather is the longest a read waits between looks while Gather is on
	// (0: off).
	gather atomic.Int64
	// dl guards the read deadlines: the caller's (readDL) and, during a
	// gathered read's wait, the next look (tickDL). The socket's own read
	// deadline is the earlier of the two.
	dl     sync.Mutex
	readDL time.Time
	tickDL time.Time
}

// LeaveToExit readies c for a process that exits right after closing it:
// what is written to c from now on is held in the kernel (TCP_CORK), and
// c's Close leaves the socket open, so the exit closes it and the held
// bytes leave with the FIN. A database session ended this way still sends
// its goodbye (PostgreSQL's Terminate, MySQL's COM_QUIT), but the server's
// process wakes to end the session only once this process has released its
// memory: on loopback the woken process otherwise takes the exiting
// client's CPU first (docs/benchmarks-history.md, "The round of 2026-12-03, 07:20
// UTC"). Should the process not exit, the kernel sends the held bytes
// within 200 ms anyway, and the socket stays open until the exit or until
// the connection is garbage-collected.
//
// c may be Wrap's TCP socket or a connection over one that says so with a
// NetConn method (a *tls.Conn). LeaveToExit reports whether it applied;
// for anything else (a Unix socket, which cannot hold bytes back, or a
// connection Wrap left unchanged) it does nothing and the caller closes as
// usual.
func LeaveToExit(c net.Conn) bool {
	for {
		switch v := c.(type) {
		case *conn:
			if v.network != "tcp" {
				return false
			}
			var serr error
			if err := v.raw.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK, 1)
			}); err != nil || serr != nil {
				return false
			}
			v.leave.Store(true)
			return true
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return false
		}
	}
}

// Close closes the socket, unless LeaveToExit left it to the process's exit.
func (c *conn) Close() error {
	if c.leave.Load() {
		return nil
	}
	return c.Conn.Close()
}

// rawOp is one direction's call in progress. Its mutex keeps two readers (or
// two writers) from sharing it; the socket itself orders them as well.
type rawOp struct {
	mu    sync.Mutex
	trap  uintptr // SYS_READ or SYS_WRITE
	fn    func(fd uintptr) bool
	buf   []byte
	n     int
	errno syscall.Errno
}

// call makes the system call on fd: false asks the netpoller to wait until fd
// is ready (EAGAIN), true ends the operation with n and errno set.
func (o *rawOp) call(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(o.trap, fd, uintptr(unsafe.Pointer(&o.buf[0])), uintptr(len(o.buf)))
		switch e {
		case 0:
			o.n, o.errno = int(n), 0
			return true
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			o.n, o.errno = 0, e
			return true
		}
	}
}

// Read reads into b, as net.Conn's Read does.
func (c *conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if len(b) > maxRW {
		b = b[:maxRW]
	}
	o := &c.r
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf = b
	var err error
	if tick := time.Duration(c.gather.Load()); tick > 0 {
		err = c.readGathered(tick)
	} else {
		err = c.raw.Read(o.fn)
	}
	o.buf = nil
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case o.errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", o.errno))
	case o.n == 0:
		return 0, io.EOF
	}
	return o.n, nil
}

// Write writes all of b, as net.Conn's Write does.
func (c *conn) Write(b []byte) (int, error) {
	o := &c.w
	o.mu.Lock()
	defer o.mu.Unlock()
	written := 0
	for written < len(b) {
		chunk := b[written:]
		if len(chunk) > maxRW {
			chunk = chunk[:maxRW]
		}
		o.buf = chunk
		err := c.raw.Write(o.fn)
		o.buf = nil
		switch {
		case err != nil:
			return written, c.opError("write", err)
		case o.errno != 0:
			return written, c.opError("write", os.NewSyscallError("write", o.errno))
		case o.n == 0:
			return written, c.opError("write", io.ErrUnexpectedEOF)
		}
		written += o.n
	}
	return written, nil
}

// SyscallConn returns the socket's raw connection (go-sql-driver checks a
// pooled connection's liveness through it).
func (c *conn) SyscallConn() (syscall.RawConn, error) { return c.sc.SyscallConn() }

// opError wraps err as the socket's own Read or Write would: a *net.OpError
// naming the operation and both addresses, around the poller's error
// (net.ErrClosed, os.ErrDeadlineExceeded) or the system call's.
func (c *conn) opError(op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) { // RawConn's own, named raw-read or raw-write
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: c.network, Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// Gather makes c's reads, until stop is called, look for data a tick at a
// time instead of waking as each piece of it arrives; a read that finds data
// waiting returns it at once, as before. It is for reading the answers to a
// message of many statements, which MariaDB and MySQL send one by one, each
// as its statement ends: on loopback the server's thread pays for waking the
// reader each time, ~20–25 µs of its CPU (docs/benchmarks-history.md, "The
// round of 2026-12-04, 21:30 UTC"). The socket is told not to report data
// until gatherLowat bytes are waiting (SO_RCVLOWAT, which on TCP also spares
// the sender the wake-up), and a read that finds nothing waits for that or
// for the next tick, whichever comes first. While nothing comes the wait
// doubles, up to gatherMaxTicks ticks, so that a long statement is not
// polled for every tick of its run. Data is thus seen up to
// gatherMaxTicks ticks late, and while answers keep coming, up to a tick.
//
// The caller's read deadlines keep their meaning, a deadline set from
// another goroutine to interrupt a read included. Gather applies to a TCP
// socket that Wrap wrapped, on Linux; for anything else it does nothing, and
// stop is still to be called. c may also be a connection over such a socket
// that says so with a NetConn method (a *tls.Conn).
func Gather(c net.Conn, tick time.Duration) (stop func()) {
	w, ok := tcpConn(c)
	if !ok || tick <= 0 {
		return func() {}
	}
	var serr error
	if err := w.raw.Control(func(fd uintptr) {
		lowat := gatherLowat
		if rcvbuf, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF); err == nil {
			// Linux grows the receive buffer, and clamps the window to
			// the mark, for a mark above about half of it.
			lowat = max(min(lowat, rcvbuf/4), 1)
		}
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, lowat)
	}); err != nil || serr != nil {
		return func() {}
	}
	w.gather.Store(int64(tick))
	return func() {
		w.gather.Store(0)
		w.raw.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, 1)
		})
	}
}

// Gathering reports whether c's reads are gathered now (Gather).
func Gathering(c net.Conn) bool {
	w, ok := tcpConn(c)
	return ok && w.gather.Load() != 0
}

// tcpConn returns the TCP socket that Wrap wrapped under c, c itself or the
// connection under a *tls.Conn (its NetConn method).
func tcpConn(c net.Conn) (*conn, bool) {
	for {
		nc, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = nc.NetConn()
	}
	w, ok := c.(*conn)
	return w, ok && w.network == "tcp"
}

// gatherLowat is how much Gather lets wait in the socket before it wakes a
// reader: far more than a message's answers, OK packets of a few bytes each.
const gatherLowat = 32 << 10

// gatherMaxTicks bounds a gathered read's wait while nothing comes.
const gatherMaxTicks = 4

// readGathered is Read's wait while Gather is on: the read is tried, then
// tried again after each wait (see Gather) until data comes, the socket
// fails or the caller's deadline passes.
func (c *conn) readGathered(tick time.Duration) error {
	o := &c.r
	var done bool
	if err := c.raw.Control(func(fd uintptr) { done = o.fn(fd) }); err != nil {
		return err
	}
	if done {
		return nil
	}
	defer func() {
		c.dl.Lock()
		c.tickDL = time.Time{}
		c.Conn.SetReadDeadline(c.readDL)
		c.dl.Unlock()
	}()
	for wait := tick; ; wait = min(2*wait, gatherMaxTicks*tick) {
		c.dl.Lock()
		c.tickDL = time.Now().Add(wait)
		c.Conn.SetReadDeadline(earlier(c.readDL, c.tickDL))
		c.dl.Unlock()
		err := c.raw.Read(o.fn)
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
		c.dl.Lock()
		expired := !c.readDL.IsZero() && !time.Now().Before(c.readDL)
		c.dl.Unlock()
		if expired {
			return err
		}
	}
}

// earlier returns the earlier of two deadlines, the zero time being none.
func earlier(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// SetReadDeadline sets the read deadline, as net.Conn's does.
func (c *conn) SetReadDeadline(t time.Time) error {
	c.dl.Lock()
	defer c.dl.Unlock()
	c.readDL = t
	return c.Conn.SetReadDeadline(earlier(t, c.tickDL))
}

// SetDeadline sets the read and write deadlines, as net.Conn's does.
func (c *conn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.SetReadDeadline(t)
}
