package template

import (
	"testing"

	"gopkg.in/yaml.v3"
)

// TestMergeGlobalsLists checks the rule the plan cannot show: lists
// concatenate with global items first (SAM globals.py).
func TestMergeGlobalsLists(t *testing.T) {
	conv := func(s string) *value {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(s), &n); err != nil {
			t.Fatal(err)
		}
		return (&converter{p: &parser{plan: &Plan{}}}).convert(&n, 0)
	}
	got := mergeGlobals(conv("{Layers: [g1, g2], Tags: {a: g}, Timeout: 3}"), conv("{Layers: [r1], Tags: {b: r}, Timeout: 9}"))
	if s := canonical(got); s != "{Layers:[g1,g2,r1],Tags:{a:g,b:r},Timeout:9}" {
		t.Errorf("merged = %s", s)
	}
}
