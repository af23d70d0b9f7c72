// Package localdir is a dest.Destination that lays objects out in a local
// directory the way they would appear in an S3 bucket:
// <root>/<bucket>/<key>, each '/'-separated key segment one file or
// directory name.
//
// Nothing but complete, delivered objects ever appears under root: bodies
// are written to a temporary file in a separate directory, fsynced, renamed
// into place and the parent directory is fsynced, so a reader (or a crash)
// sees either the whole object or none. Object metadata (content type,
// encoding, flush reason, record count) is kept outside the bucket tree, in
// <metaDir>/<bucket>/<path>.json, so that listing a bucket directory shows
// only objects.
//
// # Key mapping
//
// S3 takes any UTF-8 key of 1 to 1,024 bytes; a file system does not take
// a name over 255 bytes and gives "", "." and ".." meanings of their own.
// Each segment s of a key is therefore stored under one name:
//
//   - s itself, when s is not empty, not "." or "..", does not start with
//     '@' and is at most 250 bytes (255 less the ".json" of its metadata
//     file). Almost every key is stored verbatim.
//   - otherwise "@" + s, when that is at most 250 bytes and does not look
//     like the long form below: "" (a leading '/', "a//b", a trailing '/')
//     becomes "@", "." becomes "@.", ".." becomes "@..", "@x" becomes "@@x".
//   - otherwise (a segment over 249 bytes) the long form "@" + the first at
//     most 184 bytes of s (cut at a character boundary) + "@" + the 64
//     lower-case hex digits of SHA-256(s): 250 bytes at most. The full
//     segment is recorded in <metaDir>/@segments/<sha256 hex>, written
//     (atomically, durably) before the object, so the name alone leads
//     back to it.
//
// The mapping is a pure function of the key, so a retried or replayed put
// lands on the same file; Get, Meta, Path and List take and return the
// original keys, and List decodes names back (a long form is checked
// against its recorded segment). Objects written by earlier versions under
// a segment starting with '@' list under that segment without its '@'.
//
// # Notes
//
//   - Keys S3 refuses are refused, as permanent errors (dest.Permanent):
//     empty, over 1,024 bytes, invalid UTF-8. So are keys with a control
//     character or a backslash, which S3 takes but a file name should not
//     hold (delivery streams never write them: partition values are
//     percent-escaped), and keys that need a file where a directory is, or
//     the reverse ("a" and "a/b"; S3 allows both). No key can name a file
//     outside <root>/<bucket>.
//   - tmpDir must be on the same file system as root: rename(2) is what makes
//     a put atomic, and it cannot cross file systems. Put reports the error
//     rather than falling back to a non-atomic copy.
//   - Symbolic links planted inside root by someone else are followed; the
//     directory is assumed to be owned by this process.
package localdir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/internal/fsutil"
	"github.com/sluice-dev/sluice/sinks/dest"
)

// tmpPattern names temporary files; New removes leftovers matching it.
const tmpPattern = ".localdir-*.tmp"

// maxKeyLen is S3's limit on key length in bytes.
const maxKeyLen = 1024

// Dir writes objects under a root directory. It is safe for concurrent use.
type Dir struct {
	root, tmp, meta string
}

var _ dest.Destination = (*Dir)(nil)

// New returns a Dir writing objects under root, temporary files in tmpDir
// and metadata under metaDir. It creates the directories and removes
// temporary files left by a previous process. tmpDir and metaDir must not
// lie inside root.
func New(root, tmpDir, metaDir string) (*Dir, error) {
	var abs [3]string
	for i, p := range []string{root, tmpDir, metaDir} {
		if p == "" {
			return nil, errors.New("localdir: root, tmp and meta directories must be set")
		}
		a, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("localdir: resolve %q: %w", p, err)
		}
		abs[i] = a
	}
	for _, p := range abs[1:] {
		if within(abs[0], p) {
			return nil, fmt.Errorf("localdir: %s lies inside the bucket root %s; only delivered objects may live there", p, abs[0])
		}
	}
	for _, p := range abs {
		if err := fsutil.MkdirAll(p, 0o755); err != nil {
			return nil, fmt.Errorf("localdir: create %s: %w", p, err)
		}
	}
	left, err := filepath.Glob(filepath.Join(abs[1], tmpPattern))
	if err != nil {
		return nil, fmt.Errorf("localdir: list leftovers: %w", err)
	}
	for _, f := range left {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("localdir: remove leftover %s: %w", f, err)
		}
	}
	return &Dir{root: abs[0], tmp: abs[1], meta: abs[2]}, nil
}

