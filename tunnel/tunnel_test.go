package tunnel_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/database/mysql"
	"github.com/runwaydb/runway/database/postgres"
	"github.com/runwaydb/runway/internal/testdb"
	"github.com/runwaydb/runway/migration"
	"github.com/runwaydb/runway/tunnel"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// dial opens a tunnel through s with its user key and a known_hosts file
// holding its ed25519 host key, closed when the test ends.
func dial(t *testing.T, s *testdb.SSHD, edit ...func(*tunnel.Config)) *tunnel.Tunnel {
	t.Helper()
	c := tunnel.Config{Bastion: s.Bastion(), KeyFile: s.UserKeyFile, KnownHostsFile: s.KnownHosts(false, s.HostKeys[0])}
	for _, e := range edit {
		e(&c)
	}
	tun, err := tunnel.Dial(context.Background(), c)
	if err != nil {
		t.Fatalf("Dial: %v\nsshd log:\n%s", err, s.Log())
	}
	t.Cleanup(func() { tun.Close() })
	return tun
}

// counting wraps a Dial func and counts the connections it opened.
func counting(dial func(context.Context, string, string) (net.Conn, error), n *atomic.Int32) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err == nil {
			n.Add(1)
		}
		return c, err
	}
}

// exercise takes the lock, writes and reads the history through d.
func exercise(t *testing.T, d database.Driver) {
	t.Helper()
	ctx := context.Background()
	if ok, err := d.Lock(ctx, 5*time.Second); !ok || err != nil {
		t.Fatalf("Lock: %v %v", ok, err)
	}
	if k, ok := d.(database.LockKeeper); ok {
		if err := k.KeepLock(ctx); err != nil {
			t.Fatalf("KeepLock: %v", err)
		}
	}
	if err := d.EnsureHistory(ctx); err != nil {
		t.Fatalf("EnsureHistory: %v", err)
	}
	v, _ := migration.ParseVersion("20240101120000")
	if err := d.WriteRevision(ctx, database.Revision{Version: v, Name: "create_users", Checksum: "abc",
		State: database.StateApplied, AppliedAt: time.Now(), AppliedBy: "tunnel test"}); err != nil {
		t.Fatalf("WriteRevision: %v", err)
	}
	revs, err := d.History(ctx)
	if err != nil || len(revs) != 1 || revs[0].Name != "create_users" {
		t.Fatalf("History: %v, %v", revs, err)
	}
	if err := d.Unlock(ctx); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
}

