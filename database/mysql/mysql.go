// Package mysql is Runway's driver for MySQL and MariaDB, built on database/sql
// and github.com/go-sql-driver/mysql.
//
// The driver holds one connection (one server session) for the whole run: the
// migration lock is a GET_LOCK named lock, which belongs to that session and is
// released by the server when the session ends, however it ends.
//
// MySQL commits DDL implicitly, so TransactionalDDL is false and the engine applies
// such migrations statement by statement, recording its progress in the history table.
package mysql

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/internal/rawconn"
	"github.com/runwaydb/runway/migration"
)

var _ database.Driver = (*Driver)(nil)

// DefaultDialTimeout bounds how long Open waits for the server to accept a
// connection and log in; the URL parameter timeout= overrides it.
const DefaultDialTimeout = 10 * time.Second

// Driver is one MySQL/MariaDB session used for a whole run. Its calls are
// meant to come from one goroutine; Unlock and Close may come from another
// (a cleanup or signal handler) without corrupting its state.
type Driver struct {
	db    *sql.DB
	ownDB bool // Open made db, so Close closes it
	cfg   database.Config
	// target names the server in connection errors (user@host:port/db, no password).
	target string
	// connectTimeout bounds the whole connection set-up: dial, TLS, handshake, login.
	connectTimeout time.Duration
	// tls is how the URL asked to check the server's certificate, to explain
	// a failed check.
	tls tlsSettings

	mu   sync.Mutex // guards conn, sessionNet, lockName, dbName, returning and versionKnown, not the I/O done with them
	conn *sql.Conn
	// sessionNet is the network connection under conn when Open's dialer
	// made it (nil for a pool given to New): execSession closes it when the
	// run's context ends.
	sessionNet net.Conn
	lockName   string // computed on first use: it needs DATABASE()
	locked     atomic.Bool
	// dbName is the session's database when the lock was first taken: the
	// history table's, whatever a migration's USE changes (see table).
	dbName string
	// sessionID is the server's id of conn, recorded with the lock, for KeepLock.
	sessionID atomic.Int64
	// killed: a cancel killed the session and saw it leave the server
	// (killSession), so what it committed is all it did.
	killed atomic.Bool
	// multi: the connection allows several statements per message (Open
	// sets it; an application's pool given to New may not).
	multi bool
	// userTx: a statement of a migration may have touched the session's
	// transactions (see observe).
	userTx bool
	// autocommit: a statement of a migration may have turned autocommit
	// off, which the driver turns back on before it writes a migration's
	// last record (see restoreAutocommit).
	autocommit bool
	// commitRecord: the statement Exec ran committed implicitly while
	// autocommit may be off: the progress record written next commits by
	// itself (see autocommitOffAfter).
	commitRecord bool
	// marks numbers ExecProgress's markers (see ranMarker).
	marks int64
	// returning: the server runs INSERT … RETURNING (MariaDB 10.5 and
	// later), known once versionKnown (see learnSession and
	// serverReturns); ExecRecordedEach then needs no marker SELECT after
	// each migration (see writeEach).
	returning, versionKnown bool
	// maxPacket is the session's max_allowed_packet, read with the version
	// (learnSession); 0 while unknown.
	maxPacket int
}

// Open connects to the database named by a URL of the form
//
//	mysql://user:password@host:3306/dbname?param=value
//
// (mariadb:// is accepted as well). Query parameters that go-sql-driver/mysql
// knows (tls, timeout, readTimeout, charset, collation, loc…) are passed to it,
// unknown ones are set as session system variables when the connection opens,
// and socket=/path/to/mysqld.sock connects through a unix socket instead of TCP.
// The dial timeout is DefaultDialTimeout unless timeout= says otherwise.
// Open dials itself, with cfg.Dial when set (an SSH tunnel, a proxy) and a
// plain net.Dialer otherwise; a dial function registered globally with
// go-sql-driver's RegisterDialContext is not consulted: pass it as cfg.Dial.
// On Linux a TCP or unix socket it gets (from either) reads and writes
// through raw system calls (internal/rawconn).
//
// TLS is set up like the mysql client's: ssl-mode=, ssl-ca=, ssl-cert= and
// ssl-key= (see ParseURL), or go-sql-driver's tls=true|false|skip-verify|preferred.
//
// Errors reaching the server, verifying its certificate or logging in wrap
// database.ErrConnect; an unreadable ssl-ca, ssl-cert or ssl-key file is a
// configuration error that does not. No error contains the password.
func Open(ctx context.Context, rawURL string, cfg database.Config) (*Driver, error) {
	mc, ts, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return openConfig(ctx, rawURL, mc, ts, cfg)
}

