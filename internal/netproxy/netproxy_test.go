package netproxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// echoServer echoes every connection and records what it received, so a
// test can tell whether data reached it at all.
type echoServer struct {
	ln       net.Listener
	mu       sync.Mutex
	received bytes.Buffer
	accepted int
	closes   chan error // how each connection ended: nil (EOF) or the read error
}

func startEcho(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln, closes: make(chan error, 16)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.mu.Lock()
			e.accepted++
			e.mu.Unlock()
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						e.mu.Lock()
						e.received.Write(buf[:n])
						e.mu.Unlock()
						c.Write(buf[:n])
					}
					if err != nil {
						if errors.Is(err, io.EOF) {
							err = nil
						}
						e.closes <- err
						return
					}
				}
			}()
		}
	}()
	return e
}

func (e *echoServer) got() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.received.String()
}

func (e *echoServer) connections() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.accepted
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes msg and reads it back within a few seconds.
func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read echo of %q: %v", msg, err)
	}
	if string(buf) != msg {
		t.Fatalf("echo: got %q, want %q", buf, msg)
	}
}

// silent asserts that nothing arrives on c for d and that c is still open:
// the read times out, it does not end with EOF or a reset.
func silent(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if n > 0 {
		t.Fatalf("got %q while the proxy was stalled", buf[:n])
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read while stalled: %v, want a timeout (the connection must stay open, no FIN, no RST)", err)
	}
}

func TestForwards(t *testing.T) {
	e := startEcho(t)
	p := Start(t, e.ln.Addr().String())
	for i := 0; i < 3; i++ {
		c := dial(t, p.Addr())
		roundTrip(t, c, "hello")
		roundTrip(t, c, string(bytes.Repeat([]byte("x"), 100_000)))
	}
}

// A client's clean close reaches the server as EOF (FIN), not as a reset.
func TestHalfClose(t *testing.T) {
	e := startEcho(t)
	p := Start(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	roundTrip(t, c, "bye")
	c.(*net.TCPConn).CloseWrite()
	select {
	case err := <-e.closes:
		if err != nil {
			t.Fatalf("server saw %v, want EOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server did not see the client's FIN")
	}
}

func TestDropResetsAndKeepsAccepting(t *testing.T) {
	e := startEcho(t)
	p := Start(t, e.ln.Addr().String())
	c1, c2 := dial(t, p.Addr()), dial(t, p.Addr())
	roundTrip(t, c1, "one")
	roundTrip(t, c2, "two")
	p.Drop()
	for _, c := range []net.Conn{c1, c2} {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := c.Read(make([]byte, 8))
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("client read after Drop: %v, want connection reset", err)
		}
	}
	// The server side was reset too.
	for i := 0; i < 2; i++ {
		select {
		case err := <-e.closes:
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("server side after Drop: %v, want connection reset", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("server side not closed by Drop")
		}
	}
	c3 := dial(t, p.Addr())
	roundTrip(t, c3, "three")
}

func TestStallHoldsEverythingUntilResume(t *testing.T) {
	e := startEcho(t)
	p := Start(t, e.ln.Addr().String())
	old := dial(t, p.Addr())
	roundTrip(t, old, "before")
	p.Stall()
	p.Stall() // idempotent

	// An existing connection: its data does not reach the server.
	old.Write([]byte("held1"))
	// A new connection is accepted but not dialled through.
	before := e.connections()
	fresh := dial(t, p.Addr())
	fresh.Write([]byte("held2"))
	silent(t, old, 300*time.Millisecond)
	silent(t, fresh, 300*time.Millisecond)
	if got := e.got(); got != "before" {
		t.Fatalf("server received %q while stalled, want only %q", got, "before")
	}
	if n := e.connections(); n != before {
		t.Fatalf("the target was dialled while stalled (%d connections, had %d)", n, before)
	}
	// A client that gives up meanwhile: its FIN is held too.
	quitter := dial(t, p.Addr())
	quitter.Close()
	select {
	case err := <-e.closes:
		t.Fatalf("a connection ended at the server while stalled (%v)", err)
	case <-time.After(200 * time.Millisecond):
	}

	p.Resume()
	p.Resume() // idempotent
	for _, c := range []struct {
		conn net.Conn
		want string
	}{{old, "held1"}, {fresh, "held2"}} {
		c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, len(c.want))
		if _, err := io.ReadFull(c.conn, buf); err != nil || string(buf) != c.want {
			t.Fatalf("after Resume: got %q, %v; want %q", buf, err, c.want)
		}
	}
	roundTrip(t, old, "after")
	roundTrip(t, fresh, "after")
}

// Drop while stalled resets the held connections; the proxy stays stalled
// until Resume.
func TestDropWhileStalled(t *testing.T) {
	e := startEcho(t)
	p := Start(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	roundTrip(t, c, "x")
	p.Stall()
	c.Write([]byte("held"))
	p.Drop()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 8)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after Drop: %v, want connection reset", err)
	}
	c2 := dial(t, p.Addr())
	c2.Write([]byte("y"))
	silent(t, c2, 200*time.Millisecond)
	p.Resume()
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c2, make([]byte, 1)); err != nil {
		t.Fatalf("after Resume: %v", err)
	}
}

func TestClose(t *testing.T) {
	e := startEcho(t)
	p := Start(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	roundTrip(t, c, "x")
	p.Stall() // Close must not wait for a Resume
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs while stalled")
	}
	p.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 8)); err == nil {
		t.Fatal("connection still open after Close")
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Fatal("still accepting after Close")
	}
}

// An unreachable target: the client's connection is reset, as a refused
// connection would be.
func TestUnreachableTarget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := Start(t, addr)
	c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	if err != nil {
		return // reset so early that connect itself saw it
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 8)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read: %v, want the connection closed", err)
	}
}
