package capacity

import (
	"strings"
	"testing"
)

func TestPlan(t *testing.T) {
	tests := []struct {
		name     string
		load     Load
		shards   int
		binding  Limit
		warnings int
		wantErr  bool
	}{
		{"nothing", Load{}, 1, LimitMinimum, 0, false},
		{"bytes bind", Load{WriteMBPerSec: 3.5, RecordsPerSec: 1000}, 4, LimitWriteBytes, 0, false},
		{"records bind", Load{WriteMBPerSec: 1, RecordsPerSec: 12000}, 12, LimitWriteRecords, 0, false},
		{"exact multiple", Load{WriteMBPerSec: 3, RecordsPerSec: 3000}, 3, LimitWriteBytes, 0, false},
		{"float noise", Load{WriteMBPerSec: 0.1 * 30}, 3, LimitWriteBytes, 0, false},
		{"polling consumers share reads", Load{WriteMBPerSec: 2, RecordsPerSec: 100, Consumers: 3}, 3, LimitReadShared, 0, false},
		{"efo consumers read their own", Load{WriteMBPerSec: 2, RecordsPerSec: 100, Consumers: 3, EnhancedFanOut: true}, 2, LimitWriteBytes, 0, false},
		{"too many pollers", Load{WriteMBPerSec: 1, Consumers: 6}, 3, LimitReadShared, 1, false},
		{"20 efo consumers", Load{WriteMBPerSec: 1, Consumers: 20, EnhancedFanOut: true}, 1, LimitWriteBytes, 0, false},
		{"21 efo consumers", Load{Consumers: 21, EnhancedFanOut: true}, 0, "", 0, true},
		{"negative", Load{WriteMBPerSec: -1}, 0, "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Plan(tt.load)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if r.Shards != tt.shards || r.Binding != tt.binding || len(r.Warnings) != tt.warnings {
				t.Fatalf("Plan(%+v) = %d shards bound by %q, warnings %q; want %d by %q, %d warnings", tt.load, r.Shards, r.Binding, r.Warnings, tt.shards, tt.binding, tt.warnings)
			}
			for _, n := range r.Needs {
				if n.Shards > r.Shards {
					t.Fatalf("need %+v exceeds the plan", n)
				}
			}
		})
	}
}

func TestUtilisation(t *testing.T) {
	if u := Utilisation(512<<10, 100); u != 0.5 {
		t.Errorf("half a MiB/s: %v", u)
	}
	if u := Utilisation(1000, 2000); u != 2 {
		t.Errorf("2,000 records/s: %v", u)
	}
	if !strings.Contains(string(LimitWriteRecords), "1,000") {
		t.Error("limit text")
	}
}
