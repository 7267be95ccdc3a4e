// Package runway applies versioned SQL migrations safely: each exactly once,
// under a database lock, with integrity checks and errors that name the file,
// statement and line.
//
// An application that embeds its migrations migrates at start-up like this:
//
//	//go:embed migrations/*.sql
//	var migrations embed.FS
//
//	drv, err := postgres.Open(ctx, os.Getenv("DATABASE_URL"), database.Config{})
//	...
//	sub, _ := fs.Sub(migrations, "migrations")
//	rep, err := runway.Up(ctx, drv, sub)
//
// Any number of replicas may do this at once: one applies, the others wait for
// the lock and then find nothing to do.
//
// The engine takes values — a database.Driver, an fs.FS, options — and
// registers nothing globally. It is quiet: progress goes to an optional
// observer function and *slog.Logger; rendering is the caller's business.
package runway

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/migration"
	"github.com/runwaydb/runway/report"
)

// Version is Runway's own version, reported in every run report.
// Release builds set it with -ldflags "-X github.com/runwaydb/runway.Version=v1.2.3".
var Version = "dev"

// Runner applies the migrations of one source to one database.
type Runner struct {
	drv  database.Driver
	fsys fs.FS
	cfg  config
}

type config struct {
	lockTimeout     time.Duration
	lockPoll        time.Duration
	lockQuiet       time.Duration
	singleTx        bool
	allowOutOfOrder bool
	strict          bool
	logger          *slog.Logger
	observe         func(Event)
	identity        string
	table           string
	pollInterval    time.Duration
	now             func() time.Time
	requireDown     bool
	hostname        string
	keepalive       time.Duration
	migrations      []*migration.Migration
	redact          func(string) string
}

// Option configures a Runner. Options validate their arguments and New
// refuses conflicting ones.
type Option func(*config) error

// WithLockTimeout sets how long to wait for the migration lock (default 10m).
func WithLockTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: lock timeout %v: must not be negative", ErrUsage, d)
		}
		c.lockTimeout = d
		return nil
	}
}

// WithSingleTransaction applies all pending migrations in one transaction
// (PostgreSQL and SQLite only): either all apply or none.
func WithSingleTransaction() Option {
	return func(c *config) error { c.singleTx = true; return nil }
}

// WithAllowOutOfOrder lets up apply pending migrations older than the newest applied one.
func WithAllowOutOfOrder() Option {
	return func(c *config) error { c.allowOutOfOrder = true; return nil }
}

// WithLockKeepalive sets how often the engine confirms, from a second
// connection, that it still holds the lock (drivers implementing
// database.LockKeeper); it stops the run when the lock is gone or unconfirmed
// for three intervals. 0 disables the check. Default 10s. With a lease lock
// (database.LockModeTable) the lease is renewed at least every quarter of its
// time to live whatever this says, 0 included.
func WithLockKeepalive(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: lock keepalive %v: must not be negative", ErrUsage, d)
		}
		c.keepalive = d
		return nil
	}
}

// WithMigrations gives the Runner migrations already read with LoadSource
// (or migration.Load) instead of reading fsys again: a caller that checks the
// source before connecting to the database does not parse it twice.
func WithMigrations(ms []*migration.Migration) Option {
	return func(c *config) error {
		if len(ms) == 0 {
			return ErrNoMigrations
		}
		c.migrations = ms
		return nil
	}
}

// WithStrict makes up fail (ErrValidation) when the database has applied
// migrations the source does not have, instead of warning.
func WithStrict() Option {
	return func(c *config) error { c.strict = true; return nil }
}

// WithRequireDown makes validation fail for migrations without a down script.
func WithRequireDown() Option {
	return func(c *config) error { c.requireDown = true; return nil }
}

// WithLogger sends progress records to l: warnings (and a wait for the lock)
// at Warn, failures at Error, the rest at Debug.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: WithLogger: nil logger", ErrUsage)
		}
		c.logger = l
		return nil
	}
}

