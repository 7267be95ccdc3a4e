package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/runwaydb/runway"
	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/notify"
	"github.com/runwaydb/runway/report"
	"github.com/runwaydb/runway/source"
	"github.com/runwaydb/runway/tunnel"
)

func redactedDB(raw string) string { return database.Redact(raw) }

// label fills in what the CLI knows of a run and the engine does not: the
// (redacted) database, the environment, the source. Before render and notify.
func (a *app) label(rep *report.Report) {
	rep.Database = redactedDB(a.g.database)
	rep.Env = a.g.env
	if rep.Source == "" {
		rep.Source = a.g.dir
	}
	rep.Source = source.Redact(rep.Source)
}

// render prints the report: JSON on stdout with --json, else text.
func (a *app) render(rep *report.Report, err error) {
	a.rendered = true
	a.label(rep)
	if a.g.json {
		if werr := report.WriteJSON(a.stdout, rep); werr != nil {
			fmt.Fprintf(a.stderr, "runway: write report: %v\n", werr)
		}
		return
	}
	if err != nil && !errors.Is(err, runway.ErrPending) {
		return // the error is printed once, by exit
	}
	// One write for the whole rendering: a status of a thousand migrations
	// is otherwise thousands of write calls.
	w := bufio.NewWriterSize(a.stdout, 64<<10)
	switch rep.Command {
	case "up":
		if rep.Status == report.StatusNoop {
			fmt.Fprintf(w, "nothing to do: %s is at version %s\n", rep.Database, orNone(rep.ToVersion))
		} else {
			fmt.Fprintf(w, "applied %d migration(s) in %s: version %s → %s\n", len(rep.Applied), ms(rep.DurationMS), orNone(rep.FromVersion), orNone(rep.ToVersion))
		}
		if len(rep.Pending) > 0 {
			fmt.Fprintf(w, "%d migration(s) still pending (limited by --to/--steps)\n", len(rep.Pending))
		}
	case "down":
		if rep.Status == report.StatusNoop {
			fmt.Fprintln(w, "nothing to revert")
		} else {
			fmt.Fprintf(w, "reverted %d migration(s) in %s: version %s → %s\n", len(rep.Applied), ms(rep.DurationMS), orNone(rep.FromVersion), orNone(rep.ToVersion))
		}
	case "status", "validate":
		a.renderMigrations(w, rep)
	case "plan":
		a.renderPlan(w, rep)
	case "baseline":
		if len(rep.Applied) == 0 {
			fmt.Fprintln(w, "nothing to record: every migration up to that version is already in the history")
		}
		for _, ap := range rep.Applied {
			fmt.Fprintf(w, "baseline %s_%s (recorded, not run)\n", ap.Version, ap.Name)
		}
	case "adopt":
		if len(rep.Applied) == 0 {
			fmt.Fprintln(w, "nothing adopted: the other tool's history records no migration as applied. Runway's history starts empty: `runway up` applies every migration")
		} else {
			fmt.Fprintf(w, "adopted %d migration(s), recorded as applied without running them: version %s\n", len(rep.Applied), orNone(rep.ToVersion))
		}
		if len(rep.Applied) > 0 && len(rep.Pending) > 0 {
			fmt.Fprintf(w, "%d migration(s) pending: `runway up` applies them\n", len(rep.Pending))
		}
	case "repair":
		if len(rep.Repaired) == 0 {
			fmt.Fprintln(w, "nothing to repair")
		} else if len(rep.Pending) > 0 {
			fmt.Fprintf(w, "%d migration(s) pending: `runway up` applies them\n", len(rep.Pending))
		}
	case "wait":
		if rep.Status == report.StatusOK { // not when it gave up: exit says so
			fmt.Fprintf(w, "all migrations applied: %s is at version %s\n", rep.Database, orNone(rep.ToVersion))
		}
	}
	w.Flush()
	for _, warn := range rep.Warnings {
		if rep.Command == "status" || rep.Command == "validate" || rep.Command == "plan" {
			fmt.Fprintf(a.stderr, "warning: %s\n", warn)
		}
	}
}

func orNone(v string) string {
	if v == "" {
		return "none"
	}
	return v
}

func ms(n int64) string { return (time.Duration(n) * time.Millisecond).String() }

func (a *app) renderMigrations(w io.Writer, rep *report.Report) {
	writeMigrationTable(w, rep.Migrations)
	if rep.Command == "status" {
		fmt.Fprintf(w, "current version %s; %d pending\n", orNone(rep.ToVersion), len(rep.Pending))
	} else {
		fmt.Fprintf(w, "%d migration(s) valid\n", len(rep.Migrations))
	}
}

