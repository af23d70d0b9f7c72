package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/sluice-dev/sluice/internal/app"
	"github.com/sluice-dev/sluice/template"
)

// cmdValidate checks the template with Sluice's own rules and, with
// --strict, against SAM's own JSON schema too (embedded, so it works
// offline), printing every problem as file:line:col: message.
func cmdValidate(args []string, stdout, stderr io.Writer) error {
	cfg, _ := app.ConfigFromEnv()
	fs := newFlagSet("validate", stderr, &cfg)
	strict := fs.Bool("strict", false, "also check the template against SAM's own JSON schema (offline), as sam validate and cfn-lint do")
	if err := fs.Parse(args); err != nil {
		return err
	}
	plan, err := template.ParseFile(cfg.Template, template.Options{ParameterOverrides: cfg.ParameterOverrides})
	var errs *template.Errors
	if err != nil && !errors.As(err, &errs) {
		return err // unreadable
	}
	var problems []template.Error
	if errs != nil {
		problems = errs.List
	}
	nSchema := 0
	if *strict {
		src, rerr := os.ReadFile(cfg.Template)
		if rerr != nil {
			return fmt.Errorf("read template: %w", rerr)
		}
		schemaErrs, serr := template.CheckSchema(cfg.Template, src)
		switch {
		case serr != nil && errs == nil:
			return serr
		case serr == nil:
			// in file order, Sluice's own message first where both speak
			nSchema = len(schemaErrs)
			problems = append(problems, schemaErrs...)
			slices.SortStableFunc(problems, func(a, b template.Error) int {
				return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
			})
		}
		// serr != nil with errs: the YAML is broken and Parse said where.
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, p.Error())
		}
		if errs == nil {
			return fmt.Errorf("%s does not conform to SAM's schema (%d %s)", cfg.Template, nSchema, plural(nSchema, "problem", "problems"))
		}
		return fmt.Errorf("%s is invalid", cfg.Template)
	}
	for _, w := range plan.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w.Error())
	}
	if *strict {
		fmt.Fprintf(stdout, "%s is a valid Sluice template and conforms to SAM's schema\n", cfg.Template)
		return nil
	}
	fmt.Fprintf(stdout, "%s is a valid Sluice template\n", cfg.Template)
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
