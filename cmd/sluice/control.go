package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/sluice-dev/sluice/internal/app"
)

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
	c, err := app.NewControlClient(cfg.StateDir, *controlAddr)
	if err != nil {
		return err
	}
	req := app.DeployRequest{Template: tmpl, ParameterOverrides: cfg.ParameterOverrides, DryRun: true}
	plan, err := c.Deploy(req)
	if err != nil {
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
	res, err := c.Deploy(req)
	if err != nil {
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
	c, err := app.NewControlClient(cfg.StateDir, *controlAddr)
	if err != nil {
		return err
	}
	st, err := c.Status()
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	printStatus(stdout, st)
	return nil
}
