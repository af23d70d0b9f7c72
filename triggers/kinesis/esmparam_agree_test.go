package kinesis_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/template"
	kt "github.com/sluice-dev/sluice/triggers/kinesis"
	"github.com/sluice-dev/sluice/triggers/kinesis/esmparam"
)

// configField reaches the Config field of one esmparam parameter. It is
// written out here, apart from the trigger's own binding, so that a field
// bound to the wrong parameter there shows up as a disagreement.
type configField struct {
	// set stores the template's value n in the field as a caller would.
	set func(c *kt.Config, n int)
	// fromEvent copies the field from a parsed template event, as the app
	// does when it starts a mapping.
	fromEvent func(c *kt.Config, ev template.KinesisEvent)
	// get reads the field back in the template's units.
	get func(c kt.Config) int
}

func countField(f func(*kt.Config) *int, ev func(template.KinesisEvent) int) configField {
	return configField{
		set:       func(c *kt.Config, n int) { *f(c) = n },
		fromEvent: func(c *kt.Config, e template.KinesisEvent) { *f(c) = ev(e) },
		get:       func(c kt.Config) int { return *f(&c) },
	}
}

func secondsField(p esmparam.Int, f func(*kt.Config) *time.Duration, ev func(template.KinesisEvent) time.Duration) configField {
	return configField{
		set:       func(c *kt.Config, n int) { *f(c) = time.Duration(n) * time.Second },
		fromEvent: func(c *kt.Config, e template.KinesisEvent) { *f(c) = ev(e) },
		get:       func(c kt.Config) int { return p.Units(*f(&c)) },
	}
}

var configFields = map[string]configField{
	"BatchSize": countField(
		func(c *kt.Config) *int { return &c.BatchSize },
		func(e template.KinesisEvent) int { return e.BatchSize }),
	"MaximumBatchingWindowInSeconds": secondsField(esmparam.MaximumBatchingWindowInSeconds,
		func(c *kt.Config) *time.Duration { return &c.MaximumBatchingWindow },
		func(e template.KinesisEvent) time.Duration { return e.MaximumBatchingWindow }),
	"ParallelizationFactor": countField(
		func(c *kt.Config) *int { return &c.ParallelizationFactor },
		func(e template.KinesisEvent) int { return e.ParallelizationFactor }),
	"MaximumRetryAttempts": countField(
		// As the app does: a template's value, even 0, is always explicit.
		func(c *kt.Config) *int { c.RetryAttemptsSet = true; return &c.MaximumRetryAttempts },
		func(e template.KinesisEvent) int { return e.MaximumRetryAttempts }),
	"MaximumRecordAgeInSeconds": secondsField(esmparam.MaximumRecordAgeInSeconds,
		func(c *kt.Config) *time.Duration { return &c.MaximumRecordAge },
		func(e template.KinesisEvent) time.Duration { return e.MaximumRecordAge }),
	"TumblingWindowInSeconds": secondsField(esmparam.TumblingWindowInSeconds,
		func(c *kt.Config) *time.Duration { return &c.TumblingWindow },
		func(e template.KinesisEvent) time.Duration { return e.TumblingWindow }),
}

// probes are the values around a parameter's bounds and its default.
func probes(p esmparam.Int) []int {
	ns := []int{p.Min - 1, p.Min, p.Min + 1, p.Max - 1, p.Max, p.Max + 1, p.Default}
	if p.Floor > p.Min {
		ns = append(ns, p.Floor-1, p.Floor, p.Floor+1)
	}
	slices.Sort(ns)
	return slices.Compact(ns)
}

// TestTemplateAndTriggerAgree walks esmparam's table: for every integer
// parameter, at each bound (min-1, min, max, max+1), its default and any
// gap, `sluice validate` (the template) and a mapping (the trigger) accept
// or refuse the value alike, with the table's words, and a value the
// template accepts means the same to the mapping it configures.
func TestTemplateAndTriggerAgree(t *testing.T) {
	if len(configFields) != len(esmparam.Ints) {
		t.Errorf("the test knows %d Config fields, the table has %d parameters", len(configFields), len(esmparam.Ints))
	}
	for _, p := range esmparam.Ints {
		if _, ok := configFields[p.Name]; !ok {
			t.Errorf("%s: no Config field known for it", p.Name)
			continue
		}
		for _, n := range probes(p) {
			t.Run(fmt.Sprintf("%s=%d", p.Name, n), func(t *testing.T) { checkAgreement(t, p, n) })
		}
		t.Run(p.Name+"=absent", func(t *testing.T) { checkDefaultAgreement(t, p) })
	}
}