func TestPostgresThroughTunnel(t *testing.T) {
	s := testdb.StartSSHD(t)
	url := testdb.Postgres(t)
	tun := dial(t, s)
	var dials atomic.Int32
	ctx := context.Background()
	d, err := postgres.Open(ctx, url, database.Config{Dial: counting(tun.DialContext, &dials)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	exercise(t, d)
	if dials.Load() < 2 { // the session and KeepLock's second connection
		t.Errorf("%d connections through the tunnel, want at least 2", dials.Load())
	}
}

func TestMySQLThroughTunnel(t *testing.T) {
	s := testdb.StartSSHD(t)
	url := testdb.MySQL(t)
	tun := dial(t, s)
	var dials atomic.Int32
	ctx := context.Background()
	d, err := mysql.Open(ctx, url, database.Config{Dial: counting(tun.DialContext, &dials)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	exercise(t, d)
	if dials.Load() < 1 {
		t.Errorf("no connection through the tunnel")
	}
}

// TestPostgresCancelThroughTunnel: a cancelled query ends and the session
// survives: pgx sends the cancel request on a second connection through the
// tunnel, and falls back on deadlines, which SSH channels alone do not have.
func TestPostgresCancelThroughTunnel(t *testing.T) {
	s := testdb.StartSSHD(t)
	url := testdb.Postgres(t)
	tun := dial(t, s)
	ctx := context.Background()
	d, err := postgres.Open(ctx, url, database.Config{Dial: tun.DialContext})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	qctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	began := time.Now()
	err = d.Exec(qctx, migration.Statement{SQL: "SELECT pg_sleep(30)"})
	if err == nil || time.Since(began) > 10*time.Second {
		t.Fatalf("cancelled pg_sleep: %v after %v", err, time.Since(began))
	}
	// The session survives the cancel request, which also went through the tunnel.
	if err := d.EnsureHistory(ctx); err != nil {
		t.Fatalf("after the cancel: %v", err)
	}
}

func TestKnownHostsForms(t *testing.T) {
	s := testdb.StartSSHD(t)
	for _, tc := range []struct {
		name   string
		hashed bool
		keys   []ssh.PublicKey
	}{
		{"plain", false, s.HostKeys[:1]},
		{"hashed", true, s.HostKeys[:1]},
		// Only the second of the bastion's keys is known: Dial must ask for
		// that type rather than take the server's preferred ed25519 key.
		{"ecdsa only", false, s.HostKeys[1:]},
		{"hashed ecdsa only", true, s.HostKeys[1:]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tun := dial(t, s, func(c *tunnel.Config) { c.KnownHostsFile = s.KnownHosts(tc.hashed, tc.keys...) })
			c, err := tun.DialContext(context.Background(), "tcp", s.Addr) // the bastion's own sshd, as a target
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 8)
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "SSH-2.0-" {
				t.Fatalf("read %q, %v", buf, err)
			}
		})
	}
}

func TestHostKeyMismatch(t *testing.T) {
	s := testdb.StartSSHD(t)
	kh := s.KnownHosts(true, testdb.OtherSSHKey(t)) // hashed: the error must still name the line
	_, err := tunnel.Dial(context.Background(), tunnel.Config{Bastion: s.Bastion(), KeyFile: s.UserKeyFile, KnownHostsFile: kh})
	if !errors.Is(err, tunnel.ErrHostKey) || !errors.Is(err, database.ErrConnect) {
		t.Fatalf("got %v, want ErrHostKey and ErrConnect", err)
	}
	var hk *tunnel.HostKeyError
	if !errors.As(err, &hk) {
		t.Fatalf("got %T, want *HostKeyError", err)
	}
	fp := ssh.FingerprintSHA256(s.HostKeys[0])
	line := knownhosts.Line([]string{s.Addr}, s.HostKeys[0])
	if hk.Fingerprint != fp || hk.Line != line || len(hk.Known) != 1 || hk.Known[0] != kh+":3" {
		t.Errorf("got %+v", hk)
	}
	want := "ssh bastion " + s.Bastion() + ": host key mismatch: the bastion offered ssh-ed25519 " + fp +
		", but " + kh + " holds a different key for it (" + kh + ":3): someone may be intercepting the connection, or the bastion's key changed; if its administrator confirms the new key, replace that line with: " + line
	if err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
	t.Log(err)
}

func TestHostKeyUnknown(t *testing.T) {
	s := testdb.StartSSHD(t)
	kh := s.KnownHosts(false) // other hosts only
	_, err := tunnel.Dial(context.Background(), tunnel.Config{Bastion: s.Bastion(), KeyFile: s.UserKeyFile, KnownHostsFile: kh})
	if !errors.Is(err, tunnel.ErrHostKey) || !errors.Is(err, database.ErrConnect) {
		t.Fatalf("got %v, want ErrHostKey and ErrConnect", err)
	}
	var hk *tunnel.HostKeyError
	if !errors.As(err, &hk) {
		t.Fatalf("got %T, want *HostKeyError", err)
	}
	// With no key to go by, the bastion shows the type x/crypto prefers.
	var offered ssh.PublicKey
	for _, k := range s.HostKeys {
		if k.Type() == hk.KeyType {
			offered = k
		}
	}
	if offered == nil {
		t.Fatalf("offered a %s key, which sshd does not have", hk.KeyType)
	}
	fp := ssh.FingerprintSHA256(offered)
	line := "[127.0.0.1]:" + strings.TrimPrefix(s.Addr, "127.0.0.1:") + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(offered)))
	want := "ssh bastion " + s.Bastion() + ": unknown host key: " + kh + " has no key for this host; the bastion offered " + offered.Type() + " " + fp +
		"; if its administrator confirms that key, add this line to " + kh + ": " + line
	if err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
	// The line it suggests works.
	f, _ := os.OpenFile(kh, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(line + "\n")
	f.Close()
	dial(t, s, func(c *tunnel.Config) { c.KnownHostsFile = kh })
}

func TestHostKeyRevoked(t *testing.T) {
	s := testdb.StartSSHD(t)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	testdb.WriteFile(t, kh, "@revoked * "+string(ssh.MarshalAuthorizedKey(s.HostKeys[0]))+"@revoked * "+string(ssh.MarshalAuthorizedKey(s.HostKeys[1])))
	_, err := tunnel.Dial(context.Background(), tunnel.Config{Bastion: s.Bastion(), KeyFile: s.UserKeyFile, KnownHostsFile: kh})
	if !errors.Is(err, tunnel.ErrHostKey) || !strings.Contains(err.Error(), "is marked @revoked in "+kh+":") {
		t.Fatalf("got %v", err)
	}
}

func TestNoHostKeyCheckRefused(t *testing.T) {
	s := testdb.StartSSHD(t)
	_, err := tunnel.Dial(context.Background(), tunnel.Config{Bastion: s.Bastion(), KeyFile: s.UserKeyFile})
	want := "ssh bastion " + s.Bastion() + ": no known_hosts file to check the bastion's host key against: pass --ssh-known-hosts FILE (or, only for testing, --ssh-insecure-host-key)"
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	if errors.Is(err, database.ErrConnect) {
		t.Error("a configuration error wraps ErrConnect")
	}
}

func TestInsecureHostKey(t *testing.T) {
	s := testdb.StartSSHD(t)
	tun := dial(t, s, func(c *tunnel.Config) { c.KnownHostsFile, c.InsecureHostKey = "", true })
	c, err := tun.DialContext(context.Background(), "tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// TestKeyOnOneLine: a key whose line breaks a CI secret store turned into
// the two characters \n still works.
func TestKeyOnOneLine(t *testing.T) {
	s := testdb.StartSSHD(t)
	oneLine := strings.ReplaceAll(string(s.UserKey), "\n", `\n`)
	dial(t, s, func(c *tunnel.Config) { c.KeyFile, c.Key = "", []byte(oneLine) })
}

func TestWrongUserKey(t *testing.T) {
	s := testdb.StartSSHD(t)
	other := filepath.Join(t.TempDir(), "id_other")
	pub := testdb.SSHKeygen(t, other, "ed25519", "")
	key, _ := os.ReadFile(other)
	_, err := tunnel.Dial(context.Background(), tunnel.Config{Bastion: s.Bastion(), Key: key, KnownHostsFile: s.KnownHosts(false, s.HostKeys...)})
	if !errors.Is(err, tunnel.ErrAuth) || !errors.Is(err, database.ErrConnect) {
		t.Fatalf("got %v, want ErrAuth and ErrConnect", err)
	}
	want := "ssh bastion " + s.Bastion() + ": the bastion refused the key (ssh-ed25519 " + ssh.FingerprintSHA256(pub) + ") for user \"" + s.User + "\""
	if err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
	noSecret(t, err, key)
}

func TestUnknownUser(t *testing.T) {
	s := testdb.StartSSHD(t)
	_, err := tunnel.Dial(context.Background(), tunnel.Config{Bastion: "nosuchuser@" + s.Addr, KeyFile: s.UserKeyFile, KnownHostsFile: s.KnownHosts(false, s.HostKeys...)})
	if !errors.Is(err, tunnel.ErrAuth) || !strings.Contains(err.Error(), `for user "nosuchuser"`) {
		t.Fatalf("got %v", err)
	}
}

func TestUnreachableBastion(t *testing.T) {
	kh := filepath.Join(t.TempDir(), "known_hosts")
	testdb.WriteFile(t, kh, "")
	key := filepath.Join(t.TempDir(), "id")
	testdb.SSHKeygen(t, key, "ed25519", "")

	t.Run("connection refused", func(t *testing.T) {
		addr := "127.0.0.1:" + itoa(testdb.FreePort(t))
		began := time.Now()
		_, err := tunnel.Dial(context.Background(), tunnel.Config{Bastion: "deploy@" + addr, KeyFile: key, KnownHostsFile: kh})
		if !errors.Is(err, database.ErrConnect) || time.Since(began) > 2*time.Second {
			t.Fatalf("got %v after %v, want ErrConnect at once", err, time.Since(began))
		}
		if !strings.HasPrefix(err.Error(), "ssh bastion deploy@"+addr+": could not connect: ") || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("no SSH server answers", func(t *testing.T) {
		// Accepts TCP connections and never says a word.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		began := time.Now()
		_, err = tunnel.Dial(context.Background(), tunnel.Config{Bastion: "deploy@" + l.Addr().String(), KeyFile: key, KnownHostsFile: kh, Timeout: 300 * time.Millisecond})
		if !errors.Is(err, database.ErrConnect) || !errors.Is(err, context.DeadlineExceeded) || time.Since(began) > 2*time.Second {
			t.Fatalf("got %v after %v, want ErrConnect after 300ms", err, time.Since(began))
		}
		if want := "ssh bastion deploy@" + l.Addr().String() + ": SSH handshake failed: no answer within 300ms"; err.Error() != want {
			t.Errorf("got  %v\nwant %s", err, want)
		}
		// Cancellation cuts it short as well.
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		began = time.Now()
		_, err = tunnel.Dial(ctx, tunnel.Config{Bastion: "deploy@" + l.Addr().String(), KeyFile: key, KnownHostsFile: kh})
		if !errors.Is(err, context.Canceled) || !errors.Is(err, database.ErrConnect) || time.Since(began) > 2*time.Second {
			t.Fatalf("got %v after %v, want Canceled", err, time.Since(began))
		}
	})
}

func TestEncryptedKey(t *testing.T) {
	const passphrase = "correct horse battery staple"
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "id_rsa")
	pub := testdb.SSHKeygen(t, keyFile, "rsa", passphrase) // RSA too: rsa-sha2 signatures
	key, _ := os.ReadFile(keyFile)
	s := testdb.StartSSHD(t, pub)
	kh := s.KnownHosts(false, s.HostKeys[0])

	tun := dial(t, s, func(c *tunnel.Config) {
		c.KeyFile, c.Passphrase, c.KnownHostsFile = "", []byte(passphrase), kh
		c.Key = key
	})
	conn, err := tun.DialContext(context.Background(), "tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()

	for _, tc := range []struct {
		name       string
		passphrase string
		want       string
	}{
		{"no passphrase", "", "ssh bastion " + s.Bastion() + ": private key file " + keyFile + " is encrypted: give its passphrase (RUNWAY_SSH_KEY_PASSPHRASE)"},
		{"wrong passphrase", "wrong", "ssh bastion " + s.Bastion() + ": private key file " + keyFile + ": wrong passphrase"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tunnel.Dial(context.Background(), tunnel.Config{Bastion: s.Bastion(), KeyFile: keyFile, Passphrase: []byte(tc.passphrase), KnownHostsFile: kh})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got  %v\nwant %s", err, tc.want)
			}
			if errors.Is(err, database.ErrConnect) {
				t.Error("a key error wraps ErrConnect")
			}
			noSecret(t, err, key)
			if strings.Contains(err.Error(), passphrase) {
				t.Error("the passphrase is in the error")
			}
		})
	}
}

// TestBastionDies: once the SSH connection is gone, connections through the
// tunnel end and DialContext fails at once.
func TestBastionDies(t *testing.T) {
	s := testdb.StartSSHD(t)
	tun := dial(t, s)
	c, err := tun.DialContext(context.Background(), "tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s.Kill()
	select {
	case <-tun.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the tunnel did not notice that sshd died")
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Errorf("reading a connection through the dead tunnel: %v, want EOF", err)
	}
	_, err = tun.DialContext(context.Background(), "tcp", s.Addr)
	if !errors.Is(err, tunnel.ErrClosed) || !errors.Is(err, database.ErrConnect) {
		t.Fatalf("got %v, want ErrClosed and ErrConnect", err)
	}
	if !strings.HasPrefix(err.Error(), "ssh bastion "+s.Bastion()+": the tunnel is down: the SSH connection ended") {
		t.Errorf("got %v", err)
	}
}

// TestKeepAlive: a bastion that stops answering without closing anything
// is noticed by the keepalives; a DialContext waiting on it then fails.
func TestKeepAlive(t *testing.T) {
	s := testdb.StartSSHD(t)
	tun := dial(t, s, func(c *tunnel.Config) { c.KeepAlive = 100 * time.Millisecond })
	time.Sleep(500 * time.Millisecond) // answered keepalives keep it up
	if err := tun.Err(); err != nil {
		t.Fatalf("tunnel down while sshd answers: %v", err)
	}
	s.Freeze()
	defer s.Thaw()
	began := time.Now()
	_, err := tun.DialContext(context.Background(), "tcp", s.Addr)
	if !errors.Is(err, tunnel.ErrClosed) || time.Since(began) > 5*time.Second {
		t.Fatalf("got %v after %v, want ErrClosed within about 300ms", err, time.Since(began))
	}
	if want := "ssh bastion " + s.Bastion() + ": the tunnel is down: no answer to SSH keepalives for 300ms"; err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

func TestDialContextErrors(t *testing.T) {
	s := testdb.StartSSHD(t)
	tun := dial(t, s)

	closed := "127.0.0.1:" + itoa(testdb.FreePort(t))
	_, err := tun.DialContext(context.Background(), "tcp", closed)
	if !errors.Is(err, database.ErrConnect) || errors.Is(err, tunnel.ErrClosed) ||
		!strings.HasPrefix(err.Error(), "ssh bastion "+s.Bastion()+": could not open a tunnel to "+closed+": ") {
		t.Fatalf("got %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tun.DialContext(ctx, "tcp", s.Addr); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want Canceled", err)
	}

	if err := tun.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tun.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err = tun.DialContext(context.Background(), "tcp", s.Addr)
	if want := "ssh bastion " + s.Bastion() + ": the tunnel is down: closed"; !errors.Is(err, tunnel.ErrClosed) || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func TestConfigRefused(t *testing.T) {
	key := filepath.Join(t.TempDir(), "id")
	testdb.SSHKeygen(t, key, "ed25519", "")
	pem, _ := os.ReadFile(key)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	testdb.WriteFile(t, kh, "")
	// Nothing listens here: each case must fail before connecting.
	const b = "deploy@127.0.0.1:1"
	for _, tc := range []struct {
		name string
		c    tunnel.Config
		want string
	}{
		{"bad bastion", tunnel.Config{Bastion: "bastion.example.com", KeyFile: key, KnownHostsFile: kh},
			`ssh bastion "bastion.example.com": want user@host[:port]`},
		{"both host key options", tunnel.Config{Bastion: b, KeyFile: key, KnownHostsFile: kh, InsecureHostKey: true},
			"ssh bastion " + b + ": --ssh-known-hosts and --ssh-insecure-host-key conflict: give one"},
		{"no key", tunnel.Config{Bastion: b, KnownHostsFile: kh},
			"ssh bastion " + b + ": no private key: pass --ssh-key FILE or set RUNWAY_SSH_KEY"},
		{"two keys", tunnel.Config{Bastion: b, Key: pem, KeyFile: key, KnownHostsFile: kh},
			"ssh bastion " + b + ": both a private key and a key file given: give one"},
		{"missing key file", tunnel.Config{Bastion: b, KeyFile: key + ".nope", KnownHostsFile: kh},
			"ssh bastion " + b + ": private key: open " + key + ".nope: no such file or directory"},
		{"public key as private", tunnel.Config{Bastion: b, KeyFile: key + ".pub", KnownHostsFile: kh},
			"ssh bastion " + b + ": private key file " + key + ".pub: not a private key in OpenSSH or PEM format (ssh: no key found)"},
		{"damaged key", tunnel.Config{Bastion: b, Key: damaged(pem), KnownHostsFile: kh},
			"ssh bastion " + b + ": private key: not a private key in OpenSSH or PEM format (ssh: short read)"},
		// The ASN.1 parser's message is left out: it might quote the key's bytes.
		{"damaged PEM key", tunnel.Config{Bastion: b, Key: []byte(garbledPEM), KnownHostsFile: kh},
			"ssh bastion " + b + ": private key: not a private key in OpenSSH or PEM format"},
		{"key file name as the key", tunnel.Config{Bastion: b, Key: []byte("/run/secrets/bastion_key"), KnownHostsFile: kh},
			"ssh bastion " + b + ": private key: the value looks like a file name: RUNWAY_SSH_KEY takes the key's text (an ECS or CI secret); for a key file use --ssh-key FILE"},
		{"missing known_hosts", tunnel.Config{Bastion: b, Key: pem, KnownHostsFile: kh + ".nope"},
			"ssh bastion " + b + ": known_hosts: open " + kh + ".nope: no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tunnel.Dial(context.Background(), tc.c)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got  %v\nwant %s", err, tc.want)
			}
			if errors.Is(err, database.ErrConnect) {
				t.Error("a configuration error wraps ErrConnect")
			}
			noSecret(t, err, pem)
		})
	}
}

const garbledPEM = `-----BEGIN RSA PRIVATE KEY-----
MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu
-----END RSA PRIVATE KEY-----
`

// damaged returns key with the second half of its body cut off.
func damaged(key []byte) []byte {
	lines := strings.Split(strings.TrimSpace(string(key)), "\n")
	body := lines[1 : len(lines)-1]
	kept := append([]string{lines[0]}, body[:len(body)/2]...)
	return []byte(strings.Join(append(kept, lines[len(lines)-1]), "\n") + "\n")
}

// noSecret fails when err quotes any line of the private key's body.
func noSecret(t *testing.T, err error, key []byte) {
	t.Helper()
	for _, line := range strings.Split(string(key), "\n") {
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(err.Error(), line[:16]) {
			t.Fatalf("the private key is in the error: %v", err)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