// openConfig is Open after the URL is parsed.
func openConfig(ctx context.Context, rawURL string, mc *mysql.Config, ts tlsSettings, cfg database.Config) (*Driver, error) {
	if err := database.SessionLockOnly("mysql", cfg.LockMode); err != nil {
		return nil, err
	}
	if cfg.Identity != "" {
		mc.ConnectionAttributes = joinAttrs(mc.ConnectionAttributes, "program_name:runway,"+attrIdentity+":"+attrValue(cfg.Identity))
	} else {
		mc.ConnectionAttributes = joinAttrs(mc.ConnectionAttributes, "program_name:runway")
	}
	if mc.Net == "tcp" || mc.Net == "unix" {
		mc.DialFunc = recordingDial(cfg.Dial)
	}
	mc.MultiStatements = true // ExecRecorded sends a migration in one message
	connector, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("mysql: %s: %w", database.Redact(rawURL), err)
	}
	db := sql.OpenDB(connector)
	d := &Driver{db: db, ownDB: true, cfg: cfg, target: mc.User + "@" + mc.Addr + "/" + mc.DBName,
		connectTimeout: mc.Timeout, tls: ts, multi: true}
	if _, err := d.session(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

// New returns a driver that takes one connection from db, an application's own
// pool, on its first call. New does no I/O.
//
// Close does not return that connection to the pool: it is closed, so that a
// migration's session settings (SET foreign_key_checks=0, sql_mode…) and any
// named lock never leak to the application's other queries.
//
// The engine's lock keepalive (runway.WithLockKeepalive, on by default)
// confirms the lock from a second connection of db: a pool limited to one
// connection (SetMaxOpenConns(1)) cannot give it, and a run longer than three
// keepalive intervals then stops as if the lock were lost. Allow the pool a
// second connection, or turn the keepalive off. The pool need not parse
// times (parseTime=true): the history reads DATETIME text as UTC.
func New(db *sql.DB, cfg database.Config) *Driver {
	return &Driver{db: db, cfg: cfg}
}

// ParseURL turns a Runway MySQL URL into a go-sql-driver configuration. It is
// what Open uses; tools that need a *sql.DB of their own can use it too, with
// mysql.NewConnector (FormatDSN cannot carry a TLS configuration built from
// ssl-ca=).
//
// The TLS parameters are the mysql client's options:
//
//	ssl-mode=DISABLED|PREFERRED|REQUIRED|VERIFY_CA|VERIFY_IDENTITY
//	ssl-ca=/path/to/ca.pem     verify the server with this CA (PEM) instead of the system's
//	ssl-cert=/path/client.pem  a client certificate (PEM), with
//	ssl-key=/path/client.key   its private key (PEM)
//
// REQUIRED encrypts without checking the certificate; VERIFY_CA checks that a
// trusted CA signed it; VERIFY_IDENTITY (the default when ssl-ca or ssl-cert is
// given) also checks that it names the host of the URL. ssl-ca is refused with
// the modes that would ignore it, and ssl-* with tls=. The files are read here:
// an unreadable or empty one is an error naming it.
func ParseURL(rawURL string) (*mysql.Config, error) {
	mc, _, err := parseURL(rawURL)
	return mc, err
}

func parseURL(rawURL string) (*mysql.Config, tlsSettings, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse's message quotes the URL, and pieces of a password with
		// unescaped special characters: never show it.
		return nil, tlsSettings{}, errors.New("mysql: the database URL does not parse (percent-encode special characters in the user name and password)")
	}
	switch u.Scheme {
	case "mysql", "mariadb":
	default:
		return nil, tlsSettings{}, fmt.Errorf("mysql: %s: want a mysql:// or mariadb:// URL", database.Redact(rawURL))
	}
	dbName := strings.TrimPrefix(u.Path, "/")
	if dbName == "" || strings.Contains(dbName, "/") {
		return nil, tlsSettings{}, fmt.Errorf("mysql: %s: the URL names no database: want mysql://user:password@host:3306/DBNAME", database.Redact(rawURL))
	}

	// Pass the query through go-sql-driver's own parser, which knows its
	// parameters and their escaping; socket= and ssl-* are Runway's.
	var (
		socket string
		ssl    sslParams
		params []string
	)
	hasTimeout, hasInterpolate := false, false
	for kv := range strings.SplitSeq(u.RawQuery, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if ok, err := ssl.set(k, v); ok {
			if err != nil {
				return nil, tlsSettings{}, fmt.Errorf("mysql: %s: %w", database.Redact(rawURL), err)
			}
			continue
		}
		switch k {
		case "socket":
			socket, err = url.QueryUnescape(v)
			if err != nil {
				return nil, tlsSettings{}, fmt.Errorf("mysql: %s: bad socket parameter", database.Redact(rawURL))
			}
			continue
		case "password", "passwd":
			// go-sql-driver would send it as "SET password = …", which
			// changes the user's password.
			return nil, tlsSettings{}, fmt.Errorf("mysql: %s: put the password in the URL (mysql://user:password@host/db), not in a query parameter", database.Redact(rawURL))
		case "timeout":
			hasTimeout = true
		case "interpolateParams":
			hasInterpolate = true
		case "tls":
			ssl.tlsParam = true
		}
		params = append(params, kv)
	}
	mc, err := mysql.ParseDSN("/?" + strings.Join(params, "&"))
	if err != nil {
		return nil, tlsSettings{}, fmt.Errorf("mysql: %s: %w", database.Redact(rawURL), err)
	}
	if u.User != nil {
		mc.User = u.User.Username()
		mc.Passwd, _ = u.User.Password()
	}
	mc.DBName = dbName
	host := "localhost" // what a certificate names for a unix socket
	if socket != "" {
		mc.Net = "unix"
		mc.Addr = socket
	} else {
		mc.Net = "tcp"
		port := u.Port()
		if host = u.Hostname(); host == "" {
			host = "127.0.0.1"
		}
		if port == "" {
			port = "3306"
		}
		mc.Addr = net.JoinHostPort(host, port)
	}
	// ParseDSN built tls='s configuration for its default address,
	// 127.0.0.1, and would check the certificate against that name: drop it,
	// and NewConnector builds it again for the real host.
	mc.TLS = nil
	ts, err := ssl.configure(mc, host)
	if err != nil {
		return nil, tlsSettings{}, fmt.Errorf("mysql: %w", err)
	}
	mc.ParseTime = true
	mc.Loc = time.UTC
	if !hasTimeout {
		mc.Timeout = DefaultDialTimeout
	}
	if !hasInterpolate {
		// History writes carry arguments: interpolating them client-side saves
		// the prepare and close round trips. Statements from migration files
		// have no arguments and are sent as they are.
		mc.InterpolateParams = true
	}
	mc.Logger = &mysql.NopLogger{} // the library is quiet; errors are returned
	return mc, ts, nil
}

// attrIdentity is the connection attribute carrying Config.Identity, read back
// by LockHolder from performance_schema.session_connect_attrs.
const attrIdentity = "runway_identity"

// attrValue makes s safe inside go-sql-driver's "k:v,k:v" attribute list.
func attrValue(s string) string {
	return strings.ReplaceAll(s, ",", ";")
}

func joinAttrs(a, b string) string {
	if a == "" {
		return b
	}
	return a + "," + b
}

