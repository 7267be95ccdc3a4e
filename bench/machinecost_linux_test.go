package main

import (
	"testing"
	"time"
)

// A page fault allocates and zeroes a page on top of entering the kernel, so
// it costs more than getppid, and neither takes anywhere near a millisecond.
func TestMachineCosts(t *testing.T) {
	fault, call, err := machineCosts()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("page fault %v, system call %v", fault, call)
	if call <= 0 || fault <= call || fault >= time.Millisecond {
		t.Fatalf("page fault %v, system call %v: want 0 < system call < page fault < 1 ms", fault, call)
	}
}
