// Package tunnel reaches a database through an SSH bastion: it connects and
// authenticates to the bastion with a private key, checks the bastion's host
// key against a known_hosts file, and opens direct-tcpip channels
// (ssh -W, ssh -L) to the database. Tunnel.DialContext fits
// database.Config.Dial, so the PostgreSQL and MySQL drivers connect through
// it while TLS still verifies the database server's own name.
package tunnel

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/runwaydb/runway/database"
)

// Defaults for the zero values of Config.
const (
	// DefaultTimeout bounds connecting, the SSH handshake and authentication.
	DefaultTimeout = 15 * time.Second
	// DefaultKeepAlive is the interval between keepalive requests.
	DefaultKeepAlive = 15 * time.Second
	// keepAliveMisses is how many intervals a keepalive may go unanswered
	// before the bastion is declared dead (OpenSSH's ServerAliveCountMax).
	keepAliveMisses = 3
)

// ErrHostKey marks a bastion whose host key the known_hosts file does not
// vouch for: unknown, different from the recorded one, or revoked. The
// error is a *HostKeyError and also wraps database.ErrConnect.
var ErrHostKey = errors.New("ssh bastion host key not trusted")

// ErrAuth marks a bastion that refused the private key for the user. The
// error also wraps database.ErrConnect.
var ErrAuth = errors.New("ssh bastion refused the key")

// ErrClosed marks a DialContext on a tunnel that is closed or whose SSH
// connection died. The error also wraps database.ErrConnect.
var ErrClosed = errors.New("ssh tunnel closed")

// Config says which bastion to go through and how to trust it.
type Config struct {
	// Bastion is user@host[:port] (port 22 when omitted; [::1]:2222 for IPv6).
	Bastion string
	// Key is a private key in OpenSSH or PEM format; KeyFile names a file
	// holding one. Exactly one of them is set. A Key on one line with its
	// line breaks written as \n (as some CI secret stores keep it) is
	// accepted too.
	Key     []byte
	KeyFile string
	// Passphrase decrypts an encrypted key; ignored for a plain one.
	Passphrase []byte
	// KnownHostsFile is an OpenSSH known_hosts file holding the bastion's
	// host key (hashed entries, [host]:port entries, @revoked and
	// @cert-authority markers work as in ssh).
	KnownHostsFile string
	// InsecureHostKey accepts any host key, for tests only: anyone on the
	// path could pose as the bastion and read the database's traffic.
	InsecureHostKey bool
	// Timeout bounds connecting, the SSH handshake and authentication
	// (0: DefaultTimeout).
	Timeout time.Duration
	// KeepAlive is the interval between keepalive@openssh.com requests
	// (0: DefaultKeepAlive); three unanswered intervals close the tunnel.
	KeepAlive time.Duration
}

// Tunnel is an authenticated SSH connection to a bastion. It is safe for
// concurrent use.
type Tunnel struct {
	client  *ssh.Client
	bastion string // user@host:port, for messages

	mu     sync.Mutex
	reason error         // why the connection ended; nil while it is up
	done   chan struct{} // closed when reason is set
}

