//go:build !linux

package testdb

import "time"

// descendants cannot list processes outside Linux; a killed PostgreSQL's
// backends exit on their own once they notice the postmaster is gone.
func descendants(pid int) []int { return nil }

func waitPIDsGone(pids []int, timeout time.Duration) bool { return true }
