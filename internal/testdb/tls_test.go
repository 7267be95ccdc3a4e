package testdb

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/database/postgres"
	"github.com/runwaydb/runway/migration"
)

// pgSetURL returns rawURL with query parameter k set to v ("" removes it).
func pgSetURL(t *testing.T, rawURL string, kv ...string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			q.Del(kv[i])
		} else {
			q.Set(kv[i], kv[i+1])
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func withUserPassword(t *testing.T, rawURL, password string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), password)
	return u.String()
}

// requireEncrypted fails unless the driver's own session is encrypted, as
// the server sees it.
func requireEncrypted(t *testing.T, d *postgres.Driver) {
	t.Helper()
	err := d.Exec(context.Background(), migration.Statement{SQL: `DO $$ BEGIN
		IF NOT (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) THEN
			RAISE EXCEPTION 'this session is not encrypted';
		END IF;
	END $$`})
	if err != nil {
		t.Fatalf("pg_stat_ssl: %v", err)
	}
}

// TestPostgresTLS: a server WithTLS takes sslmode=verify-full connections
// verified with its CA, encrypted, also after a restart, and refuses
// unencrypted ones and a certificate from another CA.
func TestPostgresTLS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := StartPostgres(t, WithTLS())
	dbURL := srv.NewDatabase(t)
	if want := "sslmode=verify-full&sslrootcert=" + srv.CAFile(); !strings.HasSuffix(dbURL, want) {
		t.Fatalf("URL %s does not verify with the CA (want …%s)", dbURL, want)
	}

	d, err := postgres.Open(ctx, dbURL, database.Config{})
	if err != nil {
		t.Fatalf("Open %s: %v", dbURL, err)
	}
	requireEncrypted(t, d)
	d.Close(ctx)

	// What the server reports of the session, for the log.
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	var version, cipher string
	if err := c.QueryRow(ctx, "SELECT version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&version, &cipher); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	t.Logf("session encrypted with %s %s", version, cipher)

	t.Run("localhost", func(t *testing.T) {
		u, _ := url.Parse(dbURL)
		u.Host = strings.Replace(u.Host, "127.0.0.1", "localhost", 1)
		d, err := postgres.Open(ctx, u.String(), database.Config{})
		if err != nil {
			t.Fatalf("verify-full by the name localhost: %v", err)
		}
		d.Close(ctx)
	})

	t.Run("no TLS refused", func(t *testing.T) {
		_, err := postgres.Open(ctx, pgSetURL(t, dbURL, "sslmode", "disable", "sslrootcert", ""), database.Config{})
		if !errors.Is(err, database.ErrConnect) {
			t.Fatalf("sslmode=disable: %v, want ErrConnect", err)
		}
		if !strings.Contains(err.Error(), "no encryption") {
			t.Errorf("error does not say the connection was unencrypted: %v", err)
		}
		t.Log(err)
	})

	t.Run("restart", func(t *testing.T) {
		srv.Stop()
		srv.Start()
		d, err := postgres.Open(ctx, dbURL, database.Config{})
		if err != nil {
			t.Fatalf("after restart: %v", err)
		}
		requireEncrypted(t, d)
		d.Close(ctx)
	})
}

// TestPostgresTLSWrongCA: a certificate the given CA did not sign is refused
// with ErrConnect, and the password stays out of the message.
func TestPostgresTLSWrongCA(t *testing.T) {
	t.Parallel()
	const secret = "Tls-S3cret-pa55"
	srv := StartPostgres(t, WithTLS(), WithPassword("runway_admin", secret))
	dbURL := srv.NewDatabase(t)
	if !strings.Contains(dbURL, secret) {
		t.Fatalf("URL %s lacks the password", database.Redact(dbURL))
	}
	ctx := context.Background()
	d, err := postgres.Open(ctx, dbURL, database.Config{})
	if err != nil {
		t.Fatalf("with the server's CA: %v", err)
	}
	requireEncrypted(t, d)
	d.Close(ctx)

	_, err = postgres.Open(ctx, pgSetURL(t, dbURL, "sslrootcert", NewCAFile(t)), database.Config{})
	if !errors.Is(err, database.ErrConnect) {
		t.Fatalf("with another CA: %v, want ErrConnect", err)
	}
	if !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("error does not say the certificate was not trusted: %v", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error shows the password: %v", err)
	}
	t.Log(err)
}

