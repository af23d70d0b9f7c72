// Package s3 is a dest.Destination that writes objects to Amazon S3 or to
// any S3-compatible store through aws-sdk-go-v2.
//
// Small bodies go up in one PutObject; a body larger than one part is sent
// as a multipart upload, one part in memory at a time, so memory per Put is
// bounded by PartSize whatever the object size. Either way the object
// appears atomically: S3 shows a multipart object only once
// CompleteMultipartUpload succeeds, and an upload that fails half way is
// aborted.
//
// # Notes
//
//   - Retries: the SDK retries each request a few times; beyond that Put
//     returns the error and the caller retries the whole object. A
//     delivery stream does so with back-off for as long as its write-ahead
//     log holds the records, so an outage delays objects but never drops
//     them. A request S3 refuses outright (a 4xx other than a timeout,
//     a conflict or throttling: AccessDenied, NoSuchBucket,
//     KeyTooLongError, ...) is returned as dest.Permanent (see classify),
//     and the delivery stream reports the object instead of retrying it.
//   - Checksums are only sent when an operation requires them
//     (RequestChecksumCalculation: WhenRequired): S3-compatible stores such
//     as versitygw reject per-part checksums that CreateMultipartUpload did
//     not announce.
//   - Endpoint "" or "aws" means real S3 with the standard credential and
//     region chain; any other value is a base URL reached with path-style
//     addressing.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/sluice-dev/sluice/sinks/dest"
)

const (
	// MinPartSize is S3's minimum size of every part but the last.
	MinPartSize = 5 << 20
	// DefaultPartSize is the part size when Config.PartSize is zero.
	DefaultPartSize = 8 << 20
	// maxParts is S3's limit on parts per upload.
	maxParts = 10000
	// defaultRegion is used for S3-compatible endpoints when the standard
	// chain names none; such stores ignore it but SigV4 needs one.
	defaultRegion = "us-east-1"
)

// Config says which store to reach and how.
type Config struct {
	// Endpoint is the base URL of an S3-compatible store
	// (http://127.0.0.1:7070), or "" / "aws" for Amazon S3.
	Endpoint string
	// Region overrides the region from the standard chain.
	Region string
	// AccessKeyID and SecretAccessKey, when both set, replace the standard
	// credential chain (tests and local stores).
	AccessKeyID, SecretAccessKey string
	// PartSize is the multipart part size and the largest body sent in a
	// single PutObject; at least MinPartSize. Default DefaultPartSize.
	PartSize int64
	// MaxAttempts is the SDK's attempts per request (default 3).
	MaxAttempts int
}

// AWS reports whether the config targets Amazon S3 rather than an
// S3-compatible endpoint.
func (c Config) AWS() bool { return c.Endpoint == "" || c.Endpoint == "aws" }

// Store writes objects to S3. It is safe for concurrent use.
type Store struct {
	c        *awss3.Client
	partSize int64
	// bufs recycles object buffers. While the store is unreachable the
	// delivery streams retry every pending object again and again; a fresh
	// PartSize buffer per attempt made the heap (and RSS) grow by hundreds
	// of MiB during an outage although the backlog itself waits on disk.
	bufs sync.Pool
}

var _ dest.Destination = (*Store)(nil)

// New builds a client from cfg and the standard AWS configuration chain.
// It makes no request.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize < MinPartSize {
		return nil, fmt.Errorf("s3: part size %d is below S3's minimum %d", cfg.PartSize, MinPartSize)
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 3
	}
	// No custom HTTP client here: with AWS_CA_BUNDLE set the SDK must be
	// free to build its own transport (shared/tooling.md).
	opts := []func(*config.LoadOptions) error{
		config.WithRetryMaxAttempts(cfg.MaxAttempts),
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" && cfg.SecretAccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")))
	}
	ac, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS configuration: %w", err)
	}
	if ac.Region == "" && !cfg.AWS() {
		ac.Region = defaultRegion
	}
	c := awss3.NewFromConfig(ac, func(o *awss3.Options) {
		if !cfg.AWS() {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
			o.UsePathStyle = true
		}
	})
	st := &Store{c: c, partSize: cfg.PartSize}
	st.bufs.New = func() any { return new(bytes.Buffer) }
	return st, nil
}

