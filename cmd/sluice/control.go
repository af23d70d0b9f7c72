package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/app"
)

// controlClient talks to a running `sluice up` through its control address,
// found in <state-dir>/endpoints.json unless given. It always sends the
// control token of the state dir: every control route but /healthz and
// /metrics needs it.
type controlClient struct {
	base, token string
	http        *http.Client
}

func newControlClient(stateDir, addr string) (*controlClient, error) {
	c := &controlClient{http: &http.Client{Timeout: 10 * time.Minute}}
	if addr == "" {
		data, err := os.ReadFile(filepath.Join(stateDir, "endpoints.json"))
		if err != nil {
			return nil, fmt.Errorf("no running sluice found (%v): start `sluice up` or pass --control-addr", err)
		}
		var eps app.Endpoints
		if err := json.Unmarshal(data, &eps); err != nil {
			return nil, fmt.Errorf("%s/endpoints.json: %w", stateDir, err)
		}
		c.base = eps.Control
	} else {
		c.base = "http://" + strings.TrimPrefix(addr, "http://")
	}
	t, err := app.ReadToken(stateDir)
	if err != nil {
		return nil, err
	}
	c.token = t
	return c, nil
}

// refused turns the control API's 401 and 403 into an error carrying its
// explanation (where the token is); other answers are the caller's.
func refused(base string, resp *http.Response) error {
	if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
		return nil
	}
	var e struct{ Error string }
	json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e)
	return fmt.Errorf("control API at %s refused the request (%s): %s", base, resp.Status, e.Error)
}

func (c *controlClient) do(method, path string, body, out any) (int, error) {
	var r io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		return 0, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("control API at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if err := refused(c.base, resp); err != nil {
		return resp.StatusCode, err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("control API answered %s: %w", resp.Status, err)
	}
	return resp.StatusCode, nil
}

// cmdDeploy is `sluice deploy`: show the change set against the running
// instance, confirm, apply; non-zero on an empty change set unless
// --allow-empty, and on a failed (rolled back) deploy.
func cmdDeploy(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, _ := app.ConfigFromEnv()
	fs := newFlagSet("deploy", stderr, &cfg)
	fs.StringVar(&cfg.StateDir, "state-dir", cfg.StateDir, "state directory of the running sluice")
	controlAddr := fs.String("control-addr", "", "control address (default: from <state-dir>/endpoints.json)")
	noConfirm := fs.Bool("no-confirm", false, "apply without asking (CI)")
	allowEmpty := fs.Bool("allow-empty", false, "exit 0 when there is nothing to deploy")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tmpl, err := filepath.Abs(cfg.Template)
	if err != nil {
		return err
	}
	c, err := newControlClient(cfg.StateDir, *controlAddr)
	if err != nil {
		return err
	}
	req := app.DeployRequest{Template: tmpl, ParameterOverrides: cfg.ParameterOverrides, DryRun: true}
	var plan app.DeployResponse
	if _, err := c.do("POST", "/deploy", req, &plan); err != nil {
		return err
	}
	if plan.Error != "" {
		return errors.New(plan.Error)
	}
	fmt.Fprintf(stdout, "Change set for %s:\n\n%s", cfg.Template, plan.ChangeSet)
	if len(plan.Changes) == 0 {
		if *allowEmpty {
			return nil
		}
		return fmt.Errorf("%w: the running instance is up to date (--allow-empty to accept)", app.ErrEmptyChangeSet)
	}
	if !*noConfirm {
		fmt.Fprint(stdout, "\nDeploy this change set? [y/N]: ")
		answer, _ := bufio.NewReader(stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return errors.New("deploy cancelled")
		}
	}
	req.DryRun = false
	var res app.DeployResponse
	if _, err := c.do("POST", "/deploy", req, &res); err != nil {
		return err
	}
	if res.Error != "" {
		return errors.New(res.Error)
	}
	fmt.Fprintf(stdout, "\nDeployed: generation %d is serving; mappings resumed from their checkpoints.\n", res.Generation)
	return nil
}

// cmdStatus is `sluice status`.
func cmdStatus(args []string, stdout, stderr io.Writer) error {
	cfg, _ := app.ConfigFromEnv()
	fs := newFlagSet("status", stderr, &cfg)
	fs.StringVar(&cfg.StateDir, "state-dir", cfg.StateDir, "state directory of the running sluice")
	controlAddr := fs.String("control-addr", "", "control address (default: from <state-dir>/endpoints.json)")
	asJSON := fs.Bool("json", false, "print the raw status document")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := newControlClient(cfg.StateDir, *controlAddr)
	if err != nil {
		return err
	}
	var st app.Status
	if code, err := c.do("GET", "/status", nil, &st); err != nil {
		return err
	} else if code != http.StatusOK {
		return fmt.Errorf("control API at %s answered /status with %d %s", c.base, code, http.StatusText(code))
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	printStatus(stdout, st)
	return nil
}