// WithObserver calls fn with each progress event, from the goroutine running the command.
func WithObserver(fn func(Event)) Option {
	return func(c *config) error {
		if fn == nil {
			return fmt.Errorf("%w: WithObserver: nil function", ErrUsage)
		}
		c.observe = fn
		return nil
	}
}

// WithIdentity names this runner in the history table's applied_by column
// (default "host pid=N").
func WithIdentity(id string) Option {
	return func(c *config) error { c.identity = id; return nil }
}

// historyTabler is a driver that says which history table it was opened
// with (the drivers of this module do).
type historyTabler interface {
	HistoryTable() string
}

// WithTable names the history table for reports. The driver is configured
// with the table through database.Config; with a driver that says its table
// (the drivers of this module), WithTable is not needed, and New refuses
// (ErrUsage) a name different from the driver's.
func WithTable(name string) Option {
	return func(c *config) error { c.table = name; return nil }
}

// WithRedact passes the text Runway writes to the history table (the
// message of a failure, which may quote a value or a name the database
// echoed back) through fn first: the CLI gives the scrubber of the run's
// secrets, so that a password the database quoted does not stay in the
// table for every later status to print.
func WithRedact(fn func(string) string) Option {
	return func(c *config) error {
		if fn == nil {
			return fmt.Errorf("%w: WithRedact: nil function", ErrUsage)
		}
		c.redact = fn
		return nil
	}
}

// historyText is text as the history table may keep it (see WithRedact).
func (r *Runner) historyText(s string) string {
	if r.cfg.redact == nil {
		return s
	}
	return r.cfg.redact(s)
}

// WithPollInterval sets how often Wait reads the history table (default 1s).
func WithPollInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: poll interval %v: must be positive", ErrUsage, d)
		}
		c.pollInterval = d
		return nil
	}
}

// New returns a Runner for the migrations in fsys (its top-level .sql files)
// and the database behind drv. It does no I/O.
func New(drv database.Driver, fsys fs.FS, opts ...Option) (*Runner, error) {
	if drv == nil {
		return nil, fmt.Errorf("%w: runway.New: nil driver", ErrUsage)
	}
	if fsys == nil {
		return nil, fmt.Errorf("%w: runway.New: nil fs.FS", ErrUsage)
	}
	host, _ := os.Hostname()
	cfg := config{
		lockTimeout:  10 * time.Minute,
		lockPoll:     2 * time.Second,
		lockQuiet:    lockQuiet,
		pollInterval: time.Second,
		now:          time.Now,
		logger:       slog.New(slog.DiscardHandler),
		hostname:     host,
		keepalive:    10 * time.Second,
	}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: runway.New: option %d is nil", ErrUsage, i+1)
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	// The history table is named twice, to the driver (database.Config)
	// and to the engine (WithTable, for reports): a driver that says its
	// name gives it when WithTable does not, and two different names are
	// refused, since the reports would name a table the driver does not
	// write (or, the other way round, the history read would be another's).
	if t, ok := drv.(historyTabler); ok {
		switch name := t.HistoryTable(); {
		case cfg.table == "":
			cfg.table = name
		case cfg.table != name:
			return nil, fmt.Errorf("%w: runway.New: WithTable(%q), but the driver was opened with the history table %q (database.Config.Table): name the same table to both, or only to the driver", ErrUsage, cfg.table, name)
		}
	}
	if cfg.identity == "" {
		cfg.identity = fmt.Sprintf("%s pid=%d", host, os.Getpid())
	}
	if cfg.table == "" {
		cfg.table = database.DefaultTable
	}
	if cfg.singleTx && !drv.TransactionalDDL() {
		return nil, fmt.Errorf("%w: --single-transaction needs transactional DDL (PostgreSQL, SQLite); %s commits each schema change on its own", ErrUsage, drv.Dialect())
	}
	return &Runner{drv: drv, fsys: fsys, cfg: cfg}, nil
}