// Client returns the underlying SDK client (tests read objects back with it).
func (s *Store) Client() *awss3.Client { return s.c }

// EnsureBucket creates bucket unless it exists already.
func (s *Store) EnsureBucket(ctx context.Context, bucket string) error {
	if _, err := s.c.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String(bucket)}); err == nil {
		return nil
	}
	_, err := s.c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	var exists *types.BucketAlreadyExists
	if err == nil || errors.As(err, &owned) || errors.As(err, &exists) {
		return nil
	}
	return fmt.Errorf("s3: create bucket %s: %w", bucket, err)
}

// Put stores body under bucket/key. Bodies up to PartSize go up in one
// PutObject; larger ones as a multipart upload that is aborted on failure.
func (s *Store) Put(ctx context.Context, bucket, key string, body io.Reader, meta dest.ObjectMeta) error {
	buf := s.bufs.Get().(*bytes.Buffer)
	defer s.bufs.Put(buf)
	buf.Reset()
	// Read at most one part: most objects are far smaller than a part, and
	// the buffer grows only as far as the object needs.
	n, err := io.CopyN(buf, body, s.partSize)
	switch {
	case err == io.EOF:
		return s.putSingle(ctx, bucket, key, buf.Bytes(), meta)
	case err != nil:
		return fmt.Errorf("s3: put %s/%s: read body: %w", bucket, key, err)
	}
	first := buf.Bytes()[:n]
	return s.putMultipart(ctx, bucket, key, first, body, meta)
}

func (s *Store) putSingle(ctx context.Context, bucket, key string, b []byte, meta dest.ObjectMeta) error {
	body := fence(b)
	defer body.close()
	_, err := s.c.PutObject(ctx, &awss3.PutObjectInput{
		Bucket:          aws.String(bucket),
		Key:             aws.String(key),
		Body:            body,
		ContentLength:   aws.Int64(int64(len(b))),
		ContentType:     contentType(meta),
		ContentEncoding: optional(meta.ContentEncoding),
		Metadata:        userMetadata(meta),
	})
	if err != nil {
		return classify(fmt.Errorf("s3: put %s/%s: %w", bucket, key, err))
	}
	return nil
}

// putMultipart uploads first (a full part) and the rest of body in parts.
func (s *Store) putMultipart(ctx context.Context, bucket, key string, first []byte, body io.Reader, meta dest.ObjectMeta) (err error) {
	cr, err := s.c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{
		Bucket:          aws.String(bucket),
		Key:             aws.String(key),
		ContentType:     contentType(meta),
		ContentEncoding: optional(meta.ContentEncoding),
		Metadata:        userMetadata(meta),
	})
	if err != nil {
		return classify(fmt.Errorf("s3: start multipart upload of %s/%s: %w", bucket, key, err))
	}
	defer func() {
		if err != nil {
			// Abort with its own context: ctx may be the reason we failed.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			s.c.AbortMultipartUpload(actx, &awss3.AbortMultipartUploadInput{
				Bucket: aws.String(bucket), Key: aws.String(key), UploadId: cr.UploadId,
			})
		}
	}()
	var parts []types.CompletedPart
	part := first
	for num := int32(1); ; num++ {
		if num > maxParts {
			return fmt.Errorf("s3: put %s/%s: object needs more than %d parts of %d bytes", bucket, key, maxParts, s.partSize)
		}
		pb := fence(part)
		up, err := s.c.UploadPart(ctx, &awss3.UploadPartInput{
			Bucket:        aws.String(bucket),
			Key:           aws.String(key),
			UploadId:      cr.UploadId,
			PartNumber:    aws.Int32(num),
			Body:          pb,
			ContentLength: aws.Int64(int64(len(part))),
		})
		pb.close()
		if err != nil {
			return classify(fmt.Errorf("s3: upload part %d of %s/%s: %w", num, bucket, key, err))
		}
		parts = append(parts, types.CompletedPart{ETag: up.ETag, PartNumber: aws.Int32(num)})
		n, rerr := io.ReadFull(body, first[:s.partSize])
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			return fmt.Errorf("s3: put %s/%s: read body: %w", bucket, key, rerr)
		}
		if n == 0 {
			break
		}
		part = first[:n]
	}
	_, err = s.c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
		Bucket:          aws.String(bucket),
		Key:             aws.String(key),
		UploadId:        cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return classify(fmt.Errorf("s3: complete multipart upload of %s/%s: %w", bucket, key, err))
	}
	return nil
}