// session returns the driver's one connection, taking it on first use.
//
// A session that broke while it held no lock is replaced: go-sql-driver
// closes the connection when a context ends during a query, and a Wait or
// Status cut short by its timeout must not leave the Driver unusable for the
// next command. A session that broke while holding the lock is returned as
// it is, so that every later call of the run fails: its lock, and whatever
// the run had open in it, are gone.
func (d *Driver) session(ctx context.Context) (*sql.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil {
		if d.locked.Load() || sessionValid(d.conn) {
			return d.conn, nil
		}
		d.conn.Close() // database/sql discards it: the driver says it is not valid
		d.conn, d.sessionNet = nil, nil
	}
	cctx := ctx
	if d.connectTimeout > 0 {
		// go-sql-driver's timeout covers the TCP dial only; a proxy or tunnel
		// that accepts and never answers would hang in the handshake.
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, d.connectTimeout)
		defer cancel()
	}
	var nc net.Conn
	conn, err := d.db.Conn(context.WithValue(cctx, sessionDialKey{}, &nc))
	if err != nil && ctx.Err() == nil && cctx.Err() != nil {
		err = fmt.Errorf("no answer within %s (set timeout= in the URL to wait longer): %w", d.connectTimeout, err)
	}
	if err != nil {
		if why := d.tls.explain(err); why != "" {
			err = fmt.Errorf("%s: %w", why, err)
		}
		var me *mysql.MySQLError
		if errors.As(err, &me) && (me.Number == 1045 || me.Number == 1044 || me.Number == 1698) { // access denied
			err = fmt.Errorf("%w: %w", database.ErrAuth, err)
		}
		if d.target != "" {
			return nil, fmt.Errorf("%w: %s: %w", database.ErrConnect, d.target, err)
		}
		return nil, fmt.Errorf("%w: %w", database.ErrConnect, err)
	}
	d.conn = conn
	d.sessionNet = nc // nil when the pool handed over a connection it already had
	return conn, nil
}

// sessionValid reports whether conn's connection is still open, without a
// round trip (go-sql-driver's driver.Validator).
func sessionValid(conn *sql.Conn) bool {
	valid := true
	err := conn.Raw(func(dc any) error {
		if v, ok := dc.(driver.Validator); ok {
			valid = v.IsValid()
		}
		return nil
	})
	return err == nil && valid
}

// sessionDialKey marks the context of the session's own dial; its value is
// where recordingDial puts the connection it makes.
type sessionDialKey struct{}

// recordingDial dials as go-sql-driver would (with dial, the configured
// tunnel, when there is one) and, for the session's dial, records the
// network connection, so that execSession can close it under a query.
func recordingDial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		var err error
		if dial != nil {
			c, err = dial(ctx, network, addr)
		} else {
			var nd net.Dialer
			c, err = nd.DialContext(ctx, network, addr)
		}
		if err == nil {
			// Reads and writes skip the scheduler's system-call path (see
			// internal/rawconn); a tunnel's channel is left as it is.
			c = rawconn.Wrap(c)
			if slot, ok := ctx.Value(sessionDialKey{}).(*net.Conn); ok {
				*slot = c
			}
		}
		return c, err
	}
}

// execSession runs query on the session connection conn. go-sql-driver
// watches a query's context by handing it to a goroutine and taking it
// back: two scheduler wake-ups a query, which a run of many small
// migrations (one query each) pays on every one of them. When Open dialed
// the session itself, the query runs under context.WithoutCancel instead
// and the context is watched here with context.AfterFunc, which costs
// nothing unless the context ends; then it closes the connection under the
// query, as go-sql-driver's watcher does, and the error says why.
func (d *Driver) execSession(ctx context.Context, conn *sql.Conn, query string) error {
	return d.watched(ctx, 0, func(ctx context.Context) error {
		_, err := conn.ExecContext(ctx, query)
		return err
	})
}

// querySession runs query, of several statements, on the session
// connection conn, as execSession does, reading each statement's result as
// it comes and calling result with its columns (none for a statement that
// returns no rows). query carries the history writes of its statements: a
// cancel lets it end by itself for up to recordsGrace (see watched).
func (d *Driver) querySession(ctx context.Context, conn *sql.Conn, query string, result func(cols []string)) error {
	return d.watched(ctx, recordsGrace, func(ctx context.Context) error {
		rows, err := conn.QueryContext(ctx, query)
		if err != nil {
			return err
		}
		defer rows.Close()
		for {
			cols, err := rows.Columns()
			if err != nil {
				return err
			}
			for rows.Next() {
			}
			if err := rows.Err(); err != nil {
				return err
			}
			result(cols)
			if !rows.NextResultSet() {
				return rows.Err()
			}
		}
	})
}

