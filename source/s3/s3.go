// Package s3 lets package source read migrations from Amazon S3 and
// S3-compatible stores, through the AWS SDK for Go v2:
//
//	s3://bucket/key          a .zip, .tar.gz or .tar object (by extension, else by content),
//	                         optionally followed by //sub/folder
//	s3://bucket/prefix/      the .sql objects directly under the prefix (trailing slash)
//
// Use it by handing its Fetcher to source.Open:
//
//	f, err := s3.New()
//	src, err := source.Open(ctx, "s3://artifacts/pipeline/Source.zip//db/migrations",
//		source.WithFetcher("s3", f))
//
// It is a package of its own so that only programs that import it build
// and download the AWS SDK: package source, the engine and every other
// library package import nothing from github.com/aws.
//
// # Configuration
//
// Credentials and region come from the SDK's standard chain
// (config.LoadDefaultConfig: environment, AWS_PROFILE and the shared
// files, web identity, the ECS task role, EC2 instance metadata), unless
// WithAWSConfig gives a configuration. AWS_REGION sets the region
// (us-east-1 when none is configured). AWS_ENDPOINT_URL_S3 or
// AWS_ENDPOINT_URL points the client at an S3-compatible store, read by the
// SDK itself; with an endpoint set, requests use path-style addressing
// (http://host/bucket/key), which such stores expect.
//
// # Errors
//
// Errors are *source.Error values naming the s3:// location: a missing
// bucket or object matches source.ErrNotFound, refused or missing
// credentials match source.ErrAccess, an object larger than the
// MaxTotalSize limit matches source.ErrUnsafeArchive. No error holds a
// secret key or session token: the SDK's errors carry the operation, the
// status, the error code and the request id, never credentials.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/runwaydb/runway/source"
)

// DefaultRegion is the region used when the chain configures none.
const DefaultRegion = "us-east-1"

// parallel is how many objects of a prefix are downloaded at once.
const parallel = 8

// Fetcher fetches s3:// sources for source.Open.
type Fetcher struct {
	awsConfig *aws.Config // nil: config.LoadDefaultConfig at each Fetch
}

var _ source.Fetcher = (*Fetcher)(nil)

// Option configures New.
type Option func(*Fetcher) error

// WithAWSConfig uses cfg instead of loading the default configuration
// chain; its region still defaults to us-east-1 when empty, and its
// BaseEndpoint, when set, turns on path-style addressing.
func WithAWSConfig(cfg aws.Config) Option {
	return func(f *Fetcher) error {
		if cfg.Credentials == nil {
			return &source.Error{Kind: source.ErrInvalid, Msg: "s3.WithAWSConfig: the configuration has no credentials provider"}
		}
		f.awsConfig = &cfg
		return nil
	}
}

