package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/runwaydb/runway"
	"github.com/runwaydb/runway/migration"
	"github.com/runwaydb/runway/report"
)

// command is one verb of the CLI.
type command struct {
	name    string
	args    string // positional arguments, for usage
	summary string
	detail  string
	example string
	flags   func(fs *flag.FlagSet) any
	run     func(ctx context.Context, a *app, flags any, args []string) error
}

var commands = map[string]*command{}

func init() {
	for _, c := range []*command{cmdNew, cmdStatus, cmdPlan, cmdUp, cmdDown, cmdValidate, cmdBaseline, cmdRepair, cmdWait, cmdExec, cmdAdopt, cmdVersion} {
		commands[c.name] = c
	}
}

func noFlags(*flag.FlagSet) any { return nil }

func noArgs(name string, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", name, strings.Join(args, " "))
	}
	return nil
}

// stepsFlag is --steps: a count of migrations, 1 or more. The library reads
// 0 as "not limited" (up) or "the newest one" (down), so a 0 given on the
// command line or in RUNWAY_STEPS is refused here rather than read as
// either.
type stepsFlag int

func (f *stepsFlag) String() string { return strconv.Itoa(int(*f)) }
func (f *stepsFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return fmt.Errorf("want a count of migrations, 1 or more, got %q", s)
	}
	*f = stepsFlag(n)
	return nil
}

type versionFlag struct{ v migration.Version }

func (f *versionFlag) String() string { return f.v.String() }
func (f *versionFlag) Set(s string) error {
	v, err := migration.ParseVersion(s)
	if err != nil {
		return err
	}
	f.v = v
	return nil
}

// upFlags are shared by up and plan.
type upFlags struct {
	to              versionFlag
	steps           stepsFlag
	singleTx        bool
	allowOutOfOrder bool
	strict          bool
}

func registerUpFlags(fs *flag.FlagSet, withApply bool) *upFlags {
	f := &upFlags{}
	fs.Var(&f.to, "to", "stop after this `version`")
	fs.Var(&f.steps, "steps", "apply at most `N` migrations (1 or more)")
	fs.BoolVar(&f.allowOutOfOrder, "allow-out-of-order", false, "apply pending migrations older than the newest applied one")
	fs.BoolVar(&f.strict, "strict", false, "fail (exit 5) when the database has migrations the source does not (a rollback deploy)")
	if withApply {
		fs.BoolVar(&f.singleTx, "single-transaction", false, "apply all pending migrations in one transaction (PostgreSQL, SQLite)")
	}
	return f
}

func (f *upFlags) options() []runway.Option {
	var o []runway.Option
	if f.singleTx {
		o = append(o, runway.WithSingleTransaction())
	}
	if f.allowOutOfOrder {
		o = append(o, runway.WithAllowOutOfOrder())
	}
	if f.strict {
		o = append(o, runway.WithStrict())
	}
	return o
}

// withRunner opens the database, runs fn and renders its report.
func (a *app) withRunner(ctx context.Context, opts []runway.Option, fn func(r *runway.Runner) (*report.Report, error)) error {
	started := time.Now()
	r, drv, err := a.runner(ctx, opts...)
	if err != nil {
		return a.reportEarlyFailure(ctx, started, err)
	}
	defer a.closeDriver(ctx, drv)
	rep, err := fn(r)
	if rep == nil && err != nil {
		return a.reportEarlyFailure(ctx, started, err)
	}
	if rep != nil {
		err = a.notifyAndRender(ctx, rep, err)
	}
	return err
}

// reportEarlyFailure renders and sends the report of a run that failed
// before the engine made one: a source that cannot be read, a database that
// does not answer, a refused down. --json still prints one object on
// stdout, and notifications still go out; the message is the one exit
// prints, without secrets.
func (a *app) reportEarlyFailure(ctx context.Context, started time.Time, err error) error {
	host, _ := os.Hostname()
	status := report.StatusFailed
	if errors.Is(err, runway.ErrPending) {
		status = report.StatusPending // wait gave up on a database that never answered
	}
	rep := &report.Report{
		Command:    a.command,
		Status:     status,
		Table:      a.g.table,
		StartedAt:  started.UTC().Truncate(time.Millisecond),
		DurationMS: time.Since(started).Milliseconds(),
		Runner:     report.Runner{Host: host, PID: os.Getpid(), RunwayVersion: runway.Version},
		Error:      &report.Error{Message: a.secrets.scrub(err.Error())},
	}
	a.render(rep, err)
	if nerr := a.notify(ctx, rep); nerr != nil {
		fmt.Fprintf(a.stderr, "warning: %v\n", nerr)
	}
	return err
}