// watched runs query with ctx watched as execSession describes. When ctx
// ends, the session is also killed on the server (killSession) before its
// socket is closed, and watched returns only once that is done: the session
// has left the server, or killTimeout has passed, or (for the session Open
// dialed) killGrace has and the socket is closed.
//
// With a grace (a message that carries the history writes of its
// statements, on the session Open dialed), the kill waits that long for the
// message to end by itself, and is not sent when it does: the query's own
// outcome is returned, and the caller, seeing ctx ended, sends nothing more.
// A KILL that lands inside such a message most often finds a short
// statement running, which finishes anyway; the session then stops before
// the statement's record, which is lost with the session, and the rerun
// would apply the statement again. A message that outlasts the grace holds
// a long statement, which the KILL interrupts, as it interrupts any other.
// A run that lost its lock gets no grace: another runner may hold it now.
func (d *Driver) watched(ctx context.Context, grace time.Duration, query func(ctx context.Context) error) error {
	d.mu.Lock()
	nc := d.sessionNet
	d.mu.Unlock()
	if ctx.Done() == nil {
		return query(ctx)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	killed := make(chan struct{})
	ended := make(chan struct{}) // the query returned
	kill := false                // the AfterFunc killed the session; read after <-killed
	stop := context.AfterFunc(ctx, func() {
		defer close(killed)
		// Not when the lock was lost: another runner may have taken it.
		if grace > 0 && nc != nil && !errors.Is(context.Cause(ctx), database.ErrLockLost) {
			t := time.NewTimer(grace)
			select {
			case <-ended:
				t.Stop()
				return
			case <-t.C:
			}
		}
		kill = true
		done := make(chan struct{})
		go func() {
			defer close(done)
			d.killSession(ctx)
		}()
		if nc == nil {
			// A pool given to New: go-sql-driver has closed the socket
			// already; the run ends once the server has the KILL.
			<-done
			return
		}
		// The KILL first, so the server stops before it sees the socket
		// close; but not for long: a KILL that cannot get through (a
		// network that stopped answering) must not keep the socket open.
		t := time.NewTimer(killGrace)
		select {
		case <-done:
		case <-t.C:
		}
		t.Stop()
		nc.Close()
	})
	qctx := ctx
	if nc != nil {
		qctx = context.WithoutCancel(ctx)
	}
	err := query(qctx)
	close(ended)
	if stop() {
		if nc == nil && err != nil && ctx.Err() != nil {
			// go-sql-driver's own watcher closed the socket and the query
			// returned before the AfterFunc started: the KILL is still owed,
			// or the statement runs on without its client.
			d.killSession(ctx)
		}
		return err
	}
	<-killed
	if kill && nc != nil && err != nil {
		return fmt.Errorf("%w (the connection was closed under the query: %v)", ctx.Err(), err)
	}
	return err
}

// killTimeout bounds the KILL that stops a cancelled run's session;
// killGrace is how long the run's socket stays open for it; recordsGrace is
// how long a cancelled message that carries its history writes is let run
// before the KILL (see watched): a message holds at most maxEachMessage of
// statements, which take milliseconds unless one of them is long.
const (
	killTimeout  = 5 * time.Second
	killGrace    = 250 * time.Millisecond
	recordsGrace = time.Second
)

// killSession ends the session on the server with KILL CONNECTION, from
// another connection of the pool. Closing the client's socket is not enough:
// the server notices a closed socket only when it next writes to it, and
// MariaDB then goes on with the rest of a multi-statement message (an
// interrupted SLEEP is not an error): migrations the report calls pending
// would be applied after the run ended. A killed session stops at once, its
// statement rolled back as far as the engine can. Without a session id (the
// lock not taken yet) there is nothing of the run's on the server to stop.
func (d *Driver) killSession(ctx context.Context) {
	id := d.sessionID.Load()
	if id == 0 {
		return
	}
	d.killed.Store(false)
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
	defer cancel()
	// An error is left alone: the session may be gone already, and closing
	// the socket, which follows, is the fallback.
	if _, err := d.db.ExecContext(kctx, "KILL CONNECTION "+strconv.FormatInt(id, 10)); err != nil {
		return
	}
	// KILL returns once the session is marked; the session ends its
	// statement (a DDL may be past the point where it can stop) and leaves
	// afterwards. Wait for that, so that when the run reports what it
	// applied, nothing of it is still working on the server.
	for {
		var n int
		err := d.db.QueryRowContext(kctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?", id).Scan(&n)
		if err != nil || n == 0 {
			d.killed.Store(err == nil)
			return
		}
		select {
		case <-kctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// HistoryTable is the history table the driver was opened with
// (database.Config.Table, or database.DefaultTable).
func (d *Driver) HistoryTable() string { return d.cfg.TableName() }

// Dialect returns migration.MySQL.
func (d *Driver) Dialect() migration.Dialect { return migration.MySQL }

// TransactionalDDL returns false: MySQL and MariaDB commit DDL implicitly.
func (d *Driver) TransactionalDDL() bool { return false }

// table returns the history table's name, backtick-quoted ("db.t" is quoted as `db`.`t`).
//
// Once the lock is taken, an unqualified table is qualified with the
// session's database as it was then: a migration's USE other_db changes the
// session's database, and the history writes after it must not follow.
func (d *Driver) table() string {
	parts := strings.Split(d.cfg.TableName(), ".")
	if len(parts) == 1 {
		d.mu.Lock()
		if d.dbName != "" {
			parts = []string{d.dbName, parts[0]}
		}
		d.mu.Unlock()
	}
	for i, p := range parts {
		parts[i] = quoteIdent(p)
	}
	return strings.Join(parts, ".")
}

func quoteIdent(s string) string {
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}

// maxLockName is MySQL's limit on GET_LOCK names.
const maxLockName = 64

// lockNameFor names the lock after the database and the history table: named
// locks are server-wide, so two databases on one server must not share one.
func lockNameFor(dbName, table string) string {
	name := "runway:" + dbName + "." + table
	if strings.Contains(table, ".") { // already qualified with its database
		name = "runway:" + table
	}
	if len(name) > maxLockName {
		sum := sha256.Sum256([]byte(name))
		name = "runway:" + hex.EncodeToString(sum[:20]) // 47 characters
	}
	return name
}

func (d *Driver) lock(ctx context.Context) (string, *sql.Conn, error) {
	conn, err := d.session(ctx)
	if err != nil {
		return "", nil, err
	}
	d.mu.Lock()
	name := d.lockName
	d.mu.Unlock()
	if name == "" {
		if name, err = d.learnSession(ctx, conn); err != nil {
			return "", nil, fmt.Errorf("mysql: lock: %w", err)
		}
	}
	return name, conn, nil
}

// learnSession reads, in one query, the session's database (which names
// the lock and qualifies the history table from then on) and the server's
// version (whether it runs INSERT … RETURNING), and returns the lock's name.
func (d *Driver) learnSession(ctx context.Context, conn *sql.Conn) (string, error) {
	var dbName sql.NullString
	var version string
	var maxPacket int
	if err := conn.QueryRowContext(ctx, "SELECT DATABASE(), VERSION(), @@max_allowed_packet").Scan(&dbName, &version, &maxPacket); err != nil {
		return "", err
	}
	name := lockNameFor(dbName.String, d.cfg.TableName())
	d.mu.Lock()
	d.lockName = name
	d.dbName = dbName.String
	d.returning, d.versionKnown = insertReturning(version), true
	d.maxPacket = maxPacket
	d.mu.Unlock()
	return name, nil
}

// serverReturns reports whether the server runs INSERT … RETURNING, asking
// it only when learnSession has not (a caller that applies without the
// lock).
func (d *Driver) serverReturns(ctx context.Context, conn *sql.Conn) (bool, error) {
	d.mu.Lock()
	known, returning := d.versionKnown, d.returning
	d.mu.Unlock()
	if known {
		return returning, nil
	}
	var version string
	if err := conn.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return false, fmt.Errorf("mysql: reading the server's version: %w", err)
	}
	returning = insertReturning(version)
	d.mu.Lock()
	d.returning, d.versionKnown = returning, true
	d.mu.Unlock()
	return returning, nil
}

// insertReturning reports whether a server whose VERSION() is version runs
// INSERT … ON DUPLICATE KEY UPDATE … RETURNING: MariaDB from 10.5.1 (say
// "10.11.19-MariaDB-0+deb12u1" or "11.4.2-MariaDB-log"); MySQL never.
func insertReturning(version string) bool {
	if !strings.Contains(strings.ToLower(version), "mariadb") {
		return false
	}
	var major, minor, patch int
	if _, err := fmt.Sscanf(version, "%d.%d.%d", &major, &minor, &patch); err != nil {
		return false
	}
	return major > 10 || major == 10 && (minor > 5 || minor == 5 && patch >= 1)
}

// Lock takes the GET_LOCK named after the database and the history table,
// waiting up to wait on the server (rounded up to whole seconds; 0 tries once).
// Taking it again while holding it is a no-op.
//
// When ctx ends during the wait, go-sql-driver cancels the query by closing
// the connection: the session ends, and the next call (with a context of its
// own) opens another (see session). A session that ends while it holds the
// lock is not replaced: every later call fails, the right outcome for a run
// that lost its lock.
func (d *Driver) Lock(ctx context.Context, wait time.Duration) (bool, error) {
	if d.locked.Load() {
		return true, nil
	}
	if err := database.SessionLockOnly("mysql", d.cfg.LockMode); err != nil {
		return false, err // New does not return errors
	}
	name, conn, err := d.lock(ctx)
	if err != nil {
		return false, err
	}
	secs := int64(0)
	if wait > 0 {
		secs = int64(math.Ceil(wait.Seconds()))
	}
	var got sql.NullInt64
	var id int64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?), CONNECTION_ID()", name, secs).Scan(&got, &id); err != nil {
		return false, fmt.Errorf("mysql: GET_LOCK(%q): %w", name, err)
	}
	if !got.Valid {
		// NULL: an error on the server, such as the query being killed.
		return false, fmt.Errorf("mysql: GET_LOCK(%q) returned NULL", name)
	}
	d.locked.Store(got.Int64 == 1)
	d.sessionID.Store(id)
	return got.Int64 == 1, nil
}

// Unlock releases the lock taken by Lock.
func (d *Driver) Unlock(ctx context.Context) error {
	name, conn, err := d.lock(ctx)
	if err != nil {
		return err
	}
	var released sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT RELEASE_LOCK(?)", name).Scan(&released); err != nil {
		return fmt.Errorf("mysql: RELEASE_LOCK(%q): %w", name, err)
	}
	d.locked.Store(false)
	if released.Int64 != 1 {
		return fmt.Errorf("mysql: RELEASE_LOCK(%q): this session does not hold the lock", name)
	}
	return nil
}

// LockHolder describes the session holding the lock, or returns "" when it is
// free. When the server has performance_schema enabled, a Runway holder is shown by
// its Config.Identity, sent as a connection attribute; otherwise by its
// connection id, user and host from the process list (which shows every
// session only to users with the PROCESS privilege).
func (d *Driver) LockHolder(ctx context.Context) (string, error) {
	name, conn, err := d.lock(ctx)
	if err != nil {
		return "", err
	}
	var id sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?)", name).Scan(&id); err != nil {
		return "", fmt.Errorf("mysql: IS_USED_LOCK(%q): %w", name, err)
	}
	if !id.Valid {
		return "", nil
	}
	return d.describeSession(ctx, conn, id.Int64)
}

