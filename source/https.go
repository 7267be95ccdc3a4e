package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
)

// httpsFetcher is the built-in fetcher for https:// archives (and http://
// to a loopback host, for tests and local mirrors).
type httpsFetcher struct {
	client *http.Client // nil: a plain client (environment proxies, system roots)
}

var _ Fetcher = (*httpsFetcher)(nil)

const pinPrefix = "sha256="

// isPin reports whether a URL fragment is a "sha256=<64 hex digits>" pin.
func isPin(frag string) bool {
	if len(frag) != len(pinPrefix)+sha256.Size*2 || !strings.EqualFold(frag[:len(pinPrefix)], pinPrefix) {
		return false
	}
	_, err := hex.DecodeString(frag[len(pinPrefix):])
	return err == nil
}

// redirectError is how CheckRedirect refuses a redirect; to is redacted.
type redirectError struct{ to string }

func (e *redirectError) Error() string { return "redirect to " + e.to + " refused" }

// Fetch sends one GET, follows https redirects only, and hands back the
// body, checked against the #sha256= pin as it is read.
func (h *httpsFetcher) Fetch(ctx context.Context, req FetchRequest) (*Download, error) {
	u, err := url.Parse(req.URL)
	if err != nil || u.Host == "" {
		// url.Parse's error quotes the whole URL, secrets and all.
		return nil, &Error{Path: req.Name, Kind: ErrInvalid, Msg: "not a valid URL"}
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, &Error{Path: req.Name, Kind: ErrUnsupported,
				Msg: "plain http:// is refused (anyone on the way could change the migrations): use https://"}
		}
	default:
		return nil, &Error{Path: req.Name, Kind: ErrUnsupported, Msg: "the https fetcher reads https:// URLs only"}
	}
	want := ""
	if u.Fragment != "" {
		if !isPin(u.Fragment) {
			return nil, &Error{Path: req.Name, Kind: ErrInvalid,
				Msg: "the only URL fragment understood is #sha256=<64 hex digits>, a pin of the archive's SHA-256"}
		}
		want = strings.ToLower(u.Fragment[len(pinPrefix):])
	}
	u.Fragment, u.RawFragment = "", ""

	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &Error{Path: req.Name, Kind: ErrInvalid, Msg: "not a valid URL"}
	}
	// The bytes as stored: Go's transport would otherwise ask for gzip and
	// undo a Content-Encoding on the way, and the pin is of the stored file.
	hreq.Header.Set("Accept-Encoding", "identity")

	resp, err := h.httpClient().Do(hreq)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var re *redirectError
		if errors.As(err, &re) {
			return nil, &Error{Path: req.Name, Kind: ErrUnsupported,
				Msg: fmt.Sprintf("refused the redirect to %s: only https:// is followed", re.to)}
		}
		// A *url.Error quotes the URL; keep only what went wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, &Error{Path: req.Name, Msg: "cannot download", Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		e := &Error{Path: req.Name, Msg: "the server answered " + resp.Status}
		switch resp.StatusCode {
		case http.StatusNotFound, http.StatusGone:
			e.Kind = ErrNotFound
		case http.StatusUnauthorized, http.StatusForbidden:
			e.Kind = ErrAccess
			e.Msg += ": the URL's credentials or token were refused (a presigned URL may have expired)"
		}
		return nil, e
	}
	body := resp.Body
	if want != "" {
		body = &pinnedBody{ReadCloser: body, h: sha256.New(), want: want, name: req.Name}
	}
	return &Download{Name: path.Base(u.Path), Size: resp.ContentLength, Body: body}, nil
}

// httpClient is the configured client with a CheckRedirect that refuses
// anything but https before the client's own rule (or Go's default of ten
// redirects) applies.
func (h *httpsFetcher) httpClient() *http.Client {
	var c http.Client
	if h.client != nil {
		c = *h.client
	}
	next := c.CheckRedirect
	c.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if r.URL.Scheme != "https" {
			return &redirectError{to: Redact(r.URL.String())}
		}
		if next != nil {
			return next(r, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &c
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// pinnedBody hashes what is read and, at the end, fails instead of
// returning io.EOF when the hash is not the pin. Open reads a body to its
// end before using any of it, so unpinned bytes are never used.
type pinnedBody struct {
	io.ReadCloser
	h    hash.Hash
	want string
	name string
}

func (p *pinnedBody) Read(b []byte) (int, error) {
	n, err := p.ReadCloser.Read(b)
	p.h.Write(b[:n])
	if err == io.EOF {
		if got := hex.EncodeToString(p.h.Sum(nil)); got != p.want {
			return n, &Error{Path: p.name, Kind: ErrChecksum,
				Msg: fmt.Sprintf("sha256 mismatch: the pin expects %s, the download is %s", p.want, got)}
		}
	}
	return n, err
}
