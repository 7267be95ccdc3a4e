package testdb

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Option configures a dedicated server started by StartPostgres, StartMySQL
// or Launch.
type Option func(*options) error

type options struct {
	tls            bool
	user, password string
	args           []string // more of the server's command-line options
}

// WithServerArgs passes more command-line options to the server (mariadbd's
// --max-allowed-packet=65536; PostgreSQL's -c name=value).
func WithServerArgs(args ...string) Option {
	return func(o *options) error {
		o.args = append(o.args, args...)
		return nil
	}
}

// WithTLS starts the server with TLS from a certificate authority made for
// it alone (see Server.CAFile) and refuses unencrypted TCP connections:
// PostgreSQL through hostssl-only pg_hba.conf lines, MariaDB with
// require_secure_transport. The server's certificate is valid for
// 127.0.0.1, ::1 and localhost. The server's URLs verify it: sslmode=verify-full
// and sslrootcert= for PostgreSQL, ssl-ca= for MariaDB.
func WithTLS() Option {
	return func(o *options) error {
		o.tls = true
		return nil
	}
}

// WithPassword makes user, with password, the account the server's URLs
// connect as, and has the server check the password on TCP connections.
// PostgreSQL: user is the superuser created by initdb, and pg_hba.conf asks
// TCP clients for scram-sha-256 (the unix socket stays trust). MariaDB: user
// is given every privilege (root keeps its name and gets the password).
func WithPassword(user, password string) Option {
	return func(o *options) error {
		switch {
		case user == "" || password == "":
			return errors.New("WithPassword: the user and the password must not be empty")
		case strings.ContainsAny(user+password, "\x00\r\n"):
			return errors.New("WithPassword: the user and the password must be one line")
		}
		o.user, o.password = user, password
		return nil
	}
}

// CAFile returns the path of the PEM certificate of the authority that signed
// the server's certificate, for sslrootcert= or ssl-ca=; "" for a server
// started without WithTLS.
func (s *Server) CAFile() string {
	if s.tls == nil {
		return ""
	}
	return s.tls.caFile
}

// ClientCert returns the paths of a client certificate and its key, signed by
// the server's CA (CN runway-test-client), for tests of client certificate
// authentication (MariaDB: CREATE USER … REQUIRE X509); "", "" for a server
// started without WithTLS.
func (s *Server) ClientCert() (certFile, keyFile string) {
	if s.tls == nil {
		return "", ""
	}
	return s.tls.clientCert, s.tls.clientKey
}

// tlsFiles are the certificates of a server started WithTLS, in its
// directory's tls/ folder.
type tlsFiles struct {
	ca                    *x509.Certificate
	caFile                string
	serverCert, serverKey string // owned by the server's user, key mode 0600
	clientCert, clientKey string // owned by this process's user
}

// clientConfig is what testdb's own connections to the server use.
func (f *tlsFiles) clientConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(f.ca)
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

// writeTLS makes a CA, a server certificate and a client certificate and
// writes them into s.dir/tls. PostgreSQL refuses a key file that others can
// read or that another user owns (root excepted), hence the ownership.
func (s *Server) writeTLS() error {
	dir := filepath.Join(s.dir, "tls")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	if err := s.chown(dir); err != nil {
		return err
	}
	ca, err := newCA()
	if err != nil {
		return err
	}
	serverCert, serverKey, err := ca.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return err
	}
	clientCert, clientKey, err := ca.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "runway-test-client"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return err
	}
	f := &tlsFiles{
		ca:         ca.cert,
		caFile:     filepath.Join(dir, "ca.pem"),
		serverCert: filepath.Join(dir, "server.pem"),
		serverKey:  filepath.Join(dir, "server.key"),
		clientCert: filepath.Join(dir, "client.pem"),
		clientKey:  filepath.Join(dir, "client.key"),
	}
	for _, w := range []struct {
		path   string
		data   []byte
		mode   os.FileMode
		server bool // owned by the server's user
	}{
		{f.caFile, ca.certPEM, 0o644, true},
		{f.serverCert, serverCert, 0o644, true},
		{f.serverKey, serverKey, 0o600, true},
		{f.clientCert, clientCert, 0o644, false},
		{f.clientKey, clientKey, 0o600, false},
	} {
		if err := os.WriteFile(w.path, w.data, w.mode); err != nil {
			return err
		}
		if w.server {
			if err := s.chown(w.path); err != nil {
				return err
			}
		}
	}
	s.tls = f
	return nil
}

// NewCAFile writes the certificate of a new certificate authority, one that
// signed nothing any server uses, into a temporary directory of t and returns
// its path: for tests that a server whose certificate it did not sign is
// refused.
func NewCAFile(t testing.TB) string {
	t.Helper()
	ca, err := newCA()
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(path, ca.certPEM, 0o644); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	return path
}

// authority is a certificate authority made at test time.
type authority struct {
	cert    *x509.Certificate
	certPEM []byte
	key     *ecdsa.PrivateKey
}

// certLifetime is long enough for any test run, including cmd/testservers
// left running for a day's work.
const certLifetime = 7 * 24 * time.Hour

func newCA() (*authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		// The serial in the name tells two test CAs apart in error messages.
		Subject:               pkix.Name{CommonName: fmt.Sprintf("Runway test CA %.6s", serial.Text(16))},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certLifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &authority{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// issue signs a certificate for tmpl's names with a new P-256 key and returns
// the certificate and the key (PKCS #8), PEM-encoded.
func (a *authority) issue(tmpl *x509.Certificate) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	if tmpl.SerialNumber, err = newSerial(); err != nil {
		return nil, nil, err
	}
	tmpl.NotBefore = a.cert.NotBefore
	tmpl.NotAfter = a.cert.NotAfter
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// queryValue escapes v for a URL query, leaving a plain file path readable.
func queryValue(v string) string {
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-", r)) {
			return url.QueryEscape(v)
		}
	}
	return v
}

// newMySQLDBTLS is newMySQLDB for a MariaDB server started WithTLS, whose
// connections must be encrypted: it creates an empty database, dropped when t
// ends if the server is still up, and returns its URL.
func (s *Server) newMySQLDBTLS(t testing.TB) string {
	t.Helper()
	db, err := s.mysqlAdmin()
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	defer db.Close()
	name := dbName(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testdb: create database on port %d: %v", s.port, err)
	}
	t.Cleanup(func() {
		db, err := s.mysqlAdmin()
		if err != nil {
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			return // the server is gone (a fault test stopped it): nothing to drop
		}
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Logf("testdb: drop database %s: %v", name, err)
		}
	})
	return s.URL(name)
}
