//go:build !linux

package postgres

import "testing"

// gathersOn is false: rawconn.Gather is made on Linux only.
func gathersOn(d *Driver) bool { return false }

// sessionLowat is 0: rawconn.Gather is made on Linux only.
func sessionLowat(t *testing.T, d *Driver) int { return 0 }
