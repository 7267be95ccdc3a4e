package rawconn

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// rcvlowat reads c's SO_RCVLOWAT.
func rcvlowat(t *testing.T, c net.Conn) int {
	t.Helper()
	raw, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := raw.Control(func(fd uintptr) {
		v, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT)
	}); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	return v
}

// TestGatherTakesPiecesTogether: while gathering, a reader waiting for data
// is not woken by each small piece that arrives, but takes at the next tick
// all that came by then. Without Gather the first read returns the first
// piece alone: the reader waits before the peer writes anything.
func TestGatherTakesPiecesTogether(t *testing.T) {
	c, s := pair(t, "tcp")
	stop := Gather(c, 300*time.Millisecond)
	defer stop()
	const piece, pieces = 10, 20
	go func() {
		time.Sleep(20 * time.Millisecond) // the reader is waiting by now
		for range pieces {
			s.Write(bytes.Repeat([]byte{'x'}, piece))
			time.Sleep(time.Millisecond)
		}
	}()
	buf := make([]byte, 4096)
	k, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if k < 2*piece {
		t.Errorf("the first gathered read took %d bytes: woken by the first piece, not at the tick", k)
	}
	for got := k; got < piece*pieces; got += k {
		if k, err = c.Read(buf); err != nil {
			t.Fatalf("after %d bytes: %v", got, err)
		}
	}
}

// TestGatherSmallAnswer: an answer smaller than the low-water mark, after
// which the peer sends nothing, is read at the next tick, whole.
func TestGatherSmallAnswer(t *testing.T) {
	c, s := pair(t, "tcp")
	stop := Gather(c, 5*time.Millisecond)
	defer stop()
	if got := rcvlowat(t, c); got < 2 {
		t.Fatalf("SO_RCVLOWAT %d while gathering; want a mark above 1", got)
	}
	go func() {
		time.Sleep(30 * time.Millisecond)
		s.Write([]byte("ok"))
	}()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 10)
	k, err := c.Read(b)
	if err != nil || string(b[:k]) != "ok" {
		t.Fatalf("read %q, %v; want \"ok\"", b[:k], err)
	}
}

// TestGatherDeadlines: the caller's deadline ends a gathered read, however
// long the tick, whether set before the read or, to interrupt it, from
// another goroutine during it (as pgx does), with SetReadDeadline or
// SetDeadline; the errors are the socket's own.
func TestGatherDeadlines(t *testing.T) {
	c, _ := pair(t, "tcp")
	stop := Gather(c, time.Hour)
	defer stop()
	check := func(name string, err error, start time.Time) {
		t.Helper()
		checkOpError(t, err, "read", "tcp")
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: %v; want a timeout", name, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: the read ended after %v", name, d)
		}
	}
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := c.Read(make([]byte, 10))
	check("deadline set before", err, start)

	for _, set := range []struct {
		name string
		fn   func(time.Time) error
	}{{"SetReadDeadline", c.SetReadDeadline}, {"SetDeadline", c.SetDeadline}} {
		c.SetReadDeadline(time.Time{})
		start = time.Now()
		go func() {
			time.Sleep(50 * time.Millisecond)
			set.fn(time.Unix(1, 0))
		}()
		_, err = c.Read(make([]byte, 10))
		check(set.name+" from another goroutine", err, start)
	}
}

// TestGatherStop: stop puts the low-water mark back, and reads wake on each
// piece again; the caller's deadline is the socket's again.
func TestGatherStop(t *testing.T) {
	c, s := pair(t, "tcp")
	if Gathering(c) {
		t.Fatal("gathering before Gather")
	}
	stop := Gather(c, time.Hour)
	if !Gathering(c) {
		t.Fatal("not gathering after Gather")
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	c.Read(make([]byte, 10)) // times out: leaves no wait's deadline behind
	stop()
	if got := rcvlowat(t, c); got != 1 || Gathering(c) {
		t.Errorf("after stop: SO_RCVLOWAT %d, gathering %v; want 1, false", got, Gathering(c))
	}
	c.SetReadDeadline(time.Time{})
	go func() {
		time.Sleep(20 * time.Millisecond)
		s.Write([]byte("a"))
	}()
	start := time.Now()
	b := make([]byte, 10)
	if k, err := c.Read(b); err != nil || string(b[:k]) != "a" {
		t.Fatalf("read after stop: %q, %v", b[:k], err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a one-byte piece took %v to be read after stop", d)
	}
}

// TestGatherEcho is TestEcho while gathering: every byte arrives, in order,
// through full socket buffers, and the end of the stream reads as io.EOF.
func TestGatherEcho(t *testing.T) {
	c, s := pair(t, "tcp")
	stop := Gather(c, time.Millisecond)
	defer stop()
	data := make([]byte, 4<<20)
	for i := range data {
		data[i] = byte(rand.IntN(256))
	}
	go func() {
		io.CopyN(s, s, int64(len(data)))
		s.Close()
	}()
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		werr <- err
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("ReadAll after %d bytes: %v", len(got), err)
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("the echo differs from what was sent")
	}
}

// TestGatherOnlyTCP: on a Unix socket, where the mark would not spare a
// wake-up, Gather leaves the socket as it is.
func TestGatherOnlyTCP(t *testing.T) {
	c, _ := pair(t, "unix")
	stop := Gather(c, time.Hour)
	defer stop()
	if got := rcvlowat(t, c); got != 1 {
		t.Errorf("SO_RCVLOWAT %d on a Unix socket; want it left at 1", got)
	}
	if Gathering(c) {
		t.Error("Gather turned on for a Unix socket")
	}
}

// TestGatherUnderTLS: Gather and Gathering reach the TCP socket under a
// *tls.Conn, as a session over TLS has it.
func TestGatherUnderTLS(t *testing.T) {
	c, _ := pair(t, "tcp")
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
	stop := Gather(tc, time.Hour)
	if !Gathering(tc) || !Gathering(c) || rcvlowat(t, c) < 2 {
		t.Errorf("Gather through TLS: gathering %v, the socket %v, SO_RCVLOWAT %d", Gathering(tc), Gathering(c), rcvlowat(t, c))
	}
	stop()
	if Gathering(tc) || rcvlowat(t, c) != 1 {
		t.Error("stop through TLS left the socket gathering")
	}
}
