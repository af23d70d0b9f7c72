// Package harness drives a real `sluice up` process from the outside, as a
// user would: start it, wait for its ready line, find its endpoints, wait
// until its mappings have handled everything in the stream, stop or kill it,
// and read what landed in its buckets. The end-to-end tests and the
// quick-start demo (`make run`) share it.
package harness

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/sluice-dev/sluice/internal/app"
	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/sinks/dest"
	"github.com/sluice-dev/sluice/triggers/checkpoint"
)

// wall is the harness's clock. It waits on another process (`sluice up`,
// a stream's read limit), which runs on real time: a fake clock here would
// only make the waits wrong.
var wall = clock.Real()

// Sluice is a running `sluice up`.
type Sluice struct {
	Endpoints app.Endpoints
	cmd       *exec.Cmd
	stderr    *SyncBuffer
	done      chan struct{}
	waitErr   error
}

// Start runs `bin up args...` and returns once it printed its ready line.
// Its stderr is kept (see Log) and copied to logTo when non-nil.
func Start(ctx context.Context, bin string, logTo io.Writer, args ...string) (*Sluice, error) {
	cmd := exec.Command(bin, append([]string{"up"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s := &Sluice{cmd: cmd, stderr: &SyncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = s.stderr
	if logTo != nil {
		cmd.Stderr = io.MultiWriter(s.stderr, logTo)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "ready ") {
				select {
				case ready <- line:
				default:
				}
			}
		}
	}()
	go func() { s.waitErr = cmd.Wait(); close(s.done) }()
	select {
	case line := <-ready:
		eps, err := parseReady(line)
		if err != nil {
			s.Kill()
			return nil, err
		}
		s.Endpoints = eps
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("sluice up exited before it was ready (%v):\n%s", s.waitErr, s.stderr.String())
	case <-ctx.Done():
		s.Kill()
		return nil, fmt.Errorf("sluice up not ready: %w\n%s", ctx.Err(), s.stderr.String())
	}
}

// parseReady reads endpoints.json from the state dir the ready line names
// only indirectly: the line carries kinesis= and control=, the file the rest.
func parseReady(line string) (app.Endpoints, error) {
	var eps app.Endpoints
	eps.Buckets = map[string]string{}
	for _, f := range strings.Fields(line)[1:] {
		k, v, _ := strings.Cut(f, "=")
		switch {
		case k == "kinesis":
			eps.Kinesis = v
		case k == "control":
			eps.Control = v
		case k == "kinesis-tls":
			eps.KinesisTLS = v
		case strings.HasPrefix(k, "bucket:"):
			eps.Buckets[strings.TrimPrefix(k, "bucket:")] = v
		}
	}
	if eps.Kinesis == "" || eps.Control == "" {
		return eps, fmt.Errorf("malformed ready line %q", line)
	}
	return eps, nil
}

// Log returns what the process wrote to stderr so far.
func (s *Sluice) Log() string { return s.stderr.String() }

// Stop sends SIGTERM and waits for a clean exit (drain and flush).
func (s *Sluice) Stop(timeout time.Duration) error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	t := wall.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-s.done:
		if s.waitErr != nil {
			return fmt.Errorf("sluice up exited with %v:\n%s", s.waitErr, s.Log())
		}
		return nil
	case <-t.Chan():
		s.Kill()
		return fmt.Errorf("sluice up did not exit within %s of SIGTERM:\n%s", timeout, s.Log())
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
// PID is the process id of the running sluice.
func (s *Sluice) PID() int { return s.cmd.Process.Pid }

func (s *Sluice) Kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// Client returns a Kinesis client for the running instance.
func (s *Sluice) Client() *kinesis.Client { return KinesisClient(s.Endpoints.Kinesis) }

// KinesisClient returns an SDK client for a local Kinesis endpoint.
func KinesisClient(endpoint string) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
}

// LastSequenceNumbers reads every shard of stream to its current end and
// returns the last sequence number of each non-empty shard.
func LastSequenceNumbers(ctx context.Context, c *kinesis.Client, stream string) (map[string]string, error) {
	last := map[string]string{}
	err := readStream(ctx, c, stream, func(shard string, r types.Record) {
		last[shard] = aws.ToString(r.SequenceNumber)
	})
	return last, err
}

// readStream calls fn for every record of every shard of stream, in order,
// up to each shard's current end, a parent shard before its children.
//
// It reads in pages of readPage records and survives a read that fails in
// transport: the SDK client of a loaded test process has seen its
// connection closed under a large GetRecords body (CI, 2 cores, -race),
// and a checker that gives up there reports a loss that did not happen.
// It then asks for a fresh iterator after the last record it handed to fn,
// so no record is skipped or repeated; a stream that keeps failing still
// fails the read.
func readStream(ctx context.Context, c *kinesis.Client, stream string, fn func(shard string, r types.Record)) error {
	shards, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		return err
	}
	for _, sh := range lineageOrder(shards.Shards) {
		if err := readShard(ctx, c, stream, aws.ToString(sh.ShardId), fn); err != nil {
			return fmt.Errorf("shard %s: %w", aws.ToString(sh.ShardId), err)
		}
	}
	return nil
}

