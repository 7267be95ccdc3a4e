package main

import "testing"

func TestFSType(t *testing.T) {
	// /proc is procfs (0x9fa0) on every Linux; a type without a name is
	// shown by its number.
	if got := fsType("/proc"); got != "file system 0x9fa0" {
		t.Errorf("fsType(/proc) = %q", got)
	}
	if got := fsType("/no/such/folder"); got != "unknown file system" {
		t.Errorf("fsType of a missing folder = %q", got)
	}
}