// within reports whether p is root or below it.
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// Root returns the absolute root directory.
func (d *Dir) Root() string { return d.root }

// Path returns the file that holds bucket/key (see Key mapping), after
// checking both.
func (d *Dir) Path(bucket, key string) (string, error) {
	p, _, err := d.locate(bucket, key)
	return p, err
}

// locate is Path plus the segments of key that need a sidecar.
func (d *Dir) locate(bucket, key string) (string, []string, error) {
	if err := CheckBucket(bucket); err != nil {
		return "", nil, dest.Permanent("LocalDir.InvalidBucketName", err)
	}
	if err := CheckKey(key); err != nil {
		return "", nil, dest.Permanent("LocalDir.InvalidKey", err)
	}
	rel, long := encodeKey(key)
	base := filepath.Join(d.root, bucket)
	p := filepath.Join(base, filepath.FromSlash(rel))
	// Belt and braces: the mapping already excludes every escape.
	if !within(base, p) || p == base {
		return "", nil, dest.Permanent("LocalDir.InvalidKey", fmt.Errorf("localdir: key %q escapes bucket %q", key, bucket))
	}
	return p, long, nil
}

// metaPath is the metadata file of the object stored at p.
func (d *Dir) metaPath(bucket, p string) string {
	rel, _ := filepath.Rel(filepath.Join(d.root, bucket), p)
	return filepath.Join(d.meta, bucket, rel+".json")
}

// CheckBucket reports whether name can be used as a bucket directory.
func CheckBucket(name string) error {
	if name == "" || len(name) > 255 || name == "." || name == ".." {
		return fmt.Errorf("localdir: invalid bucket name %q", name)
	}
	for _, r := range name {
		ok := r == '-' || r == '.' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return fmt.Errorf("localdir: invalid bucket name %q: only letters, digits, '.', '-' and '_' are allowed", name)
		}
	}
	return nil
}

// CheckKey reports whether key can be stored: what S3 refuses (empty, over
// 1,024 bytes, invalid UTF-8) and control characters and backslashes. Empty,
// "." and ".." segments and long segments are mapped, not refused (see Key
// mapping).
func CheckKey(key string) error {
	switch {
	case key == "":
		return errors.New("localdir: empty key")
	case len(key) > maxKeyLen:
		return fmt.Errorf("localdir: key is %d bytes, longer than %d", len(key), maxKeyLen)
	case !utf8.ValidString(key):
		return fmt.Errorf("localdir: key %q is not valid UTF-8", key)
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return fmt.Errorf("localdir: key %q contains %q", key, r)
		}
	}
	return nil
}

// segmentsDir, under the metadata directory, records long segments by
// hash. '@' cannot start a bucket name, so it never meets a bucket's
// metadata tree.
const segmentsDir = "@segments"

// recordSegment writes a long segment's sidecar, unless it is there.
func (d *Dir) recordSegment(seg string) error {
	p := filepath.Join(d.meta, segmentsDir, segmentHash(seg))
	switch b, err := os.ReadFile(p); {
	case err == nil && string(b) == seg:
		return nil
	case err == nil:
		return dest.Permanent("LocalDir.SegmentHashCollision", fmt.Errorf("localdir: %s records another segment", p))
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("localdir: read segment record: %w", err)
	}
	if err := d.place(p, strings.NewReader(seg)); err != nil {
		return fmt.Errorf("localdir: record long key segment: %w", err)
	}
	return nil
}

// lookupSegment reads a long segment's sidecar.
func (d *Dir) lookupSegment(hash string) (string, error) {
	b, err := os.ReadFile(filepath.Join(d.meta, segmentsDir, hash))
	if err != nil {
		return "", fmt.Errorf("no recorded segment: %w", err)
	}
	return string(b), nil
}

