package tunnel

import (
	"io"
	"net"
)

// pipeConn is a connection through the tunnel that supports deadlines.
// An SSH channel does not (x/crypto's SetDeadline returns an error), yet the
// drivers rely on them: pgx interrupts a cancelled query with a deadline when
// the server does not answer the cancel request, go-sql-driver/mysql applies
// readTimeout and writeTimeout with them. So the channel is copied to and
// from one end of a net.Pipe, and the driver gets the other end, whose
// deadlines work.
type pipeConn struct {
	net.Conn // the driver's end of the pipe
	local    net.Addr
	remote   net.Addr
}

// tunnelAddr is the address dialled through the bastion.
type tunnelAddr struct{ network, addr string }

func (a tunnelAddr) Network() string { return a.network }
func (a tunnelAddr) String() string  { return a.addr }

func newPipeConn(ch net.Conn, network, addr, bastion string) *pipeConn {
	mine, theirs := net.Pipe()
	go func() {
		// The database's bytes to the driver; at the channel's end (the
		// server or the bastion closed it) the driver reads EOF.
		io.Copy(theirs, ch)
		theirs.Close()
	}()
	go func() {
		// The driver's bytes to the database; when the driver closes its
		// end, the channel closes too.
		io.Copy(ch, theirs)
		ch.Close()
		theirs.Close()
	}()
	return &pipeConn{Conn: mine, local: tunnelAddr{"ssh", bastion}, remote: tunnelAddr{network, addr}}
}

// RemoteAddr returns the address dialled through the bastion.
func (c *pipeConn) RemoteAddr() net.Addr { return c.remote }

// LocalAddr returns the bastion (user@host:port): the connection has no
// local end of its own.
func (c *pipeConn) LocalAddr() net.Addr { return c.local }
