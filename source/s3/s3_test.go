package s3_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/runwaydb/runway/migration"
	"github.com/runwaydb/runway/source"
	"github.com/runwaydb/runway/source/s3"
)

// The credentials the test store knows. The secret and the session token
// are also what no error may show.
const (
	keyID        = "AKIARUNWAYTEST000001"
	secretKey    = "runway/test/SECRET+key/0123456789abcdefXYZ"
	sessionToken = "runway-test-SESSION-TOKEN-0123456789"
	region       = "eu-west-1"
)

// fakeS3 is gofakes3 (an S3 API over an in-memory backend) on a loopback
// port, behind a SigV4 check: gofakes3 accepts any request whatever its
// signature, so verifySigV4 recomputes each request's signature with the
// SDK's own signer from the known secret and answers 403 with S3's error
// XML (InvalidAccessKeyId, SignatureDoesNotMatch) as S3 does.
type fakeS3 struct {
	url      string
	backend  *s3mem.Backend
	requests atomic.Int64
	signed   atomic.Int64 // requests whose signature was verified
}

func startS3(t *testing.T) *fakeS3 {
	t.Helper()
	f := &fakeS3{backend: s3mem.New()}
	faker := gofakes3.New(f.backend)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		if code, msg := verifySigV4(r); code != "" {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+
				`<Error><Code>%s</Code><Message>%s</Message><RequestId>test</RequestId></Error>`, code, msg)
			return
		}
		f.signed.Add(1)
		faker.Server().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL

	// The standard chain, isolated from the host: credentials and the
	// endpoint from the environment only, no shared files, no IMDS.
	empty := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           keyID,
		"AWS_SECRET_ACCESS_KEY":       secretKey,
		"AWS_SESSION_TOKEN":           sessionToken,
		"AWS_REGION":                  region,
		"AWS_ENDPOINT_URL_S3":         srv.URL,
		"AWS_CONFIG_FILE":             filepath.Join(empty, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(empty, "credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION",
		"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		unsetenv(t, k)
	}
	if err := f.backend.CreateBucket("artifacts"); err != nil {
		t.Fatal(err)
	}
	return f
}

func unsetenv(t *testing.T, k string) {
	t.Setenv(k, "") // restores the old value at the end
	os.Unsetenv(k)
}

func (f *fakeS3) put(t *testing.T, key string, data []byte) {
	t.Helper()
	if _, err := f.backend.PutObject("artifacts", key, map[string]string{}, bytes.NewReader(data), int64(len(data)), nil); err != nil {
		t.Fatal(err)
	}
}

// verifySigV4 checks an "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…,
// Signature=…" header the way S3 does: the key id must be known, and the
// signature recomputed over the signed headers with its secret must match.
func verifySigV4(r *http.Request) (code, msg string) {
	auth := r.Header.Get("Authorization")
	fields := map[string]string{}
	scheme, rest, _ := strings.Cut(auth, " ")
	for kv := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if scheme != "AWS4-HMAC-SHA256" || len(scope) != 5 {
		return "AccessDenied", "Access Denied"
	}
	if scope[0] != keyID {
		return "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
	}
	signedAt, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return "AccessDenied", "no X-Amz-Date"
	}
	clone := &http.Request{
		Method: r.Method, Host: r.Host, Header: http.Header{},
		URL: &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery},
	}
	for h := range strings.SplitSeq(fields["SignedHeaders"], ";") {
		if h != "host" {
			clone.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	creds := aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secretKey, SessionToken: sessionToken}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(r.Context(), creds, clone, r.Header.Get("X-Amz-Content-Sha256"), scope[3], scope[2], signedAt); err != nil {
		return "AccessDenied", "cannot sign"
	}
	if !strings.HasSuffix(clone.Header.Get("Authorization"), "Signature="+fields["Signature"]) {
		return "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method."
	}
	return "", ""
}

// fetcher returns the s3 fetcher as the CLI builds it.
func fetcher(t *testing.T, opts ...s3.Option) source.Option {
	t.Helper()
	f, err := s3.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return source.WithFetcher("s3", f)
}

