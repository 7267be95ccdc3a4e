package notify

import (
	"fmt"
	"strings"
	"time"

	"github.com/runwaydb/runway/report"
)

// headline is the one line a person reads first, without its emoji:
// "prod: 3 migrations applied to postgres://app:***@db/app (20240101 → 20240301)".
// r must be scrubbed.
func headline(r *report.Report) (emoji, text string) {
	var b strings.Builder
	if r.Env != "" {
		b.WriteString(r.Env + ": ")
	}
	on := func(prep string) {
		if r.Database != "" {
			b.WriteString(" " + prep + " " + r.Database)
		}
	}
	switch r.Status {
	case report.StatusFailed:
		emoji = "❌"
		switch e := r.Error; {
		case e != nil && e.Version != "" && e.Refused:
			// Nothing of it ran: the run was refused at it (an applied
			// migration edited, a file out of order, a down script missing).
			b.WriteString("runway " + r.Command + " stopped at migration " + e.Version)
		case e != nil && e.Version != "":
			b.WriteString("migration " + e.Version + " failed")
		default:
			b.WriteString("runway " + r.Command + " failed")
		}
		on("on")
		if n := len(r.Applied); n > 0 {
			fmt.Fprintf(&b, " (%s applied before it)", plural(n, "migration"))
		}
	case report.StatusApplied:
		emoji = "✅"
		if r.Command == "baseline" {
			b.WriteString(plural(len(r.Applied), "migration") + " recorded as baseline")
			on("on")
		} else {
			b.WriteString(plural(len(r.Applied), "migration") + " applied")
			on("to")
		}
		b.WriteString(" (" + versionRange(r) + ")")
	case report.StatusReverted:
		emoji = "↩️"
		b.WriteString(plural(len(r.Applied), "migration") + " reverted")
		on("on")
		b.WriteString(" (" + versionRange(r) + ")")
	case report.StatusNoop:
		emoji = "ℹ️"
		b.WriteString("nothing to apply")
		on("on")
		if v := r.ToVersion; v != "" {
			b.WriteString(" (at " + v + ")")
		}
	case report.StatusOK:
		if r.Command != "repair" || len(r.Repaired) == 0 {
			emoji = "ℹ️"
			b.WriteString("runway " + r.Command + " " + r.Status)
			on("on")
			break
		}
		emoji = "🔧"
		b.WriteString("repair changed " + plural(len(r.Repaired), "history row"))
		on("on")
		if n := len(r.Pending); n > 0 {
			fmt.Fprintf(&b, " (%s now pending)", plural(n, "migration"))
		}
	case report.StatusPending:
		emoji = "⏳"
		b.WriteString(plural(len(r.Pending), "migration") + " pending")
		on("on")
	default:
		emoji = "ℹ️"
		b.WriteString("runway " + r.Command + " " + r.Status)
		on("on")
	}
	return emoji, b.String()
}

// versionRange is "FROM → TO", "none" standing for an empty history.
func versionRange(r *report.Report) string {
	from, to := r.FromVersion, r.ToVersion
	if from == "" {
		from = "none"
	}
	if to == "" {
		to = "none"
	}
	return from + " → " + to
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// millis formats a duration in milliseconds for people: 12 ms, 1.4 s, 3 min 05 s.
func millis(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", ms)
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%d min %02d s", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%d h %02d min", int(d.Hours()), int(d.Minutes())%60)
}

// location is "file:line" of a failure, or what of it is known.
func location(e *report.Error) string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d", e.File, e.Line)
	case e.File != "":
		return e.File
	}
	return e.Version
}

// runnerText is "host (pid 12, runway v1.2.0)".
func runnerText(rn report.Runner) string {
	var extra []string
	if rn.PID != 0 {
		extra = append(extra, fmt.Sprintf("pid %d", rn.PID))
	}
	if rn.RunwayVersion != "" {
		extra = append(extra, "runway "+rn.RunwayVersion)
	}
	host := rn.Host
	if host == "" {
		host = "unknown host"
	}
	if len(extra) == 0 {
		return host
	}
	return host + " (" + strings.Join(extra, ", ") + ")"
}

// truncate cuts s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
