package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/runwaydb/runway"
	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/database/mysql"
	"github.com/runwaydb/runway/database/postgres"
	"github.com/runwaydb/runway/database/sqlite"
	"github.com/runwaydb/runway/notify"
	"github.com/runwaydb/runway/source"
	"github.com/runwaydb/runway/tunnel"
)

const defaultDatabase = "sqlite:runway.db"

// app is one invocation of the CLI.
type app struct {
	cfgFile *configFile // runway.yaml, when there is one

	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	secrets        *secrets
	// stdinTerminal and stderrTerminal say whether a person is there.
	stdinTerminal, stderrTerminal bool
	// closers run when the command ends (tunnels).
	closers []func()
	// exitsAfterRun: the process exits (or execs) when run returns, so the
	// database sessions end with CloseAtExit (main sets it; tests that call
	// run in-process do not).
	exitsAfterRun bool
	// armSignals, when not nil, makes SIGINT and SIGTERM cancel the run's
	// context from then on (main's signals); it is called when the
	// migration lock is taken, before anything is changed.
	armSignals func()
	// command is the command being run, for the report of a run that fails
	// before the engine makes one.
	command string
	// rendered: the run's report was printed; with --json, a failure
	// before that prints one of its own, so stdout always holds one.
	rendered bool
	// deferExec: exec stops short of replacing the process and leaves
	// COMMAND in execPath/execArgs (--all-targets execs once every target
	// is ready).
	deferExec bool
	execPath  string
	execArgs  []string

	g globals
}

// globals are the flags every command takes.
type globals struct {
	database         string
	dir              string
	table            string
	json             bool
	lockTimeout      time.Duration
	verbose          bool
	progressInterval time.Duration
	lockMode         string
	lockKeepalive    time.Duration
	lockLease        time.Duration
	sshBastion       string
	sshKey           string
	sshKnownHosts    string
	sshInsecure      bool
	env              string
	notify           []string
	notifyOn         string
	notifyRequired   bool
	config           string
	target           string
	allTargets       bool
	parallel         int
	set              map[string]bool // flags given on the command line or by the environment
}

func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.database, "database", "", "database `URL`: postgres://…, mysql://…, sqlite:PATH (env RUNWAY_DATABASE, then DATABASE_URL; default "+defaultDatabase+")")
	fs.StringVar(&g.database, "d", "", "shorthand for --database")
	fs.StringVar(&g.dir, "dir", "./migrations", "`folder` holding the migration files")
	fs.StringVar(&g.table, "table", database.DefaultTable, "history table `name`")
	fs.BoolVar(&g.json, "json", false, "print the run report as one JSON object on stdout; human text goes to stderr")
	fs.DurationVar(&g.lockTimeout, "lock-timeout", 10*time.Minute, "how long to wait for the migration lock")
	fs.BoolVar(&g.verbose, "verbose", false, "debug logs on stderr (secrets redacted)")
	fs.BoolVar(&g.verbose, "v", false, "shorthand for --verbose")
	fs.DurationVar(&g.progressInterval, "progress-interval", 30*time.Second, "how often a long statement reports that it is still running, off a terminal (0: never)")
	fs.StringVar(&g.lockMode, "lock-mode", "session", "`mode` of the migration lock: session (advisory lock / GET_LOCK / file lock) or table (a lease row, for PostgreSQL behind PgBouncer)")
	fs.DurationVar(&g.lockKeepalive, "lock-keepalive", 10*time.Second, "how often to confirm from a second connection that the lock is still held; the run stops when it is lost or unconfirmed for 3 intervals (0: off)")
	fs.DurationVar(&g.lockLease, "lock-lease", database.DefaultLeaseTTL, "lifetime of the lease in --lock-mode table, renewed while the run is alive")
	fs.StringVar(&g.config, "config", "", "configuration `file` (default ./runway.yaml when present): flag defaults, environments.NAME, targets.NAME, ${VAR} from the environment")
	fs.StringVar(&g.env, "env", "", "environment `name` (stg, prod …): picks environments.NAME from the configuration file and labels reports and notifications")
	fs.StringVar(&g.target, "target", "", "one `name`d database of the configuration's targets")
	fs.BoolVar(&g.allTargets, "all-targets", false, "run the command on every target of the environment, one after another (see --parallel), with one combined report")
	fs.IntVar(&g.parallel, "parallel", 1, "with --all-targets, how many `N` targets run at once (1 or more)")
	fs.Func("notify", "post the run report to this `URL`: a Slack incoming webhook or any https webhook; repeatable (RUNWAY_NOTIFY: comma-separated)", func(v string) error {
		// One URL a flag: a comma is a URL's own (?tags=a,b); only
		// RUNWAY_NOTIFY lists several (applyEnv splits it).
		if v = strings.TrimSpace(v); v != "" {
			g.notify = append(g.notify, v)
		}
		return nil
	})
	fs.StringVar(&g.notifyOn, "notify-on", "change", "when to notify: `failure`, change (applied, reverted or failed; not a no-op) or always")
	fs.BoolVar(&g.notifyRequired, "notify-required", false, "exit 1 when a notification cannot be delivered (by default it is a warning)")
	fs.StringVar(&g.sshBastion, "ssh-bastion", "", "reach PostgreSQL or MySQL through this SSH bastion: `user@host[:port]`")
	fs.StringVar(&g.sshKey, "ssh-key", "", "private key `file` for the bastion (or the PEM itself in RUNWAY_SSH_KEY; passphrase in RUNWAY_SSH_KEY_PASSPHRASE)")
	fs.StringVar(&g.sshKnownHosts, "ssh-known-hosts", "", "known_hosts `file` holding the bastion's host key (required unless --ssh-insecure-host-key)")
	fs.BoolVar(&g.sshInsecure, "ssh-insecure-host-key", false, "accept any bastion host key (testing only: a man in the middle would see your database traffic)")
}