var migrations = map[string]string{
	"0001_init.up.sql":   "CREATE TABLE a (id int);",
	"0001_init.down.sql": "DROP TABLE a;",
	"0002_b.up.sql":      "CREATE TABLE b (id int);",
}

// prefixed returns migrations under dir/, plus a README.
func prefixed(dir string) map[string]string {
	m := map[string]string{"README.md": "hi"}
	for k, v := range migrations {
		m[dir+k] = v
	}
	return m
}

func zipOf(t *testing.T, files map[string]string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range sortedKeys(files) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(files[name]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tgzOf(t *testing.T, files map[string]string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, name := range sortedKeys(files) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), Typeflag: tar.TypeReg})
		tw.Write([]byte(files[name]))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func readAll(t *testing.T, fsys fs.FS) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		got[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func open(t *testing.T, spec string, opts ...source.Option) *source.Source {
	t.Helper()
	src, err := source.Open(t.Context(), spec, opts...)
	if err != nil {
		t.Fatalf("Open(%q): %v", spec, err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// openErr opens spec expecting an error of kind, checks that no secret is
// in it, and returns it.
func openErr(t *testing.T, spec string, kind error, opts ...source.Option) *source.Error {
	t.Helper()
	src, err := source.Open(t.Context(), spec, opts...)
	if err == nil {
		src.Close()
		t.Fatalf("Open(%q) succeeded, want %v", spec, kind)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("Open(%q) = %v, want it to match %v", spec, err, kind)
	}
	for _, s := range []string{secretKey, sessionToken, "SECRET", "SESSION-TOKEN"} {
		if strings.Contains(err.Error(), s) || strings.Contains(fmt.Sprintf("%+v", err), s) {
			t.Fatalf("Open(%q): the error shows a secret: %v", spec, err)
		}
	}
	var se *source.Error
	if !errors.As(err, &se) {
		t.Fatalf("Open(%q) = %v (%T), not a *source.Error", spec, err, err)
	}
	t.Logf("%v", err)
	return se
}

func TestObjects(t *testing.T) {
	s := startS3(t)
	s.put(t, "pipeline/Source.zip", zipOf(t, prefixed("db/")))
	s.put(t, "releases/v1.tar.gz", tgzOf(t, prefixed("db/migrations/")))
	// A CodePipeline artifact key has no extension: the content tells.
	s.put(t, "pipeline/SourceArti/Ab12Cd", zipOf(t, prefixed("db/migrations/")))

	src := open(t, "s3://artifacts/pipeline/Source.zip//db", fetcher(t))
	if got := readAll(t, src.FS()); !maps.Equal(got, migrations) {
		t.Errorf("zip: %v", got)
	}
	if src.String() != "s3://artifacts/pipeline/Source.zip//db" {
		t.Errorf("String() = %q", src.String())
	}
	src = open(t, "s3://artifacts/releases/v1.tar.gz//db/migrations", fetcher(t))
	if got := readAll(t, src.FS()); !maps.Equal(got, migrations) {
		t.Errorf("tar.gz: %v", got)
	}
	src = open(t, "s3://artifacts/pipeline/SourceArti/Ab12Cd//db/migrations", fetcher(t))
	ms, err := migration.Load(src.FS())
	if err != nil || len(ms) != 2 {
		t.Errorf("migration.Load: %d migrations, %v", len(ms), err)
	}
	// Every request went through the signature check.
	if s.signed.Load() == 0 || s.signed.Load() != s.requests.Load() {
		t.Errorf("%d of %d requests verified", s.signed.Load(), s.requests.Load())
	}
}

func TestPrefix(t *testing.T) {
	s := startS3(t)
	for k, v := range migrations {
		s.put(t, "svc/migrations/"+k, []byte(v))
	}
	s.put(t, "svc/migrations/README.md", []byte("not a migration"))
	s.put(t, "svc/migrations/old/0000_x.up.sql", []byte("nested: not directly under"))
	s.put(t, "svc/migrationsX/0009_x.up.sql", []byte("another prefix"))
	s.put(t, "svc/migrations/", nil) // the console's folder placeholder

	src := open(t, "s3://artifacts/svc/migrations/", fetcher(t))
	if got := readAll(t, src.FS()); !maps.Equal(got, migrations) {
		t.Errorf("prefix: %v", got)
	}
	ms, err := migration.Load(src.FS())
	if err != nil || len(ms) != 2 {
		t.Errorf("migration.Load: %d migrations, %v", len(ms), err)
	}

	e := openErr(t, "s3://artifacts/svc/", source.ErrNotFound, fetcher(t))
	if e.Error() != "s3://artifacts/svc/: no .sql objects directly under the prefix (it holds the folders migrations/, migrationsX/)" {
		t.Errorf("%q", e)
	}
	e = openErr(t, "s3://artifacts/none/", source.ErrNotFound, fetcher(t))
	if e.Error() != "s3://artifacts/none/: no .sql objects directly under the prefix (it is empty)" {
		t.Errorf("%q", e)
	}
	// Limits apply to the listing before anything is downloaded.
	e = openErr(t, "s3://artifacts/svc/migrations/", source.ErrUnsafeArchive, fetcher(t), source.MaxEntries(2))
	if e.Error() != "s3://artifacts/svc/migrations/: holds more than 2 .sql objects (the MaxEntries limit)" {
		t.Errorf("%q", e)
	}
	e = openErr(t, "s3://artifacts/svc/migrations/", source.ErrUnsafeArchive, fetcher(t), source.MaxEntrySize(20))
	if !strings.HasSuffix(e.Error(), "the object is 24 bytes, larger than the 20-byte limit (MaxEntrySize)") || e.Entry == "" {
		t.Errorf("%q", e)
	}
	openErr(t, "s3://artifacts/svc/migrations/", source.ErrUnsafeArchive, fetcher(t), source.MaxTotalSize(40))
}

func TestNotFound(t *testing.T) {
	startS3(t)
	e := openErr(t, "s3://artifacts/nope.zip", source.ErrNotFound, fetcher(t))
	if !strings.HasPrefix(e.Error(), "s3://artifacts/nope.zip: no such object: ") || !errors.Is(e, fs.ErrNotExist) {
		t.Errorf("%q", e)
	}
	e = openErr(t, "s3://no-such-bucket/m.zip//db", source.ErrNotFound, fetcher(t))
	if !strings.HasPrefix(e.Error(), `s3://no-such-bucket/m.zip: no such bucket "no-such-bucket": `) {
		t.Errorf("%q", e)
	}
	e = openErr(t, "s3://no-such-bucket/m/", source.ErrNotFound, fetcher(t))
	if !strings.HasPrefix(e.Error(), `s3://no-such-bucket/m/: no such bucket "no-such-bucket": `) {
		t.Errorf("%q", e)
	}
}

func TestWrongCredentials(t *testing.T) {
	s := startS3(t)
	s.put(t, "m.zip", zipOf(t, migrations))
	open(t, "s3://artifacts/m.zip", fetcher(t))

	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN000000000")
	e := openErr(t, "s3://artifacts/m.zip", source.ErrAccess, fetcher(t))
	if !strings.HasPrefix(e.Error(), "s3://artifacts/m.zip: the AWS credentials were refused (InvalidAccessKeyId): check AWS_PROFILE / the task role: ") {
		t.Errorf("%q", e)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", keyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong/SECRET/key")
	e = openErr(t, "s3://artifacts/m.zip", source.ErrAccess, fetcher(t))
	if !strings.HasPrefix(e.Error(), "s3://artifacts/m.zip: the AWS credentials were refused (SignatureDoesNotMatch): check AWS_PROFILE / the task role") {
		t.Errorf("%q", e)
	}
	e = openErr(t, "s3://artifacts/m/", source.ErrAccess, fetcher(t))
	if !strings.Contains(e.Error(), "(SignatureDoesNotMatch)") {
		t.Errorf("%q", e)
	}
	// No credentials anywhere in the chain.
	unsetenv(t, "AWS_ACCESS_KEY_ID")
	unsetenv(t, "AWS_SECRET_ACCESS_KEY")
	unsetenv(t, "AWS_SESSION_TOKEN")
	before := s.requests.Load()
	e = openErr(t, "s3://artifacts/m.zip", source.ErrAccess, fetcher(t))
	if !strings.HasPrefix(e.Error(), "s3://artifacts/m.zip: no usable AWS credentials were found: check AWS_PROFILE / the task role") {
		t.Errorf("%q", e)
	}
	if s.requests.Load() != before {
		t.Error("a request was sent without credentials")
	}
	// A named profile that does not exist.
	t.Setenv("AWS_PROFILE", "nope")
	e = openErr(t, "s3://artifacts/m.zip", source.ErrAccess, fetcher(t))
	if !strings.HasPrefix(e.Error(), "s3://artifacts/m.zip: cannot load the AWS configuration: check AWS_PROFILE") {
		t.Errorf("%q", e)
	}
}

func TestSizeAndGuards(t *testing.T) {
	s := startS3(t)
	big := zipOf(t, map[string]string{"db/0001_a.up.sql": strings.Repeat("SELECT 1;\n", 1000)})
	s.put(t, "big.zip", append(big, make([]byte, 64<<10)...)) // padded past the limit
	e := openErr(t, "s3://artifacts/big.zip//db", source.ErrUnsafeArchive, fetcher(t), source.MaxTotalSize(64<<10))
	if want := fmt.Sprintf("s3://artifacts/big.zip: %d bytes, larger than the 64 KiB limit (MaxTotalSize)", len(big)+64<<10); e.Error() != want {
		t.Errorf("%q\nwant %q", e, want)
	}

	// Archives from S3 pass the same guards as local ones.
	s.put(t, "hostile.zip", zipOf(t, map[string]string{"db/0001_a.up.sql": "x", "../../etc/cron.d/x": "x"}))
	e = openErr(t, "s3://artifacts/hostile.zip//db", source.ErrUnsafeArchive, fetcher(t))
	if e.Error() != `s3://artifacts/hostile.zip: entry "../../etc/cron.d/x": path escapes the archive root` {
		t.Errorf("%q", e)
	}
	s.put(t, "bomb.tgz", tgzOf(t, map[string]string{"db/a.sql": strings.Repeat("0", 4<<20)}))
	e = openErr(t, "s3://artifacts/bomb.tgz//db", source.ErrUnsafeArchive, fetcher(t), source.MaxEntrySize(1<<20))
	if e.Error() != `s3://artifacts/bomb.tgz: entry "db/a.sql": declares 4 MiB, larger than the 1 MiB entry limit (MaxEntrySize)` {
		t.Errorf("%q", e)
	}
	s.put(t, "notes.txt", []byte("not an archive"))
	openErr(t, "s3://artifacts/notes.txt", source.ErrUnsupported, fetcher(t))
}

// The global AWS_ENDPOINT_URL works too, and WithAWSConfig replaces the
// default chain.
func TestEndpointAndConfig(t *testing.T) {
	s := startS3(t)
	s.put(t, "m.zip", zipOf(t, migrations))
	unsetenv(t, "AWS_ENDPOINT_URL_S3")
	t.Setenv("AWS_ENDPOINT_URL", s.url)
	if got := readAll(t, open(t, "s3://artifacts/m.zip", fetcher(t)).FS()); !maps.Equal(got, migrations) {
		t.Errorf("AWS_ENDPOINT_URL: %v", got)
	}

	unsetenv(t, "AWS_ENDPOINT_URL")
	unsetenv(t, "AWS_ACCESS_KEY_ID")
	cfg := aws.Config{
		Region:       region,
		BaseEndpoint: aws.String(s.url),
		Credentials:  credentials.NewStaticCredentialsProvider(keyID, secretKey, sessionToken),
	}
	if got := readAll(t, open(t, "s3://artifacts/m.zip", fetcher(t, s3.WithAWSConfig(cfg))).FS()); !maps.Equal(got, migrations) {
		t.Errorf("WithAWSConfig: %v", got)
	}
	if _, err := s3.New(s3.WithAWSConfig(aws.Config{})); !errors.Is(err, source.ErrInvalid) {
		t.Errorf("WithAWSConfig without credentials: %v", err)
	}
	openErr(t, "s3:///key.zip", source.ErrInvalid, fetcher(t))
}
