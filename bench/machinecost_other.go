//go:build !linux

package main

import (
	"errors"
	"time"
)

// machineCosts is measured on Linux only.
func machineCosts() (fault, call time.Duration, err error) {
	return 0, 0, errors.New("this measurement needs Linux")
}
