package jsonobj_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/sdk/jsonobj"
)

func TestGetAndString(t *testing.T) {
	for _, tc := range []struct {
		name, doc, key, want string
		missing              bool
	}{
		{"plain", `{"a":"x","b":1}`, "a", "x", false},
		{"last duplicate wins", `{"a":"x","a":"y"}`, "a", "y", false},
		{"escaped key", `{"event\u005fid":"e1"}`, "event_id", "e1", false},
		{"escaped value", `{"a":"line\nbreak \u00e9"}`, "a", "line\nbreak é", false},
		{"null is empty", `{"a":null}`, "a", "", false},
		{"nested skipped", `{"n":{"a":"inner"},"a":"outer"}`, "a", "outer", false},
		{"missing", ` { "b" : [1, {"a":"no"}] } `, "a", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := jsonobj.Parse([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			raw := o.Get(tc.key)
			if (raw == nil) != tc.missing {
				t.Fatalf("Get(%q) = %q, missing want %v", tc.key, raw, tc.missing)
			}
			if tc.missing {
				return
			}
			if got, err := jsonobj.String(raw); err != nil || got != tc.want {
				t.Fatalf("String(%s) = %q, %v; want %q", raw, got, err, tc.want)
			}
		})
	}
}

func TestParseRefusesWhatIsNotAnObject(t *testing.T) {
	for _, doc := range []string{``, `[]`, `"s"`, `null`, `1`, `{`, `{"a":1}x`, `{"a":1,}`, `{'a':1}`} {
		if _, err := jsonobj.Parse([]byte(doc)); !errors.Is(err, jsonobj.ErrNotObject) {
			t.Errorf("Parse(%q) = %v, want ErrNotObject", doc, err)
		}
	}
}

func TestStringNamesWhatItGot(t *testing.T) {
	if _, err := jsonobj.String([]byte(`12`)); err == nil || !strings.Contains(err.Error(), "a number, not a string") {
		t.Fatalf("String(12) error = %v", err)
	}
}

func TestAppendSetKeepsMembersAsWritten(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`{"a": 1 , "n":{"x":[1,2]} }`, `{"a": 1 , "n":{"x":[1,2]},"k":"v","h":"<&>"}`},
		{`{}`, `{"k":"v","h":"<&>"}`},
		{`{ }`, `{"k":"v","h":"<&>"}`},
		{`{"k":"old","a":1,"k":"older"}`, `{"a":1,"k":"v","h":"<&>"}`},
	} {
		o, err := jsonobj.Parse([]byte(tc.doc))
		if err != nil {
			t.Fatal(err)
		}
		got := string(o.AppendSet(nil, jsonobj.Field{Key: "k", Value: "v"}, jsonobj.Field{Key: "h", Value: "<&>"}))
		want := strings.ReplaceAll(tc.want, "<&>", `\u003c\u0026\u003e`)
		if got != want {
			t.Errorf("AppendSet(%s) = %s, want %s", tc.doc, got, want)
		}
	}
}

func TestAppendWithout(t *testing.T) {
	o, _ := jsonobj.Parse([]byte(`{"user_id":"u","page":"/","user\u005fagent":"x","n":[1]}`))
	got := o.AppendWithout(nil, func(k []byte) bool { return string(k) == "user_id" || string(k) == "user_agent" })
	if string(got) != `{"page":"/","n":[1]}` {
		t.Fatalf("AppendWithout = %s", got)
	}
}

// decoded is what encoding/json makes of a document's top level.
func decoded(t *testing.T, doc []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatalf("encoding/json: %q: %v", doc, err)
	}
	return m
}

func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && jsonEqual(x, y)
}

func jsonEqual(x, y any) bool {
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

// FuzzObject checks jsonobj against encoding/json on arbitrary input: it
// accepts exactly the objects encoding/json accepts (for objects), finds
// the same values, and its edits decode to the same maps as the edit done
// on a decoded map.
func FuzzObject(f *testing.F) {
	for _, s := range []string{`{"a":"x","b":{"c":[1,"}"]},"a":"y"}`, `{"event\u005fid":"\ud83d\ude00"}`, "{\"k\":\"\xff\"}",
		`{"k":"v","x":null}`, `[1]`, `{}`, ` {"s":"a\\\"b"} `} {
		f.Add([]byte(s), "k")
	}
	f.Fuzz(func(t *testing.T, doc []byte, key string) {
		o, err := jsonobj.Parse(doc)
		var m map[string]json.RawMessage
		jerr := json.Unmarshal(doc, &m)
		if err != nil {
			if jerr == nil && m != nil && utf8Valid(doc) {
				t.Fatalf("Parse refused %q, which encoding/json decodes as an object", doc)
			}
			return
		}
		if jerr != nil {
			t.Fatalf("Parse accepted %q; encoding/json: %v", doc, jerr)
		}
		if raw, want := o.Get(key), m[key]; (raw == nil) != (want == nil) || raw != nil && !sameJSON(raw, want) {
			t.Fatalf("Get(%q) on %q = %q, encoding/json %q", key, doc, raw, want)
		}
		for k, raw := range m {
			if raw[0] != '"' {
				continue
			}
			var want string
			_ = json.Unmarshal(raw, &want)
			if got, err := jsonobj.String(o.Get(k)); err != nil || got != want {
				t.Fatalf("String of %q in %q = %q, %v; encoding/json %q", k, doc, got, err, want)
			}
		}
		set := o.AppendSet(nil, jsonobj.Field{Key: key, Value: "v<" + key})
		wantSet := maps.Clone(m)
		delete(wantSet, key)
		wantSet[asDecoded(key)], _ = json.Marshal("v<" + key)
		if got := decoded(t, set); !sameMap(got, wantSet) {
			t.Fatalf("AppendSet on %q = %q", doc, set)
		}
		// AppendNew: decoders take the last of a repeated name, the new one.
		if got := decoded(t, o.AppendNew(nil, jsonobj.Field{Key: key, Value: "v<" + key})); !sameMap(got, wantSet) {
			t.Fatalf("AppendNew on %q decodes to %v", doc, got)
		}
		var vals [2][]byte
		o.Lookup([]string{key, "k"}, vals[:])
		if !bytes.Equal(vals[0], o.Get(key)) || !bytes.Equal(vals[1], o.Get("k")) {
			t.Fatalf("Lookup on %q = %q, Get says %q and %q", doc, vals, o.Get(key), o.Get("k"))
		}
		without := o.AppendWithout(nil, func(k []byte) bool { return string(k) == key })
		delete(m, key)
		if got := decoded(t, without); !sameMap(got, m) {
			t.Fatalf("AppendWithout(%q) on %q = %q", key, doc, without)
		}
	})
}

// asDecoded is key as written by AppendQuoted and read back: invalid UTF-8
// becomes U+FFFD.
func asDecoded(key string) string {
	b, _ := json.Marshal(key)
	var s string
	_ = json.Unmarshal(b, &s)
	return s
}

func sameMap(a, b map[string]json.RawMessage) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !sameJSON(v, w) {
			return false
		}
	}
	return true
}

// utf8Valid: fastjson refuses some byte sequences encoding/json accepts
// and replaces; only valid UTF-8 must be accepted alike.
func utf8Valid(b []byte) bool { return strings.ToValidUTF8(string(b), "") == string(b) }
