package main

import (
	"fmt"
	"syscall"
)

// fsType names the file system that holds path: the servers' data on a
// disk or in memory changes the figures more than most changes to a tool.
func fsType(path string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return "unknown file system"
	}
	switch st.Type {
	case 0x01021994:
		return "tmpfs (memory)"
	case 0xef53:
		return "ext4 (or ext2/3)"
	case 0x58465342:
		return "xfs"
	case 0x9123683e:
		return "btrfs"
	case 0x794c7630:
		return "overlayfs"
	case 0x2fc12fc1:
		return "zfs"
	}
	return fmt.Sprintf("file system 0x%x", st.Type)
}