// usageError is a bad command line: exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	return newApp(stdin, stdout, stderr, getenv, isTerminal(stdin), isTerminal(stderr)).run(ctx, args)
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newApp(stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string, stdinTerminal, stderrTerminal bool) *app {
	s := &secrets{}
	// Secrets from the environment are known before anything can fail.
	s.addURL(getenv("RUNWAY_DATABASE"))
	s.addURL(getenv("DATABASE_URL"))
	s.addKey(getenv("RUNWAY_SSH_KEY"))
	s.add(getenv("RUNWAY_SSH_KEY_PASSPHRASE"))
	return &app{
		stdin:          stdin,
		stdout:         s.writer(stdout),
		stderr:         s.writer(stderr),
		getenv:         getenv,
		secrets:        s,
		stdinTerminal:  stdinTerminal,
		stderrTerminal: stderrTerminal,
	}
}

// run runs one command line and returns the exit code; a panic becomes exit 1
// with a message that carries no secret.
func (a *app) run(ctx context.Context, args []string) (code int) {
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(a.stderr, "runway: internal error: %v\nThis is a bug in Runway; please report it with the command you ran.\n", p)
			code = exitFailed
		}
	}()
	return a.main(ctx, args)
}

func (a *app) main(ctx context.Context, args []string) int {
	a.secrets.addArgs(args)
	top := flag.NewFlagSet("runway", flag.ContinueOnError)
	top.SetOutput(io.Discard)
	a.g.register(top)
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.usage(a.stdout)
			return exitOK
		}
		fmt.Fprintf(a.stderr, "runway: %v\nRun `runway --help` for usage.\n", explainFlagError(top, err))
		return a.failedEarly(explainFlagError(top, err))
	}
	a.g.set = map[string]bool{}
	top.Visit(func(f *flag.Flag) { a.g.set[f.Name] = true })
	rest := top.Args()
	if len(rest) == 0 {
		a.usage(a.stderr)
		return exitUsage
	}
	name, rest := rest[0], rest[1:]
	if name == "help" {
		if len(rest) > 0 {
			c, ok := commands[rest[0]]
			if !ok {
				fmt.Fprintf(a.stderr, "runway: help %s: no such command\n", rest[0])
				a.usage(a.stderr)
				return exitUsage
			}
			a.commandUsage(a.stdout, c, nil)
			return exitOK
		}
		a.usage(a.stdout)
		return exitOK
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(a.stderr, "runway: unknown command %q\nRun `runway --help` for the list of commands.\n", name)
		return a.failedEarly(fmt.Errorf("unknown command %q", name))
	}
	a.command = name
	// Values given before the command stay unless given again after it.
	// Registering on a new set resets the shared fields, so copy them first.
	before := map[string]string{}
	top.Visit(func(f *flag.Flag) { before[f.Name] = f.Value.String() })
	fs := flag.NewFlagSet("runway "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.g.register(fs)
	for k, v := range before {
		fs.Set(k, v)
	}
	cmdFlags := c.flags(fs)
	positional, err := parseInterspersed(fs, rest)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.commandUsage(a.stdout, c, fs)
			return exitOK
		}
		fmt.Fprintf(a.stderr, "runway %s: %v\nRun `runway %s --help` for usage.\n", name, explainFlagError(fs, err), name)
		return a.failedEarly(explainFlagError(fs, err))
	}
	fs.Visit(func(f *flag.Flag) { a.g.set[f.Name] = true })
	for short, long := range map[string]string{"d": "database", "v": "verbose"} {
		if a.g.set[short] {
			a.g.set[long] = true
		}
	}
	onCommandLine := maps.Clone(a.g.set)
	if err := a.applyEnv(fs); err != nil {
		fmt.Fprintf(a.stderr, "runway %s: %v\n", name, err)
		return a.failedEarly(err)
	}
	started := time.Now()
	if err := a.applyConfig(fs); err != nil {
		// Refused after the command line parsed: like a run that cannot
		// reach its database, it is reported, and notified to the targets
		// known so far (the command line's, the environment's, and any
		// the file set before its error), so that a deploy whose secret
		// variable is missing is heard of (docs/errors.md).
		a.addSecrets()
		return a.exit(a.reportEarlyFailure(ctx, started, err))
	}
	if a.g.parallel < 1 {
		return a.exit(usagef("--parallel %d: must be 1 or more (how many targets run at once)", a.g.parallel))
	}
	if a.g.allTargets {
		switch {
		case a.g.target == "" || onCommandLine["all-targets"] && !onCommandLine["target"]:
			return a.allTargets(ctx, args)
		case onCommandLine["all-targets"] && onCommandLine["target"]:
			fmt.Fprintf(a.stderr, "runway: --target %s and --all-targets: choose one\n", a.g.target)
			return a.failedEarly(fmt.Errorf("--target %s and --all-targets: choose one", a.g.target))
		}
		// --target on the command line names the one database of this run,
		// over an all_targets default from the environment or the file.
	}
	a.addSecrets()
	// Bad notification settings are refused before anything runs.
	if _, err := notify.ParseWhen(a.g.notifyOn); err != nil {
		return a.exit(usagef("--notify-on: %v", err))
	}
	for _, t := range a.g.notify {
		if _, err := notify.Parse(t); err != nil {
			return a.exit(usagef("--notify %s: %v", notify.Redact(t), err))
		}
	}
	err = c.run(ctx, a, cmdFlags, positional)
	for _, c := range a.closers {
		c()
	}
	return a.exit(err)
}

