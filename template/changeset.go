package template

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Change is one row of a change set: what `sluice deploy` would do to one
// resource, in CloudFormation's terms.
type Change struct {
	// Action is Add, Modify or Delete.
	Action       string `json:"action"`
	LogicalID    string `json:"logicalId"`
	ResourceType string `json:"resourceType"`
	// Replacement is True (the resource is recreated: a stream loses its
	// records, a mapping its checkpoints), False, or N/A for Add/Delete.
	Replacement string `json:"replacement"`
	// Properties lists what changed, for Modify.
	Properties []PropertyChange `json:"properties,omitempty"`
}

// PropertyChange is one changed property of a modified resource.
type PropertyChange struct {
	Name string `json:"name"`
	Old  string `json:"old"`
	New  string `json:"new"`
	// RequiresReplacement is set for create-only properties
	// (docs/semantics.md, "SAM change sets and replacement": ESM
	// EventSourceArn/StartingPosition, stream Name, delivery stream
	// DeliveryStreamType…).
	RequiresReplacement bool `json:"requiresReplacement,omitempty"`
}

// DiffOptions carries what the plan does not: the content hashes of the
// functions' code, so that a code-only change is a Modify too.
type DiffOptions struct {
	OldCode, NewCode map[string]string // logical ID → code hash
}

// Resource types as CloudFormation names them. A function's Kinesis event
// becomes an event-source mapping named <Function><Event>, as SAM's
// translator names it.
const (
	TypeStream         = "AWS::Kinesis::Stream"
	TypeStreamConsumer = "AWS::Kinesis::StreamConsumer"
	TypeFunction       = "AWS::Serverless::Function"
	TypeMapping        = "AWS::Lambda::EventSourceMapping"
	TypeDeliveryStream = "AWS::KinesisFirehose::DeliveryStream"
	TypeBucket         = "AWS::S3::Bucket"
)

// createOnly lists, per type, the properties whose change replaces the
// resource.
var createOnly = map[string]map[string]bool{
	TypeStream:         {"name": true},
	TypeStreamConsumer: {"name": true, "stream": true},
	TypeFunction:       {"name": true},
	TypeMapping:        {"stream": true, "consumer": true, "startingPosition": true, "startingPositionTimestamp": true},
	TypeDeliveryStream: {"name": true, "sourceStream": true},
	TypeBucket:         {"name": true},
}

// ignored are plan fields that are not properties: positions and names the
// change set already shows.
var ignored = map[string]bool{"line": true, "logicalId": true, "events": true}

// Diff computes the change set that turns old into new: Adds and Modifies
// in dependency order (buckets, streams, delivery streams, functions,
// mappings), then Deletes in reverse.
func Diff(old, new *Plan, opts DiffOptions) []Change {
	oldRes, newRes := resources(old, opts.OldCode), resources(new, opts.NewCode)
	var changes, deletes []Change
	for _, r := range newRes {
		prev, ok := find(oldRes, r.id)
		if !ok {
			changes = append(changes, Change{Action: "Add", LogicalID: r.id, ResourceType: r.typ, Replacement: "N/A"})
			continue
		}
		props := diffProps(r.typ, prev.props, r.props)
		if len(props) == 0 {
			continue
		}
		c := Change{Action: "Modify", LogicalID: r.id, ResourceType: r.typ, Replacement: "False", Properties: props}
		for _, p := range props {
			if p.RequiresReplacement {
				c.Replacement = "True"
			}
		}
		changes = append(changes, c)
	}
	for k := len(oldRes) - 1; k >= 0; k-- {
		r := oldRes[k]
		if _, ok := find(newRes, r.id); !ok {
			deletes = append(deletes, Change{Action: "Delete", LogicalID: r.id, ResourceType: r.typ, Replacement: "N/A"})
		}
	}
	return append(changes, deletes...)
}

// FormatChangeSet renders changes as `sam deploy` shows a change set: four
// columns, + Add, * Modify, - Delete, then the changed properties.
func FormatChangeSet(changes []Change) string {
	if len(changes) == 0 {
		return "No changes to deploy.\n"
	}
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "Operation\tLogicalResourceId\tResourceType\tReplacement")
	marks := map[string]string{"Add": "+ Add", "Modify": "* Modify", "Delete": "- Delete"}
	for _, c := range changes {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", marks[c.Action], c.LogicalID, c.ResourceType, c.Replacement)
	}
	w.Flush()
	for _, c := range changes {
		for _, p := range c.Properties {
			note := ""
			if p.RequiresReplacement {
				note = " (requires replacement)"
			}
			fmt.Fprintf(&b, "  %s.%s: %s -> %s%s\n", c.LogicalID, p.Name, p.Old, p.New, note)
		}
	}
	return b.String()
}

type csResource struct {
	id, typ string
	props   map[string]any
}

func find(rs []csResource, id string) (csResource, bool) {
	for _, r := range rs {
		if r.id == id {
			return r, true
		}
	}
	return csResource{}, false
}

// resources flattens a plan into CloudFormation-like resources in
// dependency order.
func resources(p *Plan, code map[string]string) []csResource {
	if p == nil {
		return nil
	}
	var out []csResource
	add := func(id, typ string, v any) map[string]any {
		props := toMap(v)
		out = append(out, csResource{id: id, typ: typ, props: props})
		return props
	}
	for _, b := range p.Buckets {
		add(b.LogicalID, TypeBucket, b)
	}
	for _, s := range p.Streams {
		add(s.LogicalID, TypeStream, s)
	}
	for _, c := range p.Consumers {
		add(c.LogicalID, TypeStreamConsumer, c)
	}
	for _, d := range p.DeliveryStreams {
		add(d.LogicalID, TypeDeliveryStream, d)
	}
	for _, f := range p.Functions {
		props := add(f.LogicalID, TypeFunction, f)
		delete(props, "codeDir") // where the code is does not matter, what it is does
		if h, ok := code[f.LogicalID]; ok {
			props["code"] = h
		}
	}
	for _, f := range p.Functions {
		for _, ev := range f.Events {
			add(f.LogicalID+ev.Name, TypeMapping, ev)
		}
	}
	return out
}

// toMap turns a plan resource into its properties, named by their JSON
// tags and rendered as text (durations as "1s", not nanoseconds).
func toMap(v any) map[string]any {
	m := map[string]any{}
	rv := reflect.ValueOf(v)
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" || ignored[name] {
			continue
		}
		f := rv.Field(i)
		if f.IsZero() {
			continue // unset and zero read the same in a change set
		}
		switch x := f.Interface().(type) {
		case time.Duration:
			m[name] = x.String()
		case *time.Time:
			m[name] = x.UTC().Format(time.RFC3339)
		case string:
			m[name] = x
		default:
			data, _ := json.Marshal(x)
			m[name] = string(data)
		}
	}
	return m
}

func diffProps(typ string, old, new map[string]any) []PropertyChange {
	keys := map[string]bool{}
	for k := range old {
		keys[k] = true
	}
	for k := range new {
		keys[k] = true
	}
	var names []string
	for k := range keys {
		if !reflect.DeepEqual(old[k], new[k]) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var out []PropertyChange
	for _, k := range names {
		out = append(out, PropertyChange{Name: k, Old: show(old[k]), New: show(new[k]), RequiresReplacement: createOnly[typ][k]})
	}
	return out
}

func show(v any) string {
	if v == nil {
		return "(unset)"
	}
	return fmt.Sprint(v)
}
