package filter_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/triggers/filter"
)

// TestMatch covers the operators of docs/semantics.md, "ESM event
// filtering" (EventBridge patterns on Kinesis records).
func TestMatch(t *testing.T) {
	click := `{"page":"/cart","event_type":"purchase","price":300,"user":{"country":"us-east","tier":"Gold"},"tags":["a","b"],"ref":null,"empty":""}`
	tests := []struct {
		name, pattern, data string
		want                bool
	}{
		{"exact string", `{"data":{"event_type":["purchase"]}}`, click, true},
		{"exact string miss", `{"data":{"event_type":["view"]}}`, click, false},
		{"or within list", `{"data":{"event_type":["view","purchase"]}}`, click, true},
		{"and across fields", `{"data":{"event_type":["purchase"],"page":["/home"]}}`, click, false},
		{"nested", `{"data":{"user":{"country":["us-east"]}}}`, click, true},
		{"number text equal", `{"data":{"price":[300]}}`, click, true},
		{"number text differs (300.0)", `{"data":{"price":[300.0]}}`, click, false},
		{"null", `{"data":{"ref":[null]}}`, click, true},
		{"null does not match absent", `{"data":{"nope":[null]}}`, click, false},
		{"empty string", `{"data":{"empty":[""]}}`, click, true},
		{"prefix", `{"data":{"user":{"country":[{"prefix":"us-"}]}}}`, click, true},
		{"prefix miss", `{"data":{"user":{"country":[{"prefix":"eu-"}]}}}`, click, false},
		{"prefix ignore case", `{"data":{"user":{"country":[{"prefix":{"equals-ignore-case":"US-"}}]}}}`, click, true},
		{"suffix", `{"data":{"page":[{"suffix":"cart"}]}}`, click, true},
		{"suffix ignore case", `{"data":{"page":[{"suffix":{"equals-ignore-case":"CART"}}]}}`, click, true},
		{"equals-ignore-case", `{"data":{"user":{"tier":[{"equals-ignore-case":"gold"}]}}}`, click, true},
		{"anything-but value", `{"data":{"event_type":[{"anything-but":"view"}]}}`, click, true},
		{"anything-but list hit", `{"data":{"event_type":[{"anything-but":["view","purchase"]}]}}`, click, false},
		{"anything-but number", `{"data":{"price":[{"anything-but":[100]}]}}`, click, true},
		{"anything-but prefix", `{"data":{"page":[{"anything-but":{"prefix":"/c"}}]}}`, click, false},
		{"anything-but absent field", `{"data":{"nope":[{"anything-but":"x"}]}}`, click, false},
		{"numeric range", `{"data":{"price":[{"numeric":[">",100,"<=",300]}]}}`, click, true},
		{"numeric range miss", `{"data":{"price":[{"numeric":[">",300]}]}}`, click, false},
		{"numeric equal", `{"data":{"price":[{"numeric":["=",3e2]}]}}`, click, true},
		{"numeric on string", `{"data":{"page":[{"numeric":[">",0]}]}}`, click, false},
		{"exists true", `{"data":{"page":[{"exists":true}]}}`, click, true},
		{"exists true on object", `{"data":{"user":[{"exists":true}]}}`, click, false},
		{"exists false", `{"data":{"nope":[{"exists":false}]}}`, click, true},
		{"exists false present", `{"data":{"page":[{"exists":false}]}}`, click, false},
		{"wildcard", `{"data":{"page":[{"wildcard":"/c*t"}]}}`, click, true},
		{"wildcard miss", `{"data":{"page":[{"wildcard":"/c*x"}]}}`, click, false},
		{"array element", `{"data":{"tags":["b"]}}`, click, true},
		{"$or", `{"data":{"$or":[{"page":["/home"]},{"price":[{"numeric":[">",200]}]}]}}`, click, true},
		{"$or none", `{"data":{"$or":[{"page":["/home"]},{"price":[{"numeric":["<",200]}]}]}}`, click, false},
		{"metadata partitionKey", `{"partitionKey":["session-1"]}`, click, true},
		{"data not JSON is dropped", `{"data":{"page":["/cart"]}}`, `not json`, false},
		{"data not JSON, metadata pattern", `{"partitionKey":[{"prefix":"session"}]}`, `not json`, true},
		{"data pattern on scalar data", `{"data":{"page":["x"]}}`, `42`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := filter.Compile([]string{tc.pattern})
			if err != nil {
				t.Fatal(err)
			}
			got := f.Match(filter.Record{Data: []byte(tc.data), PartitionKey: "session-1", SequenceNumber: "1", ApproximateArrivalTimestamp: time.Unix(1767323045, 0)})
			if got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFiltersAreORed(t *testing.T) {
	f, err := filter.Compile([]string{`{"data":{"a":[1]}}`, `{"data":{"b":[2]}}`})
	if err != nil {
		t.Fatal(err)
	}
	for data, want := range map[string]bool{`{"a":1}`: true, `{"b":2}`: true, `{"a":2,"b":1}`: false} {
		if got := f.Match(filter.Record{Data: []byte(data)}); got != want {
			t.Errorf("%s: %v, want %v", data, got, want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct{ pattern, want string }{
		{`not json`, "not JSON"},
		{`[1]`, "must be a JSON object"},
		{`{"data":{"a":"x"}}`, "must be a list or an object"},
		{`{"data":{"a":[]}}`, "empty list"},
		{`{"data":{"a":[{"numeric":[">"]}]}}`, "numeric takes"},
		{`{"data":{"a":[{"bogus":1}]}}`, `unknown operator "bogus"`},
		{`{"data":{"a":[{"prefix":1}]}}`, "prefix takes a string"},
		{`{"data":{"a":[{"wildcard":"a**b"}]}}`, "consecutive"},
		{`{"$or":[{"a":[1]}]}`, "at least two"},
		{`{"a":[1]} {}`, "trailing"},
		{strings.Repeat(" ", 4097), "over 4096"},
	}
	for _, tc := range tests {
		_, err := filter.Compile([]string{tc.pattern})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.40q: error %v, want %q", tc.pattern, err, tc.want)
		}
	}
}

// FuzzFilter: compiling any pattern and matching any data never panics, and
// a compiled pattern is deterministic.
func FuzzFilter(f *testing.F) {
	f.Add(`{"data":{"a":[{"prefix":"x"}],"$or":[{"b":[1]},{"c":[{"exists":false}]}]}}`, `{"a":"xy","b":1}`)
	f.Add(`{"data":{"n":[{"numeric":[">=",1,"<",5]}]}}`, `{"n":[1,9]}`)
	f.Add(`{"data":{"w":[{"wildcard":"a*b\\*c*"}]}}`, `{"w":"aXb*cY"}`)
	f.Add(`{"data":{"w":[{"anything-but":{"suffix":"z"}}]}}`, `not json`)
	f.Fuzz(func(t *testing.T, pattern, data string) {
		flt, err := filter.Compile([]string{pattern})
		if err != nil {
			return
		}
		r := filter.Record{Data: []byte(data), PartitionKey: "k"}
		if flt.Match(r) != flt.Match(r) {
			t.Fatal("Match is not deterministic")
		}
	})
}
