// Command bench is Runway's benchmark suite (issue 4): it builds Runway and
// pinned peer CLIs, starts throw-away PostgreSQL and MariaDB servers,
// generates the workloads in every tool's file layout, runs every tool on each
// in alternation and prints medians with ratios to the floor measured in the
// same run. See README.md.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Entry names: the tools under test and the floors.
const (
	eRunway     = "runway"
	eGoose      = "goose"
	eMigrate    = "golang-migrate"
	eSQLMigrate = "sql-migrate"
	eDbmate     = "dbmate"
	ePsql1      = "psql -1"
	ePsql       = "psql"
	eMariaDB    = "mariadb"
	eSelect1    = "psql select 1"
	eListver    = "Go floor (listver)"
	// The no-op workloads' second reference: listver -checksums, which
	// also reads and hashes every file and compares the checksums: the
	// least a no-op check that notices an edited migration can do, as
	// W2's target asks of Runway.
	eListsum    = "Go floor with checksums (listver -checksums)"
	eRunwayBase = "runway-base" // -base: Runway at another commit, for a before/after in one run
	eRunway1    = "runway ×1"
	eRunway16   = "runway ×16"
	// W6's reference: one runner applies while the rest of the crowd are
	// Go floors (listver -select1: list the files, connect, SELECT 1), all
	// started at once: what the crowd's processes and server sessions cost
	// by themselves, the least the other runners could do.
	eRunwayConns = "runway ×1 + listver crowd"
	// W6 with -base: the crowd and the single runner at the base commit,
	// the crowd compared with its own single runner.
	eRunwayBase1  = "runway-base ×1"
	eRunwayBase16 = "runway-base ×16"
	eTrue         = "/bin/true (RSS floor of the measure helper)"
)

var toolEntries = []string{eRunway, eGoose, eMigrate, eSQLMigrate, eDbmate}

func isFloor(e string) bool {
	switch e {
	case ePsql1, ePsql, eMariaDB, eSelect1, eListver, eListsum, eRunway1, eTrue:
		return true
	}
	return false
}

// workload is one row group of the table.
type workload struct {
	name   string
	desc   string
	engine string // postgres | mariadb
	action string // up | status
	set    string // generated migrations, a key of bench.sets
	fresh  bool   // a new empty database per run
	lat    bool   // through the latency proxy
	// counting: through the counting proxy, which adds no delay: the
	// untimed run that counts a no-op workload's queries.
	counting bool
	floor    string
	entries  []string
	heavy    bool // fewer repetitions
	runners  int  // W6: concurrent runners
}

type config struct {
	quick      bool
	jsonPath   string
	workloads  map[string]bool
	tools      map[string]bool
	reps       int
	cheapReps  int
	startReps  int
	tables     int
	latTables  int
	myTables   int // W4's migrations
	bigRows    int
	w7Stmts    int
	w6Pending  int
	w6Runners  int
	delay      time.Duration
	repo       string
	ref        string
	base       string
	keep       bool
	workDir    string // where the work folder is made ("": the system's temporary folder)
	verbose    bool
	skipPeers  bool
	workParent string
}

type bench struct {
	cfg      config
	work     string
	workFS   string // the file system type under work, as statfs names it
	bin      string
	paths    map[string]string // entry → binary
	versions map[string]string
	pg, my   *server
	proxy    *latencyProxy // in front of PostgreSQL
	myProxy  *latencyProxy // in front of MariaDB
	// countProxy is in front of PostgreSQL too, with no delay: W2 and W3
	// count their queries through it in a run of their own.
	countProxy *latencyProxy
	rtt        time.Duration
	delay      time.Duration // each proxy's per-direction delay, calibrated for timer slack
	sets       map[string]migrationSet
	prepared   map[string]string // "engine/entry" → database with W1 applied by that tool
	results    []*result
	log        io.Writer
	// stopping is set once a signal asked the run to stop: what fails from
	// then on (the servers are going) is not reported.
	stopping  atomic.Bool
	cleanOnce sync.Once
	loadAvg   string // at the start, for the report
	// costs is what a page fault and a system call cost on this machine,
	// measured beside the start-up times (see machineCosts).
	costs string
}