// Put writes body to <root>/<bucket>/<key> atomically and durably, then
// stores meta beside it in the metadata tree.
func (d *Dir) Put(ctx context.Context, bucket, key string, body io.Reader, meta dest.ObjectMeta) error {
	p, long, err := d.locate(bucket, key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("localdir: put %s/%s: %w", bucket, key, err)
	}
	for _, seg := range long {
		if err := d.recordSegment(seg); err != nil {
			return fmt.Errorf("localdir: put %s/%s: %w", bucket, key, err)
		}
	}
	if err := d.place(p, ctxReader{ctx, body}); err != nil {
		return classify(fmt.Errorf("localdir: put %s/%s: %w", bucket, key, err))
	}
	mb, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("localdir: encode metadata for %s/%s: %w", bucket, key, err)
	}
	if err := d.place(d.metaPath(bucket, p), strings.NewReader(string(mb))); err != nil {
		return classify(fmt.Errorf("localdir: put metadata for %s/%s: %w", bucket, key, err))
	}
	return nil
}

// classify marks the file-system errors that a retry cannot fix as
// permanent: a key that needs a file where a directory is (or the
// reverse), and a path longer than the system takes. A full disk, an I/O
// error or a permission problem stay transient: an operator can fix them
// and the object then goes through.
func classify(err error) error {
	switch {
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.ENOTEMPTY), errors.Is(err, syscall.EEXIST):
		return dest.Permanent("LocalDir.KeyConflict", fmt.Errorf("%w (a file or directory of another key is in the way)", err))
	case errors.Is(err, syscall.ENAMETOOLONG):
		return dest.Permanent("LocalDir.NameTooLong", err)
	}
	return err
}

// Meta reads the metadata stored for bucket/key.
func (d *Dir) Meta(bucket, key string) (dest.ObjectMeta, error) {
	var m dest.ObjectMeta
	p, err := d.Path(bucket, key)
	if err != nil {
		return m, err
	}
	b, err := os.ReadFile(d.metaPath(bucket, p))
	if err != nil {
		return m, fmt.Errorf("localdir: read metadata for %s/%s: %w", bucket, key, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("localdir: decode metadata for %s/%s: %w", bucket, key, err)
	}
	return m, nil
}

// place writes r to a temporary file, fsyncs it, renames it to final and
// fsyncs the directory that received it. Missing directories above final
// are created (and their parents fsynced) as needed.
func (d *Dir) place(final string, r io.Reader) (err error) {
	f, err := os.CreateTemp(d.tmp, tmpPattern)
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = io.Copy(f, r); err != nil {
		return fmt.Errorf("write body: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("fsync body: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close body: %w", err)
	}
	if err = fsutil.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return err
	}
	if err = os.Rename(tmp, final); err != nil {
		if errors.Is(err, syscall.EXDEV) {
			return fmt.Errorf("rename into place (tmp and root must share a file system): %w", err)
		}
		return fmt.Errorf("rename into place: %w", err)
	}
	return fsutil.SyncDir(filepath.Dir(final))
}

// ctxReader stops a long copy when the context is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Get reads bucket/key and its metadata (dest.Reader).
func (d *Dir) Get(ctx context.Context, bucket, key string) ([]byte, dest.ObjectMeta, error) {
	var m dest.ObjectMeta
	p, err := d.Path(bucket, key)
	if err != nil {
		return nil, m, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, m, fmt.Errorf("localdir: get %s/%s: %w", bucket, key, dest.ErrNotFound)
	}
	if err != nil {
		return nil, m, fmt.Errorf("localdir: get %s/%s: %w", bucket, key, err)
	}
	m, err = d.Meta(bucket, key)
	return b, m, err
}

// List returns the keys in bucket starting with prefix, sorted
// (dest.Reader). A missing bucket directory lists as empty.
func (d *Dir) List(ctx context.Context, bucket, prefix string) ([]string, error) {
	if err := CheckBucket(bucket); err != nil {
		return nil, err
	}
	base := filepath.Join(d.root, bucket)
	var keys []string
	seen := map[string]string{} // long segments by hash, read once per call
	lookup := func(h string) (string, error) {
		if s, ok := seen[h]; ok {
			return s, nil
		}
		s, err := d.lookupSegment(h)
		if err == nil {
			seen[h] = s
		}
		return s, err
	}
	err := filepath.WalkDir(base, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == base {
				return fs.SkipAll
			}
			return err
		}
		if e.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(base, p)
		if err != nil {
			return err
		}
		k, err := decodeKey(filepath.ToSlash(rel), lookup)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("localdir: list %s/%s: %w", bucket, prefix, err)
	}
	sort.Strings(keys)
	return keys, nil
}

var _ dest.Reader = (*Dir)(nil)
