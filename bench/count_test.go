package main

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// pgStartup is a start-up packet: its length, then code.
func pgStartup(code uint32, body string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
	b = binary.BigEndian.AppendUint32(b, code)
	return append(b, body...)
}

// pgMsg is a typed message: its type, its length, its body.
func pgMsg(t byte, body string) []byte {
	b := []byte{t}
	b = binary.BigEndian.AppendUint32(b, uint32(4+len(body)))
	return append(b, body...)
}

// myPacket is a MySQL packet: a 3-byte length, the sequence number, the
// payload.
func myPacket(seq byte, payload []byte) []byte {
	n := len(payload)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}, payload...)
}

func myHandshake(caps uint32, rest string) []byte {
	return myPacket(1, append(binary.LittleEndian.AppendUint32(nil, caps), rest...))
}

func concat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// countSplit feeds stream in every way of cutting it in two, and byte by
// byte, and checks that each gives the same count: a proxy reads whatever
// chunks the network delivers.
func countSplit(t *testing.T, engine string, stream []byte, want int64, wantOK bool) {
	t.Helper()
	check := func(how string, chunks ...[]byte) {
		t.Helper()
		c := newQueryCounter(engine)
		for _, ch := range chunks {
			c.feed(ch)
		}
		if n, ok := c.counted(); n != want || ok != wantOK {
			t.Fatalf("%s: counted %d, %v; want %d, %v", how, n, ok, want, wantOK)
		}
	}
	check("whole", stream)
	for i := 1; i < len(stream); i++ {
		check(fmt.Sprintf("cut at %d", i), stream[:i], stream[i:])
	}
	var bytes [][]byte
	for i := range stream {
		bytes = append(bytes, stream[i:i+1])
	}
	check("byte by byte", bytes...)
}

func TestPgCounter(t *testing.T) {
	startup := pgStartup(196608, "user\x00postgres\x00database\x00app\x00\x00")
	session := concat(
		pgMsg('p', "secret\x00"), // a password: not a query
		pgMsg('Q', "select 1; select 2"),
		pgMsg('P', "\x00select $1\x00\x00\x00"),
		pgMsg('B', "\x00\x00\x00\x00\x00\x01\x00\x00\x00\x01x\x00\x00"),
		pgMsg('D', "P\x00"),
		pgMsg('E', "\x00\x00\x00\x00\x00"),
		pgMsg('S', ""),
		pgMsg('Q', "copy t from stdin"),
		pgMsg('d', strings.Repeat("Q", 300)), // COPY data that looks like queries
		pgMsg('c', ""),
		pgMsg('X', ""),
	)
	t.Run("plain", func(t *testing.T) { countSplit(t, "postgres", concat(startup, session), 3, true) })
	t.Run("SSL refused", func(t *testing.T) {
		// The server answered 'N' (not seen by the counter): the start-up
		// packet follows in the clear.
		countSplit(t, "postgres", concat(pgStartup(pgSSLRequest, ""), startup, session), 3, true)
	})
	t.Run("TLS", func(t *testing.T) {
		tls := []byte{0x16, 0x03, 0x01, 0x00, 0x05, 'Q', 'Q', 'Q', 'Q', 'Q'}
		countSplit(t, "postgres", concat(pgStartup(pgSSLRequest, ""), tls), 0, false)
	})
	t.Run("GSSAPI encryption accepted", func(t *testing.T) {
		// After the server's 'G', GSSAPI packets: a length, then a token
		// (0x60 …), which is no protocol version.
		gss := binary.BigEndian.AppendUint32(nil, 12)
		gss = append(gss, 0x60, 0x0a, 0x06, 0x08, 'Q', 0, 0, 0, 4, 'E', 0, 0)
		countSplit(t, "postgres", concat(pgStartup(pgGSSENCRequest, ""), gss, gss), 0, false)
	})
	t.Run("GSSAPI encryption refused", func(t *testing.T) {
		countSplit(t, "postgres", concat(pgStartup(pgGSSENCRequest, ""), startup, session), 3, true)
	})
	t.Run("protocol 3.2", func(t *testing.T) {
		countSplit(t, "postgres", concat(pgStartup(3<<16|2, "user\x00postgres\x00\x00"), session), 3, true)
	})
	t.Run("an unknown protocol", func(t *testing.T) {
		countSplit(t, "postgres", concat(pgStartup(4<<16, "user\x00postgres\x00\x00"), session), 0, false)
	})
	t.Run("cancel", func(t *testing.T) {
		countSplit(t, "postgres", concat(pgStartup(pgCancelRequest, "\x00\x00\x00\x01\x00\x00\x00\x02"), session), 0, true)
	})
	t.Run("nonsense length", func(t *testing.T) {
		countSplit(t, "postgres", concat(startup, []byte{'Q', 0, 0, 0, 1}), 0, false)
	})
}