const (
	readPage           = 1000
	readTransportTries = 5
)

func readShard(ctx context.Context, c *kinesis.Client, stream, shard string, fn func(shard string, r types.Record)) error {
	var last string // sequence number of the last record handed to fn
	iterator := func() (*string, error) {
		in := &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: aws.String(shard), ShardIteratorType: types.ShardIteratorTypeTrimHorizon}
		if last != "" {
			in.ShardIteratorType, in.StartingSequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(last)
		}
		out, err := c.GetShardIterator(ctx, in)
		if err != nil {
			return nil, err
		}
		return out.ShardIterator, nil
	}
	iter, err := iterator()
	if err != nil {
		return err
	}
	failures := 0
	for iter != nil {
		out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(readPage)})
		if err != nil {
			var throttled *types.ProvisionedThroughputExceededException
			var apiErr smithy.APIError
			switch {
			case errors.As(err, &throttled):
				// The stream's read limit: wait it out.
				if err := clock.Sleep(ctx, wall, 200*time.Millisecond); err != nil {
					return err
				}
				continue
			case ctx.Err() == nil && !errors.As(err, &apiErr) && failures < readTransportTries:
				failures++
				if iter, err = iterator(); err != nil {
					return err
				}
				continue
			}
			return err
		}
		failures = 0
		for _, r := range out.Records {
			fn(shard, r)
			last = aws.ToString(r.SequenceNumber)
		}
		iter = out.NextShardIterator
		// Only an empty page means the end: MillisBehindLatest is a time,
		// 0 also when the records after this page arrived this millisecond.
		if len(out.Records) == 0 {
			break
		}
	}
	return nil
}

// WaitCheckpointed waits until, in stateDir, every mapping's checkpoint of
// each shard has reached the sequence number given for it: everything up
// to there was invoked, accepted by the sink and checkpointed.
func WaitCheckpointed(ctx context.Context, stateDir string, last map[string]string) error {
	return WaitCheckpointsIn(ctx, filepath.Join(stateDir, "checkpoints"), last)
}

// WaitCheckpointsIn is WaitCheckpointed for the checkpoint store in dir:
// <state>/checkpoints-firehose holds the checkpoints of delivery streams
// reading a Kinesis stream themselves (KinesisStreamAsSource).
func WaitCheckpointsIn(ctx context.Context, dir string, last map[string]string) error {
	for {
		ok, err := checkpointed(ctx, dir, last)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		// Polling a file another process writes: there is no event to wait on.
		if err := clock.Sleep(ctx, wall, 100*time.Millisecond); err != nil {
			return fmt.Errorf("mappings did not catch up: %w", err)
		}
	}
}

func checkpointed(ctx context.Context, dir string, last map[string]string) (bool, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		return false, nil
	}
	store, err := checkpoint.OpenFileStore(dir)
	if err != nil {
		return false, err
	}
	for _, f := range files {
		id := strings.TrimSuffix(filepath.Base(f), ".json")
		for shard, seq := range last {
			pos, err := store.Get(ctx, id, shard)
			if err != nil {
				return false, err
			}
			if pos.SequenceNumber != seq && !pos.ShardEnd {
				return false, nil
			}
		}
	}
	return true, nil
}

// Object is one delivered object, decompressed and split into records.
type Object struct {
	Key     string
	Records [][]byte
}

// ReadBucket reads every object under dir (a bucket directory): .parquet
// objects row by row (as JSON objects), others as newline-delimited records,
// gunzipping .gz objects first.
func ReadBucket(dir string) ([]Object, error) {
	var objs []Object
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		obj, err := decodeObject(filepath.ToSlash(rel), data)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		objs = append(objs, obj)
		return nil
	})
	sort.Slice(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
	return objs, err
}

