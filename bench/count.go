package main

import "encoding/binary"

// A queryCounter follows what a client sends its server, chunk by chunk as
// the proxy reads it, and counts the queries in it: the statements the client
// asked the server to run, one a message whatever the message holds (a
// PostgreSQL Query message with ten statements is one). It never holds a
// message, only its header: a 50 MB INSERT costs it nothing but the skip.
//
// When the stream cannot be followed (TLS, MySQL's compressed protocol, a
// length that makes no sense) it stops and says so: a count it cannot vouch
// for is not given.
type queryCounter interface {
	feed(p []byte)
	// counted returns the queries seen so far, and false when the stream
	// could not be followed.
	counted() (n int64, ok bool)
}

func newQueryCounter(engine string) queryCounter {
	if engine == "mariadb" {
		return &myCounter{}
	}
	return &pgCounter{startup: true}
}

// pass drops from p what is left of the current message's body, *skip
// bytes, and counts them off.
func pass(skip *int, p []byte) []byte {
	k := min(*skip, len(p))
	*skip -= k
	return p[k:]
}

// PostgreSQL start-up codes (the protocol's "message flow" chapter).
const (
	pgCancelRequest = 80877102
	pgSSLRequest    = 80877103
	pgGSSENCRequest = 80877104
)

// pgCounter counts the Query ('Q') and Execute ('E') messages of a
// PostgreSQL session. The start-up packets have no type byte; an
// SSLRequest that the server accepted is followed by a TLS record, whose
// first byte is 0x16, which no start-up packet begins with, and a
// GSSENCRequest it accepted by GSSAPI packets, whose "code" is no protocol
// version.
type pgCounter struct {
	startup bool   // still in the start-up packets
	peek    bool   // after an SSLRequest or GSSENCRequest: TLS or not
	hdr     []byte // the current header, as far as it has arrived
	skip    int    // body bytes of the current message still to pass
	n       int64
	lost    bool // the stream could not be followed
	done    bool // a cancel request, or lost: nothing more to count
}

func (c *pgCounter) feed(p []byte) {
	for len(p) > 0 && !c.done {
		if c.skip > 0 {
			p = pass(&c.skip, p)
			continue
		}
		if c.peek {
			c.peek = false
			if p[0] == 0x16 {
				c.lose()
				return
			}
		}
		need := 5 // type byte and length
		if c.startup {
			need = 8 // length and code
		}
		k := min(need-len(c.hdr), len(p))
		c.hdr = append(c.hdr, p[:k]...)
		p = p[k:]
		if len(c.hdr) < need {
			return
		}
		if c.startup {
			size := int64(binary.BigEndian.Uint32(c.hdr[0:4]))
			code := binary.BigEndian.Uint32(c.hdr[4:8])
			if size < 8 || size > 1<<20 {
				c.lose()
				return
			}
			c.skip = int(size - 8)
			switch {
			case code == pgSSLRequest || code == pgGSSENCRequest:
				c.peek = true
			case code == pgCancelRequest:
				c.done = true
			case code>>16 == 3:
				c.startup = false // protocol 3.x: the session's messages follow
			default:
				// Not a start-up packet: an encrypted session the
				// server accepted (GSSAPI's tokens carry a length too).
				c.lose()
				return
			}
		} else {
			size := int64(binary.BigEndian.Uint32(c.hdr[1:5]))
			if size < 4 || size > 1<<31-1 {
				c.lose()
				return
			}
			if t := c.hdr[0]; t == 'Q' || t == 'E' {
				c.n++
			}
			c.skip = int(size - 4)
		}
		c.hdr = c.hdr[:0]
	}
}

func (c *pgCounter) lose() { c.lost, c.done = true, true }

func (c *pgCounter) counted() (int64, bool) { return c.n, !c.lost }

// MySQL client capability flags read in the handshake response.
const (
	myClientCompress = 0x00000020
	myClientSSL      = 0x00000800
	myClientZstd     = 0x04000000
)

// MySQL commands counted as queries.
const (
	myComQuery       = 0x03
	myComStmtExecute = 0x17
)

// myCounter counts the COM_QUERY and COM_STMT_EXECUTE commands of a MySQL
// or MariaDB session. Each packet is a 3-byte length and a sequence number;
// a command is the first packet of its exchange (sequence 0). The client's
// first packet, the handshake response, says whether TLS or compression
// follows, either of which ends the count.
type myCounter struct {
	hdr       []byte // the current header and the payload bytes read of it
	size      int    // the current packet's payload size
	want      int    // how much of that payload to read
	handshake bool   // the current packet is the handshake response
	command   bool   // the current packet starts a command
	skip      int    // payload bytes still to pass
	shookHand bool
	// cont: the packet before was of the largest size, so this one goes
	// on with its payload. lastQuery: the command before was a COM_QUERY.
	// inFile: a LOAD DATA LOCAL's file is being sent (packets numbered
	// on from 2, which wrap to 0, until an empty one).
	cont, lastQuery, inFile bool
	n                       int64
	lost                    bool
}

func (c *myCounter) feed(p []byte) {
	for len(p) > 0 && !c.lost {
		if c.skip > 0 {
			p = pass(&c.skip, p)
			continue
		}
		if len(c.hdr) < 4 {
			k := min(4-len(c.hdr), len(p))
			c.hdr = append(c.hdr, p[:k]...)
			p = p[k:]
			if len(c.hdr) < 4 {
				return
			}
			// How much of the payload to read: the handshake's
			// capability flags, or a command's first byte.
			c.size = int(c.hdr[0]) | int(c.hdr[1])<<8 | int(c.hdr[2])<<16
			c.handshake, c.command = false, false
			switch {
			case c.cont:
				// The payload of the packet before goes on.
			case !c.shookHand:
				c.handshake = true
			case c.inFile:
				c.inFile = c.size > 0
			case c.hdr[3] == 0:
				c.command = true
				c.lastQuery = false
			case c.lastQuery:
				// The server asked for a local file: its packets follow,
				// this one the first.
				c.inFile = c.size > 0
				c.lastQuery = false
			default:
				c.lastQuery = false // an exchange's later packet (auth)
			}
			c.want = 0
			switch {
			case c.handshake:
				c.want = min(c.size, 4)
			case c.command:
				c.want = min(c.size, 1)
			}
			c.cont = c.size == 1<<24-1
		}
		k := min(4+c.want-len(c.hdr), len(p))
		c.hdr = append(c.hdr, p[:k]...)
		p = p[k:]
		if len(c.hdr) < 4+c.want {
			return
		}
		payload := c.hdr[4:]
		if c.handshake {
			c.shookHand = true
			if len(payload) < 4 {
				c.lost = true
				return
			}
			caps := binary.LittleEndian.Uint32(payload)
			if caps&(myClientSSL|myClientCompress|myClientZstd) != 0 {
				c.lost = true
				return
			}
		} else if c.command && len(payload) > 0 {
			switch payload[0] {
			case myComQuery:
				c.n++
				c.lastQuery = true
			case myComStmtExecute:
				c.n++
			}
		}
		c.skip = c.size - c.want
		c.hdr = c.hdr[:0]
	}
}

func (c *myCounter) counted() (int64, bool) { return c.n, !c.lost }
