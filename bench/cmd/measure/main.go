// Command measure runs a command and writes its wall time, CPU time and peak
// RSS as JSON to the file named by -o; it exits with the command's status.
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
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: measure -o FILE -- COMMAND [ARGS]")
		os.Exit(2)
	}
	cmd := exec.Command(flag.Arg(0), flag.Args()[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	var r Result
	t := time.Now()
	err := cmd.Start()
	if err == nil {
		r.Started = true
		err = cmd.Wait()
	}
	r.WallNs = int64(time.Since(t))
	if st := cmd.ProcessState; st != nil {
		r.UserNs, r.SysNs = int64(st.UserTime()), int64(st.SystemTime())
		if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
			r.MaxRSS = ru.Maxrss
		}
		r.Exit = st.ExitCode()
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		fmt.Fprintln(os.Stderr, "measure:", err)
		r.Exit = 127
	}
	b, _ := json.Marshal(r)
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(125)
	}
	os.Exit(r.Exit)
}
