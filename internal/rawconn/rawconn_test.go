package rawconn

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// pair returns both ends of a connected socket of network ("tcp" or "unix"),
// the client's end wrapped.
func pair(t testing.TB, network string) (client net.Conn, server net.Conn) {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	c, err := net.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.FailNow()
	}
	w := Wrap(c)
	t.Cleanup(func() { w.Close(); s.Close() })
	return w, s
}

func networks() []string { return []string{"tcp", "unix"} }

func TestWrapOnlySockets(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if Wrap(a) != a {
		t.Error("a pipe was wrapped")
	}
	tc := tls.Client(a, &tls.Config{InsecureSkipVerify: true})
	if Wrap(tc) != net.Conn(tc) {
		t.Error("a TLS connection was wrapped")
	}
	for _, n := range networks() {
		c, _ := pair(t, n)
		wrapped := fmt.Sprintf("%T", c) == "*rawconn.conn" // the type exists on Linux only
		if wrapped != (runtime.GOOS == "linux") {
			t.Errorf("%s: wrapped %v on %s", n, wrapped, runtime.GOOS)
		}
		if _, ok := c.(syscall.Conn); !ok {
			t.Errorf("%s: the wrapped socket lost SyscallConn", n)
		}
	}
}

// TestEcho sends more than the socket buffers hold through the wrapped end
// while reading the echo back on it at the same time: writes meet EAGAIN and
// reads come in pieces, and every byte must arrive in order.
func TestEcho(t *testing.T) {
	for _, n := range networks() {
		t.Run(n, func(t *testing.T) {
			c, s := pair(t, n)
			go io.Copy(s, s)
			data := make([]byte, 8<<20)
			for i := range data {
				data[i] = byte(rand.IntN(256))
			}
			werr := make(chan error, 1)
			go func() {
				// Uneven pieces, one of them empty.
				rest := data
				for len(rest) > 0 {
					k := min(len(rest), rand.IntN(200_000))
					if _, err := c.Write(rest[:k]); err != nil {
						werr <- err
						return
					}
					rest = rest[k:]
				}
				werr <- nil
			}()
			got := make([]byte, 0, len(data))
			buf := make([]byte, 70_000)
			for len(got) < len(data) {
				k, err := c.Read(buf)
				if err != nil {
					t.Fatalf("read after %d bytes: %v", len(got), err)
				}
				got = append(got, buf[:k]...)
			}
			if err := <-werr; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("the echo differs from what was sent")
			}
			if k, err := c.Read(nil); k != 0 || err != nil {
				t.Errorf("empty read: %d, %v", k, err)
			}
		})
	}
}

func TestEOF(t *testing.T) {
	for _, n := range networks() {
		t.Run(n, func(t *testing.T) {
			c, s := pair(t, n)
			s.Write([]byte("last"))
			s.Close()
			b, err := io.ReadAll(c)
			if err != nil || string(b) != "last" {
				t.Fatalf("ReadAll: %q, %v", b, err)
			}
			if k, err := c.Read(make([]byte, 10)); k != 0 || err != io.EOF {
				t.Errorf("read after the peer closed: %d, %v; want 0, io.EOF itself", k, err)
			}
		})
	}
}

// TestDeadlines: pgx interrupts a read by setting a deadline, go-sql-driver
// bounds reads and writes with them; the errors must be the socket's own.
func TestDeadlines(t *testing.T) {
	for _, n := range networks() {
		t.Run(n, func(t *testing.T) {
			c, _ := pair(t, n)
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			start := time.Now()
			_, err := c.Read(make([]byte, 10))
			checkOpError(t, err, "read", n)
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("read past the deadline: %v; want a timeout", err)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("the read deadline took %v", time.Since(start))
			}

			// The peer reads nothing: the write fills the buffers and waits.
			c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			big := make([]byte, 64<<20)
			k, err := c.Write(big)
			checkOpError(t, err, "write", n)
			if !errors.Is(err, os.ErrDeadlineExceeded) || k >= len(big) {
				t.Errorf("write past the deadline: %d of %d bytes, %v; want a timeout after part of it", k, len(big), err)
			}
		})
	}
}

func TestCloseEndsABlockedRead(t *testing.T) {
	for _, n := range networks() {
		t.Run(n, func(t *testing.T) {
			c, _ := pair(t, n)
			done := make(chan error, 1)
			go func() {
				_, err := c.Read(make([]byte, 10))
				done <- err
			}()
			time.Sleep(50 * time.Millisecond)
			c.Close()
			select {
			case err := <-done:
				checkOpError(t, err, "read", n)
				if !errors.Is(err, net.ErrClosed) {
					t.Errorf("read on a closed connection: %v; want net.ErrClosed", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Close did not end the blocked read")
			}
			if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
				t.Errorf("write on a closed connection: %v; want net.ErrClosed", err)
			}
		})
	}
}

func TestReset(t *testing.T) {
	c, s := pair(t, "tcp")
	s.(*net.TCPConn).SetLinger(0)
	s.Close()
	_, err := c.Read(make([]byte, 10))
	checkOpError(t, err, "read", "tcp")
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read after a reset: %v; want ECONNRESET", err)
	}
}

// checkOpError: a *net.OpError naming the operation, the network and the
// peer, as the socket's own Read and Write return.
func checkOpError(t *testing.T, err error, op, network string) {
	t.Helper()
	var oe *net.OpError
	if !errors.As(err, &oe) {
		t.Fatalf("%s: error %T %v; want a *net.OpError", op, err, err)
	}
	if oe.Op != op || oe.Net != network || oe.Addr == nil {
		t.Errorf("%s: OpError{Op: %q, Net: %q, Addr: %v}; want Op %q, Net %q and the peer's address", op, oe.Op, oe.Net, oe.Addr, op, network)
	}
}
