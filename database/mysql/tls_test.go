package mysql

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/internal/testdb"
)

// setParams returns rawURL with its query parameters replaced by kv pairs.
func setParams(t *testing.T, rawURL string, kv ...string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// sslCipher returns the cipher of the driver's session as the server sees
// it: "" for an unencrypted one.
func sslCipher(t *testing.T, d *Driver) string {
	t.Helper()
	ctx := context.Background()
	conn, err := d.session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var name, cipher string
	if err := conn.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher); err != nil {
		t.Fatal(err)
	}
	return cipher
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestParseURLTLS(t *testing.T) {
	ca := testdb.NewCAFile(t)
	base := "mysql://app:hunter2@db.example:3307/shop?"

	mc, ts, err := parseURL(base + "ssl-ca=" + url.QueryEscape(ca))
	if err != nil {
		t.Fatal(err)
	}
	if mc.TLS == nil || mc.TLS.RootCAs == nil || mc.TLS.ServerName != "db.example" || mc.TLS.InsecureSkipVerify {
		t.Errorf("ssl-ca alone: want VERIFY_IDENTITY for db.example with the CA, got %+v", mc.TLS)
	}
	if ts.mode != sslVerifyIdentity || ts.caFile != ca {
		t.Errorf("settings %+v", ts)
	}

	mc, _, err = parseURL(base + "ssl_mode=verify_ca&ssl_ca=" + url.QueryEscape(ca))
	if err != nil {
		t.Fatal(err)
	}
	if mc.TLS == nil || !mc.TLS.InsecureSkipVerify || mc.TLS.VerifyConnection == nil {
		t.Errorf("VERIFY_CA: want the chain checked by VerifyConnection, got %+v", mc.TLS)
	}

	mc, _, err = parseURL(base + "ssl-mode=REQUIRED")
	if err != nil {
		t.Fatal(err)
	}
	if mc.TLS == nil || !mc.TLS.InsecureSkipVerify || mc.TLS.VerifyConnection != nil {
		t.Errorf("REQUIRED: want encryption without verification, got %+v", mc.TLS)
	}

	mc, _, err = parseURL(base + "ssl-mode=VERIFY_IDENTITY")
	if err != nil {
		t.Fatal(err)
	}
	if mc.TLS == nil || mc.TLS.RootCAs != nil || mc.TLS.ServerName != "db.example" {
		t.Errorf("VERIFY_IDENTITY without ssl-ca: want the system's CAs, got %+v", mc.TLS)
	}

	mc, _, err = parseURL(base + "ssl-mode=DISABLED")
	if err != nil || mc.TLS != nil {
		t.Errorf("DISABLED: TLS %+v, err %v", mc.TLS, err)
	}

	// tls=true must check the URL's host, not go-sql-driver's default 127.0.0.1.
	mc, _, err = parseURL(base + "tls=true")
	if err != nil {
		t.Fatal(err)
	}
	if mc.TLSConfig != "true" || (mc.TLS != nil && mc.TLS.ServerName != "db.example") {
		t.Errorf("tls=true: TLSConfig %q, TLS %+v", mc.TLSConfig, mc.TLS)
	}
}

func TestParseURLTLSErrors(t *testing.T) {
	const secret = "hunter2"
	ca := testdb.NewCAFile(t)
	missing := filepath.Join(t.TempDir(), "no-such-ca.pem")
	notPEM := writeFile(t, "not.pem", "this is no certificate\n")
	base := "mysql://app:" + secret + "@db/shop?"
	for _, tc := range []struct{ query, want string }{
		{"ssl-ca=" + missing, "ssl-ca=" + missing + ": cannot read the CA certificate"},
		{"ssl-ca=" + notPEM, "ssl-ca=" + notPEM + ": no PEM certificate"},
		{"ssl-mode=SOMETIMES", "ssl-mode=SOMETIMES: want DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY"},
		{"ssl-mode=REQUIRED&ssl-ca=" + ca, "ssl-mode=REQUIRED does not check the server's certificate, so ssl-ca would be ignored"},
		{"ssl-mode=DISABLED&ssl-ca=" + ca, "ssl-mode=DISABLED does not use TLS"},
		{"tls=true&ssl-ca=" + ca, "ssl-ca and tls= both set TLS"},
		{"ssl-cert=" + ca, "ssl-cert= and ssl-key= go together"},
		{"ssl-cert=" + ca + "&ssl-key=" + missing, "cannot load the client certificate"},
		{"ssl-ca=" + ca + "&ssl-ca=" + ca, "ssl-ca is given twice"},
		{"ssl-ca=", "ssl-ca= is empty"},
		{"sslmode=verify-full", "sslmode= is a PostgreSQL parameter"},
		{"sslrootcert=" + ca, "sslrootcert= is a PostgreSQL parameter"},
	} {
		_, err := Open(context.Background(), base+tc.query, database.Config{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want error containing %q", tc.query, err, tc.want)
			continue
		}
		if errors.Is(err, database.ErrConnect) {
			t.Errorf("%s: a configuration error wraps ErrConnect: %v", tc.query, err)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error shows the password: %v", tc.query, err)
		}
	}
}

// TestTLS connects to a server that requires TLS and has a certificate from
// a CA made for the test, in every mode, and checks that each failure to
// trust it is ErrConnect saying why, without the password.
func TestTLS(t *testing.T) {
	t.Parallel()
	const secret = "Tls-S3cret-pa55"
	srv := testdb.StartMySQL(t, testdb.WithTLS(), testdb.WithPassword("runway_admin", secret))
	dbURL := srv.NewDatabase(t)
	if !strings.Contains(dbURL, "ssl-ca="+srv.CAFile()) || !strings.Contains(dbURL, secret) {
		t.Fatalf("URL %s lacks ssl-ca= or the password", database.Redact(dbURL))
	}
	ctx := context.Background()
	ca := srv.CAFile()
	var secure bool
	if conn, err := open(t, dbURL, database.Config{}).session(ctx); err != nil {
		t.Fatal(err)
	} else if err := conn.QueryRowContext(ctx, "SELECT @@require_secure_transport").Scan(&secure); err != nil || !secure {
		t.Fatalf("require_secure_transport is not on (%v)", err)
	}
	localhost := strings.Replace(dbURL, "@127.0.0.1:", "@localhost:", 1)

	for _, tc := range []struct {
		name, url string
	}{
		{"ssl-ca (VERIFY_IDENTITY)", dbURL},
		{"VERIFY_IDENTITY by name", setParams(t, localhost, "ssl-ca", ca)},
		{"VERIFY_CA", setParams(t, dbURL, "ssl-mode", "VERIFY_CA", "ssl-ca", ca)},
		{"REQUIRED", setParams(t, dbURL, "ssl-mode", "REQUIRED")},
		{"tls=skip-verify", setParams(t, dbURL, "tls", "skip-verify")},
		{"tls=preferred", setParams(t, dbURL, "tls", "preferred")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := open(t, tc.url, database.Config{})
			if c := sslCipher(t, d); c == "" {
				t.Fatal("the session is not encrypted")
			} else {
				t.Logf("Ssl_cipher %s", c)
			}
		})
	}

	// VERIFY_CA checks the CA only: a host name the certificate does not
	// list is fine; VERIFY_IDENTITY refuses it.
	for _, mode := range []string{sslVerifyCA, sslVerifyIdentity} {
		t.Run(mode+" other host name", func(t *testing.T) {
			mc, ts, err := parseURL(setParams(t, dbURL, "ssl-mode", mode, "ssl-ca", ca))
			if err != nil {
				t.Fatal(err)
			}
			mc.TLS.ServerName = "db.example"
			d, err := openConfig(ctx, dbURL, mc, ts, database.Config{})
			if mode == sslVerifyCA {
				if err != nil {
					t.Fatalf("VERIFY_CA: %v", err)
				}
				d.Close(ctx)
				return
			}
			if !errors.Is(err, database.ErrConnect) || !strings.Contains(err.Error(), "not valid for host db.example") {
				t.Fatalf("VERIFY_IDENTITY for a name not in the certificate: %v", err)
			}
			t.Log(err)
		})
	}

	other := testdb.NewCAFile(t)
	for _, tc := range []struct {
		name, url string
		want      []string
	}{
		{"another CA", setParams(t, dbURL, "ssl-ca", other),
			[]string{"certificate was not trusted", "ssl-ca=" + other}},
		{"another CA, VERIFY_CA", setParams(t, dbURL, "ssl-mode", "VERIFY_CA", "ssl-ca", other),
			[]string{"certificate was not trusted", "ssl-ca=" + other}},
		{"tls=true: the system's CAs", setParams(t, dbURL, "tls", "true"),
			[]string{"certificate was not trusted", "no CA this system trusts", "ssl-ca=PATH"}},
		// MariaDB refuses a plaintext connection under
		// require_secure_transport as "Access denied"; the same user and
		// password got in over TLS above.
		{"no TLS", setParams(t, dbURL),
			[]string{"Access denied"}},
		{"ssl-mode=DISABLED", setParams(t, dbURL, "ssl-mode", "DISABLED"),
			[]string{"Access denied"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(ctx, tc.url, database.Config{})
			if !errors.Is(err, database.ErrConnect) {
				t.Fatalf("%v, want ErrConnect", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error shows the password: %v", err)
			}
			t.Log(err)
		})
	}

	t.Run("client certificate", func(t *testing.T) {
		admin := open(t, dbURL, database.Config{})
		conn, err := admin.session(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			"CREATE USER 'x509user'@'%' REQUIRE X509",
			"GRANT ALL ON *.* TO 'x509user'@'%'",
		} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		u, _ := url.Parse(dbURL)
		u.User = url.User("x509user")
		cert, key := srv.ClientCert()
		d := open(t, setParams(t, u.String(), "ssl-ca", ca, "ssl-cert", cert, "ssl-key", key), database.Config{})
		if sslCipher(t, d) == "" {
			t.Fatal("the session is not encrypted")
		}
		_, err = Open(ctx, u.String(), database.Config{})
		if !errors.Is(err, database.ErrConnect) {
			t.Fatalf("REQUIRE X509 user without a client certificate: %v, want ErrConnect", err)
		}
		t.Log(err)
	})
}

// TestServerPassword: a server WithPassword (here for root, whose accounts
// exist) takes the right password and refuses a wrong one.
func TestServerPassword(t *testing.T) {
	t.Parallel()
	const right, wrong = "Right-pa55-word", "Wr0ng-S3cret-pa55"
	srv := testdb.StartMySQL(t, testdb.WithPassword("root", right))
	dbURL := srv.NewDatabase(t)
	if !strings.Contains(dbURL, "root:"+right+"@") {
		t.Fatalf("URL %s lacks the password", database.Redact(dbURL))
	}
	d := open(t, dbURL, database.Config{})
	if c := sslCipher(t, d); c != "" {
		t.Errorf("a server without WithTLS encrypted the session with %s", c)
	}
	_, err := Open(context.Background(), withPassword(t, dbURL, wrong), database.Config{})
	if !errors.Is(err, database.ErrConnect) {
		t.Fatalf("wrong password: %v, want ErrConnect", err)
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), right) {
		t.Errorf("error shows a password: %v", err)
	}
	t.Log(err)
}

// TestTLSConfigNotShared: each Open builds its own TLS configuration; none
// is registered with go-sql-driver globally.
func TestTLSConfigNotShared(t *testing.T) {
	ca := testdb.NewCAFile(t)
	a, _, err := parseURL("mysql://root@db/app?ssl-ca=" + url.QueryEscape(ca))
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := parseURL("mysql://root@other/app?ssl-ca=" + url.QueryEscape(ca))
	if err != nil {
		t.Fatal(err)
	}
	if a.TLS == b.TLS || a.TLS.ServerName != "db" || b.TLS.ServerName != "other" {
		t.Errorf("configurations shared or mixed up: %q %q", a.TLS.ServerName, b.TLS.ServerName)
	}
	if a.TLSConfig != "" {
		t.Errorf("TLSConfig = %q: a registered configuration name", a.TLSConfig)
	}
}