// appliedAtLayout is how the migration table shows when a migration ran.
const appliedAtLayout = "2006-01-02 15:04:05Z"

// writeMigrationTable prints VERSION, NAME, STATE, APPLIED AT and DETAIL in
// aligned columns, exactly as text/tabwriter with a padding of 2 would (the
// widths count runes; the last column is not padded). The widths are found
// first and each line is then built once: status runs on every deploy that
// gates on it, and tabwriter's cell-by-cell buffering of a thousand
// migrations cost more than reading them.
func writeMigrationTable(w io.Writer, ms []report.Migration) {
	const pad = 2
	width := [4]int{len("VERSION"), len("NAME"), len("STATE"), len("APPLIED AT")}
	for _, m := range ms {
		width[0] = max(width[0], utf8.RuneCountInString(m.Version))
		width[1] = max(width[1], utf8.RuneCountInString(m.Name))
		width[2] = max(width[2], utf8.RuneCountInString(m.State))
		if m.AppliedAt != nil {
			width[3] = max(width[3], len(appliedAtLayout))
		}
	}
	cell := func(line []byte, text string, colWidth int) []byte {
		line = append(line, text...)
		for n := colWidth - utf8.RuneCountInString(text) + pad; n > 0; n-- {
			line = append(line, ' ')
		}
		return line
	}
	line := make([]byte, 0, 256)
	line = cell(line, "VERSION", width[0])
	line = cell(line, "NAME", width[1])
	line = cell(line, "STATE", width[2])
	line = cell(line, "APPLIED AT", width[3])
	line = append(line, "DETAIL\n"...)
	w.Write(line)
	var at []byte
	for _, m := range ms {
		line = cell(line[:0], m.Version, width[0])
		line = cell(line, m.Name, width[1])
		line = cell(line, m.State, width[2])
		at = at[:0]
		if m.AppliedAt != nil {
			at = m.AppliedAt.AppendFormat(at, appliedAtLayout)
		}
		line = cell(line, string(at), width[3])
		line = append(line, m.Detail...)
		line = append(line, '\n')
		w.Write(line)
	}
}