var cmdUp = &command{
	name:    "up",
	summary: "apply pending migrations",
	detail: "Applies pending migrations in version order under the migration lock. Any number of runners may\n" +
		"run at once: one applies, the others wait and then find nothing to do.",
	example: "runway -d postgres://app@db:5432/app --dir ./migrations up\n  runway up --to 20240301000000\n  RUNWAY_DATABASE=mysql://app:$PW@db/app runway up --json",
	flags:   func(fs *flag.FlagSet) any { return registerUpFlags(fs, true) },
	run: func(ctx context.Context, a *app, f any, args []string) error {
		if err := noArgs("up", args); err != nil {
			return err
		}
		uf := f.(*upFlags)
		return a.withRunner(ctx, uf.options(), func(r *runway.Runner) (*report.Report, error) {
			return r.Up(ctx, runway.UpOptions{To: uf.to.v, Steps: int(uf.steps)})
		})
	},
}

var cmdPlan = &command{
	name:    "plan",
	summary: "show what up would run, with the SQL; changes nothing",
	example: "runway -d postgres://app@db/app plan",
	flags:   func(fs *flag.FlagSet) any { return registerUpFlags(fs, false) },
	run: func(ctx context.Context, a *app, f any, args []string) error {
		if err := noArgs("plan", args); err != nil {
			return err
		}
		uf := f.(*upFlags)
		return a.withRunner(ctx, uf.options(), func(r *runway.Runner) (*report.Report, error) {
			return r.Plan(ctx, runway.UpOptions{To: uf.to.v, Steps: int(uf.steps)})
		})
	},
}

type statusFlags struct{ check bool }

var cmdStatus = &command{
	name:    "status",
	summary: "list applied, pending, missing, modified and failed migrations",
	detail:  "With --check, exits 3 when anything is pending (a deploy gate).",
	example: "runway -d postgres://app@db/app status\n  runway status --check || echo 'migrations pending'",
	flags: func(fs *flag.FlagSet) any {
		f := &statusFlags{}
		fs.BoolVar(&f.check, "check", false, "exit 3 when any migration is pending")
		return f
	},
	run: func(ctx context.Context, a *app, f any, args []string) error {
		if err := noArgs("status", args); err != nil {
			return err
		}
		return a.withRunner(ctx, nil, func(r *runway.Runner) (*report.Report, error) {
			return r.Status(ctx, f.(*statusFlags).check)
		})
	},
}

type downFlags struct {
	steps stepsFlag
	to    versionFlag
	all   bool
	yes   bool
}

var cmdDown = &command{
	name:    "down",
	summary: "revert applied migrations (asks on a terminal; needs --yes elsewhere)",
	detail: "Reverts the newest applied migration, or --steps N, everything after --to V, or --all.\n" +
		"On a terminal it lists what it will revert and asks. Off a terminal (CI, containers) it refuses\n" +
		"with exit 2 unless --yes is given. What it cannot revert (no down script, an unfinished migration\n" +
		"above) is refused with exit 5 before it asks; if the history changes while it asks, it reverts nothing.",
	example: "runway down                 # revert the newest migration, after confirming\n  runway down --steps 2 --yes # in a script",
	flags: func(fs *flag.FlagSet) any {
		f := &downFlags{}
		fs.Var(&f.steps, "steps", "revert the newest `N` migrations (1 or more; default 1)")
		fs.Var(&f.to, "to", "revert every migration newer than `version`")
		fs.BoolVar(&f.all, "all", false, "revert every applied migration")
		fs.BoolVar(&f.yes, "yes", false, "do not ask for confirmation")
		return f
	},
	run: func(ctx context.Context, a *app, f any, args []string) error {
		if err := noArgs("down", args); err != nil {
			return err
		}
		df := f.(*downFlags)
		o := runway.DownOptions{Steps: int(df.steps), To: df.to.v, All: df.all}
		return a.withRunner(ctx, nil, func(r *runway.Runner) (*report.Report, error) {
			if !df.yes {
				shown, err := a.confirmDown(ctx, r, o)
				if err != nil {
					return nil, err
				}
				// Revert what was confirmed, or nothing: the lock is
				// taken after the question.
				o.Expect = shown
			}
			return r.Down(ctx, o)
		})
	},
}

