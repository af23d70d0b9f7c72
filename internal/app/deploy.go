package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/template"
)

// DeployRequest is the body of POST /deploy.
type DeployRequest struct {
	// Template is the path of the new template, read by the server (the
	// control API listens on loopback: client and server share a disk).
	Template           string            `json:"template"`
	ParameterOverrides map[string]string `json:"parameterOverrides,omitempty"`
	// DryRun computes and returns the change set without applying it.
	DryRun bool `json:"dryRun"`
}

// DeployResponse is what POST /deploy answers.
type DeployResponse struct {
	Changes    []template.Change `json:"changes"`
	ChangeSet  string            `json:"changeSet"`
	Applied    bool              `json:"applied"`
	RolledBack bool              `json:"rolledBack,omitempty"`
	Error      string            `json:"error,omitempty"`
	Generation int               `json:"generation"`
}

func (i *instance) serveDeploy(w http.ResponseWriter, r *http.Request) {
	var req DeployRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, DeployResponse{Error: "bad deploy request: " + err.Error()})
		return
	}
	resp, status := i.deploy(r.Context(), req)
	writeJSON(w, status, resp)
}

// deploy computes the change set from the running plan to the requested
// template and, unless it is a dry run, applies it: the new generation is
// provisioned first (a function that does not build changes nothing), then
// swapped in: the running pipeline drains and flushes and the new one
// starts from the same checkpoints. If the new generation fails to start,
// the previous one is started again.
func (i *instance) deploy(ctx context.Context, req DeployRequest) (DeployResponse, int) {
	i.genMu.Lock()
	defer i.genMu.Unlock()
	next, err := template.ParseFile(req.Template, template.Options{ParameterOverrides: req.ParameterOverrides})
	if err != nil {
		return DeployResponse{Error: err.Error()}, http.StatusBadRequest
	}
	changes := template.Diff(i.gen.plan, next, template.DiffOptions{OldCode: i.gen.code, NewCode: codeHashes(next)})
	resp := DeployResponse{Changes: changes, ChangeSet: template.FormatChangeSet(changes), Generation: i.started}
	if req.DryRun || len(changes) == 0 {
		return resp, http.StatusOK
	}
	// Build before stopping anything: a function that does not compile
	// leaves the running pipeline untouched.
	g, err := i.provision(ctx, next)
	if err != nil {
		resp.Error = fmt.Sprintf("deploy failed, nothing changed: %v", err)
		resp.RolledBack = true
		return resp, http.StatusConflict
	}
	if err, rerr := i.swap(ctx, g, changes); err != nil {
		resp.Error = fmt.Sprintf("deploy failed and was rolled back: %v", err)
		resp.RolledBack = true
		if rerr != nil {
			resp.Error += fmt.Sprintf("; rollback failed too: %v", rerr)
			return resp, http.StatusInternalServerError
		}
		resp.Generation = i.started
		return resp, http.StatusConflict
	}
	resp.Applied = true
	resp.Generation = i.started
	i.log.Info("deploy applied", "generation", i.started, "changes", len(changes))
	return resp, http.StatusOK
}

// applyStreams creates, reshards and deletes embedded streams per the
// change set, through the instance's own Kinesis API (the same calls a
// user would make).
func (i *instance) applyStreams(ctx context.Context, changes []template.Change, next *template.Plan) error {
	if i.stream.engine == nil {
		return nil // an external Kinesis is not ours to change
	}
	client := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(i.endpoints.Kinesis), Credentials: aws.AnonymousCredentials{}})
	byID := map[string]template.Stream{}
	for _, s := range next.Streams {
		byID[s.LogicalID] = s
	}
	for _, c := range changes {
		if c.ResourceType != template.TypeStream {
			continue
		}
		s := byID[c.LogicalID]
		switch {
		case c.Action == "Add" || (c.Action == "Modify" && c.Replacement == "True"):
			if _, err := i.stream.engine.EnsureStream(ctx, streamSpec(s)); err != nil {
				return fmt.Errorf("creating stream %s: %w", s.Name, err)
			}
		case c.Action == "Modify":
			// Capacity mode and retention, as the template now says.
			if _, err := i.stream.engine.EnsureStream(ctx, streamSpec(s)); err != nil {
				return err
			}
			for _, p := range c.Properties {
				if p.Name == "shardCount" {
					_, err := client.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{
						StreamName: aws.String(s.Name), TargetShardCount: aws.Int32(int32(s.ShardCount)), ScalingType: types.ScalingTypeUniformScaling,
					})
					if err != nil {
						return fmt.Errorf("resharding %s: %w", s.Name, err)
					}
				}
			}
		}
	}
	// Consumers the new template adds (registering is idempotent, and a
	// removed consumer stays registered: deregistering would end other
	// readers' subscriptions).
	arns := map[string]string{}
	for _, c := range next.Consumers {
		arn, err := i.stream.engine.EnsureConsumer(ctx, c.Stream, c.Name)
		if err != nil {
			return fmt.Errorf("stream consumer %s: %w", c.LogicalID, err)
		}
		arns[c.Stream+"/"+c.Name] = arn
	}
	i.stream.consumerARNs = arns
	return nil
}

// codeHashes hashes each function's code directory, so that a code-only
// change shows in the change set.
func codeHashes(p *template.Plan) map[string]string {
	out := map[string]string{}
	for _, fn := range p.Functions {
		h := sha256.New()
		var files []string
		_ = filepath.WalkDir(fn.CodeDir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
				files = append(files, path)
			}
			return nil
		})
		sort.Strings(files)
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			rel, _ := filepath.Rel(fn.CodeDir, f)
			fmt.Fprintf(h, "%s %d\n", rel, len(data))
			h.Write(data)
		}
		out[fn.LogicalID] = hex.EncodeToString(h.Sum(nil))[:12]
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// watch rebuilds and swaps functions whose code changes (`up --watch`),
// through the same path as a deploy, so checkpoints and buffered sink data
// carry over. It polls file contents: portable, and a function directory is
// small.
func (i *instance) watch(ctx context.Context) {
	tick := i.clock.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	i.genMu.Lock()
	last := i.gen.code
	tmplPath := i.cfg.Template
	i.genMu.Unlock()
	lastTmpl := fileHash(tmplPath)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.Chan():
		}
		i.genMu.Lock()
		now := codeHashes(i.gen.plan)
		i.genMu.Unlock()
		tmpl := fileHash(tmplPath)
		if mapsEqual(now, last) && tmpl == lastTmpl {
			continue
		}
		started := i.clock.Now()
		resp, _ := i.deploy(ctx, DeployRequest{Template: tmplPath, ParameterOverrides: i.cfg.ParameterOverrides})
		switch {
		case resp.Error != "":
			fmt.Fprintf(i.cfg.Stderr, "sluice: watch: %s\n", resp.Error)
		case resp.Applied:
			fmt.Fprintf(i.cfg.Stderr, "sluice: watch: generation %d serving after %s\n%s", resp.Generation, i.clock.Since(started).Round(time.Millisecond), resp.ChangeSet)
		}
		last, lastTmpl = now, tmpl
	}
}

func fileHash(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// ErrEmptyChangeSet is returned by the deploy client for an empty change set.
var ErrEmptyChangeSet = errors.New("no changes to deploy")