// addSecrets has the scrubber hide the secrets of the settings: the
// database URL's password, the source's credentials, the webhooks' tokens.
func (a *app) addSecrets() {
	a.secrets.keep(a.g.table)
	a.secrets.addURL(a.g.database)
	a.secrets.addSource(a.g.dir)
	for _, t := range a.g.notify {
		a.secrets.addWebhook(t)
	}
}

// parseInterspersed parses flags anywhere among the arguments, as people type them.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		// flag consumes a "--" that ends the flags: everything after it is
		// positional (exec -- ./server --port 8080).
		if n := len(args) - len(fs.Args()); n > 0 && args[n-1] == "--" {
			return append(positional, fs.Args()...), nil
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// setValue sets flag f from the environment or the configuration file: a
// boolean also reads yes/no and on/off, and a refused value says what form
// is wanted (the flag package only says "parse error").
func setValue(fs *flag.FlagSet, f *flag.Flag, v string) error {
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "yes", "on":
			v = "true"
		case "no", "off":
			v = "false"
		}
		if err := fs.Set(f.Name, v); err != nil {
			return fmt.Errorf("want true or false (or 1/0, yes/no, on/off)")
		}
		return nil
	}
	if err := fs.Set(f.Name, v); err != nil {
		if g, ok := f.Value.(flag.Getter); ok && isDuration(g.Get()) {
			return fmt.Errorf("want a duration with its unit, such as 90s, 5m or 1h30m")
		}
		return err
	}
	return nil
}

func isDuration(v any) bool { _, ok := v.(time.Duration); return ok }

