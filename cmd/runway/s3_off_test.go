//go:build nos3

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Built with -tags nos3, an s3:// source is refused as a usage error that
// says why and what to do; the binary has no AWS SDK in it.
func TestNoS3Build(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"--dir", "s3://bucket/migrations.zip", "validate"}, strings.NewReader(""), &out, &errb, func(string) string { return "" })
	if code != exitUsage || !strings.Contains(errb.String(), "built with -tags nos3") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}
