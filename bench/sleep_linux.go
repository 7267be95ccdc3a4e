package main

import (
	"syscall"
	"time"
)

// preciseSleep blocks the goroutine's thread in nanosleep(2): time.Sleep
// waits in epoll with millisecond resolution, which would turn 1.25 ms into
// about 2.2 ms.
func preciseSleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}