func (a *app) renderPlan(w io.Writer, rep *report.Report) {
	if len(rep.Plan) == 0 {
		fmt.Fprintf(w, "nothing to do: %s is at version %s\n", rep.Database, orNone(rep.FromVersion))
		return
	}
	for _, p := range rep.Plan {
		mode := "in a transaction"
		if p.NoTransaction {
			mode = "statement by statement, no transaction"
		}
		fmt.Fprintf(w, "-- %s_%s (%s, %s)\n", p.Version, p.Name, p.File, mode)
		switch {
		case p.RunningBy != "" && p.ResumeAt > 0:
			fmt.Fprintf(w, "-- likely being applied now: the migration lock is held by %s; were it to stop here, a run would resume after statement %d\n", p.RunningBy, p.ResumeAt)
		case p.RunningBy != "":
			fmt.Fprintf(w, "-- likely being applied now: the migration lock is held by %s\n", p.RunningBy)
		case p.ResumeAt > 0:
			fmt.Fprintf(w, "-- resumes after statement %d, applied by an earlier run\n", p.ResumeAt)
		}
		if len(p.Replayed) > 0 {
			fmt.Fprintf(w, "-- first sent again (the earlier run applied them; they set the session, which a new session lacks):\n")
			for _, st := range p.Replayed {
				if st.Unset {
					fmt.Fprintf(w, "-- unsets what statement %d, line %d, set from a value not sent again\n%s;\n", st.Number, st.Line, st.SQL)
					continue
				}
				fmt.Fprintf(w, "-- statement %d, line %d\n%s;\n", st.Number, st.Line, st.SQL)
			}
			fmt.Fprintf(w, "-- then:\n")
		}
		for _, st := range p.Statements {
			fmt.Fprintf(w, "-- line %d\n%s;\n", st.Line, st.SQL)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%d migration(s) would be applied: version %s → %s\n", len(rep.Plan), orNone(rep.FromVersion), orNone(rep.ToVersion))
}

// progress renders engine events on stderr: each migration with its
// duration; a long statement reports every progress interval off a terminal,
// and shows a live timer on one.
type progress struct {
	a        *app
	mu       sync.Mutex
	current  string // what is running now
	started  time.Time
	timer    *time.Timer // the running migration's progress timer
	lastWait time.Time
}

func newProgress(a *app) *progress { return &progress{a: a} }

func (p *progress) event(e runway.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.a.stderr
	switch e.Kind {
	case runway.EventLockWaiting:
		if p.lastWait.IsZero() || e.Time.Sub(p.lastWait) >= p.a.g.progressInterval {
			p.lastWait = e.Time
			fmt.Fprintf(w, "runway: %s\n", e)
		}
	case runway.EventLockAcquired:
		// From here on the run changes the database: a signal must let
		// it wind down, not end the process mid-statement.
		if p.a.armSignals != nil {
			p.a.armSignals()
		}
		if !p.lastWait.IsZero() {
			fmt.Fprintf(w, "runway: lock acquired after %s\n", e.Waited.Round(time.Millisecond))
		}
	case runway.EventMigrationStart:
		verb := "applying"
		if e.Down {
			verb = "reverting"
		}
		label := fmt.Sprintf("%s %s_%s", verb, e.Version, e.Name)
		switch {
		case e.Resumed > 0 && e.Resumed >= e.Statements:
			// The file holds no statement past the ones recorded: all ran
			// (only the last record was missing), or the rest were removed.
			last := "recording it"
			if e.Down {
				last = "removing its row"
			}
			label += fmt.Sprintf(" (all %d of its statement(s) ran in an earlier run; %s)", e.Statements, last)
		case e.Resumed > 0:
			label += fmt.Sprintf(" (resuming at statement %d of %d", e.Resumed+1, e.Statements)
			if len(e.Replayed) > 0 {
				label += fmt.Sprintf(", after sending again %s, which set the session", statementNumbers(e.Replayed))
			}
			label += ")"
		}
		p.startTicker(label, e.Time)
		if !p.a.stderrTerminal {
			fmt.Fprintf(w, "%s …\n", label)
		}
	case runway.EventStatementStart:
		if e.Through > e.Statement {
			// Sent together: which of them runs, the server does not say.
			p.current = fmt.Sprintf("%s_%s: statements %d–%d of %d (%s:%d–%d)", e.Version, e.Name, e.Statement, e.Through, e.Statements, e.File, e.Line, e.ThroughLine)
			break
		}
		p.current = fmt.Sprintf("%s_%s: statement %d of %d (%s:%d)", e.Version, e.Name, e.Statement, e.Statements, e.File, e.Line)
	case runway.EventMigrationDone:
		p.stopTicker()
		verb := "applied"
		if e.Down {
			verb = "reverted"
		}
		fmt.Fprintf(w, "%s %s_%s (%s)\n", verb, e.Version, e.Name, e.Duration.Round(time.Millisecond))
	case runway.EventMigrationFail:
		p.stopTicker()
		fmt.Fprintf(w, "FAILED %s_%s\n", e.Version, e.Name)
	case runway.EventWarning:
		fmt.Fprintf(w, "warning: %s\n", e.Message)
	case runway.EventWaiting:
		if p.lastWait.IsZero() || e.Time.Sub(p.lastWait) >= p.a.g.progressInterval {
			p.lastWait = e.Time
			fmt.Fprintf(w, "runway: %s\n", e)
		}
	}
}

// startTicker reports a running migration: a line every progress interval
// off a terminal (CI kills jobs that print nothing), a live timer on one. It
// arms a timer, no goroutine: nothing wakes between a migration's start and
// its end unless the interval passes (a goroutine per migration cost each
// short migration two scheduler wake-ups beside its round trip).
func (p *progress) startTicker(label string, start time.Time) {
	p.current = label
	p.started = start
	interval := p.a.g.progressInterval
	switch {
	case p.a.stderrTerminal && interval > 0:
		interval = min(interval, 200*time.Millisecond)
	case p.a.stderrTerminal:
		interval = 200 * time.Millisecond // the live timer, even with the lines off
	case interval <= 0:
		return // --progress-interval 0: no still-running lines
	}
	var t *time.Timer
	t = time.AfterFunc(interval, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.timer != t {
			return // the migration ended while this fired
		}
		now := time.Now()
		if p.a.stderrTerminal {
			fmt.Fprintf(p.a.stderr, "\r\033[K%s … %s", p.current, now.Sub(p.started).Round(100*time.Millisecond))
		} else {
			fmt.Fprintf(p.a.stderr, "still running %s … %s\n", p.current, now.Sub(p.started).Round(time.Second))
		}
		t.Reset(interval)
	})
	p.timer = t
}

func (p *progress) stopTicker() {
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
		if p.a.stderrTerminal {
			fmt.Fprint(p.a.stderr, "\r\033[K")
		}
	}
}

