package notify

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/runwaydb/runway/report"
)

// stepSummary appends a Markdown summary of the run to the GitHub Actions
// job summary file.
type stepSummary struct {
	path string
}

var _ Notifier = (*stepSummary)(nil)

// GitHubSummary returns a notifier that appends a Markdown summary of the
// run (a table of the applied migrations, or the failure's file:line,
// message and hint) to the file at path, the GITHUB_STEP_SUMMARY of a
// GitHub Actions job.
func GitHubSummary(path string) Notifier { return &stepSummary{path: path} }

// String names the summary file.
func (s *stepSummary) String() string { return "GitHub job summary " + s.path }

// Notify appends the summary for r.
func (s *stepSummary) Notify(ctx context.Context, r *report.Report) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("notify %s: %w", s, err)
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("notify: GitHub job summary: %w", err)
	}
	_, werr := f.WriteString(summaryMarkdown(scrubbed(r)))
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("notify: GitHub job summary: %w", werr)
	}
	return nil
}

// summaryMarkdown renders r (already scrubbed) for the job summary.
func summaryMarkdown(r *report.Report) string {
	var b strings.Builder
	emoji, head := headline(r)
	fmt.Fprintf(&b, "### %s %s\n\n", emoji, mdText(head))

	var facts []string
	if r.Env != "" {
		facts = append(facts, "**Environment** "+mdText(r.Env))
	}
	if r.Database != "" {
		facts = append(facts, "**Database** "+mdCode(r.Database))
	}
	facts = append(facts, "**Version** "+mdText(versionRange(r)))
	facts = append(facts, "**Runner** "+mdText(runnerText(r.Runner)))
	facts = append(facts, "**Command** "+mdCode("runway "+r.Command)+" in "+millis(r.DurationMS))
	b.WriteString(strings.Join(facts, " · ") + "\n\n")

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
		fmt.Fprintf(&b, "**%s**\n\n| Version | Migration | Statements | Duration |\n|---|---|---:|---:|\n", heading)
		for _, a := range r.Applied {
			fmt.Fprintf(&b, "| %s | %s | %d | %s |\n", mdCell(a.Version), mdCell(a.Name), a.Statements, millis(a.DurationMS))
		}
		b.WriteString("\n")
	}

	if e := r.Error; e != nil {
		b.WriteString("**Failed**")
		if loc := location(e); loc != "" {
			b.WriteString(" at " + mdCode(loc))
		}
		if e.Statement > 0 {
			fmt.Fprintf(&b, ", statement %d", e.Statement)
		}
		if e.Code != "" {
			b.WriteString(", code " + mdCode(e.Code))
		}
		b.WriteString("\n\n")
		fence := strings.Repeat("`", max(3, longestRun(e.Message, '`')+1))
		fmt.Fprintf(&b, "%stext\n%s\n%s\n\n", fence, e.Message, fence)
		if e.Hint != "" {
			// Hints mark commands as `code`: keep that, escape the rest.
			hint := strings.ReplaceAll(mdText(strings.Join(strings.Fields(e.Hint), " ")), "\\`", "`")
			fmt.Fprintf(&b, "> **Hint** %s\n\n", hint)
		}
	}

	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "> ⚠️ %s\n\n", mdText(strings.Join(strings.Fields(w), " ")))
	}
	if n := len(r.Pending); n > 0 && r.Status != report.StatusPending {
		fmt.Fprintf(&b, "%s still pending.\n\n", plural(n, "migration"))
	}
	return b.String()
}

// mdText keeps text from being read as Markdown or HTML.
func mdText(s string) string {
	return strings.NewReplacer(
		`\`, `\\`, "*", `\*`, "_", `\_`, "`", "\\`", "|", `\|`,
		"<", "&lt;", ">", "&gt;", "[", `\[`, "]", `\]`,
	).Replace(s)
}

// mdCell is text fit for a table cell.
func mdCell(s string) string { return mdText(strings.Join(strings.Fields(s), " ")) }

// mdCode is inline code that no backtick in s can close.
func mdCode(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	ticks := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return ticks + " " + s + " " + ticks
	}
	return ticks + s + ticks
}

func longestRun(s string, c rune) int {
	best, run := 0, 0
	for _, r := range s {
		if r == c {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	return best
}
