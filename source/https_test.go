package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// secret is in every URL's userinfo and query in these tests; no error and
// no String() may show it.
const secret = "S3CR3T-T0KEN"

// archiveServer serves archives over TLS (and a plain loopback server for
// the redirect-to-http case).
type archiveServer struct {
	tls   *httptest.Server
	plain *httptest.Server
	tgz   []byte
}

func newArchiveServer(t *testing.T) *archiveServer {
	var nested []entry
	for _, e := range migrations {
		nested = append(nested, file("db/"+e.name, e.body))
	}
	s := &archiveServer{tgz: tarBytes(t, true, nested...)}
	zip := zipBytes(t, nested...)
	hostile := zipBytes(t, file("db/0001_a.up.sql", "x"), file("../../etc/cron.d/x", "x"))
	mux := http.NewServeMux()
	mux.HandleFunc("/m.tar.gz", func(w http.ResponseWriter, r *http.Request) { w.Write(s.tgz) })
	mux.HandleFunc("/artifact", func(w http.ResponseWriter, r *http.Request) { w.Write(zip) }) // no extension
	mux.HandleFunc("/hostile.zip", func(w http.ResponseWriter, r *http.Request) { w.Write(hostile) })
	mux.HandleFunc("/gone.tgz", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	mux.HandleFunc("/broken.tgz", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 502) })
	mux.HandleFunc("/private.tgz", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>", 403)
	})
	mux.HandleFunc("/redirect.tgz", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, s.plain.URL+"/m.tar.gz?X-Amz-Signature="+secret, http.StatusFound)
	})
	mux.HandleFunc("/moved.tgz", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/m.tar.gz", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/big.tgz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(1<<20))
		w.Write(make([]byte, 1<<20))
	})
	mux.HandleFunc("/chunked.tgz", func(w http.ResponseWriter, r *http.Request) {
		// No Content-Length: the limit must hold while reading.
		for range 64 {
			w.Write(make([]byte, 16<<10))
			w.(http.Flusher).Flush()
		}
	})
	// The slow download answers nothing until the test ends, whatever
	// happens to the request's context: once, under load, that context
	// ended early, the handler returned, and the client read a complete
	// empty response instead of timing out.
	slow := make(chan struct{})
	mux.HandleFunc("/slow.tgz", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-slow:
		case <-time.After(10 * time.Second):
		}
	})
	mux.HandleFunc("/gzip-encoded.tgz", func(w http.ResponseWriter, r *http.Request) {
		// A server that labels a .tgz as gzip-encoded: the pin is of the
		// stored bytes, so they must arrive as stored.
		if r.Header.Get("Accept-Encoding") != "identity" {
			http.Error(w, "expected Accept-Encoding: identity", 400)
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(s.tgz)
	})
	s.tls = httptest.NewUnstartedServer(mux)
	s.tls.Config.ErrorLog = log.New(io.Discard, "", 0) // the TLS test's handshake failure is expected
	s.tls.StartTLS()
	s.plain = httptest.NewServer(mux)
	t.Cleanup(s.tls.Close)
	t.Cleanup(s.plain.Close)
	t.Cleanup(func() { close(slow) }) // first: Close waits for the handlers
	return s
}

func (s *archiveServer) client() Option { return WithHTTPClient(s.tls.Client()) }

func pinOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestHTTPS(t *testing.T) {
	s := newArchiveServer(t)
	want := asMap(migrations, "")

	src := openOK(t, s.tls.URL+"/m.tar.gz//db", s.client())
	wantFiles(t, src.FS(), want)
	if src.String() != s.tls.URL+"/m.tar.gz//db" {
		t.Errorf("String() = %q", src.String())
	}
	wantFiles(t, openOK(t, s.tls.URL+"/artifact//db", s.client()).FS(), want)
	wantFiles(t, openOK(t, s.tls.URL+"/moved.tgz//db", s.client()).FS(), want)
	wantFiles(t, openOK(t, s.tls.URL+"/gzip-encoded.tgz//db", s.client()).FS(), want)
	// http:// is accepted for loopback hosts.
	wantFiles(t, openOK(t, s.plain.URL+"/m.tar.gz//db").FS(), want)

	t.Run("pin", func(t *testing.T) {
		pin := pinOf(s.tgz)
		for _, spec := range []string{
			s.tls.URL + "/m.tar.gz#sha256=" + pin + "//db",
			s.tls.URL + "/m.tar.gz//db#sha256=" + strings.ToUpper(pin),
			s.tls.URL + "/m.tar.gz//db?v=1#sha256=" + pin,
		} {
			wantFiles(t, openOK(t, spec, s.client()).FS(), want)
		}
		wrong := pinOf([]byte("something else"))
		e := openErr(t, s.tls.URL+"/m.tar.gz#sha256="+wrong+"//db", ErrChecksum, s.client())
		wantMsg := fmt.Sprintf("%s/m.tar.gz#sha256=%s: sha256 mismatch: the pin expects %s, the download is %s", s.tls.URL, wrong, wrong, pin)
		if e.Error() != wantMsg {
			t.Errorf("error = %q\nwant    %q", e, wantMsg)
		}
		e = openErr(t, s.tls.URL+"/m.tar.gz#md5=abc", ErrInvalid, s.client())
		if !strings.HasSuffix(e.Error(), "the only URL fragment understood is #sha256=<64 hex digits>, a pin of the archive's SHA-256") {
			t.Errorf("%q", e)
		}
		openErr(t, s.tls.URL+"/m.tar.gz#sha256=abc//db//x", ErrInvalid, s.client())
		e = openErr(t, s.tls.URL+"/m.tar.gz//a#sha256="+pin+"//b", ErrInvalid, s.client())
		if !strings.HasSuffix(e.Error(), "two sub-folders: give one, after the path or after the #sha256= pin") {
			t.Errorf("%q", e)
		}
	})
	t.Run("status", func(t *testing.T) {
		e := openErr(t, s.tls.URL+"/gone.tgz", ErrNotFound, s.client())
		if e.Error() != s.tls.URL+"/gone.tgz: the server answered 404 Not Found" {
			t.Errorf("%q", e)
		}
		_, err := Open(t.Context(), s.tls.URL+"/broken.tgz", s.client())
		if e = asError(t, err); e.Error() != s.tls.URL+"/broken.tgz: the server answered 502 Bad Gateway" || e.Kind != nil {
			t.Errorf("%q", e)
		}
		e = openErr(t, s.tls.URL+"/private.tgz?X-Amz-Signature="+secret, ErrAccess, s.client())
		if e.Error() != s.tls.URL+"/private.tgz?[redacted]: the server answered 403 Forbidden: the URL's credentials or token were refused (a presigned URL may have expired)" {
			t.Errorf("%q", e)
		}
	})
	t.Run("redirect to http", func(t *testing.T) {
		e := openErr(t, s.tls.URL+"/redirect.tgz", ErrUnsupported, s.client())
		if e.Error() != s.tls.URL+"/redirect.tgz: refused the redirect to "+s.plain.URL+"/m.tar.gz?[redacted]: only https:// is followed" {
			t.Errorf("%q", e)
		}
		// The client's own redirect rule still applies after ours.
		c := *s.tls.Client()
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return errors.New("no redirects here") }
		_, err := Open(t.Context(), s.tls.URL+"/moved.tgz", WithHTTPClient(&c))
		if e := asError(t, err); !strings.Contains(e.Error(), "no redirects here") {
			t.Errorf("%q", e)
		}
	})
	t.Run("size", func(t *testing.T) {
		// Announced: refused before the body is read.
		e := openErr(t, s.tls.URL+"/big.tgz", ErrUnsafeArchive, s.client(), MaxTotalSize(64<<10))
		if e.Error() != s.tls.URL+"/big.tgz: 1 MiB, larger than the 64 KiB limit (MaxTotalSize)" {
			t.Errorf("%q", e)
		}
		// Not announced: refused once the limit is crossed.
		e = openErr(t, s.tls.URL+"/chunked.tgz", ErrUnsafeArchive, s.client(), MaxTotalSize(64<<10))
		if e.Error() != s.tls.URL+"/chunked.tgz: the download is larger than the 64 KiB limit (MaxTotalSize)" {
			t.Errorf("%q", e)
		}
	})
	t.Run("hostile archive", func(t *testing.T) {
		e := openErr(t, s.tls.URL+"/hostile.zip//db", ErrUnsafeArchive, s.client())
		if e.Error() != s.tls.URL+`/hostile.zip: entry "../../etc/cron.d/x": path escapes the archive root` {
			t.Errorf("%q", e)
		}
	})
	t.Run("timeout and cancel", func(t *testing.T) {
		e := asError(t, func() error {
			_, err := Open(t.Context(), s.tls.URL+"/slow.tgz?sig="+secret, s.client(), DownloadTimeout(100*time.Millisecond))
			return err
		}())
		if e.Error() != s.tls.URL+"/slow.tgz?[redacted]: the download did not finish within 100ms (DownloadTimeout): context deadline exceeded" {
			t.Errorf("%q", e)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err := Open(ctx, s.tls.URL+"/slow.tgz?sig="+secret, s.client())
		if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), secret) {
			t.Errorf("%v", err)
		}
		openErr(t, "x", ErrInvalid, DownloadTimeout(0))
		openErr(t, "x", ErrInvalid, WithHTTPClient(nil))
	})
	t.Run("TLS is verified", func(t *testing.T) {
		_, err := Open(t.Context(), s.tls.URL+"/m.tar.gz")
		if e := asError(t, err); !strings.Contains(e.Error(), "certificate") {
			t.Errorf("%q", e)
		}
	})
}