// describeSession describes the session with connection id id for
// LockHolder.
func (d *Driver) describeSession(ctx context.Context, conn *sql.Conn, id int64) (string, error) {
	identity := d.connectAttr(ctx, conn, id, attrIdentity)

	var (
		user, host, command sql.NullString
		info                sql.NullString
		secs                sql.NullInt64
	)
	err := conn.QueryRowContext(ctx,
		"SELECT USER, HOST, COMMAND, TIME, INFO FROM information_schema.PROCESSLIST WHERE ID = ?", id).
		Scan(&user, &host, &command, &secs, &info)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("mysql: lock holder: %w", err)
	}
	return describeHolder(id, identity, user.String, host.String, command.String, secs.Int64, info.String), nil
}

// connectAttr reads one connection attribute of session id, "" when the
// server does not expose them (performance_schema off, MariaDB's default).
func (d *Driver) connectAttr(ctx context.Context, conn *sql.Conn, id int64, attr string) string {
	var v string
	err := conn.QueryRowContext(ctx,
		"SELECT ATTR_VALUE FROM performance_schema.session_connect_attrs WHERE PROCESSLIST_ID = ? AND ATTR_NAME = ?",
		id, attr).Scan(&v)
	if err != nil {
		return ""
	}
	return v
}

func describeHolder(id int64, identity, user, host, command string, secs int64, info string) string {
	var b strings.Builder
	if identity != "" {
		b.WriteString(identity)
		b.WriteString(" (")
	}
	fmt.Fprintf(&b, "connection %d", id)
	if user != "" {
		fmt.Fprintf(&b, " %s@%s", user, host)
	}
	if identity != "" {
		b.WriteString(")")
	}
	switch {
	case command == "":
		// Not in the process list we can see.
	case command == "Sleep":
		fmt.Fprintf(&b, ", idle for %s", time.Duration(secs)*time.Second)
	default:
		fmt.Fprintf(&b, ", busy for %s", time.Duration(secs)*time.Second)
		// Only the statement's first words: its text may hold secrets
		// (CREATE USER … IDENTIFIED BY '…') and this line goes to logs.
		if words := strings.Fields(info); len(words) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(words[:min(2, len(words))], " "))
		}
	}
	return b.String()
}

const createHistory = `CREATE TABLE IF NOT EXISTS %s (
	version             VARCHAR(191) NOT NULL,
	name                VARCHAR(255) NOT NULL DEFAULT '',
	checksum            CHAR(64)     NOT NULL DEFAULT '',
	state               VARCHAR(16)  NOT NULL,
	applied_at          DATETIME(6)  NULL,
	duration_ms         BIGINT       NOT NULL DEFAULT 0,
	applied_by          VARCHAR(255) NOT NULL DEFAULT '',
	statements_applied  INT          NOT NULL DEFAULT 0,
	statements_total    INT          NOT NULL DEFAULT 0,
	statement_checksums LONGTEXT     NULL,
	error               LONGTEXT     NULL,
	PRIMARY KEY (version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`