// explainFlagError adds the form a duration wants to the flag package's
// "invalid value … parse error".
func explainFlagError(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		// Flags are written with two dashes here; name the one meant.
		msg = "unknown flag --" + name
		if near := nearestFlag(fs, name); near != "" {
			msg += " (did you mean --" + near + "?)"
		}
		return errors.New(msg)
	}
	_, rest, ok := strings.Cut(msg, " for flag -")
	if !ok || !strings.HasSuffix(msg, "parse error") {
		return err
	}
	name, _, _ := strings.Cut(rest, ":")
	if f := fs.Lookup(name); f != nil {
		if g, ok := f.Value.(flag.Getter); ok && isDuration(g.Get()) {
			return fmt.Errorf("%s: want a duration with its unit, such as 90s, 5m or 1h30m", strings.TrimSuffix(msg, ": parse error"))
		}
	}
	return err
}

// applyEnv fills every flag not given on the command line from RUNWAY_<FLAG>.
func (a *app) applyEnv(fs *flag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		// RUNWAY_SSH_KEY holds the key itself (ECS and CI secrets), not a file name.
		if err != nil || a.g.set[f.Name] || len(f.Name) == 1 || f.Name == "ssh-key" {
			return
		}
		key := "RUNWAY_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v := a.getenv(key)
		if v == "" {
			return
		}
		values := []string{v}
		if f.Name == "notify" {
			values = strings.Split(v, ",") // several webhooks in one variable
		}
		for _, v := range values {
			if e := setValue(fs, f, v); e != nil {
				err = usagef("environment %s=%q: %v", key, v, e)
				return
			}
		}
		a.g.set[f.Name] = true
	})
	return err
}

// databaseURL resolves the database: flag, RUNWAY_DATABASE, DATABASE_URL,
// then the embedded default, announced in one line.
func (a *app) databaseURL() string {
	if a.g.database != "" {
		return a.g.database
	}
	if v := a.getenv("DATABASE_URL"); v != "" {
		a.g.database = v
		return v
	}
	a.g.database = defaultDatabase
	fmt.Fprintf(a.stderr, "runway: no --database given; using the embedded default %s\n", defaultDatabase)
	return defaultDatabase
}

// databaseGiven reports whether the user named a database at all.
func (a *app) databaseGiven() bool {
	return a.g.database != "" || a.getenv("DATABASE_URL") != ""
}

// open connects to the database named by rawURL; the scheme picks the driver.
func (a *app) open(ctx context.Context, rawURL string) (database.Driver, error) {
	cfg := database.Config{Table: a.g.table, Identity: identity(), LeaseTTL: a.g.lockLease}
	if err := database.CheckTable(a.g.table); err != nil {
		return nil, usagef("--table: %v", err)
	}
	switch a.g.lockMode {
	case "session", "":
	case "table":
		cfg.LockMode = database.LockModeTable
	default:
		return nil, usagef("--lock-mode %q: use session or table", a.g.lockMode)
	}
	if a.g.lockTimeout < 0 {
		return nil, usagef("--lock-timeout %s: must not be negative (0: try the lock once)", a.g.lockTimeout)
	}
	if a.g.lockKeepalive < 0 {
		return nil, usagef("--lock-keepalive %s: must not be negative (0: off)", a.g.lockKeepalive)
	}
	if a.g.lockLease <= 0 {
		return nil, usagef("--lock-lease %s: must be positive", a.g.lockLease)
	}
	if a.g.progressInterval < 0 {
		return nil, usagef("--progress-interval %s: must be positive, or 0 to turn the still-running lines off", a.g.progressInterval)
	}
	scheme, _, ok := strings.Cut(rawURL, ":")
	if !ok || scheme == "" {
		return nil, usagef("database URL %q has no scheme: use postgres://USER@HOST/DB, mysql://USER@HOST/DB or sqlite:PATH", database.Redact(rawURL))
	}
	if a.g.sshBastion != "" {
		switch strings.ToLower(scheme) {
		case "postgres", "postgresql", "mysql", "mariadb":
		default:
			return nil, usagef("--ssh-bastion works with PostgreSQL and MySQL URLs, not %s:", scheme)
		}
		tun, err := a.tunnel(ctx)
		if err != nil {
			return nil, err
		}
		cfg.Dial = tun.DialContext
	}
	var (
		drv database.Driver
		err error
	)
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		if err := checkURL(rawURL); err != nil {
			return nil, err
		}
		if err := checkPostgresURL(rawURL); err != nil {
			return nil, err
		}
		drv, err = postgres.Open(ctx, rawURL, cfg)
	case "mysql", "mariadb":
		if err := checkURL(rawURL); err != nil {
			return nil, err
		}
		drv, err = mysql.Open(ctx, rawURL, cfg)
	case "sqlite", "sqlite3", "file":
		if path, missing := missingSQLite(rawURL); missing && readOnlyCommands[a.command] {
			// Opening would create the file: a command that changes
			// nothing reads an empty database instead, and says so (a
			// mistyped path shows here).
			fmt.Fprintf(a.stderr, "warning: there is no SQLite database at %s yet (up creates it): %s reads it as empty\n", path, a.command)
			rawURL = "sqlite::memory:"
		}
		drv, err = sqlite.Open(ctx, rawURL, cfg)
	default:
		return nil, usagef("unknown database URL scheme %q: use postgres://, mysql:// or sqlite:PATH", scheme)
	}
	if err != nil {
		if errors.Is(err, database.ErrConnect) {
			return nil, err
		}
		return nil, usageError{err.Error()}
	}
	return drv, nil
}

