package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/runwaydb/runway/report"
)

// Slack posts a message to a Slack incoming webhook: a coloured attachment
// (good or danger) that says at a glance what ran where and how it went.
type Slack struct {
	cfg    *config
	poster *poster
}

var _ Notifier = (*Slack)(nil)

// NewSlack returns a notifier for a Slack incoming webhook URL (or a relay
// that accepts Slack's format): https, or http on a loopback host.
func NewSlack(webhookURL string, opts ...Option) (*Slack, error) {
	return newSlack(webhookURL, strings.TrimPrefix(strings.TrimSpace(webhookURL), "slack+"), opts)
}

func newSlack(target, posted string, opts []Option) (*Slack, error) {
	if _, err := parseTarget(posted); err != nil {
		return nil, err
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return &Slack{cfg: cfg, poster: newPoster(target, posted, cfg)}, nil
}

// String names the webhook, redacted.
func (s *Slack) String() string { return "slack " + s.poster.name }

// Notify posts the message for r.
func (s *Slack) Notify(ctx context.Context, r *report.Report) error {
	l, _ := ciLink(ctx, s.cfg.getenv)
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false) // Slack's <url|label> reads better unescaped
	if err := enc.Encode(slackPayload(scrubbed(r, s.poster.secrets...), l)); err != nil {
		return fmt.Errorf("notify %s: %w", s.poster.name, err)
	}
	return s.poster.post(ctx, body.Bytes())
}

// Slack's message structure (attachments holding Block Kit blocks).
type (
	slackMessage struct {
		Text        string            `json:"text"`
		Attachments []slackAttachment `json:"attachments"`
		UnfurlLinks bool              `json:"unfurl_links"`
		UnfurlMedia bool              `json:"unfurl_media"`
	}
	slackAttachment struct {
		Color    string       `json:"color"`
		Fallback string       `json:"fallback"`
		Blocks   []slackBlock `json:"blocks"`
	}
	slackBlock struct {
		Type     string      `json:"type"`
		Text     *slackText  `json:"text,omitempty"`
		Fields   []slackText `json:"fields,omitempty"`
		Elements []slackText `json:"elements,omitempty"`
	}
	slackText struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
)

// Slack's limits: 3000 characters in a section, 2000 in a field.
const (
	slackSectionMax = 2900
	slackFieldMax   = 1900
	slackListMax    = 15 // migrations listed before "… and N more"
)

func mrkdwn(s string) slackText { return slackText{Type: "mrkdwn", Text: s} }

func section(s string) slackBlock {
	t := mrkdwn(truncate(s, slackSectionMax))
	return slackBlock{Type: "section", Text: &t}
}

// esc escapes the three characters Slack's mrkdwn reserves.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// code wraps s as inline code, keeping backticks from closing it.
func code(s string) string { return "`" + esc(strings.ReplaceAll(s, "`", "'")) + "`" }

// slackPayload lays out the message for r (already scrubbed).
func slackPayload(r *report.Report, l link) slackMessage {
	emoji, head := headline(r)
	title := emoji + " " + head
	color := "good"
	switch r.Status {
	case report.StatusFailed:
		color = "danger"
	case report.StatusPending:
		color = "warning"
	}

	var fields []slackText
	field := func(name, value string) {
		fields = append(fields, mrkdwn(truncate("*"+name+"*\n"+value, slackFieldMax)))
	}
	if r.Env != "" {
		field("Environment", esc(r.Env))
	}
	if r.Database != "" {
		field("Database", code(r.Database))
	}
	field("Version", esc(versionRange(r)))
	field("Runner", esc(runnerText(r.Runner)))
	if r.Source != "" {
		field("Source", code(r.Source))
	}
	field("Command", code("runway "+r.Command)+" in "+millis(r.DurationMS))
	blocks := []slackBlock{{Type: "section", Fields: fields}}

	if len(r.Applied) > 0 {
		heading := "Applied"
		switch {
		case r.Status == report.StatusReverted || r.Command == "down":
			heading = "Reverted"
		case r.Command == "baseline":
			heading = "Recorded as baseline"
		case r.Status == report.StatusFailed:
			heading = "Applied before the failure"
		}
		var b strings.Builder
		fmt.Fprintf(&b, "*%s* (%d)", heading, len(r.Applied))
		for i, a := range r.Applied {
			if i == slackListMax {
				fmt.Fprintf(&b, "\n… and %d more", len(r.Applied)-i)
				break
			}
			fmt.Fprintf(&b, "\n• %s %s — %s", code(a.Version), esc(a.Name), millis(a.DurationMS))
			if a.Statements > 0 {
				fmt.Fprintf(&b, ", %s", plural(a.Statements, "statement"))
			}
			if a.Resumed > 0 {
				fmt.Fprintf(&b, " (resumed after %d)", a.Resumed)
			}
		}
		blocks = append(blocks, section(b.String()))
	}

	if len(r.Repaired) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "*Repaired* (%d)", len(r.Repaired))
		for i, rp := range r.Repaired {
			if i == slackListMax {
				fmt.Fprintf(&b, "\n… and %d more", len(r.Repaired)-i)
				break
			}
			what := "accepted the edited file's checksum"
			if rp.Action == "cleared" {
				what = "cleared its " + rp.State + " row"
			}
			fmt.Fprintf(&b, "\n• %s %s — %s", code(rp.Version), esc(rp.Name), esc(what))
		}
		blocks = append(blocks, section(b.String()))
	}

	if e := r.Error; e != nil {
		var b strings.Builder
		b.WriteString("*Failed*")
		if loc := location(e); loc != "" {
			b.WriteString(" at " + code(loc))
		}
		if e.Statement > 0 {
			fmt.Fprintf(&b, ", statement %d", e.Statement)
		}
		if e.Code != "" {
			b.WriteString(", code " + code(e.Code))
		}
		msg := strings.ReplaceAll(truncate(e.Message, 1500), "```", "'''")
		b.WriteString("\n```" + esc(msg) + "```")
		blocks = append(blocks, section(b.String()))
		if e.Hint != "" {
			blocks = append(blocks, section("*Hint* "+esc(truncate(e.Hint, 1500))))
		}
	}

	if len(r.Warnings) > 0 {
		var b strings.Builder
		for i, w := range r.Warnings {
			if i == 5 {
				fmt.Fprintf(&b, "\n… and %d more warnings", len(r.Warnings)-i)
				break
			}
			if i > 0 {
				b.WriteString("\n")
			}
			b.WriteString("⚠️ " + esc(truncate(w, 500)))
		}
		blocks = append(blocks, section(b.String()))
	}

	var ctxt []string
	if l.URL != "" {
		ctxt = append(ctxt, "<"+l.URL+"|"+esc(l.Label)+">")
	}
	if n := len(r.Pending); n > 0 && r.Status != report.StatusPending {
		ctxt = append(ctxt, plural(n, "migration")+" still pending")
	}
	if !r.StartedAt.IsZero() {
		ctxt = append(ctxt, "started "+r.StartedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	if len(ctxt) > 0 {
		blocks = append(blocks, slackBlock{Type: "context", Elements: []slackText{mrkdwn(strings.Join(ctxt, " · "))}})
	}

	return slackMessage{
		Text:        esc(title),
		Attachments: []slackAttachment{{Color: color, Fallback: title, Blocks: blocks}},
	}
}
