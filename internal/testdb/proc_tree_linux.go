package testdb

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// descendants returns the processes below pid. PostgreSQL's backends make
// themselves session leaders (setsid), so signalling the postmaster's process
// group does not reach them: they must be found through their parent.
func descendants(pid int) []int {
	parent := map[int]int{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := procStat(p); len(f) >= 2 {
			parent[p], _ = strconv.Atoi(f[1])
		}
	}
	var out []int
	level := []int{pid}
	for len(level) > 0 {
		var next []int
		for p, pp := range parent {
			for _, l := range level {
				if pp == l {
					next = append(next, p)
				}
			}
		}
		out = append(out, next...)
		level = next
	}
	return out
}

// waitPIDsGone waits up to timeout for each of pids to have exited (a zombie
// has: it holds no memory) and reports whether they have.
func waitPIDsGone(pids []int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for _, p := range pids {
		for {
			f := procStat(p)
			if len(f) == 0 || f[0] == "Z" || f[0] == "X" {
				break
			}
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return true
}

// procStat returns the fields of /proc/pid/stat after the command name:
// state, ppid, pgrp, …; nil when the process is gone.
func procStat(pid int) []string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')') // the name may hold spaces and parentheses
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}