// result is one (workload, tool) cell; its JSON form is one line of -json.
type result struct {
	Workload    string    `json:"workload"`
	Tool        string    `json:"tool"`
	Kind        string    `json:"kind"` // tool | floor
	Version     string    `json:"version,omitempty"`
	Engine      string    `json:"engine,omitempty"`
	Migrations  int       `json:"migrations,omitempty"`
	Runs        int       `json:"runs"`
	WallMs      float64   `json:"wall_ms_median"`
	WallMinMs   float64   `json:"wall_ms_min"`
	WallMaxMs   float64   `json:"wall_ms_max"`
	CPUMs       float64   `json:"cpu_ms_median"`
	UserMs      float64   `json:"user_ms_median"`
	SysMs       float64   `json:"sys_ms_median"`
	PeakRSSKiB  int64     `json:"peak_rss_kib_median"`
	Floor       string    `json:"floor,omitempty"`
	FloorWallMs float64   `json:"floor_wall_ms_median,omitempty"`
	Ratio       float64   `json:"ratio_to_floor,omitempty"`
	PairedRatio float64   `json:"ratio_to_floor_paired,omitempty"`
	Pairs       int       `json:"paired_runs,omitempty"`
	WallsMs     []float64 `json:"walls_ms"`
	BinaryBytes int64     `json:"binary_bytes,omitempty"`
	Error       string    `json:"error,omitempty"`
	Quick       bool      `json:"quick"`
	ProxyRTTMs  float64   `json:"proxy_rtt_ms,omitempty"`
	// Queries is what one run sent its server, counted by the proxy (see
	// queryCounter): the most any timed run through the latency proxy
	// sent (QueriesMin the least, when they differ), or W2's and W3's
	// count run; absent where not counted.
	Queries    *int64 `json:"queries,omitempty"`
	QueriesMin *int64 `json:"queries_min,omitempty"`
	// EditedExit is W2's check of integrity: the exit status of one more
	// run, untimed, after an applied migration's file was edited (Runway
	// refuses it with exit 5; a tool that checks nothing exits 0).
	EditedExit   *int   `json:"edited_file_exit,omitempty"`
	ServerConfig string `json:"server_config"`
	DataFS       string `json:"data_fs,omitempty"` // the file system under the servers' data
	// On the start-up lines: the machine's cost of a page fault and of a
	// system call, measured at the same moment (see machineCosts).
	PageFaultUs float64 `json:"page_fault_us,omitempty"`
	SyscallUs   float64 `json:"syscall_us,omitempty"`

	samples []sample
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

func main() {
	os.Exit(mainErr())
}

func mainErr() int {
	var cfg config
	var workloads, tools string
	flag.BoolVar(&cfg.quick, "quick", false, "quick mode: fewer repetitions, W1-lat with 100 migrations, W5 with 50k rows (5 MB)")
	flag.StringVar(&cfg.jsonPath, "json", "", "write one JSON object per (workload, tool) per line to `FILE`")
	flag.StringVar(&workloads, "workloads", "", "comma-separated workloads to run (default all): W1,W2,W3,W4,W5,W5-my,W6,W7,W1-lat,W4-lat,W2-lat,W3-lat")
	flag.StringVar(&tools, "tools", "", "comma-separated tools to run (default all): runway,goose,golang-migrate,sql-migrate,dbmate; floors always run")
	flag.IntVar(&cfg.reps, "reps", 0, "repetitions of the heavy workloads (W1, W4, W5, W5-my, W6, W7, W1-lat, W4-lat); default 5, quick 1")
	flag.IntVar(&cfg.cheapReps, "cheap-reps", 0, "repetitions of the no-op workloads (W2, W3 and their -lat); default 15, quick 3")
	flag.IntVar(&cfg.tables, "migrations", 1000, "migrations in W1, W2, W3, W4")
	flag.IntVar(&cfg.myTables, "my-migrations", 0, "migrations in W4; default those of -migrations, quick at most 300 (on a slow disk W4 is most of a quick run)")
	flag.IntVar(&cfg.latTables, "lat-migrations", 0, "migrations in W1-lat and W4-lat; default 1000, quick 100 (W4-lat runs in quick mode only when -workloads names it)")
	flag.IntVar(&cfg.bigRows, "w5-rows", 0, "rows in W5's migration; default 500000 (≈50 MB), quick 50000")
	flag.IntVar(&cfg.w7Stmts, "w7-statements", 0, "single-row INSERTs in W7's migration; default 8000, quick 2000")
	flag.IntVar(&cfg.w6Runners, "w6-runners", 16, "concurrent runners in W6")
	flag.IntVar(&cfg.w6Pending, "w6-pending", 200, "pending migrations in W6")
	flag.DurationVar(&cfg.delay, "delay", 1250*time.Microsecond, "latency the proxy adds in each direction")
	flag.StringVar(&cfg.repo, "repo", "..", "the Runway repository to build the CLI from")
	flag.StringVar(&cfg.ref, "ref", "", "build Runway from this commit (git archive, read-only) instead of the working tree, e.g. HEAD")
	flag.StringVar(&cfg.base, "base", "", "also build Runway from this commit and run it beside the other as runway-base, for a before/after measured in one run (in W6 its own single runner and crowd, the crowd compared with that runner)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the work folder (servers' data and generated migrations)")
	flag.StringVar(&cfg.workDir, "work-dir", "", "make the work folder (servers' data and generated migrations) in this folder instead of the system's temporary one; a tmpfs such as /dev/shm takes the disk out of the figures (see bench/README.md)")
	flag.BoolVar(&cfg.verbose, "v", false, "print every run")
	flag.Parse()
	// 0 asks for the default of the flags that have one; below it, nothing.
	for _, f := range []struct {
		flag string
		v    int
	}{{"-reps", cfg.reps}, {"-cheap-reps", cfg.cheapReps}, {"-my-migrations", cfg.myTables}, {"-lat-migrations", cfg.latTables}, {"-w5-rows", cfg.bigRows}, {"-w7-statements", cfg.w7Stmts}} {
		if f.v < 0 {
			fmt.Fprintf(os.Stderr, "bench: %s %d: want a count, or 0 for the default\n", f.flag, f.v)
			return 2
		}
	}
	if cfg.quick {
		cfg.reps = or(cfg.reps, 1)
		cfg.cheapReps = or(cfg.cheapReps, 3)
		cfg.startReps = 5
		cfg.latTables = or(cfg.latTables, 100)
		cfg.myTables = or(cfg.myTables, min(cfg.tables, 300))
		cfg.bigRows = or(cfg.bigRows, 50000)
		cfg.w7Stmts = or(cfg.w7Stmts, 2000)
	} else {
		cfg.reps = or(cfg.reps, 5)
		cfg.cheapReps = or(cfg.cheapReps, 15)
		cfg.startReps = 20
		cfg.latTables = or(cfg.latTables, 1000)
		cfg.myTables = or(cfg.myTables, cfg.tables)
		cfg.bigRows = or(cfg.bigRows, 500000)
		cfg.w7Stmts = or(cfg.w7Stmts, 8000)
	}
	cfg.workloads = set(workloads)
	cfg.tools = set(tools)
	for t := range cfg.tools {
		if !contains(toolEntries, t) {
			fmt.Fprintf(os.Stderr, "bench: unknown tool %q (want %s)\n", t, strings.Join(toolEntries, ","))
			return 2
		}
	}
	for w := range cfg.workloads {
		if !contains(workloadNames, w) {
			fmt.Fprintf(os.Stderr, "bench: unknown workload %q (want %s)\n", w, strings.Join(workloadNames, ","))
			return 2
		}
	}
	if err := cfg.check(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	if cfg.jsonPath != "" {
		// Found out now, not after a run of half an hour.
		if err := writable(cfg.jsonPath); err != nil {
			fmt.Fprintf(os.Stderr, "bench: -json %s: %v\n", cfg.jsonPath, err)
			return 2
		}
	}
	b := &bench{cfg: cfg, log: os.Stderr, paths: map[string]string{}, versions: map[string]string{},
		sets: map[string]migrationSet{}, prepared: map[string]string{}}
	defer b.cleanup()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		signal.Stop(sigs) // a second Ctrl-C ends the process at once
		b.stopping.Store(true)
		fmt.Fprintln(os.Stderr, "bench: interrupted; stopping servers")
		b.cleanup()
		os.Exit(130)
	}()
	// fail reports err and returns 1, unless a signal is stopping the run:
	// then err is most likely the servers going, and the exit is 130.
	fail := func(err error) int {
		if b.stopping.Load() {
			select {} // the signal's goroutine exits
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	t0 := time.Now()
	b.loadAvg = loadAvg()
	if err := b.setup(); err != nil {
		return fail(err)
	}
	for _, w := range b.plan() {
		if !b.wants(w.name) {
			continue
		}
		if err := b.runWorkload(w); err != nil {
			return fail(err)
		}
		if b.stopping.Load() {
			select {} // the signal's goroutine exits
		}
	}
	b.startup()
	if b.stopping.Load() {
		select {} // the signal's goroutine exits
	}
	b.report(os.Stdout, time.Since(t0))
	if cfg.jsonPath != "" {
		if err := b.writeJSON(cfg.jsonPath); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "bench: wrote %s\n", cfg.jsonPath)
	}
	if b.stopping.Load() {
		select {} // the signal's goroutine exits
	}
	return 0
}

// workloadNames are the workloads plan lists, in its order.
var workloadNames = []string{"W1", "W2", "W3", "W4", "W5", "W5-my", "W6", "W7", "W1-lat", "W4-lat", "W2-lat", "W3-lat"}

// check refuses counts that cannot make a run: 0 means "the default" for
// those that have one, and is settled before check.
func (c config) check() error {
	for _, f := range []struct {
		flag string
		v    int
		min  int
	}{
		{"-reps", c.reps, 1}, {"-cheap-reps", c.cheapReps, 1}, {"-migrations", c.tables, 1},
		{"-my-migrations", c.myTables, 1}, {"-lat-migrations", c.latTables, 1}, {"-w5-rows", c.bigRows, 1},
		{"-w7-statements", c.w7Stmts, 1}, {"-w6-runners", c.w6Runners, 2}, {"-w6-pending", c.w6Pending, 1},
	} {
		if f.v < f.min {
			return fmt.Errorf("%s %d: want at least %d", f.flag, f.v, f.min)
		}
	}
	if c.delay < 0 {
		return fmt.Errorf("-delay %s: want a duration of 0 or more", c.delay)
	}
	return nil
}

// writable reports whether a file can be written at path, without
// changing a file already there (opened for appending, nothing written)
// and without leaving one behind (created, then removed).
func writable(path string) error {
	if st, err := os.Stat(path); err == nil {
		if st.IsDir() {
			return errors.New("is a directory")
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		return f.Close()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(path)
}

func or(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func set(s string) map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			m[f] = true
		}
	}
	return m
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func (b *bench) logf(format string, args ...any) {
	if b.stopping.Load() {
		return
	}
	fmt.Fprintf(b.log, "bench: "+format+"\n", args...)
}

func (b *bench) wantTool(e string) bool {
	if e == eRunwayBase || e == eRunwayBase1 || e == eRunwayBase16 {
		return b.cfg.base != "" && (len(b.cfg.tools) == 0 || b.cfg.tools[eRunway])
	}
	return len(b.cfg.tools) == 0 || b.cfg.tools[e] || isFloor(e) || e == eRunway16 || e == eRunwayConns
}

// plan lists the workloads in the order they run.
func (b *bench) plan() []workload {
	c := b.cfg
	pgUp := []string{ePsql1, ePsql, eRunway, eRunwayBase, eGoose, eMigrate, eSQLMigrate, eDbmate}
	noop := []string{eListver, eListsum, eSelect1, eRunway, eRunwayBase, eGoose, eMigrate, eSQLMigrate, eDbmate}
	return []workload{
		{name: "W1", desc: fmt.Sprintf("%d migrations (CREATE TABLE + CREATE INDEX), PostgreSQL, from empty", c.tables),
			engine: "postgres", action: "up", set: "pg", fresh: true, floor: ePsql1, entries: pgUp, heavy: true},
		{name: "W2", desc: fmt.Sprintf("up with %d applied: nothing to do", c.tables),
			engine: "postgres", action: "up", set: "pg", floor: eListver, entries: noop},
		{name: "W3", desc: fmt.Sprintf("status with %d applied", c.tables),
			engine: "postgres", action: "status", set: "pg", floor: eListver, entries: noop},
		{name: "W4", desc: fmt.Sprintf("%d migrations on MariaDB, from empty", c.myTables),
			engine: "mariadb", action: "up", set: "my", fresh: true, floor: eMariaDB,
			entries: []string{eMariaDB, eRunway, eRunwayBase, eGoose, eMigrate, eSQLMigrate, eDbmate}, heavy: true},
		{name: "W5", desc: fmt.Sprintf("one %s migration of multi-row INSERTs (%d rows), PostgreSQL", mib(b.sets["big"].bytes), c.bigRows),
			engine: "postgres", action: "up", set: "big", fresh: true, floor: ePsql1, entries: pgUp, heavy: true},
		{name: "W5-my", desc: fmt.Sprintf("W5's migration (%s, %d rows) on MariaDB, statement by statement", mib(b.sets["big"].bytes), c.bigRows),
			engine: "mariadb", action: "up", set: "big", fresh: true, floor: eMariaDB,
			entries: []string{eMariaDB, eRunway, eRunwayBase, eGoose, eMigrate, eSQLMigrate, eDbmate}, heavy: true},
		{name: "W6", desc: fmt.Sprintf("%d runway runners at once on one database, %d pending (vs one runner)", c.w6Runners, c.w6Pending),
			engine: "postgres", action: "up", set: "w6", fresh: true, floor: eRunway1, entries: []string{eRunway1, eRunway16, eRunwayConns, eRunwayBase1, eRunwayBase16}, heavy: true, runners: c.w6Runners},
		{name: "W7", desc: fmt.Sprintf("one migration of %d single-row INSERTs on MariaDB, statement by statement", c.w7Stmts),
			engine: "mariadb", action: "up", set: "ins", fresh: true, floor: eMariaDB,
			entries: []string{eMariaDB, eRunway, eRunwayBase, eGoose, eMigrate, eSQLMigrate, eDbmate}, heavy: true},
		{name: "W1-lat", desc: fmt.Sprintf("W1 through the latency proxy (%d migrations)", c.latTables),
			engine: "postgres", action: "up", set: "pglat", fresh: true, lat: true, floor: ePsql1, entries: pgUp, heavy: true},
		{name: "W4-lat", desc: fmt.Sprintf("W4 through the latency proxy (%d migrations)", c.latTables),
			engine: "mariadb", action: "up", set: "mylat", fresh: true, lat: true, floor: eMariaDB,
			entries: []string{eMariaDB, eRunway, eRunwayBase, eGoose, eMigrate, eSQLMigrate, eDbmate}, heavy: true},
		{name: "W2-lat", desc: "W2 through the latency proxy",
			engine: "postgres", action: "up", set: "pg", lat: true, floor: eListver, entries: noop},
		{name: "W3-lat", desc: "W3 through the latency proxy",
			engine: "postgres", action: "status", set: "pg", lat: true, floor: eListver, entries: noop},
	}
}

func mib(n int64) string {
	return fmt.Sprintf("%.0f MB", float64(n)/1e6)
}

func (b *bench) wants(name string) bool {
	if len(b.cfg.workloads) == 0 {
		// W4-lat and W5-my are not among issue 4's workloads: -quick, which
		// must end within 3 minutes, runs them only when -workloads names them.
		return !(b.cfg.quick && (name == "W4-lat" || name == "W5-my"))
	}
	return b.cfg.workloads[name]
}

func (b *bench) setup() error {
	var err error
	b.bin, err = filepath.Abs("bin")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(b.bin, 0o755); err != nil {
		return err
	}
	// Tools. The peers build alongside Runway: a first run's builds are
	// mostly single large packages and links, which leave the other core
	// idle when they run one after another.
	var wantPeers []peer
	for _, p := range peers {
		if b.wantTool(p.name) {
			wantPeers = append(wantPeers, p)
		}
	}
	peerErrs := make([]error, len(wantPeers))
	var peersBuilt sync.WaitGroup
	for i, p := range wantPeers {
		peersBuilt.Go(func() { peerErrs[i] = buildPeer(b.bin, p, b.logf) })
	}
	// Whatever happens below, no build outlives setup.
	defer peersBuilt.Wait()
	b.paths[eRunway] = filepath.Join(b.bin, "runway")
	src, label, cleanup, err := runwaySource(b.cfg.repo, b.cfg.ref, "-ref")
	if err != nil {
		return err
	}
	defer cleanup()
	b.logf("building runway from %s", label)
	start := time.Now()
	if err := buildRunway(src, b.paths[eRunway]); err != nil {
		return err
	}
	b.logf("built runway in %s", time.Since(start).Round(time.Second))
	if out, err := exec.Command(b.paths[eRunway], "version").Output(); err == nil {
		b.versions[eRunway] = strings.TrimSpace(string(out)) + ", " + label
	}
	if b.cfg.base != "" {
		if err := b.buildBase(); err != nil {
			return err
		}
	}
	b.paths[eRunway1], b.paths[eRunway16], b.paths[eRunwayConns] = b.paths[eRunway], b.paths[eRunway], b.paths[eRunway]
	b.versions[eRunway1], b.versions[eRunway16], b.versions[eRunwayConns] = b.versions[eRunway], b.versions[eRunway], b.versions[eRunway]
	if b.cfg.base != "" {
		b.paths[eRunwayBase1], b.paths[eRunwayBase16] = b.paths[eRunwayBase], b.paths[eRunwayBase]
		b.versions[eRunwayBase1], b.versions[eRunwayBase16] = b.versions[eRunwayBase], b.versions[eRunwayBase]
	}
	peersBuilt.Wait()
	for i, p := range wantPeers {
		if err := peerErrs[i]; err != nil {
			return err
		}
		b.paths[p.name] = filepath.Join(b.bin, p.binary)
		b.versions[p.name] = p.module + " " + p.version + " (" + p.build() + ")"
	}
	b.paths[eListver] = filepath.Join(b.bin, "listver")
	if err := buildHelper("listver", b.paths[eListver]); err != nil {
		return err
	}
	measureBin = filepath.Join(b.bin, "measure")
	if err := buildHelper("measure", measureBin); err != nil {
		return err
	}
	b.versions[eListver] = "bench/cmd/listver"
	b.paths[eListsum], b.versions[eListsum] = b.paths[eListver], b.versions[eListver]+" -checksums"
	for _, c := range []struct{ entry, name string }{{ePsql, "psql"}, {eMariaDB, "mariadb"}} {
		p, err := findBinary(c.name)
		if err != nil {
			return err
		}
		b.paths[c.entry] = p
		if out, err := exec.Command(p, "--version").Output(); err == nil {
			b.versions[c.entry] = strings.TrimSpace(string(out))
		}
	}
	b.paths[ePsql1], b.paths[eSelect1] = b.paths[ePsql], b.paths[ePsql]
	b.paths[eTrue] = "/bin/true"
	b.versions[ePsql1], b.versions[eSelect1] = b.versions[ePsql], b.versions[ePsql]

	// Work folder, servers, proxy.
	b.work, err = os.MkdirTemp(b.cfg.workDir, "runway-bench-")
	if err != nil {
		return err
	}
	b.workFS = fsType(b.work)
	if err := os.Chmod(b.work, 0o755); err != nil {
		return err
	}
	b.logf("work folder %s (%s)", b.work, b.workFS)
	measureDir = filepath.Join(b.work, "measure")
	if err := os.MkdirAll(measureDir, 0o755); err != nil {
		return err
	}
	needPG, needMy := false, false
	for _, w := range b.plan() {
		if b.wants(w.name) {
			needPG = needPG || w.engine == "postgres"
			needMy = needMy || w.engine == "mariadb"
		}
	}
	if needPG || b.wants("W4-lat") {
		if err := b.calibrate(); err != nil {
			return err
		}
	}
	if needPG {
		if b.pg, err = startPostgres(b.work); err != nil {
			return err
		}
		b.logf("PostgreSQL %s on 127.0.0.1:%d", b.pg.version, b.pg.port)
		if b.proxy, err = startProxy(fmt.Sprintf("127.0.0.1:%d", b.pg.port), b.delay, "postgres"); err != nil {
			return err
		}
		b.logf("latency proxy on 127.0.0.1:%d, measured round trip %.2f ms", b.proxy.port(), ms(b.rtt))
		if b.countProxy, err = startProxy(fmt.Sprintf("127.0.0.1:%d", b.pg.port), 0, "postgres"); err != nil {
			return err
		}
	}
	if needMy {
		if b.my, err = startMariaDB(b.work); err != nil {
			return err
		}
		b.logf("MariaDB %s on 127.0.0.1:%d", b.my.version, b.my.port)
		if b.wants("W4-lat") {
			if b.myProxy, err = startProxy(fmt.Sprintf("127.0.0.1:%d", b.my.port), b.delay, "mariadb"); err != nil {
				return err
			}
			b.logf("latency proxy on 127.0.0.1:%d for MariaDB", b.myProxy.port())
		}
	}

	// Workloads.
	gen := func(key string, ms []migration) error {
		set, err := generate(filepath.Join(b.work, "migrations", key), ms, b.stopping.Load)
		b.sets[key] = set
		return err
	}
	b.logf("generating workloads")
	if err := gen("pg", tables(b.cfg.tables, "postgres")); err != nil {
		return err
	}
	if err := gen("pglat", tables(b.cfg.latTables, "postgres")); err != nil {
		return err
	}
	if err := gen("my", tables(b.cfg.myTables, "mariadb")); err != nil {
		return err
	}
	if err := gen("mylat", tables(b.cfg.latTables, "mariadb")); err != nil {
		return err
	}
	if err := gen("w6", tables(b.cfg.w6Pending, "postgres")); err != nil {
		return err
	}
	if b.wants("W5") || b.wants("W5-my") {
		if err := gen("big", []migration{bigInsert(b.cfg.bigRows)}); err != nil {
			return err
		}
	}
	if b.wants("W7") {
		if err := gen("ins", []migration{singleInserts(b.cfg.w7Stmts)}); err != nil {
			return err
		}
	}
	return nil
}

// calibrate measures the round trip the proxy adds and, when timer slack
// makes it longer than asked (2×delay), shortens the per-direction delay by
// the excess so that the round trip is what was asked.
func (b *bench) calibrate() error {
	want := 2 * b.cfg.delay
	b.delay = b.cfg.delay
	rtt, err := measureRTT(b.delay, 200)
	if err != nil {
		return err
	}
	if excess := rtt - want; excess > 20*time.Microsecond && excess < b.cfg.delay {
		b.delay = b.cfg.delay - excess/2
		if rtt, err = measureRTT(b.delay, 200); err != nil {
			return err
		}
	}
	b.rtt = rtt
	return nil
}

// cleanup stops the proxies and the servers and removes the work folder,
// once: from the end of the run, or from the signal's goroutine while the
// run goes on (which is why it changes no field the run reads).
func (b *bench) cleanup() {
	b.cleanOnce.Do(func() {
		for _, p := range []*latencyProxy{b.proxy, b.myProxy, b.countProxy} {
			if p != nil {
				p.close()
			}
		}
		b.pg.stop()
		b.my.stop()
		if b.work != "" && !b.cfg.keep {
			os.RemoveAll(b.work)
		}
	})
}

func (b *bench) server(engine string) *server {
	if engine == "mariadb" {
		return b.my
	}
	return b.pg
}

// via is the proxy w's runs go through, or nil when they go straight to
// the server.
func (b *bench) via(w workload) *latencyProxy {
	switch {
	case w.counting:
		return b.countProxy
	case w.lat && w.engine == "mariadb":
		return b.myProxy
	case w.lat:
		return b.proxy
	}
	return nil
}

// invocation is the command line of entry on workload w against database db.
func (b *bench) invocation(entry string, w workload, set migrationSet, db, runDir string) (invocation, error) {
	srv := b.server(w.engine)
	port := srv.port
	if p := b.via(w); p != nil {
		port = p.port()
	}
	url := srv.urlAt(port, db)
	bin := b.paths[entry]
	psql := func(extra ...string) []string {
		return append([]string{bin, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "postgres", "-d", db}, extra...)
	}
	inv := invocation{dir: runDir}
	switch entry {
	case ePsql1:
		inv.argv = psql("-1", "-f", set.all())
	case ePsql:
		inv.argv = psql("-f", set.all())
	case eSelect1:
		inv.argv = psql("-c", "select 1")
	case eMariaDB:
		inv.argv = []string{bin, "--no-defaults", "-h", "127.0.0.1", "-P", strconv.Itoa(port), "-u", "root", db}
		inv.stdin = set.all()
	case eListver:
		inv.argv = []string{bin, "-d", url, "-dir", set.dir(layoutMigrate), "-table", "schema_versions"}
	case eListsum:
		inv.argv = []string{bin, "-d", url, "-dir", set.dir(layoutMigrate), "-table", "schema_versions", "-checksums"}
	case eRunway, eRunwayBase, eRunway1, eRunway16, eRunwayBase1, eRunwayBase16, eRunwayConns:
		inv.argv = []string{bin, "-d", url, "--dir", set.dir(layoutMigrate), w.action}
		if entry == eRunwayConns {
			inv.with = []string{b.paths[eListver], "-d", url, "-dir", set.dir(layoutMigrate), "-select1"}
		}
	case eGoose:
		dsn := url
		driver := "postgres"
		if w.engine == "mariadb" {
			driver, dsn = "mysql", srv.mysqlDSN(port, db)+"?parseTime=true"
		}
		inv.argv = []string{bin, "-dir", set.dir(layoutGoose), driver, dsn, w.action}
	case eMigrate:
		u := url
		if w.engine == "mariadb" {
			u = "mysql://" + srv.mysqlDSN(port, db) + "?multiStatements=true"
		}
		action := w.action
		if action == "status" {
			action = "version" // golang-migrate has no status; version reads the history
		}
		inv.argv = []string{bin, "-path", set.dir(layoutMigrate), "-database", u, action}
	case eSQLMigrate:
		dialect, dsn := "postgres", url
		if w.engine == "mariadb" {
			dialect, dsn = "mysql", srv.mysqlDSN(port, db)+"?parseTime=true"
		}
		cfgPath := filepath.Join(runDir, "dbconfig.yml")
		y := fmt.Sprintf("bench:\n  dialect: %s\n  datasource: %q\n  dir: %q\n", dialect, dsn, set.dir(layoutSQLMigrate))
		if err := os.WriteFile(cfgPath, []byte(y), 0o644); err != nil {
			return inv, err
		}
		inv.argv = []string{bin, w.action, "-config=" + cfgPath, "-env=bench"}
	case eDbmate:
		inv.argv = []string{bin, "--url", url, "--migrations-dir", set.dir(layoutDbmate), "--no-dump-schema", w.action}
	default:
		return inv, fmt.Errorf("unknown entry %q", entry)
	}
	return inv, nil
}

func (b *bench) runWorkload(w workload) error {
	reps := b.cfg.cheapReps
	if w.heavy {
		reps = b.cfg.reps
	}
	set := b.sets[w.set]
	b.logf("%s: %s — %d repetition(s)", w.name, w.desc, reps)
	var entries []string
	res := map[string]*result{}
	for _, e := range w.entries {
		if !b.wantTool(e) {
			continue
		}
		entries = append(entries, e)
		kind := "tool"
		if isFloor(e) {
			kind = "floor"
		}
		r := &result{Workload: w.name, Tool: e, Kind: kind, Version: b.versions[e], Engine: w.engine,
			Migrations: set.count, Quick: b.cfg.quick, ServerConfig: serverSettings, DataFS: b.workFS}
		if w.lat {
			r.ProxyRTTMs = ms(b.rtt)
		}
		res[e] = r
		b.results = append(b.results, r)
	}
	// Databases prepared once per tool for the no-op workloads.
	if !w.fresh {
		for _, e := range entries {
			if err := b.prepare(w, e); err != nil {
				res[e].Error = "preparing: " + err.Error()
			}
		}
	}
	runDir := filepath.Join(b.work, "run")
	if w.heavy && !b.cfg.quick && len(entries) > 0 {
		// One untimed run of the floor first: a new server's first burst of
		// work (catalog caches, file creation) is slower than the rest.
		if _, err := b.runOne(w, entries[0], set, -1, runDir, false); err != nil {
			b.logf("%s warm-up (%s) failed: %v", w.name, entries[0], err)
		}
	}
	for rep := 0; rep < reps; rep++ {
		for _, e := range entries {
			r := res[e]
			if r.Error != "" {
				continue // a tool that failed once is not run again on this workload
			}
			// W1's last run leaves each tool's database in place: 1,000
			// migrations applied by that tool is what W2 and W3 start from.
			keep := w.name == "W1" && rep == reps-1 && e != ePsql
			s, err := b.runOne(w, e, set, rep, runDir, keep)
			if err != nil {
				r.Error = err.Error()
				b.logf("%s %s failed: %v", w.name, e, err)
				continue
			}
			s.rep = rep
			r.samples = append(r.samples, s)
			if b.cfg.verbose {
				b.logf("%s %-20s rep %d: wall %s cpu %s rss %d KiB", w.name, e, rep+1, fmtDur(s.wall), fmtDur(s.cpu()), s.rssKiB)
			}
		}
	}
	if w.name == "W2" {
		b.editCheck(w, entries, res)
	}
	// The no-op workloads' queries, counted in one more run, untimed,
	// through the proxy that adds no delay (their -lat forms count them in
	// the timed runs).
	if !w.fresh && !w.lat && b.countProxy != nil {
		cw := w
		cw.counting = true
		for _, e := range entries {
			r := res[e]
			if r.Error != "" || len(r.samples) == 0 {
				continue
			}
			s, err := b.runOne(cw, e, set, -1, runDir, false)
			switch {
			case err != nil:
				b.logf("%s %s: the run that counts queries failed: %v", w.name, e, err)
			case s.counted:
				r.Queries = &s.queries
			}
		}
	}
	return nil
}

// editCheck runs each entry once more on w's database, untimed, with the
// files of one applied migration edited, and records its exit status: what
// W2's "integrity checked" asks is that Runway's no-op refuses it. Nothing
// is pending, so the tools that do not notice change nothing either.
func (b *bench) editCheck(w workload, entries []string, res map[string]*result) {
	ms := tables(b.cfg.tables, w.engine)
	m := &ms[len(ms)/2]
	edited := strings.Replace(m.sql, "not null", "null", 1)
	if edited == m.sql {
		b.logf("%s: no \"not null\" to edit in %s: the edit check is skipped", w.name, m.name)
		return
	}
	m.sql = edited
	set, err := generate(filepath.Join(b.work, "migrations", w.set+"-edited"), ms, b.stopping.Load)
	if err != nil {
		b.logf("%s: the edited files: %v", w.name, err)
		return
	}
	defer os.RemoveAll(set.root)
	for _, e := range entries {
		r := res[e]
		if e == eSelect1 || r.Error != "" || len(r.samples) == 0 {
			continue // psql reads no file
		}
		s, err := b.runOne(w, e, set, -1, filepath.Join(b.work, "run"), false)
		if err != nil && s.exit <= 0 {
			b.logf("%s %s: the run with an edited file did not run: %v", w.name, e, err)
			continue
		}
		r.EditedExit = &s.exit
	}
}

// runOne times entry once on w: a fresh database when w.fresh (created and
// dropped outside the timing), else the database prepared for the entry.
func (b *bench) runOne(w workload, e string, set migrationSet, rep int, runDir string, keep bool) (sample, error) {
	srv := b.server(w.engine)
	os.RemoveAll(runDir)
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return sample{}, err
	}
	db := b.prepared[w.engine+"/"+e]
	if w.fresh {
		db = dbIdent("b", w.name, e, strconv.Itoa(rep))
		db = strings.NewReplacer(" ", "", "×", "x", "(", "", ")", "").Replace(db)
		if err := srv.createDB(db); err != nil {
			return sample{}, err
		}
		defer func() {
			if !keep {
				srv.dropDB(db)
			}
		}()
	}
	inv, err := b.invocation(e, w, set, db, runDir)
	if err != nil {
		return sample{}, err
	}
	if w.runners > 0 {
		// W6: the single runner and the crowd both start through one
		// measure helper, which times them from the first start to the
		// last exit: the crowd's figure holds no extra helper start-ups.
		inv.copies = 1
		switch e {
		case eRunway16, eRunwayBase16:
			inv.copies = w.runners
		case eRunwayConns:
			inv.withCopies = w.runners - 1
		}
	}
	var before queryCount
	p := b.via(w)
	if p != nil {
		before = p.count()
	}
	s, err := run(inv)
	if err != nil {
		return s, err
	}
	if p != nil {
		s.queries, s.counted = p.since(before)
	}
	if w.fresh {
		if err := b.verify(w, e, set, db); err != nil {
			keep = false
			return s, err
		}
	}
	if keep {
		if e == ePsql1 {
			if err := b.addSchemaVersions(srv, db, set); err != nil {
				keep = false
				return s, err
			}
			b.prepared[w.engine+"/floor"] = db
		} else {
			b.prepared[w.engine+"/"+e] = db
		}
	}
	return s, nil
}

// addSchemaVersions gives the floor's database the history the Go floors
// read: each version, with its file's SHA-256 for listver -checksums.
func (b *bench) addSchemaVersions(srv *server, db string, set migrationSet) error {
	sums, err := fileSums(set.dir(layoutMigrate))
	if err != nil {
		return err
	}
	if len(sums) != set.count {
		return fmt.Errorf("schema_versions: %d files in %s, want %d", len(sums), set.dir(layoutMigrate), set.count)
	}
	var insert strings.Builder
	insert.WriteString("INSERT INTO schema_versions (version, checksum) VALUES ")
	for i, s := range sums {
		if i > 0 {
			insert.WriteString(", ")
		}
		fmt.Fprintf(&insert, "(%d, '%s')", s.version, s.sum)
	}
	return srv.exec(db, "CREATE TABLE schema_versions (version bigint primary key, checksum text not null, applied_at timestamptz not null default now())",
		insert.String())
}

// verify checks that a run from empty did the work: every table is there
// (W5: every row), and in W6 each migration was recorded exactly once.
func (b *bench) verify(w workload, e string, set migrationSet, db string) error {
	srv := b.server(w.engine)
	var table string
	var want int
	switch w.set {
	case "big":
		table, want = "big", b.cfg.bigRows
	case "ins":
		table, want = "ins", b.cfg.w7Stmts
	}
	if table != "" {
		n, err := srv.count(db, "SELECT count(*) FROM "+table)
		if err != nil {
			return fmt.Errorf("verify: %v", err)
		}
		if n != int64(want) {
			return fmt.Errorf("verify: %d rows in %s, want %d", n, table, want)
		}
		return nil
	}
	n, err := srv.tableCount(db)
	if err != nil {
		return fmt.Errorf("verify: %v", err)
	}
	if n != int64(set.count) {
		return fmt.Errorf("verify: %d tables after the run, want %d", n, set.count)
	}
	if w.runners > 0 {
		n, err := srv.count(db, "SELECT count(*) FROM runway_migrations")
		if err != nil {
			return fmt.Errorf("verify: %v", err)
		}
		if n != int64(set.count) {
			return fmt.Errorf("verify: %d history rows, want %d", n, set.count)
		}
	}
	return nil
}

// prepare gives entry a database with W1 applied by the tool itself (its own
// history table), once per engine and entry; the floors share one where
// psql applied all.sql and schema_versions lists the versions.
func (b *bench) prepare(w workload, e string) error {
	key := w.engine + "/" + e
	if isFloor(e) {
		key = w.engine + "/floor"
	}
	if db, ok := b.prepared[key]; ok {
		b.prepared[w.engine+"/"+e] = db
		return nil
	}
	srv := b.server(w.engine)
	set := b.sets[w.set]
	db := dbIdent("prep", strings.TrimPrefix(key, w.engine+"/"))
	b.logf("preparing %s: %d migrations applied by %s", db, set.count, strings.TrimPrefix(key, w.engine+"/"))
	srv.dropDB(db)
	if err := srv.createDB(db); err != nil {
		return err
	}
	runDir := filepath.Join(b.work, "prep-"+db)
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return err
	}
	upW := w
	upW.action, upW.lat = "up", false
	entry := e
	if isFloor(e) {
		entry = ePsql1
	}
	inv, err := b.invocation(entry, upW, set, db, runDir)
	if err != nil {
		return err
	}
	if _, err := run(inv); err != nil {
		return err
	}
	if isFloor(e) {
		if err := b.addSchemaVersions(srv, db, set); err != nil {
			return err
		}
	}
	if n, err := srv.tableCount(db); err != nil || n != int64(set.count) {
		return fmt.Errorf("prepared database has %d tables (%v), want %d", n, err, set.count)
	}
	b.prepared[key] = db
	b.prepared[w.engine+"/"+e] = db
	return nil
}

// buildBase builds Runway at -base as the runway-base entry.
func (b *bench) buildBase() error {
	src, label, cleanup, err := runwaySource(b.cfg.repo, b.cfg.base, "-base")
	if err != nil {
		return err
	}
	defer cleanup()
	b.logf("building runway-base from %s", label)
	b.paths[eRunwayBase] = filepath.Join(b.bin, "runway-base")
	if err := buildRunway(src, b.paths[eRunwayBase]); err != nil {
		return err
	}
	if out, err := exec.Command(b.paths[eRunwayBase], "version").Output(); err == nil {
		b.versions[eRunwayBase] = strings.TrimSpace(string(out)) + ", " + label
	}
	return nil
}

// startup times each binary's version command (process start, nothing
// else) and records its size.
func (b *bench) startup() {
	type cmdline struct {
		entry string
		argv  []string
	}
	var cmds []cmdline
	add := func(entry string, args ...string) {
		if p, ok := b.paths[entry]; ok && b.wantTool(entry) {
			cmds = append(cmds, cmdline{entry, append([]string{p}, args...)})
		}
	}
	add(eRunway, "version")
	add(eRunwayBase, "version")
	add(eGoose, "-version")
	add(eMigrate, "-version")
	add(eSQLMigrate, "--version")
	add(eDbmate, "--version")
	add(eListver, "-h")
	add(ePsql, "--version")
	add(eMariaDB, "--version")
	add(eTrue)
	fault, call, err := machineCosts()
	if err != nil {
		b.costs = "not measured: " + err.Error()
	} else {
		b.costs = fmt.Sprintf("a page fault %.1f µs, a system call %.2f µs", us(fault), us(call))
	}
	res := map[string]*result{}
	for _, c := range cmds {
		r := &result{Workload: "startup", PageFaultUs: us(fault), SyscallUs: us(call), Tool: c.entry, Kind: "tool", Version: b.versions[c.entry], Quick: b.cfg.quick, ServerConfig: serverSettings, DataFS: b.workFS}
		if isFloor(c.entry) || c.entry == eListver {
			r.Kind = "floor"
		}
		if st, err := os.Stat(c.argv[0]); err == nil {
			r.BinaryBytes = st.Size()
		}
		res[c.entry] = r
		b.results = append(b.results, r)
	}
	for range b.cfg.startReps {
		for _, c := range cmds {
			s, err := run(invocation{argv: c.argv, dir: os.TempDir()})
			if err != nil && c.entry != eListver { // listver -h exits 2 by design
				res[c.entry].Error = err.Error()
				continue
			}
			res[c.entry].samples = append(res[c.entry].samples, s)
		}
	}
}

func (b *bench) summarise() {
	byKey := map[string]*result{}
	for _, r := range b.results {
		byKey[r.Workload+"/"+r.Tool] = r
		r.Runs = len(r.samples)
		if r.Runs == 0 {
			continue
		}
		var walls, cpus, users, syss []time.Duration
		var rss, queries []int64
		r.WallsMs = nil
		for _, s := range r.samples {
			walls = append(walls, s.wall)
			cpus = append(cpus, s.cpu())
			users = append(users, s.user)
			syss = append(syss, s.sys)
			rss = append(rss, s.rssKiB)
			r.WallsMs = append(r.WallsMs, ms(s.wall))
			if s.counted {
				queries = append(queries, s.queries)
			}
		}
		if r.Queries == nil && len(queries) == len(r.samples) {
			lo, hi := slices.Min(queries), slices.Max(queries)
			r.Queries = &hi
			if lo != hi {
				r.QueriesMin = &lo
			}
		}
		r.WallMs = ms(median(walls))
		r.CPUMs = ms(median(cpus))
		r.UserMs = ms(median(users))
		r.SysMs = ms(median(syss))
		r.PeakRSSKiB = median(rss)
		r.WallMinMs, r.WallMaxMs = r.WallsMs[0], r.WallsMs[0]
		for _, x := range r.WallsMs {
			r.WallMinMs = min(r.WallMinMs, x)
			r.WallMaxMs = max(r.WallMaxMs, x)
		}
	}
	for _, w := range b.plan() {
		f := byKey[w.name+"/"+w.floor]
		if f == nil || f.Runs == 0 {
			continue
		}
		for _, r := range b.results {
			if r.Workload != w.name || r.Runs == 0 {
				continue
			}
			floor, fr := w.floor, f
			if r.Tool == eRunwayBase1 || r.Tool == eRunwayBase16 {
				// The base's crowd against the base's single runner.
				floor, fr = eRunwayBase1, byKey[w.name+"/"+eRunwayBase1]
				if fr == nil || fr.Runs == 0 {
					continue
				}
			}
			r.Floor, r.FloorWallMs = floor, fr.WallMs
			r.Ratio = r.WallMs / fr.WallMs
			r.PairedRatio, r.Pairs = pairedRatio(r.samples, fr.samples)
		}
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000)
	default:
		return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
	}
}

