package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	rt "runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/sluice-dev/sluice/handover"
	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/sdk"
	"github.com/sluice-dev/sluice/template"
)

// generationTemplate is a stream "events", a delivery stream "archive" and
// a function Fn reading the stream into it. The function's VERSION and
// the mapping's BatchSize are filled in, and its event source: the stream
// (polling) or the enhanced fan-out consumer "fanout". Its code is never
// built: stubFunctions loads a Go handler in its place.
const generationTemplate = `Transform: AWS::Serverless-2016-10-31
Resources:
  Events:
    Type: AWS::Kinesis::Stream
    Properties: {Name: events, ShardCount: 1}
  Fanout:
    Type: AWS::Kinesis::StreamConsumer
    Properties: {ConsumerName: fanout, StreamARN: !GetAtt Events.Arn}
  Archive:
    Type: AWS::S3::Bucket
    Properties: {BucketName: archive}
  ArchiveStream:
    Type: AWS::KinesisFirehose::DeliveryStream
    Properties:
      DeliveryStreamName: archive
      DeliveryStreamType: DirectPut
      ExtendedS3DestinationConfiguration:
        BucketARN: !GetAtt Archive.Arn
        RoleARN: arn:aws:iam::000000000000:role/unused
        Prefix: out/
        BufferingHints: {SizeInMBs: 1, IntervalInSeconds: 60}
%s  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ./fn
      Handler: bootstrap
      Runtime: provided.al2023
      Environment:
        Variables:
          DELIVERY_STREAM: !Ref ArchiveStream
          VERSION: %s
      Events:
        Read:
          Type: Kinesis
          Properties:
            Stream: %s
            StartingPosition: TRIM_HORIZON
            BatchSize: %d
`

// A second delivery stream, for the deploy whose new generation cannot
// start.
const extraDeliveryStream = `  SpareStream:
    Type: AWS::KinesisFirehose::DeliveryStream
    Properties:
      DeliveryStreamName: spare
      DeliveryStreamType: DirectPut
      ExtendedS3DestinationConfiguration:
        BucketARN: !GetAtt Archive.Arn
        RoleARN: arn:aws:iam::000000000000:role/unused
        Prefix: spare/
`

const (
	viaStream = "!GetAtt Events.Arn"
	viaFanOut = "!GetAtt Fanout.ConsumerARN"
)

// genApp is an instance with its embedded stream started and stand-in
// functions, on a template file the test rewrites between deploys.
type genApp struct {
	t        *testing.T
	i        *instance
	tmpl     string
	invoked  chan invocation
	stateDir string
}

// invocation is one record a stand-in function was invoked with.
type invocation struct{ version, data string }

type templateVersion struct {
	version, source string
	batchSize       int
	extra           string // resources added before the function
}

func newGenApp(t *testing.T, v templateVersion) *genApp {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "fn"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "fn", "main.go"), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &genApp{t: t, tmpl: filepath.Join(dir, "template.yaml"), invoked: make(chan invocation, 100), stateDir: t.TempDir()}
	a.write(v)
	cfg := Config{StateDir: a.stateDir, Limits: "off", LogLevel: "error", Stdout: io.Discard, Stderr: io.Discard}
	cfg.fillDefaults()
	a.i = newInstance(cfg, a.stateDir)
	a.i.loadFuncs = a.loadFunctions
	t.Cleanup(func() {
		a.i.genMu.Lock()
		if a.i.gen != nil {
			a.i.gen.stop()
		}
		a.i.genMu.Unlock()
		for k := len(a.i.cleanups) - 1; k >= 0; k-- {
			a.i.cleanups[k]()
		}
	})
	if err := a.i.startStream(t.Context(), a.plan()); err != nil {
		t.Fatal(err)
	}
	return a
}

func (a *genApp) write(v templateVersion) {
	a.t.Helper()
	body := fmt.Sprintf(generationTemplate, v.extra, v.version, v.source, v.batchSize)
	if err := os.WriteFile(a.tmpl, []byte(body), 0o644); err != nil {
		a.t.Fatal(err)
	}
}

func (a *genApp) plan() *template.Plan {
	a.t.Helper()
	plan, err := template.ParseFile(a.tmpl, template.Options{})
	if err != nil {
		a.t.Fatal(err)
	}
	return plan
}