// waitCommand connects (retrying while the database is not reachable yet)
// and waits for every migration to be applied.
func (a *app) waitCommand(ctx context.Context, wf *waitFlags) error {
	started := time.Now()
	src, err := a.source(ctx)
	if err != nil {
		return a.reportEarlyFailure(ctx, started, err)
	}
	fsys := src.FS()
	ms, err := runway.LoadSource(fsys)
	src.Close()
	if err != nil {
		return a.reportEarlyFailure(ctx, started, err)
	}
	url := a.databaseURL()
	var drv database.Driver
	// A database not reachable yet is said at once and again every
	// --progress-interval: an init container that prints nothing for
	// minutes looks hung.
	var saidAt time.Time
	for {
		if path, missing := missingSQLite(url); missing {
			// Opened, it would be an empty file created here; the run that
			// migrates it creates it: wait for that, as for a server.
			err = fmt.Errorf("%w: there is no SQLite database at %s yet", database.ErrConnect, path)
		} else {
			drv, err = a.open(ctx, url)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, database.ErrConnect) || errors.Is(err, database.ErrAuth) ||
			errors.Is(err, tunnel.ErrAuth) || errors.Is(err, tunnel.ErrHostKey) {
			// A refused password or key, or a bastion whose host key is not
			// the one trusted, is not a database starting up.
			return a.reportEarlyFailure(ctx, started, err)
		}
		// Not at every change of the message: one that names the client's
		// port changes at every attempt.
		if a.g.verbose || saidAt.IsZero() || (a.g.progressInterval > 0 && time.Since(saidAt) >= a.g.progressInterval) {
			fmt.Fprintf(a.stderr, "runway: waiting for the database (%s so far): %v; retrying every %s\n",
				time.Since(started).Round(time.Second), err, wf.poll)
			saidAt = time.Now()
		}
		select {
		case <-ctx.Done():
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				// Stopped (a signal), not timed out: not "pending".
				return a.reportEarlyFailure(ctx, started, runway.Stopped(fmt.Sprintf("the wait for the database was stopped (%v; %v)", context.Cause(ctx), err), ctx.Err()))
			}
			return a.reportEarlyFailure(ctx, started, fmt.Errorf("%w: %w (gave up: %v)", runway.ErrPending, err, context.Cause(ctx)))
		case <-time.After(wf.poll):
		}
	}
	defer a.closeDriver(ctx, drv)
	r, err := runway.New(drv, fsys, runway.WithMigrations(ms), runway.WithTable(a.g.table), runway.WithPollInterval(wf.poll),
		runway.WithObserver(newProgress(a).event))
	if err != nil {
		return err
	}
	rep, err := r.Wait(ctx)
	if rep == nil && err != nil {
		return a.reportEarlyFailure(ctx, started, err)
	}
	if rep != nil {
		// ctx may be the --timeout that just ran out: the report still goes out in full.
		err = a.notifyAndRender(context.WithoutCancel(ctx), rep, err)
	}
	return err
}

// errNotify is a notification that could not be delivered under --notify-required.
var errNotify = errors.New("notification not delivered")

// notifyBudget bounds the delivery of a run's notifications (exec's, which
// the application's start waits for, execNotifyBudget); notifyGrace is what
// is left of it once the run is being stopped by a signal.
var (
	notifyBudget     = 60 * time.Second
	execNotifyBudget = 10 * time.Second // exec: before the application starts
	notifyGrace      = 5 * time.Second
)

// notifyAndRender sends the report, then prints it: a delivery that fails
// under --notify-required (exit 1) is then in the report's warnings, so that
// a pipeline reading --json can tell it from a failed migration. It returns
// the run's error, or the delivery's when the run succeeded.
func (a *app) notifyAndRender(ctx context.Context, rep *report.Report, err error) error {
	a.label(rep)
	nerr := a.notify(ctx, rep)
	if nerr != nil {
		rep.Warnings = append(rep.Warnings, nerr.Error())
	}
	a.render(rep, err)
	if nerr != nil && err == nil {
		return nerr
	}
	return err
}

