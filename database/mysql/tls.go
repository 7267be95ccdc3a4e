package mysql

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// The ssl-mode values, as the mysql client names them.
const (
	sslDisabled       = "DISABLED"
	sslPreferred      = "PREFERRED"
	sslRequired       = "REQUIRED"
	sslVerifyCA       = "VERIFY_CA"
	sslVerifyIdentity = "VERIFY_IDENTITY"
)

// sslParams are the mysql client's TLS options as given in the URL.
type sslParams struct {
	mode          string // upper case; "" when not given
	ca, cert, key string
	given         []string // the ssl-* parameters given, for messages
	tlsParam      bool     // go-sql-driver's tls= was given as well
}

// set records parameter k=v (v still query-escaped) if it is one of the
// ssl-* parameters, and reports whether it was. The mysql client spells them
// with - or _; both are accepted.
func (p *sslParams) set(k, v string) (bool, error) {
	name := strings.ReplaceAll(strings.ToLower(k), "_", "-")
	switch name {
	case "sslmode", "sslrootcert", "sslcert", "sslkey":
		// PostgreSQL's names: they would become session variables and fail
		// with a puzzling "unknown system variable".
		return true, fmt.Errorf("%s= is a PostgreSQL parameter; MySQL URLs take ssl-mode=, ssl-ca=, ssl-cert= and ssl-key=", k)
	case "ssl-mode", "ssl-ca", "ssl-cert", "ssl-key":
	default:
		return false, nil
	}
	val, err := url.QueryUnescape(v)
	if err != nil {
		return true, fmt.Errorf("bad %s parameter: %v", name, err)
	}
	if val == "" {
		return true, fmt.Errorf("%s= is empty", name)
	}
	var field *string
	switch name {
	case "ssl-mode":
		val = strings.ToUpper(val)
		switch val {
		case sslDisabled, sslPreferred, sslRequired, sslVerifyCA, sslVerifyIdentity:
		default:
			return true, fmt.Errorf("ssl-mode=%s: want DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY", val)
		}
		field = &p.mode
	case "ssl-ca":
		field = &p.ca
	case "ssl-cert":
		field = &p.cert
	default:
		field = &p.key
	}
	if *field != "" {
		return true, fmt.Errorf("%s is given twice", name)
	}
	*field = val
	p.given = append(p.given, name)
	return true, nil
}

// tlsSettings is what the URL asked of the server's certificate, kept by the
// Driver to explain a failed check.
type tlsSettings struct {
	mode   string // ssl-mode, "" when TLS was set with tls= or not at all
	caFile string // ssl-ca, "" for the system's CAs
}

// configure sets mc.TLS from the ssl-* parameters, reading the files they
// name; host is the name the server's certificate must carry under
// VERIFY_IDENTITY. Without ssl-* parameters mc is left to tls=, if given.
func (p *sslParams) configure(mc *mysql.Config, host string) (tlsSettings, error) {
	if len(p.given) == 0 {
		return tlsSettings{}, nil
	}
	if p.tlsParam {
		return tlsSettings{}, fmt.Errorf("%s and tls= both set TLS: use one or the other (tls=true is ssl-mode=VERIFY_IDENTITY with the system's CAs)", strings.Join(p.given, ", "))
	}
	if (p.cert == "") != (p.key == "") {
		return tlsSettings{}, errors.New("ssl-cert= and ssl-key= go together: give the client certificate and its key")
	}
	mode := p.mode
	if mode == "" {
		mode = sslVerifyIdentity // safe by default, where the mysql client would only encrypt
	}
	switch {
	case mode == sslDisabled && (p.ca != "" || p.cert != ""):
		return tlsSettings{}, errors.New("ssl-mode=DISABLED does not use TLS: drop ssl-ca, ssl-cert and ssl-key, or choose another mode")
	case (mode == sslRequired || mode == sslPreferred) && p.ca != "":
		return tlsSettings{}, fmt.Errorf("ssl-mode=%s does not check the server's certificate, so ssl-ca would be ignored: use ssl-mode=VERIFY_CA or VERIFY_IDENTITY", mode)
	}
	ts := tlsSettings{mode: mode, caFile: p.ca}
	mc.TLSConfig = ""
	mc.AllowFallbackToPlaintext = false
	if mode == sslDisabled {
		mc.TLS = nil
		return ts, nil
	}

	cfg := &tls.Config{}
	if p.ca != "" {
		pem, err := os.ReadFile(p.ca)
		if err != nil {
			return tlsSettings{}, fmt.Errorf("ssl-ca=%s: cannot read the CA certificate: %w", p.ca, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return tlsSettings{}, fmt.Errorf("ssl-ca=%s: no PEM certificate in the file", p.ca)
		}
		cfg.RootCAs = pool // nil: the system's CAs
	}
	if p.cert != "" {
		pair, err := tls.LoadX509KeyPair(p.cert, p.key)
		if err != nil {
			return tlsSettings{}, fmt.Errorf("ssl-cert=%s, ssl-key=%s: cannot load the client certificate: %w", p.cert, p.key, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	switch mode {
	case sslPreferred:
		cfg.InsecureSkipVerify = true
		mc.AllowFallbackToPlaintext = true
	case sslRequired:
		cfg.InsecureSkipVerify = true
	case sslVerifyCA:
		// Go checks the chain and the name together or not at all: skip its
		// check and do the chain alone.
		cfg.InsecureSkipVerify = true
		cfg.ServerName = host // for SNI only
		roots := cfg.RootCAs
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			return verifyChain(cs, roots)
		}
	case sslVerifyIdentity:
		cfg.ServerName = host
	}
	mc.TLS = cfg
	return ts, nil
}

// verifyChain checks that the server's certificate chains to roots (nil: the
// system's), whatever host it names.
func verifyChain(cs tls.ConnectionState, roots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tls: the server sent no certificate")
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
		return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}
	}
	return nil
}

// explain says in words why the server's certificate was refused, or ""
// when err is not about the certificate.
func (ts tlsSettings) explain(err error) string {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &unknown):
		if ts.caFile != "" {
			return "the server's TLS certificate was not trusted: it is not signed by the CA in ssl-ca=" + ts.caFile
		}
		return "the server's TLS certificate was not trusted: no CA this system trusts signed it (name its CA with ssl-ca=PATH)"
	case errors.As(err, &hostname):
		return fmt.Sprintf("the server's TLS certificate is not valid for host %s (ssl-mode=VERIFY_IDENTITY checks the host name: connect by a name the certificate lists)", hostname.Host)
	case errors.As(err, &invalid):
		return "the server's TLS certificate is not valid"
	}
	return ""
}