// loadFunctions stands in for building: each function is a handler that
// reports every record to a.invoked and outputs {"id": data, "version":
// VERSION}. A VERSION of "broken" fails to load, as code that does not
// compile would.
func (a *genApp) loadFunctions(_ context.Context, plan *template.Plan) (functionStage, error) {
	loaded := map[string]loadedFunction{}
	for _, fn := range plan.Functions {
		version := fn.Environment["VERSION"]
		if version == "broken" {
			return functionStage{}, fmt.Errorf("function %s: build failed", fn.LogicalID)
		}
		f, err := runtime.New(runtime.Config{Name: fn.Name, Timeout: 10 * time.Second}, func(_ context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
			var resp sdk.StreamResponse
			for _, r := range e.Records {
				a.invoked <- invocation{version, string(r.Kinesis.Data)}
				data, _ := json.Marshal(map[string]string{"id": string(r.Kinesis.Data), "version": version})
				resp.Records = append(resp.Records, sdk.OutputRecord{Data: data})
			}
			return resp, nil
		})
		if err != nil {
			return functionStage{}, err
		}
		loaded[fn.LogicalID] = loadedFunction{tmpl: fn, fn: f}
	}
	return functionStage{loaded: loaded}, nil
}

// up provisions and starts the template's first generation, as Up does.
func (a *genApp) up() *generation {
	a.t.Helper()
	a.i.genMu.Lock()
	defer a.i.genMu.Unlock()
	g, err := a.i.provision(a.t.Context(), a.plan())
	if err != nil {
		a.t.Fatal(err)
	}
	if err := a.i.activate(a.t.Context(), g); err != nil {
		a.t.Fatal(err)
	}
	return g
}

func (a *genApp) put(data string) {
	a.t.Helper()
	_, err := a.i.stream.engine.Client().PutRecord(a.t.Context(), &kinesis.PutRecordInput{
		StreamName: aws.String("events"), PartitionKey: aws.String("pk"), Data: []byte(data)})
	if err != nil {
		a.t.Fatal(err)
	}
}

// expect waits for the next invocation and checks it is want.
func (a *genApp) expect(want invocation) {
	a.t.Helper()
	select {
	case got := <-a.invoked:
		if got != want {
			a.t.Fatalf("invoked %+v, want %+v", got, want)
		}
	case <-time.After(time.Minute): // a generous bound, not a synchronisation
		a.t.Fatalf("no invocation; want %+v", want)
	}
}

func (a *genApp) deploy() (DeployResponse, int) {
	a.t.Helper()
	return a.i.deploy(a.t.Context(), DeployRequest{Template: a.tmpl})
}

// archived is everything the archive delivery stream wrote to its bucket.
func (a *genApp) archived() string {
	a.t.Helper()
	var all strings.Builder
	root := filepath.Join(a.stateDir, "buckets", "archive")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		all.Write(data)
		return err
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		a.t.Fatal(err)
	}
	return all.String()
}

