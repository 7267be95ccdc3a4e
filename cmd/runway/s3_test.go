//go:build !nos3

package main

import (
	"archive/zip"
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// --dir s3://bucket/artifact.zip//db/migrations through the real AWS SDK
// against an in-process S3 server (gofakes3; it does not check signatures —
// wrong credentials are tested in source/s3 behind a SigV4 check).
func TestS3Source(t *testing.T) {
	backend := s3mem.New()
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	empty := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIATESTTESTTESTTEST", "AWS_SECRET_ACCESS_KEY": "S3cr3tKeyForTests0000",
		"AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_S3": srv.URL, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(empty, "c"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(empty, "s"),
		"AWS_PROFILE": "",
	} {
		t.Setenv(k, v)
	}
	if err := backend.CreateBucket("artifacts"); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range map[string]string{
		"db/migrations/0001_a.up.sql": "CREATE TABLE a (id int);\n",
		"db/migrations/0002_b.up.sql": "CREATE TABLE b (id int);\n",
		"README.md":                   "artifact",
	} {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	zw.Close()
	if _, err := backend.PutObject("artifacts", "build/42/artifact.zip", map[string]string{}, bytes.NewReader(buf.Bytes()), int64(buf.Len()), nil); err != nil {
		t.Fatal(err)
	}
	db := "sqlite:" + filepath.Join(t.TempDir(), "x.db")
	cli := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := newApp(strings.NewReader(""), &out, &errb, os.Getenv, false, false).run(context.Background(), args)
		return code, out.String() + errb.String()
	}
	if code, out := cli("-d", db, "--dir", "s3://artifacts/build/42/artifact.zip//db/migrations", "up"); code != 0 || !strings.Contains(out, "applied 2 migration(s)") {
		t.Fatalf("up from s3: exit %d\n%s", code, out)
	}
	code, out := cli("-d", db, "--dir", "s3://artifacts/build/43/artifact.zip//db/migrations", "up")
	if code != exitUsage || !strings.Contains(out, "s3://artifacts/build/43/artifact.zip") {
		t.Fatalf("missing object: exit %d\n%s", code, out)
	}
	if strings.Contains(out, "S3cr3tKeyForTests0000") {
		t.Fatalf("the secret key is in the output:\n%s", out)
	}
	// A source that is not one names s3:// among what this build reads.
	file := filepath.Join(t.TempDir(), "0001_a.up.sql")
	os.WriteFile(file, []byte("SELECT 1;\n"), 0o644)
	code, out = cli("-d", db, "--dir", file, "up")
	if code != exitUsage || !strings.Contains(out, "or an s3://bucket/key object") || strings.Contains(out, "not enabled") {
		t.Fatalf("a file as --dir: exit %d\n%s", code, out)
	}
}