// Secrets in a URL (userinfo, presigned query, an unknown fragment) never
// reach an error or String(), whatever the path the error takes.
func TestURLRedaction(t *testing.T) {
	s := newArchiveServer(t)
	closed := httptest.NewTLSServer(http.NotFoundHandler())
	closed.Close()
	userinfo := func(u string) string { return strings.Replace(u, "https://", "https://user:"+secret+"@", 1) }
	specs := []string{
		userinfo(s.tls.URL) + "/m.tar.gz?X-Amz-Signature=" + secret + "//db",
		userinfo(s.tls.URL) + "/gone.tgz?X-Amz-Signature=" + secret,
		s.tls.URL + "/private.tgz?token=" + secret,
		s.tls.URL + "/redirect.tgz?token=" + secret,
		s.tls.URL + "/hostile.zip?token=" + secret,
		s.tls.URL + "/m.tar.gz?token=" + secret + "#sha256=" + pinOf(nil),
		s.tls.URL + "/m.tar.gz?token=" + secret + "#" + secret,
		s.tls.URL + "/m.tar.gz?token=" + secret + "//../x",
		s.tls.URL + "/m.tar.gz?token=" + secret + "#sha256=" + pinOf(s.tgz) + "//nope",
		s.tls.URL + "/big.tgz?token=" + secret,
		closed.URL + "/m.tar.gz?token=" + secret,
		"https://" + secret + ":x@[::1/m.tgz?token=" + secret,
		"http://user:" + secret + "@example.com/m.tgz?token=" + secret,
	}
	for _, spec := range specs {
		src, err := Open(t.Context(), spec, s.client(), MaxTotalSize(64<<10))
		if err == nil {
			if got := src.String(); strings.Contains(got, secret) || !strings.Contains(got, "[redacted]") {
				t.Errorf("String() = %q", got)
			}
			src.Close()
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%+v", err), secret) {
			t.Errorf("Open(%q): the error shows the secret: %v", spec, err)
		}
		var se *Error
		if !errors.As(err, &se) || strings.Contains(se.Path, secret) {
			t.Errorf("Open(%q) = %v", spec, err)
		}
		t.Logf("%v", err)
	}
}

func TestRedactURL(t *testing.T) {
	pin := "sha256=" + strings.Repeat("ab", 32)
	cases := map[string]string{
		"./m":                           "./m",
		"s3://bucket/key.zip":           "s3://bucket/key.zip",
		"https://h/a.tgz":               "https://h/a.tgz",
		"https://u:p@h/a.tgz":           "https://[redacted]@h/a.tgz",
		"https://h/a.tgz?X-Amz-Sig=1":   "https://h/a.tgz?[redacted]",
		"https://h/a.tgz?a=1#" + pin:    "https://h/a.tgz?[redacted]#" + pin,
		"https://h/a.tgz#token":         "https://h/a.tgz#[redacted]",
		"https://a@b@h?x/y":             "https://[redacted]@h?[redacted]",
		"HTTPS://u@h:8443/p/a.tar.gz?q": "HTTPS://[redacted]@h:8443/p/a.tar.gz?[redacted]",
	}
	for in, want := range cases {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseURLSpec(t *testing.T) {
	cases := []struct{ in, loc, sub string }{
		{"https://h/a.tgz//db", "https://h/a.tgz", "db"},
		{"https://h/a.tgz?x=https://y//db", "https://h/a.tgz?x=https://y//db", ""},
		{"https://h/a.tgz//db?x=1#sha256=ab", "https://h/a.tgz?x=1#sha256=ab", "db"},
		{"https://h/a.tgz?x=1#sha256=ab//db/m", "https://h/a.tgz?x=1#sha256=ab", "db/m"},
		{"http://h/a.tgz#f", "http://h/a.tgz#f", ""},
	}
	for _, c := range cases {
		sp, err := parseSpec(c.in)
		if err != nil || sp.loc != c.loc || sp.sub != c.sub {
			t.Errorf("parseSpec(%q) = %+v, %v; want %q %q", c.in, sp, err, c.loc, c.sub)
		}
	}
	_, err := parseSpec("https://h/a.tgz//x?q=" + secret + "#y//z")
	if !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), secret) {
		t.Errorf("two sub-folders: %v", err)
	}
}
