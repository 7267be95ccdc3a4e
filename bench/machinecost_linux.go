package main

import (
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"
)

// machineCosts measures two costs that a process start and a no-op run are
// made of: a page fault (the first write to a fresh anonymous page) and a
// trivial system call (getppid). Machines with the same CPU count differ in
// them by ten times and more: a guest whose page tables the hypervisor
// shadows pays for every fault. They explain why the start-up and no-op
// figures move from one machine to the next when nothing else changed.
// Each is the median of five rounds.
func machineCosts() (fault, call time.Duration, err error) {
	const rounds, pages, calls = 5, 1024, 20000
	page := os.Getpagesize()
	size := pages * page
	var faults, callTimes []time.Duration
	for range rounds {
		mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			return 0, 0, fmt.Errorf("mmap: %w", err)
		}
		// Small pages, whatever the machine's transparent huge page
		// setting: a huge page would be one fault for 512 pages.
		if err := syscall.Madvise(mem, syscall.MADV_NOHUGEPAGE); err != nil {
			syscall.Munmap(mem)
			return 0, 0, fmt.Errorf("madvise: %w", err)
		}
		t := time.Now()
		for i := 0; i < size; i += page {
			mem[i] = 1
		}
		faults = append(faults, time.Since(t)/pages)
		if err := syscall.Munmap(mem); err != nil {
			return 0, 0, fmt.Errorf("munmap: %w", err)
		}

		t = time.Now()
		for range calls {
			syscall.RawSyscall(syscall.SYS_GETPPID, 0, 0, 0)
		}
		callTimes = append(callTimes, time.Since(t)/calls)
	}
	slices.Sort(faults)
	slices.Sort(callTimes)
	return faults[rounds/2], callTimes[rounds/2], nil
}
