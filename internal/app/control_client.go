package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ControlClient talks to a running `sluice up` through its control address,
// found in <state-dir>/endpoints.json unless given. It always sends the
// control token of the state dir: every control route but /healthz and
// /metrics needs it. The CLI commands that act on a running instance
// (deploy, status, streams hot, redrive) go through it, so the wire format
// of the control API stays in this package.
type ControlClient struct {
	// Base is the control address's URL, http://host:port.
	Base  string
	token string
	http  *http.Client
}

// NewControlClient finds the instance running on stateDir, or the one at
// addr when addr is set, and reads the state dir's control token.
func NewControlClient(stateDir, addr string) (*ControlClient, error) {
	c := &ControlClient{http: &http.Client{Timeout: 10 * time.Minute}}
	if addr == "" {
		data, err := os.ReadFile(filepath.Join(stateDir, "endpoints.json"))
		if err != nil {
			return nil, fmt.Errorf("no running sluice found (%v): start `sluice up` or pass --control-addr", err)
		}
		var eps Endpoints
		if err := json.Unmarshal(data, &eps); err != nil {
			return nil, fmt.Errorf("%s/endpoints.json: %w", stateDir, err)
		}
		c.Base = eps.Control
	} else {
		c.Base = "http://" + strings.TrimPrefix(addr, "http://")
	}
	t, err := ReadToken(stateDir)
	if err != nil {
		return nil, err
	}
	c.token = t
	return c, nil
}

// Deploy posts req to /deploy. A deploy the server refused or rolled back
// is not an error here: its answer says so (Error, RolledBack).
func (c *ControlClient) Deploy(req DeployRequest) (DeployResponse, error) {
	var resp DeployResponse
	_, err := c.do("POST", "/deploy", req, &resp)
	return resp, err
}

// Status is GET /status.
func (c *ControlClient) Status() (Status, error) {
	var st Status
	code, err := c.do("GET", "/status", nil, &st)
	if err != nil {
		return st, err
	}
	if code != http.StatusOK {
		return st, fmt.Errorf("control API at %s answered /status with %d %s", c.Base, code, http.StatusText(code))
	}
	return st, nil
}

// HotShards is GET /streams/{name}/hot.
func (c *ControlClient) HotShards(name string) (HotReport, error) {
	var raw json.RawMessage
	code, err := c.do("GET", "/streams/"+url.PathEscape(name)+"/hot", nil, &raw)
	if err != nil && code == 0 {
		return HotReport{}, fmt.Errorf("%w (is `sluice up` running?)", err)
	}
	if err != nil {
		return HotReport{}, err
	}
	if code != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(raw, &e)
		return HotReport{}, fmt.Errorf("%s: %d %s: %s", name, code, http.StatusText(code), e.Error)
	}
	var rep HotReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		return HotReport{}, fmt.Errorf("decode the hot shard report: %w", err)
	}
	return rep, nil
}

// Redrive runs POST /redrive and hands its streamed lines to emit as they
// come. No client timeout: a long redrive streams progress for as long as
// it runs; ending ctx (Ctrl-C) closes the connection, which stops the
// server's redrive between two records.
func (c *ControlClient) Redrive(ctx context.Context, req RedriveRequest, emit func(RedriveLine)) error {
	body, _ := json.Marshal(req)
	hr, err := http.NewRequestWithContext(ctx, "POST", c.Base+"/redrive", bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		return fmt.Errorf("control API at %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	if err := refused(c.Base, resp); err != nil {
		return err
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var summary *RedriveProgress
	for sc.Scan() {
		var l RedriveLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("control API answered %s: %w", resp.Status, err)
		}
		if l.Error != "" {
			return errors.New(l.Error)
		}
		if l.Summary != nil {
			summary = l.Summary
		}
		emit(l)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("control API at %s: %w", c.Base, err)
	}
	switch {
	case summary == nil:
		return fmt.Errorf("control API at %s ended the redrive without a summary (%s)", c.Base, resp.Status)
	case summary.Failed > 0:
		return fmt.Errorf("redrive %s: %d records of %d failure records: %w", summary.Function, summary.FailedAgain, summary.Failed, ErrRedriveFailedAgain)
	}
	return nil
}

// refused turns the control API's 401 and 403 into an error carrying its
// explanation (where the token is); other answers are the caller's.
func refused(base string, resp *http.Response) error {
	if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
		return nil
	}
	var e struct{ Error string }
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e)
	return fmt.Errorf("control API at %s refused the request (%s): %s", base, resp.Status, e.Error)
}

func (c *ControlClient) do(method, path string, body, out any) (int, error) {
	var r io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.Base+path, r)
	if err != nil {
		return 0, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("control API at %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	if err := refused(c.Base, resp); err != nil {
		return resp.StatusCode, err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("control API answered %s: %w", resp.Status, err)
	}
	return resp.StatusCode, nil
}