// confirmDown asks a person before reverting, and returns the versions they
// confirmed (none when there is nothing to revert); without a person it
// refuses. What Down would refuse is refused before asking.
func (a *app) confirmDown(ctx context.Context, r *runway.Runner, o runway.DownOptions) ([]migration.Version, error) {
	if !a.stdinTerminal {
		return nil, usagef("refusing to run down without --yes: not on a terminal, so nobody can confirm. Run `runway down --yes` (with --steps, --to or --all) to revert")
	}
	targets, err := r.DownPlan(ctx, o)
	if err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		// Nothing shown, nothing asked: down reverts nothing either, even if
		// another runner applies something before it takes the lock.
		return []migration.Version{}, nil
	}
	shown := make([]migration.Version, len(targets))
	fmt.Fprintf(a.stderr, "This reverts %d migration(s) on %s:\n", len(targets), redactedDB(a.g.database))
	for i, t := range targets {
		if t.Note != "" {
			fmt.Fprintf(a.stderr, "  %s_%s (%s)\n", t.Version, t.Name, t.Note)
		} else {
			fmt.Fprintf(a.stderr, "  %s_%s\n", t.Version, t.Name)
		}
		if shown[i], err = migration.ParseVersion(t.Version); err != nil {
			return nil, err
		}
	}
	fmt.Fprint(a.stderr, "Type 'yes' to continue: ")
	line, _ := bufio.NewReader(a.stdin).ReadString('\n')
	if strings.TrimSpace(strings.ToLower(line)) != "yes" {
		return nil, usagef("down cancelled: nothing was reverted")
	}
	return shown, nil
}

type validateFlags struct {
	requireDown bool
	dialect     string
}

var cmdValidate = &command{
	name:    "validate",
	summary: "check the files alone and, with a database, applied checksums and order",
	detail: "Without --database (or RUNWAY_DATABASE / DATABASE_URL) only the files are checked: names,\n" +
		"duplicates, directives, SQL splitting for --dialect. With a database, the history is checked\n" +
		"too: edited, missing and out-of-order migrations exit 5; a database ahead of the source (applied\n" +
		"versions newer than every file, an older release deployed) is a warning, as it is for up.",
	example: "runway validate --dir ./migrations --dialect mysql\n  runway -d postgres://app@db/app validate --require-down",
	flags: func(fs *flag.FlagSet) any {
		f := &validateFlags{}
		fs.BoolVar(&f.requireDown, "require-down", false, "fail when a migration has no down script")
		fs.StringVar(&f.dialect, "dialect", "postgres", "SQL `dialect` for checking files without a database: postgres, mysql, sqlite")
		return f
	},
	run: func(ctx context.Context, a *app, f any, args []string) error {
		if err := noArgs("validate", args); err != nil {
			return err
		}
		vf := f.(*validateFlags)
		switch migration.Dialect(vf.dialect) {
		case migration.Postgres, migration.MySQL, migration.SQLite:
		default:
			return usagef("--dialect %q: use postgres, mysql or sqlite", vf.dialect)
		}
		var opts []runway.Option
		if vf.requireDown {
			opts = append(opts, runway.WithRequireDown())
		}
		if !a.databaseGiven() {
			return a.validateFiles(ctx, vf)
		}
		if a.g.set["dialect"] {
			fmt.Fprintf(a.stderr, "warning: --dialect %s is for checking files without a database; with -d the database's own dialect is used\n", vf.dialect)
		}
		return a.withRunner(ctx, opts, func(r *runway.Runner) (*report.Report, error) {
			return r.Validate(ctx)
		})
	},
}

