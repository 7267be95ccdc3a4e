//go:build !linux

package main

import "time"

// preciseSleep is time.Sleep outside Linux; the proxy's calibration
// (calibrate) measures the round trip it gives and corrects the delay.
func preciseSleep(d time.Duration) { time.Sleep(d) }