// missingSQLite reports whether rawURL names a SQLite file that does not
// exist (which opening it would create), and the file.
func missingSQLite(rawURL string) (string, bool) {
	scheme, _, _ := strings.Cut(rawURL, ":")
	switch strings.ToLower(scheme) {
	case "sqlite", "sqlite3", "file":
	default:
		return "", false
	}
	path, err := sqlite.FilePath(rawURL)
	if err != nil || path == "" {
		return "", false
	}
	_, err = os.Stat(path)
	return path, os.IsNotExist(err)
}

// readOnlyCommands change nothing in an empty database: they do not create
// a missing SQLite file (down, repair and adopt find nothing to do there,
// and a mistyped path would otherwise leave an empty file behind).
var readOnlyCommands = map[string]bool{"status": true, "plan": true, "validate": true, "down": true, "repair": true, "adopt": true}

// tunnel opens the SSH tunnel through --ssh-bastion; it is closed when the
// command ends.
func (a *app) tunnel(ctx context.Context) (*tunnel.Tunnel, error) {
	cfg := tunnel.Config{
		Bastion:         a.g.sshBastion,
		KeyFile:         a.g.sshKey,
		KnownHostsFile:  a.g.sshKnownHosts,
		InsecureHostKey: a.g.sshInsecure,
		Passphrase:      []byte(a.getenv("RUNWAY_SSH_KEY_PASSPHRASE")),
	}
	if cfg.KeyFile == "" {
		cfg.Key = []byte(a.getenv("RUNWAY_SSH_KEY"))
	}
	tun, err := tunnel.Dial(ctx, cfg)
	if err != nil {
		if errors.Is(err, database.ErrConnect) {
			return nil, err
		}
		return nil, usageError{err.Error()}
	}
	a.closers = append(a.closers, func() { tun.Close() })
	return tun, nil
}

// isSQLite reports whether the URL names a SQLite database (a local file).
func isSQLite(url string) bool {
	scheme, _, _ := strings.Cut(url, ":")
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql", "mysql", "mariadb":
		return false
	}
	return true // sqlite, and anything open() will refuse anyway
}

// checkURL refuses a URL that does not parse. net/url's own message quotes
// the offending part, which can be a piece of the password, so it is not shown.
func checkURL(rawURL string) error {
	if _, err := url.Parse(rawURL); err != nil {
		return usagef("database URL %s is malformed: check the host and port, and percent-encode special characters (/ : @ ? #) in the user name and password", database.Redact(rawURL))
	}
	return nil
}

// checkPostgresURL refuses two "@" before the host: Go's URL parser splits
// at the last, the PostgreSQL driver at the first, and would look a piece of
// the password up as the host name. (The MySQL driver reads such a URL as
// Go's parser does.)
func checkPostgresURL(rawURL string) error {
	if _, rest, ok := strings.Cut(rawURL, "://"); ok {
		authority := rest
		if i := strings.IndexAny(rest, "/?#"); i >= 0 {
			authority = rest[:i]
		}
		if strings.Count(authority, "@") > 1 {
			return usagef("database URL %s is malformed: its user name or password holds an unescaped @; percent-encode it as %%40", database.Redact(rawURL))
		}
	}
	return nil
}

func identity() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("runway %s pid=%d", host, os.Getpid())
}