func (a *app) validateFiles(ctx context.Context, vf *validateFlags) error {
	d := migration.Dialect(vf.dialect)
	started := time.Now()
	rep := &report.Report{Command: "validate", StartedAt: started.UTC().Truncate(time.Millisecond), Runner: runnerInfo(), Source: a.g.dir}
	// Rendered and sent as a run with a database is: --json prints its
	// report, --notify-on failure (or always) is told.
	done := func(err error) error {
		rep.DurationMS = time.Since(started).Milliseconds()
		return a.notifyAndRender(ctx, rep, err)
	}
	src, err := a.source(ctx)
	if err != nil {
		return a.reportEarlyFailure(ctx, started, err)
	}
	defer src.Close()
	ms, err := runway.LoadSource(src.FS())
	if err != nil {
		rep.Status = report.StatusFailed
		rep.Error = &report.Error{Message: err.Error()}
		return done(err)
	}
	for _, m := range ms {
		rep.Migrations = append(rep.Migrations, report.Migration{Version: m.Version.String(), Name: m.Name, File: m.Up.File, State: "ok"})
	}
	if problems := runway.ValidateFiles(ms, d, vf.requireDown); len(problems) > 0 {
		err = &runway.ValidationError{Problems: problems, Hint: "Fix the files listed above."}
		rep.Status = report.StatusFailed
		rep.Error = &report.Error{Message: err.Error(), File: problems[0].File}
		return done(err)
	}
	rep.Status = report.StatusOK
	return done(nil)
}

var cmdBaseline = &command{
	name:    "baseline",
	args:    "VERSION",
	summary: "record every migration up to VERSION as applied without running it",
	detail:  "For a database that already has the schema those migrations create (adopting Runway on an existing system).",
	example: "runway -d postgres://app@db/app baseline 20240101000000",
	flags:   noFlags,
	run: func(ctx context.Context, a *app, _ any, args []string) error {
		if len(args) != 1 {
			return usagef("baseline takes one VERSION: runway baseline 20240101000000")
		}
		v, err := migration.ParseVersion(args[0])
		if err != nil {
			return usagef("baseline: %v", err)
		}
		return a.withRunner(ctx, nil, func(r *runway.Runner) (*report.Report, error) {
			return r.Baseline(ctx, v)
		})
	},
}

type repairFlags struct{ acceptChecksums bool }

var cmdRepair = &command{
	name:    "repair",
	summary: "clear failed/running/reverting rows after fixing the database by hand; --accept-checksums re-records edited files",
	detail: "After a migration failed part-way where it could not roll back (MySQL DDL, no-transaction\n" +
		"migrations), either fix the failing statement in the file and run `up` again (it resumes there),\n" +
		"or undo what the migration did by hand and run `repair`: the next `up` runs it from the start.\n" +
		"After a down that failed part-way (row reverting), fix it and run `down` again, or finish the\n" +
		"revert by hand and run `repair`: the migration then counts as reverted.",
	example: "runway -d mysql://app@db/app repair\n  runway repair --accept-checksums   # after a whitespace-only edit of applied files",
	flags: func(fs *flag.FlagSet) any {
		f := &repairFlags{}
		fs.BoolVar(&f.acceptChecksums, "accept-checksums", false, "record the current checksum of edited applied migrations")
		return f
	},
	run: func(ctx context.Context, a *app, f any, args []string) error {
		if err := noArgs("repair", args); err != nil {
			return err
		}
		return a.withRunner(ctx, nil, func(r *runway.Runner) (*report.Report, error) {
			return r.Repair(ctx, runway.RepairOptions{AcceptChecksums: f.(*repairFlags).acceptChecksums})
		})
	},
}

type waitFlags struct {
	timeout time.Duration
	poll    time.Duration
}