// New returns a Fetcher. It does no I/O: the configuration is loaded, and
// credentials resolved, when a source is fetched.
func New(opts ...Option) (*Fetcher, error) {
	f := &Fetcher{}
	for _, opt := range opts {
		if err := opt(f); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// Fetch downloads s3://bucket/key as an archive for Open to read, or, for a
// location ending in "/", every .sql object directly under that prefix.
// Sizes are checked against the limits in req before anything is
// downloaded, and counted again as bytes arrive.
func (f *Fetcher) Fetch(ctx context.Context, req source.FetchRequest) (*source.Download, error) {
	bucket, key, err := parseLocation(req.URL)
	if err != nil {
		return nil, &source.Error{Path: req.Name, Kind: source.ErrInvalid, Msg: err.Error()}
	}
	client, err := f.client(ctx)
	if err != nil {
		return nil, &source.Error{Path: req.Name, Kind: source.ErrAccess,
			Msg: "cannot load the AWS configuration: check AWS_PROFILE, AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE", Err: err}
	}
	// Resolve the credentials first, so that an empty chain is named as
	// such; the client reuses them (the chain's provider caches them).
	if creds := client.Options().Credentials; creds == nil {
		return nil, &source.Error{Path: req.Name, Kind: source.ErrAccess, Msg: "no AWS credentials provider is configured: " + accessHint}
	} else if _, err := creds.Retrieve(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &source.Error{Path: req.Name, Kind: source.ErrAccess,
			Msg: "no usable AWS credentials were found: " + accessHint, Err: err}
	}
	if key == "" || strings.HasSuffix(key, "/") {
		return fetchPrefix(ctx, client, req, bucket, key)
	}
	out, err := client.GetObject(ctx, &awss3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return nil, describe(req.Name, bucket, err)
	}
	// Only the response headers have arrived: with Size set, Open refuses
	// an object over MaxTotalSize and closes the body, which stops the
	// transfer, before reading any of it.
	return &source.Download{Name: path.Base(key), Size: aws.ToInt64(out.ContentLength), Body: out.Body}, nil
}

// parseLocation splits "s3://bucket/key"; the key is taken as written (S3
// keys are not URL-encoded in an s3:// location).
func parseLocation(loc string) (bucket, key string, err error) {
	i := strings.Index(loc, "://")
	if i < 0 || !strings.EqualFold(loc[:i], "s3") {
		return "", "", errors.New("not an s3:// location")
	}
	rest := loc[i+3:]
	bucket, key, _ = strings.Cut(rest, "/")
	if bucket == "" || strings.ContainsAny(bucket, "@:?#") {
		return "", "", errors.New("no bucket: write s3://bucket/key or s3://bucket/prefix/")
	}
	return bucket, key, nil
}

// client builds the S3 client from the configured or default chain.
func (f *Fetcher) client(ctx context.Context) (*awss3.Client, error) {
	var cfg aws.Config
	if f.awsConfig != nil {
		cfg = f.awsConfig.Copy()
	} else {
		var err error
		if cfg, err = config.LoadDefaultConfig(ctx); err != nil {
			return nil, err
		}
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	return awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		// BaseEndpoint is resolved by now from the config or from
		// AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL: an S3-compatible store,
		// which rarely serves virtual-hosted bucket names.
		if o.BaseEndpoint != nil {
			o.UsePathStyle = true
		}
		// The library is quiet: no SDK warning about stores that send no
		// checksum.
		o.DisableLogOutputChecksumValidationSkipped = true
	}), nil
}

// fetchPrefix lists the prefix (one level: Delimiter "/") and downloads its
// .sql objects into memory.
func fetchPrefix(ctx context.Context, client *awss3.Client, req source.FetchRequest, bucket, prefix string) (*source.Download, error) {
	type object struct {
		key, name string
		size      int64
	}
	var objects []object
	var folders []string
	var total int64
	others := 0
	pages := awss3.NewListObjectsV2Paginator(client, &awss3.ListObjectsV2Input{
		Bucket: &bucket, Prefix: &prefix, Delimiter: aws.String("/"),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, describe(req.Name, bucket, err)
		}
		for _, cp := range page.CommonPrefixes {
			folders = append(folders, strings.TrimPrefix(aws.ToString(cp.Prefix), prefix))
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			name, ok := strings.CutPrefix(key, prefix)
			if !ok || name == "" || strings.Contains(name, "/") {
				continue // the prefix's own placeholder object
			}
			if path.Ext(name) != ".sql" {
				others++
				continue
			}
			if len(objects) >= req.MaxFiles {
				return nil, &source.Error{Path: req.Name, Kind: source.ErrUnsafeArchive,
					Msg: fmt.Sprintf("holds more than %d .sql objects (the MaxEntries limit)", req.MaxFiles)}
			}
			size := aws.ToInt64(o.Size)
			if size > req.MaxFileSize {
				return nil, &source.Error{Path: req.Name, Entry: name, Kind: source.ErrUnsafeArchive,
					Msg: fmt.Sprintf("the object is %d bytes, larger than the %d-byte limit (MaxEntrySize)", size, req.MaxFileSize)}
			}
			if total += size; total > req.MaxSize {
				return nil, &source.Error{Path: req.Name, Kind: source.ErrUnsafeArchive,
					Msg: fmt.Sprintf("its .sql objects hold more than the %d-byte limit (MaxTotalSize)", req.MaxSize)}
			}
			objects = append(objects, object{key, name, size})
		}
	}
	if len(objects) == 0 {
		msg := "no .sql objects directly under the prefix"
		switch {
		case len(folders) > 0:
			slices.Sort(folders)
			if len(folders) > 10 {
				folders = append(folders[:10], "…")
			}
			msg += " (it holds the folders " + strings.Join(folders, ", ") + ")"
		case others > 0:
			msg += fmt.Sprintf(" (it holds %d other objects)", others)
		default:
			msg += " (it is empty)"
		}
		return nil, &source.Error{Path: req.Name, Kind: source.ErrNotFound, Msg: msg}
	}

	files := make(map[string][]byte, len(objects))
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	slots := make(chan struct{}, parallel)
	for _, o := range objects {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			data, err := getObject(ctx, client, req, bucket, o.key, o.name)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				return
			}
			files[o.name] = data
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return &source.Download{Files: files}, nil
}

// getObject downloads one .sql object of a prefix, at most MaxFileSize bytes.
func getObject(ctx context.Context, client *awss3.Client, req source.FetchRequest, bucket, key, name string) ([]byte, error) {
	out, err := client.GetObject(ctx, &awss3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		e := describe(req.Name, bucket, err)
		var se *source.Error
		if errors.As(e, &se) {
			se.Entry = name
		}
		return nil, e
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, req.MaxFileSize+1))
	if err != nil {
		return nil, &source.Error{Path: req.Name, Entry: name, Msg: "the download broke off", Err: err}
	}
	if int64(len(data)) > req.MaxFileSize {
		return nil, &source.Error{Path: req.Name, Entry: name, Kind: source.ErrUnsafeArchive,
			Msg: fmt.Sprintf("the object is larger than the %d-byte limit (MaxEntrySize)", req.MaxFileSize)}
	}
	return data, nil
}

