// Package notify tells people and systems how a Runway run went: a Slack
// message a person reads at a glance, the JSON report posted to any https
// webhook, and the GitHub Actions job summary.
//
// Notifiers are values built by Parse, NewSlack, NewWebhook or GitHubSummary;
// Send applies the notification policy (When) and delivers to each of them,
// retrying with backoff. Secrets never leave through a notifier: the report
// is scrubbed again before it is sent, and targets appear in errors and
// String only through Redact.
package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/runwaydb/runway/report"
)

// Notifier delivers the report of one run somewhere.
type Notifier interface {
	Notify(ctx context.Context, r *report.Report) error
}

// ErrInvalidTarget is returned (wrapped) by Parse, NewSlack and NewWebhook
// for a target they refuse; the message names the rule and the redacted target.
var ErrInvalidTarget = errors.New("invalid notification target")

// When is the notification policy: which runs are worth a message.
type When string

// The notification policies.
const (
	Failure When = "failure" // only failed runs
	Change  When = "change"  // runs that applied, reverted or failed: no message for "nothing to do"
	Always  When = "always"  // every run
)

// ParseWhen reads a policy as given to --notify-on; "" is Change.
func ParseWhen(s string) (When, error) {
	switch w := When(strings.ToLower(strings.TrimSpace(s))); w {
	case "":
		return Change, nil
	case Failure, Change, Always:
		return w, nil
	}
	return "", fmt.Errorf("notify: unknown policy %q: want failure, change or always", s)
}

// ShouldNotify reports whether policy w posts a message for r.
func ShouldNotify(w When, r *report.Report) bool {
	if r == nil {
		return false
	}
	// A wait (or exec) that gave up (exit 3) held an application back: a failure to
	// whoever is told of failures. status --check finding work is not.
	gaveUp := (r.Command == "wait" || r.Command == "exec") && r.Status == report.StatusPending && r.Error != nil
	switch w {
	case Always:
		return true
	case Failure:
		return r.Status == report.StatusFailed || gaveUp
	case Change, "":
		switch r.Status {
		case report.StatusApplied, report.StatusReverted, report.StatusFailed:
			return true
		}
		// A repair that changed the history is a change too.
		return gaveUp || len(r.Repaired) > 0
	}
	return false
}

// Send delivers r to every notifier at once when policy w says so, and
// returns the errors of those that failed after their retries (nil when all
// were delivered or nothing was due). Each error names its target redacted.
// Send returns when every notifier is done or ctx ends.
func Send(ctx context.Context, ns []Notifier, w When, r *report.Report) []error {
	if !ShouldNotify(w, r) || len(ns) == 0 {
		return nil
	}
	errs := make([]error, len(ns))
	var wg sync.WaitGroup
	for i, n := range ns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				// A broken notifier must not take down a run that succeeded.
				if p := recover(); p != nil {
					errs[i] = fmt.Errorf("notify %s: panic: %s", name(n), scrubText(fmt.Sprint(p)))
				}
			}()
			errs[i] = n.Notify(ctx, r)
		}()
	}
	wg.Wait()
	var failed []error
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	return failed
}

// name is a notifier's redacted name, for messages about it.
func name(n Notifier) string {
	if s, ok := n.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", n)
}

// Parse builds the notifier for a --notify target:
//
//   - https://hooks.slack.com/services/… → Slack message;
//   - slack+https://HOST/… → Slack message through a proxy or relay;
//   - any other https:// URL → the JSON report (report.WriteJSON's form);
//   - http:// (and slack+http://) only for a loopback host: tests, sidecars.
//
// Anything else is refused with an error wrapping ErrInvalidTarget.
// Parse does no I/O.
func Parse(target string, opts ...Option) (Notifier, error) {
	t := strings.TrimSpace(target)
	scheme, _, ok := strings.Cut(t, "://")
	if !ok {
		return nil, fmt.Errorf("notify: %w %q: want an https:// webhook URL (Slack or any other)", ErrInvalidTarget, Redact(t))
	}
	switch strings.ToLower(scheme) {
	case "slack+https", "slack+http":
		return newSlack(t, t[len("slack+"):], opts)
	case "https", "http":
		u, err := parseTarget(t)
		if err != nil {
			return nil, err
		}
		if isSlackHost(u.Hostname()) && strings.HasPrefix(u.Path, "/services/") {
			return newSlack(t, t, opts)
		}
		return NewWebhook(t, opts...)
	}
	return nil, fmt.Errorf("notify: %w %q: unsupported scheme %q: want https:// (or slack+https:// to force the Slack format)", ErrInvalidTarget, Redact(t), scheme)
}

