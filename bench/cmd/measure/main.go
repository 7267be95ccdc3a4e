// Command measure runs a command and writes its wall time, CPU time and peak
// RSS as JSON to the file named by -o; it exits with the command's status.
// With -n N it starts N copies of the command at once (W6's crowd) and
// reports the wall time from the first start to the last exit, the CPU time
// of all of them and the largest peak RSS; it exits with the first non-zero
// status. One helper for the whole crowd keeps the suite's own start-ups
// out of the crowd's figure: N helpers would start beside the N runners.
// With -with M, the arguments hold a second command after a "---"
// argument, and M copies of it start at the same moment as the first
// command's copies (W6's reference: one runner beside a crowd of bare
// client connections); the figures cover all of them.
//
// The suite starts every timed process through it because Linux's peak RSS
// (rusage ru_maxrss) of a child includes the RSS of the process it was
// spawned from at exec time: spawned straight from the suite, every child
// would report at least the suite's own RSS. This helper is small, so what
// it adds to a child's figure is a few MiB at most (reported as
// measure's own start-up in the table).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"syscall"
	"time"
)

// Result is what measure writes.
type Result struct {
	WallNs  int64 `json:"wall_ns"`
	UserNs  int64 `json:"user_ns"`
	SysNs   int64 `json:"sys_ns"`
	MaxRSS  int64 `json:"max_rss_kib"`
	Exit    int   `json:"exit"`
	Started bool  `json:"started"`
}

func main() {
	out := flag.String("o", "", "result file")
	n := flag.Int("n", 1, "copies of the command to start at once")
	with := flag.Int("with", 0, "copies of the second command (after a --- argument) to start beside them")
	flag.Parse()
	argv, second := flag.Args(), []string(nil)
	if *with > 0 {
		i := slices.Index(argv, "---")
		if i < 0 {
			argv = nil // usage error below
		} else {
			argv, second = argv[:i], argv[i+1:]
		}
	}
	if *out == "" || len(argv) == 0 || *n < 1 || *with > 0 && len(second) == 0 {
		fmt.Fprintln(os.Stderr, "usage: measure -o FILE [-n N] [-with M] -- COMMAND [ARGS] [--- SECOND [ARGS]]")
		os.Exit(2)
	}
	cmds := make([]*exec.Cmd, 0, *n+*with)
	for i := range *n + *with {
		a := argv
		if i >= *n {
			a = second
		}
		cmd := exec.Command(a[0], a[1:]...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if *n+*with == 1 {
			cmd.Stdin = os.Stdin // a crowd gets no input
		}
		cmds = append(cmds, cmd)
	}
	var r Result
	errs := make([]error, len(cmds))
	t := time.Now()
	for i, cmd := range cmds {
		errs[i] = cmd.Start()
	}
	r.Started = errs[0] == nil
	for i, cmd := range cmds {
		if errs[i] == nil {
			errs[i] = cmd.Wait()
		}
	}
	r.WallNs = int64(time.Since(t))
	for i, cmd := range cmds {
		exit := 0
		if st := cmd.ProcessState; st != nil {
			r.UserNs += int64(st.UserTime())
			r.SysNs += int64(st.SystemTime())
			if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
				r.MaxRSS = max(r.MaxRSS, maxRSSKiB(ru))
			}
			exit = st.ExitCode()
		}
		var ee *exec.ExitError
		if errs[i] != nil && !errors.As(errs[i], &ee) {
			fmt.Fprintln(os.Stderr, "measure:", errs[i])
			exit = 127
		}
		if r.Exit == 0 {
			r.Exit = exit
		}
	}
	b, _ := json.Marshal(r)
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(125)
	}
	os.Exit(r.Exit)
}

// maxRSSKiB is ru_maxrss in KiB: Linux counts it in KiB, macOS in bytes.
func maxRSSKiB(ru *syscall.Rusage) int64 {
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss) / 1024
	}
	return int64(ru.Maxrss)
}