// EnsureHistory creates the history table when it does not exist.
func (d *Driver) EnsureHistory(ctx context.Context) error {
	conn, err := d.session(ctx)
	if err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(createHistory, d.table())); err != nil {
		var me *mysql.MySQLError
		if errors.As(err, &me) && me.Number == 1049 { // ER_BAD_DB_ERROR: "db.table" names no database
			return fmt.Errorf("%w: mysql: history table %s: its database does not exist: create it, or name a table in an existing one (--table): %w", database.ErrConfig, d.table(), err)
		}
		if errors.As(err, &me) && me.Number == 1142 { // ER_TABLEACCESS_DENIED_ERROR: CREATE command denied
			return fmt.Errorf("%w: mysql: history table %s: the user Runway connects as may not create it: grant it CREATE on the database (GRANT CREATE ON db.* TO …), "+
				"or create the table beforehand and grant the user SELECT, INSERT, UPDATE and DELETE on it: %w", database.ErrConfig, d.table(), err)
		}
		return fmt.Errorf("mysql: create history table %s: %w", d.table(), err)
	}
	return nil
}

var (
	_ database.StateReader  = (*Driver)(nil)
	_ database.StateScanner = (*Driver)(nil)
)

// States returns the history's versions, checksums and states (see
// database.StateReader); none when the table does not exist.
func (d *Driver) States(ctx context.Context) ([]database.Revision, error) {
	return database.ReadStates(ctx, d)
}

// ScanStates passes each history row's version, checksum and state to fn
// (see database.StateScanner); no rows when the table does not exist.
func (d *Driver) ScanStates(ctx context.Context, fn func(version, checksum, state []byte) error) error {
	rows, err := d.queryHistory(ctx, "version, checksum, state")
	if rows == nil {
		return err
	}
	defer rows.Close()
	var version, checksum, state sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&version, &checksum, &state); err != nil {
			return fmt.Errorf("mysql: read history table %s: %w", d.table(), err)
		}
		if err := fn(version, checksum, state); err != nil {
			return fmt.Errorf("mysql: read history table %s: %w", d.table(), err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("mysql: read history table %s: %w", d.table(), err)
	}
	return nil
}

// queryHistory runs SELECT columns FROM the history table; nil rows and no
// error when the table does not exist.
func (d *Driver) queryHistory(ctx context.Context, columns string) (*sql.Rows, error) {
	conn, err := d.session(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := conn.QueryContext(ctx, `SELECT `+columns+` FROM `+d.table())
	if err != nil {
		var me *mysql.MySQLError
		if errors.As(err, &me) && me.Number == erNoSuchTable {
			return nil, nil
		}
		return nil, fmt.Errorf("mysql: read history table %s: %w", d.table(), err)
	}
	return rows, nil
}

// readHistory runs SELECT columns FROM the history table and scans each row
// with scan, which fills r and the version and state texts; no rows when the
// table does not exist.
func (d *Driver) readHistory(ctx context.Context, columns string, scan func(rows *sql.Rows, r *database.Revision, version, state *string) error) ([]database.Revision, error) {
	rows, err := d.queryHistory(ctx, columns)
	if rows == nil {
		return nil, err
	}
	defer rows.Close()
	var out []database.Revision
	for rows.Next() {
		var (
			r              database.Revision
			version, state string
		)
		if err := scan(rows, &r, &version, &state); err != nil {
			return nil, fmt.Errorf("mysql: read history table %s: %w", d.table(), err)
		}
		if r.Version, err = migration.ParseVersion(version); err != nil {
			return nil, fmt.Errorf("mysql: history table %s: %w", d.table(), err)
		}
		r.State = database.State(state)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mysql: read history table %s: %w", d.table(), err)
	}
	return out, nil
}

// History returns the rows of the history table; none when it does not exist.
func (d *Driver) History(ctx context.Context) ([]database.Revision, error) {
	return d.readHistory(ctx, `version, name, checksum, state, applied_at, duration_ms,
		applied_by, statements_applied, statements_total, statement_checksums, error`,
		func(rows *sql.Rows, r *database.Revision, version, state *string) error {
			var (
				appliedAt         nullTime
				ms                int64
				checksums, errMsg sql.NullString
			)
			if err := rows.Scan(version, &r.Name, &r.Checksum, state, &appliedAt, &ms,
				&r.AppliedBy, &r.StatementsApplied, &r.StatementsTotal, &checksums, &errMsg); err != nil {
				return err
			}
			if appliedAt.Valid {
				r.AppliedAt = appliedAt.Time.UTC()
			}
			r.Duration = time.Duration(ms) * time.Millisecond
			if checksums.String != "" {
				r.StatementChecksums = strings.Split(checksums.String, ",")
			}
			r.Error = errMsg.String
			return nil
		})
}

// nullTime reads a DATETIME whether the connection parses times
// (parseTime=true, as Open's do) or returns their text, as a *sql.DB an
// application passes to New may.
type nullTime struct {
	Time  time.Time
	Valid bool
}

func (n *nullTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n = nullTime{}
		return nil
	case time.Time:
		*n = nullTime{Time: v, Valid: true}
		return nil
	case []byte:
		return n.parse(string(v))
	case string:
		return n.parse(v)
	}
	return fmt.Errorf("applied_at: cannot read %T as a time", src)
}

// parse reads MySQL's DATETIME text, which Runway writes in UTC.
func (n *nullTime) parse(s string) error {
	if s == "" || strings.HasPrefix(s, "0000-00-00") {
		*n = nullTime{}
		return nil
	}
	t, err := time.ParseInLocation("2006-01-02 15:04:05.999999", s, time.UTC)
	if err != nil {
		return fmt.Errorf("applied_at: %w", err)
	}
	*n = nullTime{Time: t, Valid: true}
	return nil
}