// Up applies pending migrations with default options. See Runner.Up. As
// Runner.Up, it returns a report in every case: one that says failed when
// New refused drv, fsys or an option.
func Up(ctx context.Context, drv database.Driver, fsys fs.FS, opts ...Option) (*report.Report, error) {
	r, err := New(drv, fsys, opts...)
	if err != nil {
		host, _ := os.Hostname()
		return &report.Report{
			Command:   "up",
			Status:    report.StatusFailed,
			StartedAt: time.Now().UTC().Truncate(time.Millisecond),
			Runner:    report.Runner{Host: host, PID: os.Getpid(), RunwayVersion: Version},
			Error:     errorInfo(err),
		}, err
	}
	return r.Up(ctx, UpOptions{})
}

func (r *Runner) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = r.cfg.now()
	}
	if r.cfg.observe != nil {
		r.cfg.observe(e)
	}
	// Warnings and failures at their own levels: an application logging at
	// Info (slog.Default) sees them without the progress chatter.
	level := slog.LevelDebug
	switch e.Kind {
	case EventWarning, EventLockWaiting:
		level = slog.LevelWarn
	case EventMigrationFail:
		level = slog.LevelError
	}
	r.cfg.logger.Log(context.Background(), level, e.String(), "event", e.Kind.String(), "version", e.Version)
}

func (r *Runner) newReport(command string) *report.Report {
	return &report.Report{
		Command:   command,
		Table:     r.cfg.table,
		StartedAt: r.cfg.now().UTC().Truncate(time.Millisecond),
		Runner:    report.Runner{Host: r.cfg.hostname, PID: os.Getpid(), RunwayVersion: Version},
	}
}

func (r *Runner) finish(rep *report.Report, err error) (*report.Report, error) {
	rep.DurationMS = r.cfg.now().Sub(rep.StartedAt).Milliseconds()
	if err != nil {
		rep.Status = report.StatusFailed
		if errors.Is(err, ErrPending) {
			// status --check: nothing failed, work is waiting (as wait says).
			rep.Status = report.StatusPending
		}
		rep.Error = errorInfo(err)
	}
	return rep, err
}

// LoadSource reads and checks the migrations of fsys: ErrSource wrapping
// every file problem, or ErrNoMigrations when there are none. An empty source
// is an input error: a deploy that finds no migrations is almost always
// pointed at the wrong folder.
func LoadSource(fsys fs.FS) ([]*migration.Migration, error) {
	ms, err := migration.Load(fsys)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSource, err)
	}
	if len(ms) == 0 {
		if sub := migrationsBelow(fsys, 2); sub != "" {
			return nil, noMigrationsAtTop{sub}
		}
		return nil, ErrNoMigrations
	}
	return ms, nil
}

// noMigrationsAtTop is ErrNoMigrations for a source whose sub-folder holds
// migration files.
type noMigrationsAtTop struct{ sub string }

func (e noMigrationsAtTop) Error() string {
	return fmt.Sprintf("no migration files found at the top of the source, but its sub-folder %s holds some: give --dir that folder (for an archive or a remote source, append //%s to its path, before any ?query)", e.sub, e.sub)
}

func (e noMigrationsAtTop) Is(target error) bool { return target == ErrNoMigrations }

// migrationsBelow returns the first sub-folder of fsys, depth folders deep at
// most, that holds migration files, or "": where a source without any at its
// top (an archive whose files sit in migrations/) has them.
func migrationsBelow(fsys fs.FS, depth int) string {
	if depth == 0 {
		return ""
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return ""
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		sub, err := fs.Sub(fsys, e.Name())
		if err != nil {
			continue
		}
		if ms, err := migration.Load(sub); err == nil && len(ms) > 0 {
			return e.Name()
		}
		if deeper := migrationsBelow(sub, depth-1); deeper != "" {
			return e.Name() + "/" + deeper
		}
	}
	return ""
}

func (r *Runner) load() ([]*migration.Migration, error) {
	if r.cfg.migrations != nil {
		return r.cfg.migrations, nil
	}
	return LoadSource(r.fsys)
}
