package main

import (
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// latencyProxy forwards TCP connections to target, holding every chunk read
// from either side for delay before writing it on, in order: each round trip
// through it costs 2×delay more than on loopback. It models a database across
// a network; bandwidth is not limited.
//
// When it knows the server's protocol (engine), it also counts the queries
// its clients send (see queryCounter), as each chunk is read from the
// client: a query the client waited on is counted before its answer can
// come back, so the count is complete once the client has exited.
type latencyProxy struct {
	ln     net.Listener
	target string
	delay  time.Duration
	engine string // "postgres", "mariadb", or "" for no counting
	// queries sums what every connection's counter counted; lost counts
	// the connections whose protocol could not be followed.
	queries, lost atomic.Int64
}

func startProxy(target string, delay time.Duration, engine string) (*latencyProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &latencyProxy{ln: ln, target: target, delay: delay, engine: engine}
	go p.serve()
	return p, nil
}

// queryCount is a reading of the proxy's counters, to take the difference
// of two around a run.
type queryCount struct{ queries, lost int64 }

func (p *latencyProxy) count() queryCount {
	return queryCount{p.queries.Load(), p.lost.Load()}
}

// since returns the queries sent through the proxy since c was read, and
// false when a connection in between could not be followed.
func (p *latencyProxy) since(c queryCount) (int64, bool) {
	now := p.count()
	return now.queries - c.queries, now.lost == c.lost
}

func (p *latencyProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *latencyProxy) close() { p.ln.Close() }

func (p *latencyProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(c.(*net.TCPConn))
	}
}

func (p *latencyProxy) handle(client *net.TCPConn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	srv := s.(*net.TCPConn)
	var seen func([]byte)
	if p.engine != "" {
		qc := newQueryCounter(p.engine)
		var added int64
		lost := false
		seen = func(b []byte) {
			qc.feed(b)
			n, ok := qc.counted()
			p.queries.Add(n - added)
			added = n
			if !ok && !lost {
				lost = true
				p.lost.Add(1)
			}
		}
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); delayedCopy(srv, client, p.delay, seen) }()
	go func() { defer wg.Done(); delayedCopy(client, srv, p.delay, nil) }()
	wg.Wait()
	client.Close()
	srv.Close()
}

type chunk struct {
	b   []byte
	due time.Time
}

// delayedCopy copies src to dst, each chunk written delay after it was read.
// A reader and a writer goroutine with a queue between them: chunks read
// while one waits are not held up by it (the delay is latency, not a
// per-chunk cost), and order is kept. seen, if not nil, is shown each chunk
// as it is read.
func delayedCopy(dst, src *net.TCPConn, delay time.Duration, seen func([]byte)) {
	q := make(chan chunk, 4096)
	done := make(chan struct{})
	go func() {
		defer close(done)
		failed := false
		for c := range q {
			if failed {
				continue
			}
			if d := time.Until(c.due); d > 0 {
				preciseSleep(d)
			}
			if _, err := dst.Write(c.b); err != nil {
				failed = true
				src.CloseRead()
			}
		}
		dst.CloseWrite()
	}()
	buf := make([]byte, 256<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if seen != nil {
				seen(buf[:n])
			}
			b := make([]byte, n)
			copy(b, buf[:n])
			q <- chunk{b: b, due: time.Now().Add(delay)}
		}
		if err != nil {
			break
		}
	}
	close(q)
	<-done
}

// measureRTT times small request/response exchanges through the proxy to an
// echo server: the round trip the proxy really adds, timer slack included.
func measureRTT(delay time.Duration, n int) (time.Duration, error) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer echo.Close()
	go func() {
		c, err := echo.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b := make([]byte, 64)
		for {
			k, err := c.Read(b)
			if err != nil {
				return
			}
			if _, err := c.Write(b[:k]); err != nil {
				return
			}
		}
	}()
	p, err := startProxy(echo.Addr().String(), delay, "")
	if err != nil {
		return 0, err
	}
	defer p.close()
	c, err := net.Dial("tcp", p.ln.Addr().String())
	if err != nil {
		return 0, err
	}
	defer c.Close()
	rtts := make([]time.Duration, 0, n)
	b := make([]byte, 1)
	for range n {
		t := time.Now()
		if _, err := c.Write([]byte{'x'}); err != nil {
			return 0, err
		}
		if _, err := c.Read(b); err != nil {
			return 0, err
		}
		rtts = append(rtts, time.Since(t))
	}
	sort.Slice(rtts, func(i, j int) bool { return rtts[i] < rtts[j] })
	return rtts[len(rtts)/2], nil
}