func fmtMs(x float64) string { return fmtDur(time.Duration(x * float64(time.Millisecond))) }

func fmtKiB(k int64) string { return fmt.Sprintf("%.1f MiB", float64(k)/1024) }

func (b *bench) report(out io.Writer, elapsed time.Duration) {
	b.summarise()
	fmt.Fprintf(out, "\n## Runway benchmark (issue 4)%s — %s\n\n", map[bool]string{true: " -quick", false: ""}[b.cfg.quick], time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(out, "- machine: %s\n", machine())
	fmt.Fprintf(out, "- load average (1, 5, 15 min) at the start: %s, at the end: %s (other work on the machine makes the figures noisy)\n", b.loadAvg, loadAvg())
	var servers []string
	if b.pg != nil {
		servers = append(servers, "PostgreSQL "+b.pg.version)
	}
	if b.my != nil {
		servers = append(servers, "MariaDB "+b.my.version)
	}
	fmt.Fprintf(out, "- servers: %s; throw-away, on loopback, durability off (%s)\n", strings.Join(servers, ", "), serverSettings)
	fmt.Fprintf(out, "- the servers' data and the workloads' files: %s, on %s (-work-dir)\n", filepath.Dir(b.work), b.workFS)
	if b.proxy != nil || b.myProxy != nil {
		fmt.Fprintf(out, "- latency proxy (-lat workloads): %.2f ms asked each way (%.3f ms set, for timer slack), measured round trip %.2f ms over loopback\n", ms(b.cfg.delay), ms(b.delay), ms(b.rtt))
	}
	fmt.Fprintf(out, "- medians of %d runs (no-op workloads W2, W3: %d); tools alternate run by run; CPU and peak RSS are the client process's, not the server's\n", b.cfg.reps, b.cfg.cheapReps)
	fmt.Fprintf(out, "- × floor = the tool's median wall / the floor's median wall, both measured in this run; paired = the median, over the rounds, of the tool's wall / the floor's wall in the same round (less sensitive to the machine slowing down for a while)\n")
	fmt.Fprintf(out, "- queries = the query messages one run sent its server (PostgreSQL Query and Execute, MySQL COM_QUERY and COM_STMT_EXECUTE; a message holding several statements is one), counted by the proxy: in the timed runs of the -lat workloads, in one more untimed run through a proxy that adds no delay for W2 and W3; a range where the runs differ; \"?\" where there is no count: a session the proxy could not follow (TLS), or a count run that failed\n")
	last := ""
	for _, w := range b.plan() {
		// Columns that only some workloads have: their header, and a
		// cell for each result.
		type column struct {
			header string
			cell   func(r *result) string
		}
		var extra []column
		has := func(f func(r *result) bool) bool {
			for _, r := range b.results {
				if r.Workload == w.name && f(r) {
					return true
				}
			}
			return false
		}
		if has(func(r *result) bool { return r.Queries != nil }) {
			extra = append(extra, column{"queries", func(r *result) string {
				switch {
				case r.Queries == nil:
					return "?"
				case r.QueriesMin != nil:
					return fmt.Sprintf("%d–%d", *r.QueriesMin, *r.Queries)
				}
				return strconv.FormatInt(*r.Queries, 10)
			}})
		}
		if has(func(r *result) bool { return r.EditedExit != nil }) {
			extra = append(extra, column{"an applied file edited", func(r *result) string {
				switch {
				case r.EditedExit == nil:
					return ""
				case *r.EditedExit == 0:
					return "not noticed (exit 0)"
				}
				return fmt.Sprintf("refused (exit %d)", *r.EditedExit)
			}})
		}
		cells := func(r *result) string {
			var c strings.Builder
			for _, x := range extra {
				c.WriteString(" " + x.cell(r) + " |")
			}
			return c.String()
		}
		for _, r := range b.results {
			if r.Workload != w.name {
				continue
			}
			if last != w.name {
				fmt.Fprintf(out, "\n### %s: %s — floor: %s\n\n", w.name, w.desc, w.floor)
				header, rule := "| tool | runs | wall | × floor | paired | CPU (user+sys) | peak RSS | wall min–max |", "|---|--:|--:|--:|--:|--:|--:|--:|"
				for _, x := range extra {
					header += " " + x.header + " |"
					rule += "--:|"
				}
				fmt.Fprintf(out, "%s\n%s\n", header, rule)
				last = w.name
			}
			name := r.Tool
			if r.Kind == "floor" {
				name += " (floor)"
			}
			if r.Error != "" && r.Runs == 0 {
				fmt.Fprintf(out, "| %s | 0 | FAILED | | | | | |%s\n", name, strings.Repeat(" |", len(extra)))
				continue
			}
			ratio, paired := "", ""
			if r.Floor != "" {
				ratio = fmt.Sprintf("%.2f×", r.Ratio)
				if r.Pairs > 0 {
					paired = fmt.Sprintf("%.2f×", r.PairedRatio)
				}
			}
			fmt.Fprintf(out, "| %s | %d | %s | %s | %s | %s | %s | %s–%s |%s\n", name, r.Runs, fmtMs(r.WallMs), ratio, paired, fmtMs(r.CPUMs), fmtKiB(r.PeakRSSKiB), fmtMs(r.WallMinMs), fmtMs(r.WallMaxMs), cells(r))
		}
	}
	fmt.Fprintf(out, "\n### Start-up (the version command) and binary size\n\n")
	fmt.Fprintf(out, "The machine's costs, measured beside them: %s (the first write to a fresh anonymous page, and getppid; medians of 5 rounds). A process start is mostly page faults: a machine whose faults cost more starts every tool, and the floors, more slowly.\n\n", b.costs)
	fmt.Fprintf(out, "| tool | runs | wall | CPU (user+sys) | peak RSS | binary |\n|---|--:|--:|--:|--:|--:|\n")
	for _, r := range b.results {
		if r.Workload != "startup" {
			continue
		}
		if r.Runs == 0 {
			fmt.Fprintf(out, "| %s | 0 | FAILED | | | %.1f MB |\n", r.Tool, float64(r.BinaryBytes)/1e6)
			continue
		}
		fmt.Fprintf(out, "| %s | %d | %s | %s | %s | %.1f MB |\n", r.Tool, r.Runs, fmtMs(r.WallMs), fmtMs(r.CPUMs), fmtKiB(r.PeakRSSKiB), float64(r.BinaryBytes)/1e6)
	}
	var failed []string
	for _, r := range b.results {
		if r.Error != "" {
			failed = append(failed, fmt.Sprintf("  %s %s: %s", r.Workload, r.Tool, r.Error))
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(out, "\nfailures:\n%s\n", strings.Join(failed, "\n"))
	}
	b.targets(out)
	fmt.Fprintf(out, "\ntotal time %s\n", elapsed.Round(time.Second))
}

// ratios shows a result's ratio to its floor, the figure a target is
// judged on, with the paired ratio beside it: when the two disagree about
// a target, the machine moved during the run.
func ratios(r *result) string {
	d := fmt.Sprintf("%.2f×", r.Ratio)
	if r.Pairs > 0 {
		d += fmt.Sprintf(" (paired %.2f×)", r.PairedRatio)
	}
	return d
}

// noisySpread is the max/min of a result's walls above which spreadNote
// warns: beyond it, where the runs fell moves the medians by more than the
// targets' margins (5–10 %).
const noisySpread = 1.5

// spreadNote warns, beside a target's verdict, when the floor's or Runway's
// walls spread so far that the verdict says more about the machine than the
// tool (on a disk shared with neighbours, W1 and W4 can spread 2×), and
// says what to do about it. It returns "" when both are steady.
func spreadNote(floor, tool *result, inMemory bool) string {
	worst, who := 0.0, ""
	for _, r := range []*result{floor, tool} {
		if r == nil || r.Runs < 2 || r.WallMinMs <= 0 {
			continue
		}
		if x := r.WallMaxMs / r.WallMinMs; x > worst {
			worst, who = x, r.Tool
		}
	}
	if worst <= noisySpread {
		return ""
	}
	fix := "more -reps or -work-dir /dev/shm"
	if inMemory {
		fix = "more -reps on a quieter machine"
	}
	return fmt.Sprintf("; noisy: %s's runs spread %.1f× (max/min), so the verdict may flip from run to run: see the paired ratio, or rerun with %s", who, worst, fix)
}

// targets checks Runway against issue 4's targets. The verdict is on the
// issue's ratio, median over median; the paired ratio is shown beside it.
func (b *bench) targets(out io.Writer) {
	get := func(w, t string) *result {
		for _, r := range b.results {
			if r.Workload == w && r.Tool == t && r.Runs > 0 {
				return r
			}
		}
		return nil
	}
	// belowPeers compares Runway with every peer on w: ok is false when
	// one was as fast; unchecked names the peers that were not compared
	// (left out by -tools, or failed), for which "below every peer" is
	// not shown.
	belowPeers := func(w string, rw *result) (ok bool, detail string, unchecked []string) {
		ok = true
		for _, p := range toolEntries[1:] {
			switch r := get(w, p); {
			case !b.wantTool(p):
				unchecked = append(unchecked, p+" (not run)")
			case r == nil:
				unchecked = append(unchecked, p+" (failed)")
			case r.Error != "":
				// A median over the runs that worked is not the tool's.
				unchecked = append(unchecked, fmt.Sprintf("%s (failed after %d runs)", p, r.Runs))
			case r.WallMs <= rw.WallMs:
				ok = false
				detail += " " + p
			}
		}
		if !ok {
			detail = "; not below:" + detail
		}
		if len(unchecked) > 0 {
			detail += "; not compared: " + strings.Join(unchecked, ", ")
		}
		return ok, detail, unchecked
	}
	// A verdict is "met" only when every part of the target was checked.
	verdict := func(ok, checked bool) string {
		switch {
		case !ok:
			return "MISSED"
		case !checked:
			return "UNCHECKED"
		}
		return "met"
	}
	// withChecksums names the no-op floor that also checks integrity, as
	// W2's target asks: an absolute target below it is below what any
	// tool that notices an edited file can do on this machine.
	withChecksums := func(w string) string {
		if c := get(w, eListsum); c != nil {
			return "; the Go floor with checksums: " + fmtMs(c.WallMs)
		}
		return ""
	}
	fmt.Fprintf(out, "\ntargets (issue 4):\n")
	if b.cfg.quick {
		fmt.Fprintf(out, "  (-quick: one run per tool and smaller workloads: a smoke test of the suite, not a verdict)\n")
	}
	// check returns whether r meets the target, whether every part of
	// the target could be checked, and what to show.
	line := func(w, target string, check func(r *result) (ok, checked bool, detail string)) {
		r := get(w, eRunway)
		if w == "W6" {
			r = get(w, eRunway16)
		}
		if r == nil {
			return
		}
		ok, checked, detail := check(r)
		var floor *result
		if r.Floor != "" {
			floor = get(w, r.Floor)
		}
		if r.Error != "" {
			// Runway failed in some runs: its median is over the others.
			checked = false
			detail += fmt.Sprintf("; %s failed after %d runs: %s", r.Tool, r.Runs, r.Error)
		}
		detail += spreadNote(floor, r, strings.HasPrefix(b.workFS, "tmpfs"))
		fmt.Fprintf(out, "  %-7s %-50s %-9s %s\n", w, target, verdict(ok, checked), detail)
	}
	line("W1", "≤ 1.05× psql -1, below every peer", func(r *result) (bool, bool, string) {
		bp, d, unchecked := belowPeers("W1", r)
		return r.Ratio <= 1.05 && bp, len(unchecked) == 0, ratios(r) + d
	})
	line("W1-lat", "≤ 0.75× psql -1", func(r *result) (bool, bool, string) {
		return r.Ratio <= 0.75, true, ratios(r)
	})
	line("W2", "≤ 10 ms wall, integrity checked, below every peer", func(r *result) (bool, bool, string) {
		bp, d, unchecked := belowPeers("W2", r)
		ok, checked := r.WallMs <= 10 && bp, len(unchecked) == 0
		integrity := ""
		switch {
		case r.EditedExit == nil:
			checked = false
			integrity = ", the edit check did not run"
		case *r.EditedExit == 5:
			integrity = ", an edited file refused (exit 5)"
		default:
			ok = false
			integrity = fmt.Sprintf(", an edited file not refused (exit %d, want 5)", *r.EditedExit)
		}
		return ok, checked, fmtMs(r.WallMs) + integrity + withChecksums("W2") + d
	})
	line("W3", "≤ 15 ms wall, one query", func(r *result) (bool, bool, string) {
		ok, checked := r.WallMs <= 15, r.Queries != nil
		d := fmtMs(r.WallMs)
		switch {
		case !checked:
			d += ", queries not counted"
		case *r.Queries == 1:
			d += ", 1 query"
		default:
			ok = false
			d += fmt.Sprintf(", %d queries", *r.Queries)
		}
		return ok, checked, d + withChecksums("W3")
	})
	line("W4", "≤ 1.05× mariadb", func(r *result) (bool, bool, string) {
		return r.Ratio <= 1.05, true, ratios(r)
	})
	line("W5", "≤ 1.0× psql -1, peak RSS ≤ 40 MiB", func(r *result) (bool, bool, string) {
		return r.Ratio <= 1.0 && r.PeakRSSKiB <= 40*1024, true, ratios(r) + ", " + fmtKiB(r.PeakRSSKiB)
	})
	line("W6", "≤ 1.1× one runner", func(r *result) (bool, bool, string) {
		d := ratios(r)
		if c := get("W6", eRunwayConns); c != nil && c.Runs > 0 {
			// What the crowd costs when its other members only connect.
			d += fmt.Sprintf("; one runner beside %d Go floors: %s", b.cfg.w6Runners-1, ratios(c))
		}
		return r.Ratio <= 1.1, true, d
	})
}

func (b *bench) writeJSON(path string) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, r := range b.results {
		if err := enc.Encode(r); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// machine describes the host: CPUs, CPU model, memory, Go.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "MemTotal:") {
				f := strings.Fields(l)
				if len(f) >= 2 {
					if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
						mem = fmt.Sprintf(", %.1f GiB RAM", kb/1024/1024)
					}
				}
			}
		}
	}
	goVer := "go ?"
	if out, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		goVer = strings.TrimSpace(string(out))
	}
	return fmt.Sprintf("%d CPUs (%s)%s, %s, %s", numCPU(), model, mem, goVer, kernel())
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "linux"
	}
	return "Linux " + strings.TrimSpace(string(b))
}

func numCPU() int {
	n, err := strconv.Atoi(strings.TrimSpace(mustOut("nproc")))
	if err != nil {
		return 0
	}
	return n
}

func mustOut(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil && !errors.Is(err, exec.ErrNotFound) {
		return ""
	}
	return string(out)
}