// Get reads bucket/key and its metadata back.
func (s *Store) Get(ctx context.Context, bucket, key string) ([]byte, dest.ObjectMeta, error) {
	var m dest.ObjectMeta
	out, err := s.c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		var nk *types.NoSuchKey
		if errors.As(err, &nk) || isCode(err, "NotFound") {
			return nil, m, fmt.Errorf("s3: get %s/%s: %w", bucket, key, dest.ErrNotFound)
		}
		return nil, m, fmt.Errorf("s3: get %s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, m, fmt.Errorf("s3: read %s/%s: %w", bucket, key, err)
	}
	m.ContentType = aws.ToString(out.ContentType)
	m.ContentEncoding = aws.ToString(out.ContentEncoding)
	m.Extra = map[string]string{}
	for k, v := range out.Metadata {
		switch strings.ToLower(k) {
		case metaFlushReason:
			m.FlushReason = v
		case metaRecords:
			m.Records, _ = strconv.Atoi(v)
		default:
			m.Extra[strings.ToLower(k)] = v
		}
	}
	if len(m.Extra) == 0 {
		m.Extra = nil
	}
	return b, m, nil
}

// List returns every key in bucket under prefix, in S3's (lexical) order.
func (s *Store) List(ctx context.Context, bucket, prefix string) ([]string, error) {
	var keys []string
	p := awss3.NewListObjectsV2Paginator(s.c, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3: list %s/%s: %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, nil
}

// User-metadata names (x-amz-meta-*) for the fields S3 has no header for.
const (
	metaFlushReason = "flush-reason"
	metaRecords     = "records"
)

func userMetadata(m dest.ObjectMeta) map[string]string {
	u := map[string]string{metaRecords: strconv.Itoa(m.Records)}
	if m.FlushReason != "" {
		u[metaFlushReason] = m.FlushReason
	}
	for k, v := range m.Extra {
		u[strings.ToLower(k)] = v
	}
	return u
}

func contentType(m dest.ObjectMeta) *string {
	if m.ContentType == "" {
		return aws.String("application/octet-stream")
	}
	return aws.String(m.ContentType)
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// fencedBody is a request body over a buffer the store reuses. net/http may
// still read a request body after the call returned (an early error
// response), so close waits for a read in progress and ends all later ones
// before the buffer is handed to the next object.
type fencedBody struct {
	mu     sync.Mutex
	r      *bytes.Reader
	closed bool
}

func fence(b []byte) *fencedBody { return &fencedBody{r: bytes.NewReader(b)} }

func (f *fencedBody) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, errBodyReused
	}
	return f.r.Read(p)
}

// Seek lets the SDK rewind the body to retry or to compute its checksum.
func (f *fencedBody) Seek(offset int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, errBodyReused
	}
	return f.r.Seek(offset, whence)
}

func (f *fencedBody) close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
}

var errBodyReused = errors.New("s3: request body read after its call returned")