var cmdWait = &command{
	name:    "wait",
	summary: "block until every migration in the source is applied (exit 3 on timeout)",
	detail: "For init containers and application start-up: polls the history table (without taking the lock)\n" +
		"until every migration in --dir is applied. Retries while the database is not reachable yet, saying\n" +
		"why at once and every --progress-interval; a refused user or password, or an SSH bastion that refuses\n" +
		"the key or shows another host key, ends the wait at once (exit 6); a signal ends it with exit 1\n" +
		"(one in its first 100 ms, before it catches signals, ends it as the signal does: 128+N).\n" +
		"An edited applied migration, or a half-reverted one, fails it at once (exit 5): up will not run past it.",
	example: "runway -d postgres://app@db/app --dir /app/migrations wait --timeout 5m",
	flags: func(fs *flag.FlagSet) any {
		f := &waitFlags{}
		fs.DurationVar(&f.timeout, "timeout", 10*time.Minute, "give up after this long (exit 3)")
		fs.DurationVar(&f.poll, "poll", time.Second, "how often to look")
		return f
	},
	run: func(ctx context.Context, a *app, f any, args []string) error {
		if err := noArgs("wait", args); err != nil {
			return err
		}
		wf := f.(*waitFlags)
		if err := wf.check(); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeoutCause(ctx, wf.timeout, fmt.Errorf("--timeout %s reached", wf.timeout))
		defer cancel()
		return a.waitCommand(ctx, wf)
	},
}

// check refuses values of --timeout and --poll that cannot mean a wait.
func (f *waitFlags) check() error {
	if f.timeout <= 0 {
		return usagef("--timeout %s: must be positive (to look once without waiting, use `runway status --check`)", f.timeout)
	}
	if f.poll <= 0 {
		return usagef("--poll %s: must be positive", f.poll)
	}
	return nil
}

type execFlags struct {
	waitFlags
	migrate bool
}

var cmdExec = &command{
	name:    "exec",
	args:    "-- COMMAND [ARGS…]",
	summary: "wait for (or, with --migrate, apply) the migrations, then replace this process with COMMAND",
	detail: "The start-up step of a container: without --migrate it waits like `runway wait` until every\n" +
		"migration in --dir is applied (another replica or a release job applies them), exit 3 on timeout;\n" +
		"with --migrate it runs `up` under the lock first (any number of replicas may do this at once).\n" +
		"Then it execs COMMAND with the same environment, so COMMAND gets the process id and signals.\n" +
		"Runway's own report goes to stderr (with --json too): stdout is COMMAND's.\n" +
		"With --all-targets every target is waited for (or migrated) first, and COMMAND starts once,\n" +
		"when all of them are ready; if one is not, COMMAND does not start (that target's exit code).",
	example: "ENTRYPOINT [\"runway\", \"--dir\", \"/app/migrations\", \"exec\", \"--migrate\", \"--\", \"/app/server\"]\n  runway exec --timeout 2m -- ./server --port 8080",
	flags: func(fs *flag.FlagSet) any {
		f := &execFlags{}
		fs.DurationVar(&f.timeout, "timeout", 10*time.Minute, "how long to wait for the migrations (exit 3)")
		fs.DurationVar(&f.poll, "poll", time.Second, "how often to look")
		fs.BoolVar(&f.migrate, "migrate", false, "apply pending migrations under the lock first, instead of waiting for them")
		return f
	},
	run: func(ctx context.Context, a *app, f any, args []string) error {
		ef := f.(*execFlags)
		if len(args) == 0 {
			return usagef("exec needs a command: runway exec -- ./server")
		}
		path, err := exec.LookPath(args[0])
		if err != nil {
			return usagef("exec: %v", err)
		}
		if !ef.migrate {
			if err := ef.check(); err != nil {
				return err
			}
		}
		// Stdout is COMMAND's (a log stream, a protocol): Runway's own
		// report goes to stderr here.
		stdout := a.stdout
		if !a.deferExec { // else the caller's stdout is Runway's (--all-targets)
			a.stdout = a.stderr
		}
		defer func() { a.stdout = stdout }()
		if ef.migrate {
			err = a.withRunner(ctx, nil, func(r *runway.Runner) (*report.Report, error) {
				return r.Up(ctx, runway.UpOptions{})
			})
		} else {
			wctx, cancel := context.WithTimeoutCause(ctx, ef.timeout, fmt.Errorf("--timeout %s reached", ef.timeout))
			err = a.waitCommand(wctx, &ef.waitFlags)
			cancel()
		}
		if err != nil {
			return err
		}
		for _, c := range a.closers {
			c()
		}
		a.closers = nil
		if a.deferExec {
			a.execPath, a.execArgs = path, args
			return nil
		}
		fmt.Fprintf(a.stderr, "runway: schema ready; starting %s\n", args[0])
		if err := syscall.Exec(path, args, os.Environ()); err != nil {
			return fmt.Errorf("exec %s: %w", path, err)
		}
		return nil // not reached
	},
}