func TestMyCounter(t *testing.T) {
	const caps = 0x000fa68d &^ (myClientSSL | myClientCompress) // a client's usual flags
	session := concat(
		myPacket(3, []byte("auth switch response")),
		myPacket(0, []byte{myComQuery, 'S', 'E', 'T', ' ', 'x'}),
		myPacket(0, []byte{0x0e}),                        // COM_PING
		myPacket(0, append([]byte{0x16}, "select ?"...)), // COM_STMT_PREPARE
		myPacket(0, []byte{myComStmtExecute, 1, 0, 0, 0}),
		myPacket(0, append([]byte{myComQuery}, "LOAD DATA LOCAL INFILE 'f' INTO TABLE t"...)),
		myPacket(2, []byte{myComQuery, myComQuery}), // the file's data: not commands
		myPacket(3, nil),          // its end: an empty packet
		myPacket(0, []byte{0x01}), // COM_QUIT
	)
	t.Run("plain", func(t *testing.T) { countSplit(t, "mariadb", concat(myHandshake(caps, "root\x00"), session), 3, true) })
	t.Run("TLS", func(t *testing.T) {
		countSplit(t, "mariadb", concat(myHandshake(caps|myClientSSL, strings.Repeat("\x00", 28)), []byte{0x16, 3, 1, 0, 3}), 0, false)
	})
	t.Run("compressed", func(t *testing.T) {
		countSplit(t, "mariadb", concat(myHandshake(caps|myClientCompress, "root\x00"), session), 0, false)
	})
	t.Run("a local file sent", func(t *testing.T) {
		// LOAD DATA LOCAL: the file's packets are numbered on from 2 and
		// wrap to 0; the ones at 0 that begin like a command are data.
		var file [][]byte
		seq := byte(2)
		for range 600 {
			file = append(file, myPacket(seq, []byte{myComQuery, myComStmtExecute, 'x'}))
			seq++
		}
		file = append(file, myPacket(seq, nil))
		stream := concat(myHandshake(caps, "root\x00"),
			myPacket(0, append([]byte{myComQuery}, "LOAD DATA LOCAL INFILE 'f' INTO TABLE t"...)),
			concat(file...),
			myPacket(0, []byte{myComQuery, 'x'}))
		countSplit(t, "mariadb", stream, 2, true)
	})
	t.Run("a packet of 16 MiB and more", func(t *testing.T) {
		// A payload of 2^24-1 bytes goes on in the next packet, whose
		// sequence number follows.
		big := make([]byte, 1<<24-1)
		big[0] = myComQuery
		big[1] = myComQuery
		stream := concat(myHandshake(caps, "root\x00"), myPacket(0, big), myPacket(1, []byte{myComQuery, 'x'}), myPacket(0, []byte{myComQuery}),
			// A query of exactly 2^24-1 bytes ends with an empty packet;
			// a local file asked for by it is numbered on from there.
			myPacket(0, big), myPacket(1, nil), myPacket(3, []byte{myComQuery}), myPacket(4, nil),
			myPacket(0, []byte{myComStmtExecute}))
		c := newQueryCounter("mariadb")
		for len(stream) > 0 {
			k := min(len(stream), 65536)
			c.feed(stream[:k])
			stream = stream[k:]
		}
		if n, ok := c.counted(); n != 4 || !ok {
			t.Fatalf("counted %d, %v; want 4, true", n, ok)
		}
	})
}

