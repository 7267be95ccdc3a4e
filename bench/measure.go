package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// invocation is one process to time.
type invocation struct {
	argv   []string
	stdin  string // file fed on standard input, if any
	dir    string
	copies int // W6: how many copies start at once (0 or 1: one)
	// W6's reference: withCopies copies of the command with start at the
	// same moment as argv's.
	with       []string
	withCopies int
}

// sample is one timed run: wall from start to exit, CPU and peak RSS of the
// child process (its rusage: the database server's work is not in it).
type sample struct {
	rep    int // the round it was measured in (tools alternate within a round)
	wall   time.Duration
	user   time.Duration
	sys    time.Duration
	rssKiB int64
	// queries is what the run sent its server, when it went through a
	// proxy that could count them all (counted).
	queries int64
	counted bool
	exit    int // the command's exit status
}

func (s sample) cpu() time.Duration { return s.user + s.sys }

// childEnv is the environment every tool runs with: no variable that could
// point a tool at another database or change its behaviour.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "DATABASE_URL", strings.HasPrefix(k, "RUNWAY_"), strings.HasPrefix(k, "PG"),
			strings.HasPrefix(k, "GOOSE_"), strings.HasPrefix(k, "DBMATE_"), strings.HasPrefix(k, "MYSQL"),
			k == "GODEBUG", k == "GOGC", k == "GOMAXPROCS", k == "GOMEMLIMIT":
			continue
		}
		env = append(env, kv)
	}
	return env
}

var cleanEnv = childEnv()

// tail keeps the last bytes of a process's output for error messages.
type tail struct{ bytes.Buffer }

func (t *tail) Write(p []byte) (int, error) {
	t.Buffer.Write(p)
	if t.Len() > 64<<10 {
		b := t.Bytes()
		keep := append([]byte(nil), b[len(b)-16<<10:]...)
		t.Reset()
		t.Buffer.Write(keep)
	}
	return len(p), nil
}

func (t *tail) last() string {
	s := strings.TrimSpace(t.String())
	if len(s) > 600 {
		s = "…" + s[len(s)-600:]
	}
	return s
}

type running struct {
	cmd    *exec.Cmd
	out    *tail
	start  time.Time
	in     *os.File
	result string
	argv   []string
}

// measureBin is the helper every timed process is started through
// (cmd/measure); measureDir holds its result files.
var (
	measureBin string
	measureDir string
	measureSeq atomic.Int64
)

func start(inv invocation) (*running, error) {
	result := filepath.Join(measureDir, fmt.Sprintf("m%d.json", measureSeq.Add(1)))
	args := []string{"-o", result}
	if inv.copies > 1 {
		args = append(args, "-n", strconv.Itoa(inv.copies))
	}
	if inv.withCopies > 0 {
		args = append(args, "-with", strconv.Itoa(inv.withCopies))
	}
	args = append(append(args, "--"), inv.argv...)
	if inv.withCopies > 0 {
		args = append(append(args, "---"), inv.with...)
	}
	cmd := exec.Command(measureBin, args...)
	cmd.Env = cleanEnv
	cmd.Dir = inv.dir
	out := &tail{}
	cmd.Stdout, cmd.Stderr = out, out
	r := &running{cmd: cmd, out: out, result: result, argv: inv.argv}
	if inv.stdin != "" {
		f, err := os.Open(inv.stdin)
		if err != nil {
			return nil, err
		}
		cmd.Stdin = f
		r.in = f
	}
	r.start = time.Now()
	if err := cmd.Start(); err != nil {
		if r.in != nil {
			r.in.Close()
		}
		return nil, err
	}
	return r, nil
}

func (r *running) wait() (sample, error) {
	err := r.cmd.Wait()
	wall := time.Since(r.start)
	if r.in != nil {
		r.in.Close()
	}
	var m struct {
		WallNs  int64 `json:"wall_ns"`
		UserNs  int64 `json:"user_ns"`
		SysNs   int64 `json:"sys_ns"`
		MaxRSS  int64 `json:"max_rss_kib"`
		Started bool  `json:"started"`
		Exit    int   `json:"exit"`
	}
	b, rerr := os.ReadFile(r.result)
	os.Remove(r.result)
	if rerr == nil {
		rerr = json.Unmarshal(b, &m)
	}
	s := sample{wall: time.Duration(m.WallNs), user: time.Duration(m.UserNs), sys: time.Duration(m.SysNs), rssKiB: m.MaxRSS, exit: m.Exit}
	if rerr != nil {
		s.wall = wall
		s.exit = r.cmd.ProcessState.ExitCode()
	}
	if err == nil && rerr != nil {
		err = fmt.Errorf("measure helper: %v", rerr)
	}
	if err != nil {
		return s, fmt.Errorf("%s: %v: %s", strings.Join(shortArgv(r.argv), " "), err, r.out.last())
	}
	return s, nil
}

func shortArgv(a []string) []string {
	out := make([]string, len(a))
	for i, s := range a {
		if i == 0 {
			s = s[strings.LastIndexByte(s, '/')+1:]
		}
		out[i] = s
	}
	return out
}

// run times one process.
func run(inv invocation) (sample, error) {
	r, err := start(inv)
	if err != nil {
		return sample{}, err
	}
	return r.wait()
}

// median is the middle value of xs, or the mean of the middle two (0 for
// none); xs is not changed.
func median[T ~int64 | ~float64](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// pairedRatio is the median, over the rounds both were measured in, of
// the tool's wall divided by the floor's wall in the same round, and the
// number of such rounds. Tools alternate within a round, so the two walls
// of a pair are minutes apart at most: a machine that slows down for a
// while slows both, and their ratio keeps what the medians' ratio loses.
func pairedRatio(tool, floor []sample) (float64, int) {
	byRep := map[int]time.Duration{}
	for _, f := range floor {
		byRep[f.rep] = f.wall
	}
	var ratios []float64
	for _, t := range tool {
		if f, ok := byRep[t.rep]; ok && f > 0 {
			ratios = append(ratios, float64(t.wall)/float64(f))
		}
	}
	return median(ratios), len(ratios)
}