var cmdVersion = &command{
	name:    "version",
	summary: "print Runway's version",
	example: "runway version",
	flags:   noFlags,
	run: func(ctx context.Context, a *app, _ any, args []string) error {
		if a.g.json {
			fmt.Fprintf(a.stdout, "{\"runway_version\":%q,\"go\":%q,\"platform\":\"%s/%s\"}\n", runway.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		}
		fmt.Fprintf(a.stdout, "runway %s (%s %s/%s)\n", runway.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	},
}

var cmdNew = &command{
	name:    "new",
	args:    "NAME",
	summary: "create VERSION_NAME.up.sql and VERSION_NAME.down.sql in --dir",
	detail: "VERSION is the UTC time as YYYYMMDDHHMMSS, or the next integer when the folder numbers its\n" +
		"migrations sequentially (0001, 0002, …), keeping their zero padding.",
	example: "runway new create_users\n  runway --dir db/migrations new \"add email index\"",
	flags:   noFlags,
	run: func(ctx context.Context, a *app, _ any, args []string) error {
		if len(args) == 0 {
			return usagef("new takes a NAME: runway new create_users")
		}
		if joined := strings.Join(args, " "); strings.Contains(joined, "://") || strings.Contains(joined, "@") {
			// A database URL where the name belongs: its password would
			// become part of a file name.
			return usagef("new: the name looks like a URL or an address, not a migration's name: give one such as create_users (the database is given with -d)")
		}
		name := slug(strings.Join(args, "_"))
		if name == "" {
			return usagef("new: %q has no ASCII letters or digits to name a file with (file names keep a-z, 0-9 and _): use a name in those", strings.Join(args, " "))
		}
		if err := os.MkdirAll(a.g.dir, 0o755); err != nil {
			return usagef("new: create folder %s: %v", a.g.dir, err)
		}
		ms, err := migration.Load(os.DirFS(a.g.dir))
		if err != nil {
			return fmt.Errorf("%w: %w", runway.ErrSource, err)
		}
		v := migration.NextVersion(ms, time.Now())
		var created []string
		for _, dir := range []string{"up", "down"} {
			p := filepath.Join(a.g.dir, fmt.Sprintf("%s_%s.%s.sql", v, name, dir))
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				return usagef("new: %v", err)
			}
			fmt.Fprintf(f, "-- %s: %s (%s)\n", v, strings.ReplaceAll(name, "_", " "), dir)
			if err := f.Close(); err != nil {
				return fmt.Errorf("new: write %s: %w", p, err)
			}
			created = append(created, p)
		}
		if a.g.json {
			fmt.Fprintf(a.stdout, "{\"command\":\"new\",\"status\":\"ok\",\"version\":%q,\"files\":[%q,%q]}\n", v, created[0], created[1])
			return nil
		}
		for _, p := range created {
			fmt.Fprintf(a.stdout, "created %s\n", p)
		}
		return nil
	},
}

// nonSlug is compiled on first use (by new), not at every start.
var nonSlug = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^a-z0-9]+`) })

func slug(s string) string {
	return strings.Trim(nonSlug().ReplaceAllString(strings.ToLower(s), "_"), "_")
}

func runnerInfo() report.Runner {
	host, _ := os.Hostname()
	return report.Runner{Host: host, PID: os.Getpid(), RunwayVersion: runway.Version}
}