// ParseBastion splits user@host[:port] (or ssh://user@host[:port]) into the
// user and a host:port address, port 22 when omitted. An IPv6 address with
// a port is written in brackets: user@[2001:db8::1]:2222.
func ParseBastion(s string) (user, addr string, err error) {
	rest := strings.TrimPrefix(s, "ssh://")
	i := strings.LastIndexByte(rest, '@')
	if i <= 0 {
		return "", "", fmt.Errorf("ssh bastion %q: want user@host[:port]", s)
	}
	user, hostport := rest[:i], rest[i+1:]
	if strings.ContainsAny(user, " \t\r\n/:") {
		return "", "", fmt.Errorf("ssh bastion %q: invalid user %q", s, user)
	}
	hostport = strings.TrimSuffix(hostport, "/")
	host, port := hostport, "22"
	switch {
	case strings.HasPrefix(hostport, "["):
		h, after, ok := strings.Cut(hostport[1:], "]")
		if !ok {
			return "", "", fmt.Errorf("ssh bastion %q: missing ] after the host", s)
		}
		host = h
		if after != "" {
			p, ok := strings.CutPrefix(after, ":")
			if !ok {
				return "", "", fmt.Errorf("ssh bastion %q: want user@[host]:port", s)
			}
			port = p
		}
	case strings.Count(hostport, ":") == 1:
		host, port, _ = strings.Cut(hostport, ":")
	}
	// More than one colon without brackets: a bare IPv6 address, port 22.
	if host == "" || strings.ContainsAny(host, " \t\r\n/@[]") {
		return "", "", fmt.Errorf("ssh bastion %q: invalid host %q", s, host)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port != strconv.Itoa(n) {
		return "", "", fmt.Errorf("ssh bastion %q: invalid port %q", s, port)
	}
	return user, net.JoinHostPort(host, port), nil
}

// Dial connects to the bastion, checks its host key and authenticates with
// the private key. It refuses to start when c gives no way to check the
// host key (neither KnownHostsFile nor InsecureHostKey), when the key cannot
// be read or decrypted, or when the options conflict; these configuration
// errors do not wrap database.ErrConnect. Failures to reach the bastion or to
// be accepted by it wrap database.ErrConnect, and also ErrHostKey (a
// *HostKeyError) or ErrAuth. ctx bounds the whole connection set-up, as does
// c.Timeout; once Dial returns, ctx no longer matters. No error contains
// the private key or its passphrase.
func Dial(ctx context.Context, c Config) (*Tunnel, error) {
	user, addr, err := ParseBastion(c.Bastion)
	if err != nil {
		return nil, err
	}
	bastion := user + "@" + addr
	if c.KnownHostsFile == "" && !c.InsecureHostKey {
		return nil, fmt.Errorf("ssh bastion %s: no known_hosts file to check the bastion's host key against: pass --ssh-known-hosts FILE (or, only for testing, --ssh-insecure-host-key)", bastion)
	}
	if c.KnownHostsFile != "" && c.InsecureHostKey {
		return nil, fmt.Errorf("ssh bastion %s: --ssh-known-hosts and --ssh-insecure-host-key conflict: give one", bastion)
	}
	if c.Timeout < 0 || c.KeepAlive < 0 {
		return nil, fmt.Errorf("ssh bastion %s: negative timeout or keepalive interval", bastion)
	}
	signer, err := loadKey(c)
	if err != nil {
		return nil, fmt.Errorf("ssh bastion %s: %w", bastion, err)
	}
	var known ssh.HostKeyCallback
	if c.KnownHostsFile != "" {
		if known, err = knownhosts.New(c.KnownHostsFile); err != nil {
			return nil, fmt.Errorf("ssh bastion %s: known_hosts: %w", bastion, err)
		}
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	keepAlive := c.KeepAlive
	if keepAlive == 0 {
		keepAlive = DefaultKeepAlive
	}

	limit := timeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < limit {
		limit = max(time.Until(dl), 0).Round(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dialer := net.Dialer{KeepAlive: keepAlive}
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, connectError(ctx, bastion, limit, "could not connect", err)
	}
	// The handshake has no context of its own: a deadline bounds it and
	// cancellation cuts it short.
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })

	cfg := &ssh.ClientConfig{
		User:          user,
		Auth:          []ssh.AuthMethod{ssh.PublicKeys(signer)},
		ClientVersion: "SSH-2.0-runway",
	}
	if c.InsecureHostKey {
		cfg.HostKeyCallback = ssh.InsecureIgnoreHostKey()
	} else {
		cfg.HostKeyCallback = checkHostKey(known, bastion, c.KnownHostsFile)
		// Ask for a key of a type known_hosts holds for this host, as ssh
		// does: otherwise a bastion with several host keys may show one
		// the file does not list and look like an impostor.
		cfg.HostKeyAlgorithms = knownAlgorithms(known, addr, conn.RemoteAddr())
	}
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	stopped := stop()
	if err != nil {
		conn.Close()
		var hk *HostKeyError
		switch {
		case errors.As(err, &hk):
			return nil, hk
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, &connError{
				msg:  fmt.Sprintf("ssh bastion %s: the bastion refused the key (%s %s) for user %q", bastion, signer.PublicKey().Type(), ssh.FingerprintSHA256(signer.PublicKey()), user),
				errs: []error{ErrAuth, database.ErrConnect},
			}
		}
		return nil, connectError(ctx, bastion, limit, "SSH handshake failed", err)
	}
	if !stopped {
		sc.Close()
		return nil, connectError(ctx, bastion, limit, "SSH handshake failed", ctx.Err())
	}
	conn.SetDeadline(time.Time{})

	t := &Tunnel{client: ssh.NewClient(sc, chans, reqs), bastion: bastion, done: make(chan struct{})}
	go func() {
		err := t.client.Wait()
		msg := "the SSH connection ended"
		if err != nil {
			msg += ": " + err.Error()
		}
		t.end(errors.New(msg))
	}()
	go t.keepAlive(keepAlive)
	return t, nil
}

// DialContext opens a connection to addr (host:port as the bastion resolves
// it) through the bastion, for database.Config.Dial. network is tcp, tcp4 or
// tcp6 (or unix, for a socket on the bastion). The returned connection
// supports deadlines. A failure wraps database.ErrConnect, and ErrClosed
// once the tunnel is closed or its SSH connection died; a cancelled ctx
// gives an error wrapping ctx.Err().
func (t *Tunnel) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if err := t.closedError(); err != nil {
		return nil, err
	}
	ch, err := t.client.DialContext(ctx, network, addr)
	if err != nil {
		if cerr := t.closedError(); cerr != nil {
			return nil, cerr
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ssh bastion %s: open a tunnel to %s: %w", t.bastion, addr, ctx.Err())
		}
		msg := fmt.Sprintf("ssh bastion %s: could not open a tunnel to %s: %v", t.bastion, addr, err)
		var oe *ssh.OpenChannelError
		if errors.As(err, &oe) && oe.Reason == ssh.Prohibited {
			msg = fmt.Sprintf("ssh bastion %s: the bastion refused to forward to %s (%s): does its sshd_config allow TCP forwarding (AllowTcpForwarding, PermitOpen)?", t.bastion, addr, oe.Message)
		}
		return nil, &connError{msg: msg, errs: []error{database.ErrConnect, err}}
	}
	return newPipeConn(ch, network, addr, t.bastion), nil
}