// FuzzTemplateAndTriggerAgree is TestTemplateAndTriggerAgree on any value.
func FuzzTemplateAndTriggerAgree(f *testing.F) {
	for i, p := range esmparam.Ints {
		for _, n := range probes(p) {
			f.Add(uint8(i), int64(n))
		}
	}
	f.Fuzz(func(t *testing.T, i uint8, n int64) {
		p := esmparam.Ints[int(i)%len(esmparam.Ints)]
		if p.Unit != 0 && (n > 1<<32 || n < -1<<32) {
			t.Skip("beyond what a duration holds in seconds")
		}
		checkAgreement(t, p, int(n))
	})
}

func checkAgreement(t *testing.T, p esmparam.Int, n int) {
	t.Helper()
	field := configFields[p.Name]
	want := p.Check(n)
	ev, tmplErr := parseEvent(fmt.Sprintf("%s: %d", p.Name, n))

	cfg := agreeConfig()
	field.set(&cfg, n)
	m, trigErr := kt.New(cfg, nil, nil, nil, nil, kt.Options{})

	if want != nil {
		if tmplErr == nil || !strings.Contains(tmplErr.Error(), ".Properties."+p.Name+": "+want.Error()) {
			t.Errorf("template: %v, want the table's %q", tmplErr, want)
		}
		switch {
		case n == 0:
			// A Config's zero value is the absent property, so a refused 0
			// cannot be said to the trigger; it takes the default instead.
			if trigErr != nil {
				t.Fatalf("trigger refuses a zero %s: %v", p.Name, trigErr)
			}
			if got := field.get(m.Config()); got != p.Default {
				t.Errorf("trigger holds %d for a zero field, want the default %d", got, p.Default)
			}
		case trigErr == nil || !strings.Contains(trigErr.Error(), p.Name+": "+want.Error()):
			t.Errorf("trigger: %v, want the table's %q", trigErr, want)
		}
		return
	}
	if tmplErr != nil {
		t.Fatalf("template refuses %d, which the table accepts: %v", n, tmplErr)
	}
	if trigErr != nil {
		t.Fatalf("trigger refuses %d, which the table accepts: %v", n, trigErr)
	}
	if got := field.get(m.Config()); got != n {
		t.Errorf("trigger holds %d, want %d", got, n)
	}
	fromTemplate := agreeConfig()
	field.fromEvent(&fromTemplate, ev)
	m, err := kt.New(fromTemplate, nil, nil, nil, nil, kt.Options{})
	if err != nil {
		t.Fatalf("trigger refuses the template's value for %d: %v", n, err)
	}
	if got := field.get(m.Config()); got != n {
		t.Errorf("the template's %d reaches the trigger as %d", n, got)
	}
}

// checkDefaultAgreement: an absent property and a zero Config field take
// the same default.
func checkDefaultAgreement(t *testing.T, p esmparam.Int) {
	field := configFields[p.Name]
	ev, err := parseEvent("")
	if err != nil {
		t.Fatal(err)
	}
	fromTemplate := agreeConfig()
	field.fromEvent(&fromTemplate, ev)
	m, err := kt.New(fromTemplate, nil, nil, nil, nil, kt.Options{})
	if err != nil {
		t.Fatalf("trigger refuses the template's default: %v", err)
	}
	if got := field.get(m.Config()); got != p.Default {
		t.Errorf("the template's default reaches the trigger as %d, want %d", got, p.Default)
	}
	m, err = kt.New(agreeConfig(), nil, nil, nil, nil, kt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := field.get(m.Config()); got != p.Default {
		t.Errorf("the trigger's default is %d, want %d", got, p.Default)
	}
}

func agreeConfig() kt.Config {
	return kt.Config{ID: "agree", StreamName: "s", FunctionName: "Fn", StartingPosition: "LATEST"}
}

// parseEvent parses a template whose one Kinesis event has the property
// line prop (none when empty) and returns that event.
func parseEvent(prop string) (template.KinesisEvent, error) {
	src := `Transform: AWS::Serverless-2016-10-31
Resources:
  S:
    Type: AWS::Kinesis::Stream
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn
      Handler: bootstrap
      Runtime: provided.al2023
      Events:
        E:
          Type: Kinesis
          Properties:
            Stream: !GetAtt S.Arn
            StartingPosition: LATEST
`
	if prop != "" {
		src += "            " + prop + "\n"
	}
	plan, err := template.Parse("template.yaml", []byte(src), template.Options{})
	if err != nil {
		return template.KinesisEvent{}, err
	}
	return plan.Functions[0].Events[0], nil
}
