package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Error is a notification that could not be delivered. Its text names the
// target redacted and quotes at most a short, scrubbed excerpt of the
// response; it never holds the target's secret.
type Error struct {
	Target     string // the target, redacted
	Attempts   int    // attempts made
	StatusCode int    // the last HTTP status, 0 when no response came
	Body       string // a short, scrubbed excerpt of the last response body
	Err        error  // the cause when no response came (network error, timeout, context)

	secrets []string
}

// Error says which target failed and why.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "notify %s: ", e.Target)
	switch {
	case e.StatusCode != 0:
		fmt.Fprintf(&b, "HTTP %d %s", e.StatusCode, http.StatusText(e.StatusCode))
		if e.StatusCode >= 300 && e.StatusCode < 400 {
			b.WriteString(" (redirect not followed)")
		}
		if e.Attempts > 1 {
			fmt.Fprintf(&b, " after %d attempts", e.Attempts)
		}
	default:
		if e.Attempts > 1 {
			fmt.Fprintf(&b, "after %d attempts: ", e.Attempts)
		}
		if e.Err != nil {
			b.WriteString(scrubText(e.Err.Error(), e.secrets...))
		} else {
			b.WriteString("not delivered")
		}
	}
	if e.Body != "" {
		fmt.Fprintf(&b, ": %q", e.Body)
	}
	return b.String()
}

// Unwrap returns the cause when no response came (e.g. context.Canceled).
func (e *Error) Unwrap() error { return e.Err }

// poster posts a body to one webhook with retries.
type poster struct {
	cfg     *config
	url     string   // the real URL, secret
	name    string   // Redact(target)
	secrets []string // strings to scrub from anything that leaves
}

func newPoster(target, posted string, cfg *config) *poster {
	p := &poster{cfg: cfg, url: posted, name: Redact(target)}
	p.secrets = []string{target, posted}
	if u, err := url.Parse(posted); err == nil {
		if u.User != nil {
			p.secrets = append(p.secrets, u.User.String())
			if pw, ok := u.User.Password(); ok {
				p.secrets = append(p.secrets, pw)
			}
		}
		if u.RawQuery != "" {
			p.secrets = append(p.secrets, u.RawQuery)
		}
		if _, rest, ok := strings.Cut(strings.TrimPrefix(u.EscapedPath(), "/"), "/"); ok && rest != "" {
			p.secrets = append(p.secrets, rest)
		}
	}
	return p
}

// post delivers the JSON body, retrying network errors (but not a refused
// certificate), 429 and 5xx with exponential backoff (or the server's
// Retry-After, capped); other statuses are final.
func (p *poster) post(ctx context.Context, body []byte) error {
	wait := p.cfg.backoff
	for attempt := 1; ; attempt++ {
		status, retryAfter, excerpt, err := p.once(ctx, body)
		if err == nil && status >= 200 && status < 300 {
			return nil
		}
		fail := &Error{Target: p.name, Attempts: attempt, StatusCode: status, Body: excerpt, secrets: p.secrets}
		if err != nil {
			fail.Err = err
		}
		if ctx.Err() != nil {
			fail.Err = ctx.Err()
			fail.StatusCode, fail.Body = 0, ""
			return fail
		}
		var certErr *tls.CertificateVerificationError
		retryable := (err != nil && !errors.As(err, &certErr)) || status == http.StatusTooManyRequests || status >= 500
		if !retryable || attempt >= p.cfg.attempts {
			return fail
		}
		d := wait
		if retryAfter > d {
			d = min(retryAfter, p.cfg.maxRetryAfter)
		}
		wait *= 2
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			fail.Err = ctx.Err()
			fail.StatusCode, fail.Body = 0, ""
			return fail
		case <-t.C:
		}
	}
}

// once makes one attempt under the per-attempt timeout.
func (p *poster) once(ctx context.Context, body []byte) (status int, retryAfter time.Duration, excerpt string, err error) {
	actx, cancel := context.WithTimeout(ctx, p.cfg.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, "", errors.New("cannot build the request")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "runway-notify")
	resp, err := p.cfg.client.Do(req)
	if err != nil {
		return 0, 0, "", p.cause(ctx, actx, err)
	}
	defer resp.Body.Close()
	// A body that fails to read does not undo a status already received.
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, 0, "", nil
	}
	return resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After")), p.excerpt(head), nil
}

// cause turns a client error into one that holds no URL: *url.Error quotes
// the whole request URL, so only its inner error is kept.
func (p *poster) cause(ctx, actx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if actx.Err() == context.DeadlineExceeded {
		return attemptTimeout(p.cfg.timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// excerpt returns a short single-line, scrubbed piece of a response body.
func (p *poster) excerpt(b []byte) string {
	s := strings.ToValidUTF8(string(b), "?")
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > 120 {
		s = string([]rune(s)[:120]) + "…"
	}
	return scrubText(s, p.secrets...)
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		return time.Duration(min(max(s, 0), 86400)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// attemptTimeout is an attempt that got no response in time; it matches
// context.DeadlineExceeded.
type attemptTimeout time.Duration

// Error says how long the attempt waited.
func (d attemptTimeout) Error() string {
	return fmt.Sprintf("no response within %v", time.Duration(d))
}

// Is makes an attempt timeout match context.DeadlineExceeded.
func (attemptTimeout) Is(target error) bool { return target == context.DeadlineExceeded }