// Done returns a channel closed when the tunnel is closed or its SSH
// connection died; Err then tells why.
func (t *Tunnel) Done() <-chan struct{} { return t.done }

// Err returns nil while the tunnel is up, and then an error wrapping
// ErrClosed and database.ErrConnect that tells why it went down.
func (t *Tunnel) Err() error { return t.closedError() }

// Close closes the SSH connection and with it every connection opened
// through it. It is safe to call more than once.
func (t *Tunnel) Close() error {
	t.end(errors.New("closed"))
	err := t.client.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// end records why the tunnel went down; the first reason wins.
func (t *Tunnel) end(reason error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.reason == nil {
		t.reason = reason
		close(t.done)
	}
}

func (t *Tunnel) closedError() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.reason == nil {
		return nil
	}
	return &connError{
		msg:  fmt.Sprintf("ssh bastion %s: the tunnel is down: %v", t.bastion, t.reason),
		errs: []error{ErrClosed, database.ErrConnect},
	}
}

// keepAlive sends keepalive@openssh.com requests every interval and closes
// the connection when one goes unanswered for keepAliveMisses intervals: a
// bastion that vanished without a word (a dropped route, a frozen host) is
// then noticed within seconds, rather than when TCP gives up.
func (t *Tunnel) keepAlive(interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-t.done:
			return
		case <-ticker.C:
		}
		answered := make(chan struct{})
		go func() {
			// OpenSSH answers with a failure, which still shows it is alive.
			t.client.SendRequest("keepalive@openssh.com", true, nil)
			close(answered)
		}()
		limit := time.NewTimer(keepAliveMisses * interval)
		select {
		case <-t.done:
			limit.Stop()
			return
		case <-answered:
			limit.Stop()
		case <-limit.C:
			t.end(fmt.Errorf("no answer to SSH keepalives for %v", keepAliveMisses*interval))
			t.client.Close()
			return
		}
	}
}