// ObjectReader is the part of an object-store client that ReadStore uses
// (sinks/s3.Store has it).
type ObjectReader interface {
	List(ctx context.Context, bucket, prefix string) ([]string, error)
	Get(ctx context.Context, bucket, key string) ([]byte, dest.ObjectMeta, error)
}

// ReadStore is ReadBucket for a bucket in an object store, read through
// its API: what a reader of the bucket sees, and nothing the server keeps
// beside the objects on its disk (uploads in progress, temporary files).
func ReadStore(ctx context.Context, st ObjectReader, bucket string) ([]Object, error) {
	keys, err := st.List(ctx, bucket, "")
	if err != nil {
		return nil, err
	}
	objs := make([]Object, 0, len(keys))
	for _, k := range keys {
		data, _, err := st.Get(ctx, bucket, k)
		if err != nil {
			return nil, err
		}
		obj, err := decodeObject(k, data)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", bucket, k, err)
		}
		objs = append(objs, obj)
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
	return objs, nil
}

// decodeObject splits an object's body into records: .parquet objects row
// by row (as JSON objects), others as newline-delimited records, gunzipping
// .gz objects first.
func decodeObject(key string, data []byte) (Object, error) {
	obj := Object{Key: key}
	if strings.HasSuffix(key, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return obj, err
		}
		if data, err = io.ReadAll(zr); err != nil {
			return obj, err
		}
	}
	if strings.HasSuffix(key, ".parquet") {
		recs, err := parquetRecords(data)
		obj.Records = recs
		return obj, err
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) > 0 {
			obj.Records = append(obj.Records, line)
		}
	}
	return obj, nil
}

// ReadLines returns the non-empty lines of a file (an -acked file).
func ReadLines(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines, nil
}

// EventID extracts event_id from a JSON record.
func EventID(rec []byte) string {
	var v struct {
		EventID string `json:"event_id"`
	}
	_ = json.Unmarshal(rec, &v)
	return v.EventID
}

// SyncBuffer is a bytes.Buffer safe for a writing process and a reading test.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *SyncBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *SyncBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// StreamEventIDs reads every record of stream and counts each event_id: a
// producer that retried a put whose answer it never got (the server was
// killed) stores the same event twice, and such duplicates are the
// producer's, not the pipeline's.
func StreamEventIDs(ctx context.Context, c *kinesis.Client, stream string) (map[string]int, error) {
	ids := map[string]int{}
	err := readStream(ctx, c, stream, func(_ string, r types.Record) { ids[EventID(r.Data)]++ })
	return ids, err
}

// StreamCount reads every record of stream and counts the records per key
// (key extracts it from a record's data).
func StreamCount(ctx context.Context, c *kinesis.Client, stream string, key func([]byte) string) (map[string]int, error) {
	n := map[string]int{}
	err := readStream(ctx, c, stream, func(_ string, r types.Record) { n[key(r.Data)]++ })
	return n, err
}

// Delivered counts the event_ids of the records in a bucket directory.
func Delivered(bucketDir string) (map[string]int, error) {
	objs, err := ReadBucket(bucketDir)
	if err != nil {
		return nil, err
	}
	return EventIDs(objs), nil
}

// EventIDs counts the event_ids of the records in objs.
func EventIDs(objs []Object) map[string]int {
	seen := map[string]int{}
	for _, o := range objs {
		for _, rec := range o.Records {
			seen[EventID(rec)]++
		}
	}
	return seen
}

// Missing counts the ids that seen does not hold.
func Missing(ids []string, seen map[string]int) int {
	n := 0
	for _, id := range ids {
		if seen[id] == 0 {
			n++
		}
	}
	return n
}

// lineageOrder sorts shards so that each comes after its parents, keeping
// ListShards' order otherwise.
func lineageOrder(shards []types.Shard) []types.Shard {
	byID := map[string]types.Shard{}
	for _, sh := range shards {
		byID[aws.ToString(sh.ShardId)] = sh
	}
	done := map[string]bool{}
	var out []types.Shard
	var visit func(id string)
	visit = func(id string) {
		sh, ok := byID[id]
		if !ok || done[id] {
			return
		}
		done[id] = true
		visit(aws.ToString(sh.ParentShardId))
		visit(aws.ToString(sh.AdjacentParentShardId))
		out = append(out, sh)
	}
	for _, sh := range shards {
		visit(aws.ToString(sh.ShardId))
	}
	return out
}
