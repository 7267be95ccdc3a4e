//go:build linux

package rawconn

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestLeaveToExitHolds: after LeaveToExit a write waits in the kernel (up to
// TCP_CORK's 200 ms ceiling, then it is sent: nothing is lost), and Close
// leaves the socket open.
func TestLeaveToExitHolds(t *testing.T) {
	c, s := pair(t, "tcp")
	if !LeaveToExit(c) {
		t.Fatal("LeaveToExit refused a wrapped TCP socket")
	}
	t.Cleanup(func() { c.(*conn).Conn.Close() })
	start := time.Now()
	if _, err := c.Write([]byte("bye")); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 16)
	k, err := s.Read(buf)
	if err != nil || string(buf[:k]) != "bye" {
		t.Fatalf("the peer read %q, %v; want the held bytes", buf[:k], err)
	}
	if held := time.Since(start); held < 100*time.Millisecond {
		t.Errorf("the bytes arrived %v after the write: not held", held)
	}
	s.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if k, err := s.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("after Close the peer read %d bytes, %v; want the socket still open", k, err)
	}
}

// TestLeaveToExitSendsAtExit: a process that leaves its socket to the exit
// and exits delivers what it wrote, then the FIN.
func TestLeaveToExitSendsAtExit(t *testing.T) {
	if addr := os.Getenv("RAWCONN_LEAVE_ADDR"); addr != "" {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			os.Exit(3)
		}
		c := Wrap(nc)
		if !LeaveToExit(c) {
			os.Exit(4)
		}
		if _, err := c.Write([]byte("bye")); err != nil {
			os.Exit(5)
		}
		c.Close()
		os.Exit(0)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLeaveToExitSendsAtExit$")
	cmd.Env = append(os.Environ(), "RAWCONN_LEAVE_ADDR="+ln.Addr().String())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(s)
	if werr := cmd.Wait(); werr != nil {
		t.Fatalf("the child: %v", werr)
	}
	if err != nil || string(got) != "bye" {
		t.Fatalf("the peer read %q, %v; want the bytes, then EOF", got, err)
	}
}

// TestLeaveToExitOnlyTCP: a Unix socket cannot hold bytes back and a
// connection Wrap left alone is not a socket of its own: LeaveToExit refuses
// both and their Close closes. A TLS connection over a wrapped TCP socket is
// unwrapped.
func TestLeaveToExitOnlyTCP(t *testing.T) {
	c, s := pair(t, "unix")
	if LeaveToExit(c) {
		t.Error("LeaveToExit applied to a Unix socket")
	}
	c.Close()
	s.SetReadDeadline(time.Now().Add(10 * time.Second))
	if k, err := s.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after Close the peer of the Unix socket read %d, %v; want EOF", k, err)
	}

	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if LeaveToExit(a) {
		t.Error("LeaveToExit applied to a pipe")
	}

	tc, _ := pair(t, "tcp")
	t.Cleanup(func() { tc.(*conn).Conn.Close() })
	if !LeaveToExit(tls.Client(tc, &tls.Config{InsecureSkipVerify: true})) {
		t.Error("LeaveToExit did not reach the TCP socket under a TLS connection")
	}
	if !tc.(*conn).leave.Load() {
		t.Error("the TCP socket under the TLS connection is not left to the exit")
	}
}