// loadKey reads and parses the private key. Its errors never quote the key.
func loadKey(c Config) (ssh.Signer, error) {
	pem, source := c.Key, "private key"
	switch {
	case len(c.Key) > 0 && c.KeyFile != "":
		return nil, errors.New("both a private key and a key file given: give one")
	case c.KeyFile != "":
		b, err := os.ReadFile(c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("private key: %w", err)
		}
		pem, source = b, "private key file "+c.KeyFile
	case len(c.Key) == 0:
		return nil, errors.New("no private key: pass --ssh-key FILE or set RUNWAY_SSH_KEY")
	}
	if !bytes.ContainsRune(pem, '\n') && bytes.Contains(pem, []byte(`\n`)) {
		pem = bytes.ReplaceAll(pem, []byte(`\n`), []byte("\n"))
	}
	signer, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if len(c.Passphrase) == 0 {
			return nil, fmt.Errorf("%s is encrypted: give its passphrase (RUNWAY_SSH_KEY_PASSPHRASE)", source)
		}
		signer, err = ssh.ParsePrivateKeyWithPassphrase(pem, c.Passphrase)
		if errors.Is(err, x509.IncorrectPasswordError) {
			return nil, fmt.Errorf("%s: wrong passphrase", source)
		}
	}
	if err != nil {
		// x/crypto's own messages ("ssh: no key found", "ssh: unsupported
		// key type …") name no key material; those of the parsers below
		// it (asn1, x509) might quote bytes, so they are not repeated.
		detail := ""
		if msg := err.Error(); strings.HasPrefix(msg, "ssh: ") && !strings.ContainsAny(msg, "\r\n") {
			detail = " (" + msg + ")"
		}
		if c.KeyFile == "" && !bytes.ContainsAny(pem, "\n ") && (bytes.HasPrefix(pem, []byte("/")) || bytes.HasPrefix(pem, []byte("~")) || bytes.HasPrefix(pem, []byte("."))) {
			// A file name where the key's text belongs (RUNWAY_SSH_KEY).
			return nil, fmt.Errorf("%s: the value looks like a file name: RUNWAY_SSH_KEY takes the key's text (an ECS or CI secret); for a key file use --ssh-key FILE", source)
		}
		return nil, fmt.Errorf("%s: not a private key in OpenSSH or PEM format%s", source, detail)
	}
	return signer, nil
}

// HostKeyError is a bastion host key that the known_hosts file does not
// vouch for. It wraps ErrHostKey and database.ErrConnect.
type HostKeyError struct {
	Bastion        string // user@host:port
	KnownHostsFile string
	// Key is the host key the bastion offered: its type and SHA256
	// fingerprint (as ssh-keygen -l shows it).
	KeyType, Fingerprint string
	// Line is the known_hosts line that would trust the offered key.
	Line string
	// Known lists the file's entries (file:line) for this host when they hold
	// other keys: a mismatch, which may mean someone is intercepting the
	// connection. Empty when the host is unknown.
	Known []string
	// Revoked is the file:line marking the offered key @revoked, if any.
	Revoked string
}