// execer is what *sql.Conn and *sql.Tx have in common.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (d *Driver) writeRevision(ctx context.Context, ex execer, r database.Revision) error {
	var appliedAt any // NULL for the zero time: strict modes refuse '0000-00-00'
	if !r.AppliedAt.IsZero() {
		appliedAt = r.AppliedAt.UTC().Truncate(time.Microsecond)
	}
	var checksums, errMsg any
	if len(r.StatementChecksums) > 0 {
		checksums = strings.Join(r.StatementChecksums, ",")
	}
	if r.Error != "" {
		errMsg = r.Error
	}
	_, err := ex.ExecContext(ctx, `INSERT INTO `+d.table()+` (version, name, checksum, state, applied_at,
		duration_ms, applied_by, statements_applied, statements_total, statement_checksums, error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON DUPLICATE KEY UPDATE name = VALUES(name), checksum = VALUES(checksum), state = VALUES(state),
		applied_at = VALUES(applied_at), duration_ms = VALUES(duration_ms), applied_by = VALUES(applied_by),
		statements_applied = VALUES(statements_applied), statements_total = VALUES(statements_total),
		statement_checksums = VALUES(statement_checksums), error = VALUES(error)`,
		r.Version.String(), r.Name, r.Checksum, string(r.State), appliedAt,
		r.Duration.Milliseconds(), r.AppliedBy, r.StatementsApplied, r.StatementsTotal, checksums, errMsg)
	if err != nil {
		return fmt.Errorf("mysql: record version %s in %s: %w", r.Version, d.table(), err)
	}
	return nil
}

func (d *Driver) removeRevision(ctx context.Context, ex execer, v migration.Version) error {
	if _, err := ex.ExecContext(ctx, "DELETE FROM "+d.table()+" WHERE version = ?", v.String()); err != nil {
		return fmt.Errorf("mysql: remove version %s from %s: %w", v, d.table(), err)
	}
	return nil
}

// WriteRevision inserts r, or replaces the row with r's version.
func (d *Driver) WriteRevision(ctx context.Context, r database.Revision) error {
	conn, err := d.session(ctx)
	if err != nil {
		return err
	}
	progress := r.State == database.StateRunning || r.State == database.StateReverting
	if !progress {
		if err := d.restoreAutocommit(ctx, conn); err != nil {
			return err
		}
	}
	commit := d.commitRecord
	d.commitRecord = false
	if err := d.writeRevision(ctx, conn, r); err != nil {
		return err
	}
	if commit && progress {
		// The progress of a statement that committed implicitly, with
		// autocommit maybe off (see autocommitOffAfter).
		if err := d.execSession(ctx, conn, "COMMIT"); err != nil {
			return fmt.Errorf("mysql: record version %s in %s: %w", r.Version, d.table(), err)
		}
	}
	return nil
}

// RemoveRevision deletes the row with version v.
func (d *Driver) RemoveRevision(ctx context.Context, v migration.Version) error {
	conn, err := d.session(ctx)
	if err != nil {
		return err
	}
	if err := d.restoreAutocommit(ctx, conn); err != nil {
		return err
	}
	return d.removeRevision(ctx, conn, v)
}

// restoreAutocommit turns autocommit back on, before the record that ends
// a migration, after a statement of it may have turned it off (a script
// ending SET AUTOCOMMIT = 0; START TRANSACTION; … COMMIT;, as phpMyAdmin
// exports do): with autocommit off, that record, and everything after it,
// would wait for a COMMIT that never comes, and the session's end would
// roll it back. The engine refuses a script that leaves work uncommitted
// (nothing is committed here that the script did not commit itself).
func (d *Driver) restoreAutocommit(ctx context.Context, conn *sql.Conn) error {
	if !d.autocommit {
		return nil
	}
	if err := d.execSession(ctx, conn, "SET autocommit = 1"); err != nil {
		return fmt.Errorf("mysql: turn autocommit back on: %w", err)
	}
	d.autocommit = false
	return nil
}

// mentionsAutocommit reports whether sql may set autocommit: whether it
// holds the word, in any case. It copies nothing, and looks at one byte in
// ten: it runs on every statement of a run, and a dump's statements are
// large. Any ten bytes in a row hold one of the places 9, 19, 29 …, so the
// word, wherever it is, covers one of them; only where the byte there is
// one of the word's letters is the text around it compared.
func mentionsAutocommit(sql string) bool {
	const word = "autocommit"
	for i := len(word) - 1; i < len(sql); i += len(word) {
		for at := autocommitAt[sql[i]]; at != 0; at &= at - 1 {
			k := bits.TrailingZeros16(at)
			if i-k+len(word) <= len(sql) && strings.EqualFold(sql[i-k:i-k+len(word)], word) {
				return true
			}
		}
	}
	return false
}

// autocommitAt holds, for each byte, the places in "autocommit" of the
// letter it is in either case, one bit each.
var autocommitAt = func() (t [256]uint16) {
	for k, c := range []byte("autocommit") {
		t[c] |= 1 << k
		t[c-'a'+'A'] |= 1 << k
	}
	return t
}()

