package notify

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/runwaydb/runway/report"
)

// Webhook posts the JSON report (report.WriteJSON's form, the body of the
// --json contract) to any https endpoint.
type Webhook struct {
	poster *poster
}

var _ Notifier = (*Webhook)(nil)

// NewWebhook returns a notifier for an https URL (or http on a loopback host).
func NewWebhook(target string, opts ...Option) (*Webhook, error) {
	t := strings.TrimSpace(target)
	if _, err := parseTarget(t); err != nil {
		return nil, err
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return &Webhook{poster: newPoster(t, t, cfg)}, nil
}

// String names the webhook, redacted.
func (w *Webhook) String() string { return "webhook " + w.poster.name }

// Notify posts r as JSON.
func (w *Webhook) Notify(ctx context.Context, r *report.Report) error {
	var body bytes.Buffer
	if err := report.WriteJSON(&body, scrubbed(r, w.poster.secrets...)); err != nil {
		return fmt.Errorf("notify %s: %w", w.poster.name, err)
	}
	return w.poster.post(ctx, body.Bytes())
}