// Error says what is wrong with the key and the known_hosts line that
// would accept it.
func (e *HostKeyError) Error() string {
	key := e.KeyType + " " + e.Fingerprint
	switch {
	case e.Revoked != "":
		return fmt.Sprintf("ssh bastion %s: the bastion's host key %s is marked @revoked in %s", e.Bastion, key, e.Revoked)
	case len(e.Known) > 0:
		return fmt.Sprintf("ssh bastion %s: host key mismatch: the bastion offered %s, but %s holds a different key for it (%s): someone may be intercepting the connection, or the bastion's key changed; if its administrator confirms the new key, replace that line with: %s",
			e.Bastion, key, e.KnownHostsFile, strings.Join(e.Known, ", "), e.Line)
	default:
		return fmt.Sprintf("ssh bastion %s: unknown host key: %s has no key for this host; the bastion offered %s; if its administrator confirms that key, add this line to %s: %s",
			e.Bastion, e.KnownHostsFile, key, e.KnownHostsFile, e.Line)
	}
}

// Unwrap makes the error match ErrHostKey and database.ErrConnect.
func (e *HostKeyError) Unwrap() []error { return []error{ErrHostKey, database.ErrConnect} }

// checkHostKey turns knownhosts' verdicts into *HostKeyError.
func checkHostKey(known ssh.HostKeyCallback, bastion, file string) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := known(hostname, remote, key)
		if err == nil {
			return nil
		}
		e := &HostKeyError{
			Bastion:        bastion,
			KnownHostsFile: file,
			KeyType:        key.Type(),
			Fingerprint:    ssh.FingerprintSHA256(key),
			Line:           knownhosts.Line([]string{hostname}, key),
		}
		var keyErr *knownhosts.KeyError
		var revoked *knownhosts.RevokedError
		switch {
		case errors.As(err, &revoked):
			e.Revoked = fmt.Sprintf("%s:%d", revoked.Revoked.Filename, revoked.Revoked.Line)
		case errors.As(err, &keyErr):
			for _, k := range keyErr.Want {
				e.Known = append(e.Known, fmt.Sprintf("%s:%d", k.Filename, k.Line))
			}
		default:
			// A certificate the file's @cert-authority lines do not accept.
			return fmt.Errorf("%w: %v", e, err)
		}
		return e
	}
}

// knownAlgorithms returns the host key algorithms matching the keys
// known_hosts holds for addr, nil (the defaults) when it holds none.
func knownAlgorithms(known ssh.HostKeyCallback, addr string, remote net.Addr) []string {
	// knownhosts has no lookup: a key nobody has makes it list the host's keys.
	probe, err := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	if err != nil {
		return nil
	}
	var keyErr *knownhosts.KeyError
	if !errors.As(known(addr, remote, probe), &keyErr) {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	for _, k := range keyErr.Want {
		types := []string{k.Key.Type()}
		if types[0] == ssh.KeyAlgoRSA {
			types = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		}
		for _, a := range types {
			if !seen[a] {
				seen[a] = true
				algos = append(algos, a)
			}
		}
	}
	return algos
}

// connError is a failure with its own message that matches several
// sentinels and causes through errors.Is and errors.As.
type connError struct {
	msg  string
	errs []error
}

func (e *connError) Error() string   { return e.msg }
func (e *connError) Unwrap() []error { return e.errs }

// connectError describes a failure to reach or talk to the bastion; limit
// is how long Dial allowed for it.
func connectError(ctx context.Context, bastion string, limit time.Duration, what string, err error) error {
	errs := []error{database.ErrConnect, err}
	msg := fmt.Sprintf("ssh bastion %s: %s: %v", bastion, what, err)
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		msg = fmt.Sprintf("ssh bastion %s: %s: %v", bastion, what, context.Canceled)
		errs = append(errs, context.Canceled)
	case ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded):
		msg = fmt.Sprintf("ssh bastion %s: %s: no answer within %v", bastion, what, limit)
		errs = append(errs, context.DeadlineExceeded)
	}
	return &connError{msg: msg, errs: errs}
}
