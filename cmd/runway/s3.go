//go:build !nos3

package main

import (
	"github.com/runwaydb/runway/source"
	s3source "github.com/runwaydb/runway/source/s3"
)

// s3Fetcher reads s3:// sources through the AWS SDK. Building with
// -tags nos3 leaves the SDK out (see s3_off.go).
func s3Fetcher() (source.Fetcher, error) { return s3source.New() }
