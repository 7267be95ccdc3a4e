// Package netproxy is a TCP proxy for tests that put a network fault between
// a client and a server: Drop resets every live connection (as a firewall or
// a failed load balancer would), Stall silently stops forwarding while the
// connections stay open (a database that stops answering: no RST, no FIN),
// Resume forwards again what was held.
package netproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy forwards TCP connections from Addr to a target address, both ways.
type Proxy struct {
	t      testing.TB
	target string
	ln     net.Listener

	mu      sync.Mutex
	open    chan struct{} // closed while forwarding; a new, open one while stalled
	stalled bool
	closed  bool
	done    chan struct{} // closed by Close
	conns   map[*pair]struct{}
	wg      sync.WaitGroup
}

// pair is one proxied connection: the client's side and, once dialled, the
// target's.
type pair struct {
	mu       sync.Mutex
	client   *net.TCPConn
	server   *net.TCPConn
	gone     chan struct{} // closed when the pair is torn down
	goneOnce sync.Once
}

// Start listens on 127.0.0.1:0 and forwards every connection to target
// (host:port). The proxy is closed when t ends.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("netproxy: listen: %v", err)
	}
	open := make(chan struct{})
	close(open)
	p := &Proxy{t: t, target: target, ln: ln, open: open, done: make(chan struct{}), conns: map[*pair]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr returns the proxy's address, host:port, for clients to dial.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Drop closes every live connection, both sides, with a TCP reset (linger 0),
// and keeps accepting new ones.
func (p *Proxy) Drop() {
	p.mu.Lock()
	var all []*pair
	for c := range p.conns {
		all = append(all, c)
	}
	p.mu.Unlock()
	for _, c := range all {
		c.teardown(true)
	}
}

// Stall stops forwarding in both directions, on the live connections and on
// the ones accepted from now on, without closing anything: the peers see a
// silent network. Data read meanwhile is held, and a new connection's target
// is not dialled, until Resume.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stalled {
		p.stalled = true
		p.open = make(chan struct{})
	}
}

// Resume ends a Stall: what was held is forwarded and new connections are
// dialled.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled {
		p.stalled = false
		close(p.open)
	}
}

// Close stops listening and closes every connection. It is safe to call more
// than once and is called when the test ends.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.done)
	p.mu.Unlock()
	p.ln.Close()
	p.Drop()
	p.wg.Wait()
}

// gate returns a channel that is closed when forwarding is allowed.
func (p *Proxy) gate() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.open
}

// wait blocks until forwarding is allowed; false when c was torn down or
// the proxy closed meanwhile.
func (p *Proxy) wait(c *pair) bool {
	for {
		g := p.gate()
		select {
		case <-g:
			// Stall may have been called between gate and now; check again.
			if p.gate() == g {
				return true
			}
		case <-c.gone:
			return false
		case <-p.done:
			return false
		}
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		c := &pair{client: conn.(*net.TCPConn), gone: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			conn.Close()
			return
		}
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(c)
	}
}

func (p *Proxy) serve(c *pair) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	if !p.wait(c) {
		c.teardown(true)
		return
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.Dial("tcp", p.target)
	if err != nil {
		c.teardown(true) // the client sees what a refused connection would be
		return
	}
	c.mu.Lock()
	c.server = conn.(*net.TCPConn)
	select {
	case <-c.gone: // dropped while dialling
		c.mu.Unlock()
		c.teardown(true)
		return
	default:
	}
	c.mu.Unlock()
	var both sync.WaitGroup
	both.Add(2)
	go func() { defer both.Done(); p.pump(c, c.server, c.client) }()
	go func() { defer both.Done(); p.pump(c, c.client, c.server) }()
	both.Wait()
	c.teardown(false)
}

// pump copies from src to dst, holding data while the proxy is stalled. A
// clean end of src is passed on as a half-close (FIN) of dst; any other
// error tears the pair down with resets.
func (p *Proxy) pump(c *pair, dst, src *net.TCPConn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.wait(c) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				c.teardown(true)
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if p.wait(c) {
					dst.CloseWrite()
				}
				return
			}
			c.teardown(true)
			return
		}
	}
}

// teardown closes both sides of the pair, with a reset when abort is set.
func (c *pair) teardown(abort bool) {
	c.goneOnce.Do(func() { close(c.gone) })
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range []*net.TCPConn{c.client, c.server} {
		if conn == nil {
			continue
		}
		if abort {
			conn.SetLinger(0)
		}
		conn.Close()
	}
}