// TestDeploySwapsGenerations provisions and starts a generation, then
// deploys changed templates through the deploy path. A deploy retires the
// running generation (its mappings stop, its delivery streams flush and
// close) and the new one keeps the stream and its data, the checkpoints
// and the delivery streams' logs. A deploy whose functions do not build
// leaves the running generation serving, untouched; a deploy whose new
// generation cannot start restarts the retired one.
func TestDeploySwapsGenerations(t *testing.T) {
	a := newGenApp(t, templateVersion{version: "v1", source: viaStream, batchSize: 100})
	g1 := a.up()
	a.put("a")
	a.expect(invocation{"v1", "a"})
	archive1 := g1.delivery.streams["ArchiveStream"]
	engine := a.i.stream.engine

	// A changed function and batch size: swap.
	a.write(templateVersion{version: "v2", source: viaStream, batchSize: 50})
	resp, code := a.deploy()
	if code != http.StatusOK || !resp.Applied || resp.Generation != 2 {
		t.Fatalf("deploy: %d %+v", code, resp)
	}
	if !strings.Contains(resp.ChangeSet, "Read.batchSize: 100 -> 50") {
		t.Errorf("change set lacks the batch size:\n%s", resp.ChangeSet)
	}
	g2 := a.i.gen
	if g2 == g1 || g2.number != 2 || g2.plan.Functions[0].Environment["VERSION"] != "v2" {
		t.Fatalf("running generation after the deploy: %+v", g2)
	}

	// Retired: mappings stopped, delivery streams flushed and closed.
	if len(g1.mappings.running) != 0 || g1.delivery.streams != nil || len(g1.stops) != 0 {
		t.Errorf("the retired generation still holds mappings %v, delivery streams %v, %d clean-ups",
			g1.mappings.running, g1.delivery.streams, len(g1.stops))
	}
	if err := archive1.Accept(t.Context(), handover.Batch{Records: []handover.Record{{Data: []byte("late")}}}); err == nil {
		t.Error("the retired generation's delivery stream still accepts records")
	}
	if got := a.archived(); !strings.Contains(got, `"id":"a","version":"v1"`) {
		t.Errorf("the retired generation's buffered output was not flushed into the bucket: %q", got)
	}

	// Kept: the same stream with its data, and the mapping's checkpoint:
	// the new version starts after "a" (not at TRIM_HORIZON again).
	if a.i.stream.engine != engine {
		t.Error("the deploy replaced the stream")
	}
	a.put("b")
	a.expect(invocation{"v2", "b"})
	if len(g2.mappings.running) != 1 || g2.mappings.running[0].Config().BatchSize != 50 {
		t.Errorf("new generation's mappings: %v", g2.mappings.running)
	}

	// A function that does not build: nothing changes.
	a.write(templateVersion{version: "broken", source: viaStream, batchSize: 50})
	resp, code = a.deploy()
	if code != http.StatusConflict || resp.Applied || !strings.Contains(resp.Error, "nothing changed") {
		t.Fatalf("deploy of a broken function: %d %+v", code, resp)
	}
	if a.i.gen != g2 || a.i.started != 2 || len(g2.mappings.running) != 1 || g2.delivery.streams["ArchiveStream"] == nil {
		t.Fatalf("a failed provision touched the running generation: running %+v, started %d", a.i.gen, a.i.started)
	}
	a.put("c")
	a.expect(invocation{"v2", "c"})

	// A new generation that cannot start (the spare delivery stream's log
	// directory is taken by a file): the retired one starts again, with
	// the functions it had.
	if err := os.MkdirAll(filepath.Join(a.stateDir, "delivery"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a.stateDir, "delivery", "spare"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	a.write(templateVersion{version: "v3", source: viaStream, batchSize: 50, extra: extraDeliveryStream})
	resp, code = a.deploy()
	if code != http.StatusConflict || !resp.RolledBack || !strings.Contains(resp.Error, "rolled back") || strings.Contains(resp.Error, "rollback failed") {
		t.Fatalf("deploy of a generation that cannot start: %d %+v", code, resp)
	}
	if a.i.gen != g2 || resp.Generation != 3 || g2.number != 3 {
		t.Fatalf("after the rollback: running %p (number %d), want the retired %p; response generation %d",
			a.i.gen, a.i.gen.number, g2, resp.Generation)
	}
	a.put("d")
	a.expect(invocation{"v2", "d"})
	select {
	case extra := <-a.invoked:
		t.Errorf("a record was invoked again across the swaps: %+v", extra)
	default:
	}
}

// TestGenerationStopReleasesEverything: stopping a generation (what a
// deploy does to the one it retires) ends every goroutine its mappings and
// delivery streams ran and closes the loopback listener its enhanced
// fan-out consumer subscribed through.
func TestGenerationStopReleasesEverything(t *testing.T) {
	a := newGenApp(t, templateVersion{version: "v1", source: viaFanOut, batchSize: 100})
	g := a.up()
	a.put("a")
	a.expect(invocation{"v1", "a"})
	if g.sdk == nil {
		t.Fatal("the fan-out mapping opened no loopback client")
	}
	endpoint, err := url.Parse(aws.ToString(g.sdk.Options().BaseEndpoint))
	if err != nil {
		t.Fatal(err)
	}
	if n := pipelineGoroutines(); n == 0 {
		t.Fatal("found no goroutine of the running generation: the check below would prove nothing")
	}

	a.i.genMu.Lock()
	g.stop()
	a.i.genMu.Unlock()

	if n := pipelineGoroutines(); n != 0 {
		t.Errorf("%d goroutines of the stopped generation are left:\n%s", n, goroutineDump())
	}
	if c, err := net.Dial("tcp", endpoint.Host); err == nil {
		c.Close()
		t.Errorf("the fan-out listener %s still accepts connections", endpoint.Host)
	}
	if g.sdk != nil || len(g.stops) != 0 || len(g.mappings.running) != 0 || g.delivery.streams != nil {
		t.Errorf("the stopped generation still holds its parts: %+v", g)
	}
}

// pipelineGoroutines counts the goroutines running code of the mappings
// or the delivery streams.
func pipelineGoroutines() int {
	n := 0
	for _, g := range strings.Split(goroutineDump(), "\n\n") {
		for _, line := range strings.Split(g, "\n") {
			if strings.HasPrefix(line, "github.com/sluice-dev/sluice/triggers/kinesis.") ||
				strings.HasPrefix(line, "github.com/sluice-dev/sluice/sinks/firehose.") {
				n++
				break
			}
		}
	}
	return n
}

func goroutineDump() string {
	buf := make([]byte, 1<<20)
	return string(buf[:rt.Stack(buf, true)])
}
