//go:build nos3

package main

import (
	"errors"

	"github.com/runwaydb/runway/source"
)

// s3Fetcher refuses s3:// sources: this binary was built without the AWS
// SDK, which starts about a millisecond faster and is about 3.5 MB smaller.
func s3Fetcher() (source.Fetcher, error) {
	return nil, errors.New("this runway was built with -tags nos3, without S3 support: use a build without that tag, or fetch the archive first and pass its path")
}