// TestPostgresPassword: a server WithPassword lets the right password in over
// TCP and refuses a wrong or missing one with ErrConnect, without showing it.
func TestPostgresPassword(t *testing.T) {
	t.Parallel()
	const right, wrong = "Right-pa55-word", "Wr0ng-S3cret-pa55"
	srv := StartPostgres(t, WithPassword("runway_admin", right))
	dbURL := srv.NewDatabase(t)
	u, _ := url.Parse(dbURL)
	if pw, _ := u.User.Password(); u.User.Username() != "runway_admin" || pw != right {
		t.Fatalf("URL %s: want user runway_admin with the password", database.Redact(dbURL))
	}
	ctx := context.Background()
	d, err := postgres.Open(ctx, dbURL, database.Config{})
	if err != nil {
		t.Fatalf("right password: %v", err)
	}
	d.Close(ctx)

	for name, rawURL := range map[string]string{
		"wrong":   withUserPassword(t, dbURL, wrong),
		"missing": strings.Replace(dbURL, ":"+right+"@", "@", 1),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := postgres.Open(ctx, rawURL, database.Config{})
			if !errors.Is(err, database.ErrConnect) {
				t.Fatalf("%s password: %v, want ErrConnect", name, err)
			}
			if !strings.Contains(err.Error(), "password") {
				t.Errorf("error does not say the password failed: %v", err)
			}
			for _, secret := range []string{wrong, right} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows a password: %v", err)
				}
			}
			t.Log(err)
		})
	}
}

// TestTLSFiles checks the certificates a WithTLS server gets: a CA that
// signed a server certificate for 127.0.0.1 and localhost, and a server key
// only the server's user can read, as PostgreSQL demands.
func TestTLSFiles(t *testing.T) {
	t.Parallel()
	s := &Server{engine: PostgreSQL, dir: t.TempDir()}
	if os.Geteuid() == 0 {
		var err error
		if s.runAs, err = unprivileged(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.writeTLS(); err != nil {
		t.Fatal(err)
	}
	if s.CAFile() == "" || filepath.Dir(s.CAFile()) != filepath.Join(s.dir, "tls") {
		t.Fatalf("CAFile = %q", s.CAFile())
	}
	roots := x509.NewCertPool()
	caPEM, err := os.ReadFile(s.CAFile())
	if err != nil || !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("CA file: %v", err)
	}
	leaf := readCert(t, s.tls.serverCert)
	for _, host := range []string{"127.0.0.1", "localhost", "::1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, CurrentTime: time.Now()}); err != nil {
			t.Errorf("server certificate for %s: %v", host, err)
		}
	}
	client := readCert(t, s.tls.clientCert)
	if _, err := client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	if _, err := readCert(t, NewCAFile(t)).Verify(x509.VerifyOptions{Roots: roots}); err == nil {
		t.Error("NewCAFile's CA is trusted by the server's CA")
	}

	fi, err := os.Stat(s.tls.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("server key mode %v, want 0600", fi.Mode().Perm())
	}
	if s.runAs != nil {
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != s.runAs.Uid {
			t.Errorf("server key owned by uid %d, want the server's %d", st.Uid, s.runAs.Uid)
		}
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		opt  Option
		want string
	}{
		{WithPassword("", "pw"), "must not be empty"},
		{WithPassword("u", ""), "must not be empty"},
		{WithPassword("u", "a\nb"), "one line"},
	} {
		_, err := Launch(PostgreSQL, tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Launch: %v, want error containing %q", err, tc.want)
		}
	}
}

// TestPostgresMissingCA: an sslrootcert= file that cannot be read is a
// configuration error naming it, not a connection failure.
func TestPostgresMissingCA(t *testing.T) {
	const secret = "S3cret-pa55"
	missing := filepath.Join(t.TempDir(), "no-such-ca.pem")
	_, err := postgres.Open(context.Background(),
		"postgres://app:"+secret+"@127.0.0.1:1/app?sslmode=verify-full&sslrootcert="+missing, database.Config{})
	if err == nil || errors.Is(err, database.ErrConnect) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("unreadable sslrootcert: %v, want a configuration error naming %s", err, missing)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error shows the password: %v", err)
	}
	t.Log(err)
}