// source opens --dir: a folder, or a .zip / .tar.gz / .tar archive, each
// optionally followed by //sub/folder. Archives are checked whole (no
// entry escaping the root, no links, bounded sizes) before anything is read.
// The caller closes the source when the run ends.
func (a *app) source(ctx context.Context) (*source.Source, error) {
	// The fetcher does no I/O until a source asks for S3: the AWS SDK loads
	// its configuration (credential chain, region, AWS_ENDPOINT_URL_S3)
	// then. It is given for every source, so that the messages about an
	// unreadable one list s3:// as supported where it is.
	var opts []source.Option
	if f, err := s3Fetcher(); err == nil {
		opts = append(opts, source.WithFetcher("s3", f))
	} else if strings.HasPrefix(strings.ToLower(a.g.dir), "s3://") {
		return nil, usagef("--dir %s: %v", a.g.dir, err)
	}
	src, err := source.Open(ctx, a.g.dir, opts...)
	if err != nil {
		var se *source.Error
		if errors.As(err, &se) && errors.Is(err, source.ErrNotFound) && se.Entry == "" && !strings.Contains(a.g.dir, "//") {
			if lower := strings.ToLower(a.g.dir); strings.HasSuffix(lower, ".zip") || strings.HasSuffix(lower, ".tar.gz") ||
				strings.HasSuffix(lower, ".tgz") || strings.HasSuffix(lower, ".tar") {
				return nil, usagef("%s: the archive does not exist: check --dir (the build's artifact may not have been downloaded)", a.g.dir)
			}
			return nil, usagef("migration folder %s does not exist: pass --dir, or create it with `runway new NAME`", a.g.dir)
		}
		if errors.As(err, &se) {
			return nil, usageError{err.Error()}
		}
		return nil, err
	}
	return src, nil
}

// exitCloser is a driver that can end its session for a process about to
// exit (the PostgreSQL and MySQL drivers).
type exitCloser interface {
	CloseAtExit(ctx context.Context) error
}

// closeDriver ends drv's session, with CloseAtExit when the process exits
// next. Errors are not reported: the command's outcome is already decided,
// and the session ends with the process in any case.
func (a *app) closeDriver(ctx context.Context, drv database.Driver) {
	ctx = context.WithoutCancel(ctx)
	if ec, ok := drv.(exitCloser); ok && a.exitsAfterRun {
		ec.CloseAtExit(ctx)
		return
	}
	drv.Close(ctx)
}

// runner opens the database and builds the engine for a command.
func (a *app) runner(ctx context.Context, opts ...runway.Option) (*runway.Runner, database.Driver, error) {
	src, err := a.source(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer src.Close() // the migrations are read into memory below
	fsys := src.FS()
	// A server is connected to while the files are read (every deploy pays
	// this start-up); nothing is written until the source is checked, and a
	// SQLite file is not even created before that.
	url := a.databaseURL()
	type opened struct {
		drv database.Driver
		err error
	}
	early := make(chan opened, 1)
	network := !isSQLite(url)
	if network {
		go func() {
			drv, err := a.open(ctx, url)
			early <- opened{drv, err}
		}()
	}
	ms, err := runway.LoadSource(fsys)
	if err != nil {
		if network {
			if o := <-early; o.drv != nil {
				a.closeDriver(ctx, o.drv)
			}
		}
		return nil, nil, err
	}
	var drv database.Driver
	if network {
		o := <-early
		drv, err = o.drv, o.err
	} else {
		drv, err = a.open(ctx, url)
	}
	if err != nil {
		return nil, nil, err
	}
	keepalive := a.g.lockKeepalive // the engine renews a lease every quarter of --lock-lease at least
	base := []runway.Option{
		runway.WithMigrations(ms),
		runway.WithLockTimeout(a.g.lockTimeout),
		runway.WithLockKeepalive(keepalive),
		runway.WithTable(a.g.table),
		runway.WithIdentity(identity()),
		runway.WithObserver(newProgress(a).event),
		runway.WithRedact(a.secrets.scrub),
	}
	if a.g.verbose {
		base = append(base, runway.WithLogger(slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	}
	r, err := runway.New(drv, fsys, append(base, opts...)...)
	if err != nil {
		a.closeDriver(ctx, drv)
		return nil, nil, err
	}
	return r, drv, nil
}

func sortedCommandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// nearestFlag is the flag of fs closest to name, within two edits, or "".
func nearestFlag(fs *flag.FlagSet, name string) string {
	best, bestDist := "", 3
	fs.VisitAll(func(f *flag.Flag) {
		if d := editDistance(name, f.Name); d < bestDist && len(f.Name) > 1 {
			best, bestDist = f.Name, d
		}
	})
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