// Real clients, through the proxy to the test servers: what the counter
// counts is what they sent.
func TestProxyCountsQueries(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t.Run("postgres", func(t *testing.T) {
		u := serverURL(t, "RUNWAY_TEST_POSTGRES")
		p, err := startProxy(u.Host, 0, "postgres")
		if err != nil {
			t.Fatal(err)
		}
		defer p.close()
		before := p.count()
		v := *u
		v.Host = fmt.Sprintf("127.0.0.1:%d", p.port())
		q := v.Query()
		q.Set("sslmode", "disable")
		v.RawQuery = q.Encode()
		conn, err := pgx.Connect(ctx, v.String())
		if err != nil {
			t.Fatal(err)
		}
		// One Query message with two statements, one extended-protocol
		// execution, one COPY: three.
		if _, err := conn.Exec(ctx, "select 1; select 2", pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := conn.QueryRow(ctx, "select $1::int", pgx.QueryExecModeExec, 7).Scan(&n); err != nil {
			t.Fatal(err)
		}
		var sink strings.Builder
		if _, err := conn.PgConn().CopyTo(ctx, &sink, "copy (select 1) to stdout"); err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
		if n, ok := p.since(before); n != 3 || !ok {
			t.Errorf("counted %d, %v; want 3, true", n, ok)
		}
	})
	t.Run("mariadb", func(t *testing.T) {
		u := serverURL(t, "RUNWAY_TEST_MYSQL")
		p, err := startProxy(u.Host, 0, "mariadb")
		if err != nil {
			t.Fatal(err)
		}
		defer p.close()
		before := p.count()
		cfg := mysql.NewConfig()
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
		cfg.Net, cfg.Addr = "tcp", fmt.Sprintf("127.0.0.1:%d", p.port())
		cfg.TLSConfig = "false"
		connector, err := mysql.NewConnector(cfg)
		if err != nil {
			t.Fatal(err)
		}
		db := sql.OpenDB(connector)
		defer db.Close()
		db.SetMaxOpenConns(1)
		// A ping (not a query), a statement, a prepared statement run
		// twice: three.
		if err := db.PingContext(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "DO 1"); err != nil {
			t.Fatal(err)
		}
		st, err := db.PrepareContext(ctx, "DO ?")
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if _, err := st.ExecContext(ctx, i); err != nil {
				t.Fatal(err)
			}
		}
		st.Close()
		if n, ok := p.since(before); n != 3 || !ok {
			t.Errorf("counted %d, %v; want 3, true", n, ok)
		}

		// LOAD DATA LOCAL of 8 MiB: the file goes in hundreds of packets,
		// whose numbers wrap to 0, and lines that begin like commands.
		// Four queries: the database, the table, the load, the drop.
		line := append(bytesOf(myComQuery, 60), '\n')
		mysql.RegisterReaderHandler("zz_bench_count", func() io.Reader {
			return io.LimitReader(repeatReader(line), 8<<20)
		})
		defer mysql.DeregisterReaderHandler("zz_bench_count")
		before = p.count()
		for _, q := range []string{
			"CREATE DATABASE zz_bench_count",
			"CREATE TABLE zz_bench_count.t (b varbinary(100))",
			"LOAD DATA LOCAL INFILE 'Reader::zz_bench_count' INTO TABLE zz_bench_count.t",
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				db.ExecContext(ctx, "DROP DATABASE IF EXISTS zz_bench_count")
				t.Fatalf("%s: %v", q, err)
			}
		}
		if _, err := db.ExecContext(ctx, "DROP DATABASE zz_bench_count"); err != nil {
			t.Fatal(err)
		}
		if n, ok := p.since(before); n != 4 || !ok {
			t.Errorf("with a local file: counted %d, %v; want 4, true", n, ok)
		}
	})
}

func bytesOf(b byte, n int) []byte { return []byte(strings.Repeat(string(rune(b)), n)) }

// repeatReader reads p again and again.
type repeatReader []byte

func (r repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(p[n:], r)
	}
	return n, nil
}

// serverURL is the test server named by env, which scripts/test.sh sets
// (starting a throw-away server when the machine has none).
func serverURL(t *testing.T, env string) *url.URL {
	t.Helper()
	s := os.Getenv(env)
	if s == "" {
		t.Fatalf("%s is not set: run the suite with scripts/test.sh, which starts the servers, or set it", env)
	}
	u, err := url.Parse(s)
	if err != nil {
		t.Fatalf("%s: %v", env, err)
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil {
		t.Fatalf("%s: want host:port in %q", env, u.Host)
	}
	return u
}