// ApplyTx runs every step in one transaction: statements, then the history
// change, then COMMIT. MySQL commits DDL implicitly, so only data changes
// roll back on failure; the engine knows (TransactionalDDL is false).
func (d *Driver) ApplyTx(ctx context.Context, steps []database.Step) (err error) {
	conn, err := d.session(ctx)
	if err != nil {
		return err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("mysql: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	for i, step := range steps {
		for j, stmt := range step.Statements {
			if err := d.tooLarge(1 + len(stmt.SQL)); err != nil {
				return execError(i, j, stmt, err)
			}
			if _, err := tx.ExecContext(ctx, stmt.SQL); err != nil {
				return execError(i, j, stmt, err)
			}
		}
		if step.Record != nil {
			if err := d.writeRevision(ctx, tx, *step.Record); err != nil {
				return err
			}
		}
		if !step.Remove.IsZero() {
			if err := d.removeRevision(ctx, tx, step.Remove); err != nil {
				return err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("mysql: commit: %w", err)
	}
	return nil
}

// Exec runs one statement as it is (COM_QUERY: no prepare, no placeholders),
// so procedure bodies and '?' in literals pass untouched.
func (d *Driver) Exec(ctx context.Context, stmt migration.Statement) error {
	d.observe(stmt.SQL)
	if err := d.tooLarge(1 + len(stmt.SQL)); err != nil {
		return execError(0, 0, stmt, err)
	}
	conn, err := d.session(ctx)
	if err != nil {
		return err
	}
	d.commitRecord = false
	if err := d.execSession(ctx, conn, stmt.SQL); err != nil {
		return execError(0, 0, stmt, err)
	}
	d.commitRecord = d.autocommitOffAfter(stmt.SQL)
	return nil
}

// Server error numbers the driver looks at.
const (
	erNoSuchTable    = 1146
	erParseError     = 1064
	erPacketTooLarge = 1153
)

// tooLarge returns the error the server would give a message of size bytes
// (the command's byte and the text) that is larger than the session's
// max_allowed_packet, or nil; nil too while the limit is unknown. Sent, such
// a message makes the server drop the connection as it reads it: the run
// would say only that the connection was lost, a history row left running,
// and every rerun lose it again at the same statement. So no such message
// is sent: one of many statements goes in smaller ones (errors.ErrUnsupported
// from the batching methods, which check with tooLarge), and a statement too
// large alone is refused with this error, which names the limit, and
// recorded as failed; the rerun, once the limit is raised, resumes at it.
func (d *Driver) tooLarge(size int) error {
	d.mu.Lock()
	limit := d.maxPacket
	d.mu.Unlock()
	// The server takes a message only below its limit (go-sql-driver,
	// reading the limit from the server, keeps it minus one too).
	if limit <= 0 || size < limit {
		return nil
	}
	return &mysql.MySQLError{Number: erPacketTooLarge, SQLState: [5]byte{'0', '8', 'S', '0', '1'}, Message: fmt.Sprintf(
		"the statement is %d bytes, more than the server's max_allowed_packet (%d bytes): it was not sent. "+
			"Raise max_allowed_packet on the server (SET GLOBAL max_allowed_packet = N, or in its configuration; new sessions take it), "+
			"or split the statement, then run again", size-1, limit)}
}

// execError turns a failed statement into a *database.ExecError with the
// server's error number as Code and, for syntax errors, the position.
func execError(step, i int, stmt migration.Statement, err error) *database.ExecError {
	e := &database.ExecError{Step: step, Statement: i, Line: stmt.Line, Message: err.Error(), Err: err}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		e.Code = strconv.Itoa(int(me.Number))
		e.Message = me.Message
		if me.Number == erParseError {
			// The position first: the message's "at line N" goes where
			// its quote is cut at the statement's end.
			e.Position = syntaxErrorPosition(stmt.SQL, me.Message)
			e.Message = nearWithinStatement(stmt.SQL, me.Message)
		}
	}
	return e
}

// nearAtLine matches the tail of MySQL's syntax error message:
// "… near 'FROM x WHERE' at line 3". Compiled on first use: only a failed
// statement needs it, and every run starts this package.
var nearAtLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?s)near '(.*)' at line (\d+)$`) })

// nearWithinStatement cuts the text a syntax error message quotes ("near
// '…' at line N") at the end of the failing statement. Sent in one message
// with the statements after it and with Runway's own history writes, the
// server's quote runs on into them; and its line counts the message's lines,
// not the statement's, so it is left out then (the error names the file's
// line already).
func nearWithinStatement(sql, msg string) string {
	m := nearAtLine().FindStringSubmatchIndex(msg)
	if m == nil {
		return msg
	}
	frag := strings.TrimSuffix(msg[m[2]:m[3]], "...")
	if strings.Contains(sql, frag) {
		return msg
	}
	for k := len(frag) - 1; k > 0; k-- {
		if strings.HasSuffix(sql, frag[:k]) {
			return msg[:m[2]] + frag[:k] + "' (the end of the statement)"
		}
	}
	if strings.HasPrefix(frag, ";") {
		// The quote starts at the ";" that ended the statement: the
		// statement stopped short ("CREATE TABLE t (id INT").
		return msg[:m[0]] + "at the end of the statement"
	}
	return msg
}

// syntaxErrorPosition finds where in sql a syntax error message points: the
// server quotes the text from the error on (up to 80 characters) and its
// line within the statement. It returns the 1-based character offset, or 0.
// The quote may end in "..." (the server shortened it), and may run past
// the statement into the next ones sent with it in one message.
func syntaxErrorPosition(sql, msg string) int {
	m := nearAtLine().FindStringSubmatch(msg)
	if m == nil || m[1] == "" {
		return 0
	}
	frag := strings.TrimSuffix(m[1], "...")
	line, err := strconv.Atoi(m[2])
	if err != nil || line < 1 {
		return 0
	}
	start := 0
	for l := 1; l < line; l++ {
		nl := strings.IndexByte(sql[start:], '\n')
		if nl < 0 {
			return 0
		}
		start += nl + 1
	}
	at := strings.Index(sql[start:], frag)
	if at < 0 {
		// The quote goes on past the statement: its start is the longest
		// of its beginnings that ends the statement.
		for k := len(frag) - 1; k > 0 && at < 0; k-- {
			if strings.HasSuffix(sql, frag[:k]) && len(sql)-k >= start {
				at = len(sql) - k - start
			}
		}
		if at < 0 {
			return 0
		}
	}
	return utf8.RuneCountInString(sql[:start+at]) + 1
}

// Close ends the session and with it the lock. A connection taken from an
// application's pool (New) is closed, not returned to the pool.
func (d *Driver) Close(ctx context.Context) error { return d.close(false) }

// CloseAtExit ends the session as Close does, for a process that exits
// right after it (the runway command): COM_QUIT is held in the kernel and
// the session's socket left for the exit to close, which sends both
// (internal/rawconn's LeaveToExit), so the server's thread wakes to end the
// session once this process is gone rather than while it exits. On a Unix
// socket, a tunnel or a pool given to New it is Close.
func (d *Driver) CloseAtExit(ctx context.Context) error { return d.close(true) }

func (d *Driver) close(atExit bool) error {
	d.mu.Lock()
	conn, nc := d.conn, d.sessionNet
	d.conn, d.sessionNet = nil, nil
	d.mu.Unlock()
	if atExit && conn != nil && nc != nil && d.ownDB {
		rawconn.LeaveToExit(nc)
	}
	var err error
	if conn != nil {
		if !d.ownDB {
			// Raw returning driver.ErrBadConn makes database/sql discard the connection.
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		err = conn.Close()
		if errors.Is(err, sql.ErrConnDone) {
			err = nil
		}
	}
	d.locked.Store(false)
	if d.ownDB {
		if cerr := d.db.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