// notify posts the report to --notify targets and the GitHub Actions job
// summary, as --notify-on says. A failed delivery is a warning, or exit 1
// with --notify-required; it never hides the run's own result.
func (a *app) notify(ctx context.Context, rep *report.Report) error {
	when, err := notify.ParseWhen(a.g.notifyOn)
	if err != nil {
		return usagef("--notify-on: %v", err)
	}
	var targets []notify.Notifier
	for _, t := range a.g.notify {
		n, err := notify.Parse(t, notify.WithGetenv(a.getenv))
		if err != nil {
			return usagef("--notify %s: %v", notify.Redact(t), err)
		}
		targets = append(targets, n)
	}
	targets = append(targets, notify.FromEnvironment(a.getenv)...)
	if len(targets) == 0 {
		return nil
	}
	// A deploy must not wait long on a chat service: a minute at most, and
	// once the run is being stopped (SIGTERM: ECS and Kubernetes kill 30 s
	// later) a few seconds more, so that the report still goes out.
	budget := notifyBudget
	if a.command == "exec" {
		// The application waits to start: a start-up probe must not fail
		// on a chat service's outage.
		budget = execNotifyBudget
	}
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), budget)
	defer cancel()
	go func() {
		select {
		case <-ctx.Done():
			t := time.NewTimer(notifyGrace)
			defer t.Stop()
			select {
			case <-t.C:
				cancel()
			case <-sendCtx.Done():
			}
		case <-sendCtx.Done():
		}
	}()
	errs := notify.Send(sendCtx, targets, when, rep)
	for _, e := range errs {
		fmt.Fprintf(a.stderr, "warning: %v\n", e)
	}
	if len(errs) > 0 && a.g.notifyRequired {
		return fmt.Errorf("%w: %d of %d notification(s) failed (--notify-required)", errNotify, len(errs), len(targets))
	}
	return nil
}

func (a *app) usage(w io.Writer) {
	fmt.Fprint(w, `Runway applies versioned SQL migrations to PostgreSQL, MySQL/MariaDB and SQLite,
each exactly once, under a database lock.

Usage: runway [flags] COMMAND [args]

Commands:
`)
	for _, n := range sortedCommandNames() {
		c := commands[n]
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nFlags (every flag also reads RUNWAY_<FLAG>, e.g. RUNWAY_LOCK_TIMEOUT=5m):\n")
	fs := flag.NewFlagSet("runway", flag.ContinueOnError)
	var g globals
	g.register(fs)
	printFlags(w, fs)
	fmt.Fprint(w, `
Exit codes: 0 success or nothing to do, 1 a migration failed, 2 usage or input error,
3 pending work, 4 lock timeout, 5 validation failed, 6 could not connect.

Example:
  runway -d postgres://app@db:5432/app?sslmode=verify-full --dir ./migrations up

Run 'runway COMMAND --help' for a command's flags and examples.
`)
}

func (a *app) commandUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: runway [flags] %s", c.name)
	if c.args != "" {
		fmt.Fprintf(w, " %s", c.args)
	}
	fmt.Fprintf(w, "\n\n%s.\n", strings.ToUpper(c.summary[:1])+c.summary[1:])
	if c.detail != "" {
		fmt.Fprintf(w, "\n%s\n", c.detail)
	}
	if fs == nil {
		fs = flag.NewFlagSet(c.name, flag.ContinueOnError)
		var g globals
		g.register(fs)
		c.flags(fs)
	}
	fmt.Fprint(w, "\nFlags:\n")
	printFlags(w, fs)
	fmt.Fprintf(w, "\nExample:\n  %s\n", c.example)
}

func printFlags(w io.Writer, fs *flag.FlagSet) {
	// A one-letter flag ("shorthand for --database") is listed with its
	// long flag: -d, --database.
	short := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if long, ok := strings.CutPrefix(f.Usage, "shorthand for --"); ok && len(f.Name) == 1 {
			short[long] = f.Name
		}
	})
	fs.VisitAll(func(f *flag.Flag) {
		if len(f.Name) == 1 {
			return
		}
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if s, ok := short[f.Name]; ok {
			line = "  -" + s + ", --" + f.Name
		}
		if name != "" {
			line += " " + name
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "%-32s %s\n", line, usage)
	})
}

// statementNumbers is "statement 2", "statements 2, 3 and 5", or for a
// long list "12 statements (2, 3, 5, … 801)".
func statementNumbers(ns []int) string {
	if len(ns) == 1 {
		return fmt.Sprintf("statement %d", ns[0])
	}
	if len(ns) > 8 {
		return fmt.Sprintf("%d statements (%d, %d, %d, … %d)", len(ns), ns[0], ns[1], ns[2], ns[len(ns)-1])
	}
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = strconv.Itoa(n)
	}
	return "statements " + strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}
