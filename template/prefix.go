package template

import (
	"encoding/json"
	"fmt"
	"strings"
)

// prefixExpr is one !{namespace:value} in a Firehose S3 prefix
// (docs/semantics.md, "Firehose S3 prefix expressions").
type prefixExpr struct{ ns, val string }

var prefixNamespaces = []string{"timestamp", "firehose", "partitionKeyFromQuery", "partitionKeyFromLambda"}

// parsePrefix splits a prefix into its expressions, rejecting what Firehose
// rejects at create time: a stray !{, an unknown namespace or firehose value,
// an empty argument. Rendering is the sink's job; this only validates.
func parsePrefix(s string) ([]prefixExpr, error) {
	var out []prefixExpr
	for {
		i := strings.Index(s, "!{")
		if i < 0 {
			return out, nil
		}
		s = s[i+2:]
		j := strings.IndexByte(s, '}')
		if j < 0 {
			return nil, fmt.Errorf("unterminated !{ expression")
		}
		body := s[:j]
		s = s[j+1:]
		ns, val, ok := strings.Cut(body, ":")
		if !ok {
			return nil, fmt.Errorf("expression !{%s} must be !{namespace:value}", body)
		}
		if !contains(prefixNamespaces, ns) {
			return nil, fmt.Errorf("unknown namespace %s in !{%s}%s", quote(ns), body, suggest(ns, prefixNamespaces))
		}
		if val == "" {
			return nil, fmt.Errorf("!{%s} needs a value", body)
		}
		if ns == "firehose" && val != "random-string" && val != "error-output-type" {
			return nil, fmt.Errorf("!{%s}: firehose values are random-string and error-output-type", body)
		}
		out = append(out, prefixExpr{ns, val})
	}
}

func hasNS(exprs []prefixExpr, ns, val string) bool {
	for _, e := range exprs {
		if e.ns == ns && (val == "" || e.val == val) {
			return true
		}
	}
	return false
}

// isJSONObject reports whether s is one JSON object, the shape of event
// filter patterns.
func isJSONObject(s string) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal([]byte(s), &m) == nil && m != nil
}