// parseTarget checks a webhook URL: https, or http on a loopback host.
// Its errors never quote the URL itself (url.Parse's do).
func parseTarget(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("notify: %w %q: not a valid URL", ErrInvalidTarget, Redact(raw))
	}
	if u.Host == "" {
		return nil, fmt.Errorf("notify: %w %q: the URL has no host", ErrInvalidTarget, Redact(raw))
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !loopback(u.Hostname()) {
			return nil, fmt.Errorf("notify: %w %q: http:// is allowed only for a loopback host (localhost, 127.0.0.1, ::1); use https://", ErrInvalidTarget, Redact(raw))
		}
	default:
		return nil, fmt.Errorf("notify: %w %q: unsupported scheme %q: want https://", ErrInvalidTarget, Redact(raw), u.Scheme)
	}
	return u, nil
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// FromEnvironment returns the notifiers the environment asks for without a
// flag: the GitHub Actions job summary when GITHUB_STEP_SUMMARY is set.
// A nil getenv is os.Getenv.
func FromEnvironment(getenv func(string) string) []Notifier {
	if getenv == nil {
		getenv = os.Getenv
	}
	var ns []Notifier
	if p := getenv("GITHUB_STEP_SUMMARY"); p != "" {
		ns = append(ns, GitHubSummary(p))
	}
	return ns
}

// Option configures a webhook notifier (Slack or generic).
type Option func(*config) error

type config struct {
	getenv        func(string) string
	client        *http.Client
	timeout       time.Duration // per attempt
	attempts      int
	backoff       time.Duration // before the second attempt, doubling after
	maxRetryAfter time.Duration
}

func newConfig(opts []Option) (*config, error) {
	c := &config{
		getenv:        os.Getenv,
		timeout:       10 * time.Second,
		attempts:      4,
		backoff:       500 * time.Millisecond,
		maxRetryAfter: 10 * time.Second,
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.client == nil {
		c.client = &http.Client{
			// A redirected POST turns into a GET and loses its body: report
			// the redirect instead of following it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return c, nil
}

// WithGetenv sets where CI and task details (the link to the job log) are
// read from; the default is os.Getenv. Tests pass a map's lookup.
func WithGetenv(getenv func(string) string) Option {
	return func(c *config) error {
		if getenv == nil {
			return errors.New("notify: WithGetenv: nil function")
		}
		c.getenv = getenv
		return nil
	}
}

// WithHTTPClient sets the client that posts (proxies, TLS roots). Its own
// Timeout, if any, applies on top of WithTimeout.
func WithHTTPClient(client *http.Client) Option {
	return func(c *config) error {
		if client == nil {
			return errors.New("notify: WithHTTPClient: nil client")
		}
		c.client = client
		return nil
	}
}

// WithTimeout bounds each delivery attempt (default 10 s).
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("notify: WithTimeout(%v): the timeout must be positive", d)
		}
		c.timeout = d
		return nil
	}
}

// WithRetry sets the number of attempts (default 4: the first and three
// retries) and the wait before the first retry (default 0.5 s), doubled
// before each further one (0.5 s, 1 s, 2 s).
func WithRetry(attempts int, backoff time.Duration) Option {
	return func(c *config) error {
		if attempts < 1 {
			return fmt.Errorf("notify: WithRetry(%d, %v): at least one attempt is needed", attempts, backoff)
		}
		if backoff < 0 {
			return fmt.Errorf("notify: WithRetry(%d, %v): the backoff cannot be negative", attempts, backoff)
		}
		c.attempts, c.backoff = attempts, backoff
		return nil
	}
}

// WithMaxRetryAfter caps how long a server's Retry-After may make a retry
// wait (default 10 s); a longer Retry-After waits the cap.
func WithMaxRetryAfter(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("notify: WithMaxRetryAfter(%v): the cap cannot be negative", d)
		}
		c.maxRetryAfter = d
		return nil
	}
}
