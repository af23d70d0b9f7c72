package template

import (
	"slices"
	"testing"

	"github.com/sluice-dev/sluice/triggers/kinesis/esmparam"
)

// TestKinesisEventKnowsEveryParameter: every parameter of esmparam's table
// is a property a Kinesis event may have, so the table cannot list one the
// template would reject as unknown. (That template and trigger agree on
// each one's values is triggers/kinesis's TestTemplateAndTriggerAgree.)
func TestKinesisEventKnowsEveryParameter(t *testing.T) {
	for _, p := range esmparam.Ints {
		if !slices.Contains(kinesisEventKeys, p.Name) {
			t.Errorf("%s is in esmparam but not in kinesisEventKeys", p.Name)
		}
	}
	if !slices.Contains(kinesisEventKeys, esmparam.StartingPosition.Name) {
		t.Errorf("%s is in esmparam but not in kinesisEventKeys", esmparam.StartingPosition.Name)
	}
}