// accessHint ends every ErrAccess message: where the credentials come from.
const accessHint = "check AWS_PROFILE / the task role"

// describe turns an SDK error into a *source.Error saying what to do.
func describe(name, bucket string, err error) error {
	code := ""
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	status := 0
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var sign *v4.SigningError
	e := &source.Error{Path: name, Err: err}
	switch {
	case errors.As(err, &sign):
		e.Kind = source.ErrAccess
		e.Msg = "no usable AWS credentials were found: " + accessHint
	case code == "NoSuchBucket":
		e.Kind = source.ErrNotFound
		e.Msg = fmt.Sprintf("no such bucket %q", bucket)
	case code == "NoSuchKey", code == "NotFound", status == 404:
		e.Kind = source.ErrNotFound
		e.Msg = "no such object"
	case code == "InvalidAccessKeyId", code == "SignatureDoesNotMatch", code == "ExpiredToken",
		code == "InvalidToken", code == "TokenRefreshRequired", code == "InvalidClientTokenId":
		e.Kind = source.ErrAccess
		e.Msg = fmt.Sprintf("the AWS credentials were refused (%s): %s", code, accessHint)
	case code == "AccessDenied", code == "AllAccessDisabled", status == 403:
		e.Kind = source.ErrAccess
		e.Msg = fmt.Sprintf("access denied (%s): the credentials in use may not read it "+
			"(s3:GetObject, and s3:ListBucket, without which a missing object is denied too): %s", orStatus(code, status), accessHint)
	case code == "PermanentRedirect", code == "AuthorizationHeaderMalformed", status == 301:
		e.Kind = source.ErrInvalid
		e.Msg = "the bucket is in another region"
		if re != nil && re.Response != nil {
			if r := re.Response.Header.Get("X-Amz-Bucket-Region"); r != "" {
				e.Msg += fmt.Sprintf(": set AWS_REGION=%s", r)
			}
		}
	default:
		e.Msg = "cannot read from S3"
	}
	return e
}

func orStatus(code string, status int) string {
	if code != "" {
		return code
	}
	return fmt.Sprintf("HTTP %d", status)
}
