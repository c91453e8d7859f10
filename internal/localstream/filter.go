package localstream

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// Filter is an event filter of an event source mapping (Lambda's filter
// rule syntax, the Pattern of a FilterCriteria), applied to the records of
// a local engine's stream as Lambda applies it to a table's stream before
// it invokes the function: a record is handed over only when it matches.
//
// It evaluates the part of the syntax a filter of the table's stream uses:
// nested objects, lists of literal values (strings, numbers, booleans,
// null), and the exists and prefix rules; a pattern with any other rule is
// refused by ParseFilter, never half-evaluated.
//
// A filter of several patterns (ParseFilters) admits a record any of them
// matches, as an event source mapping's filters do.
type Filter struct {
	patterns []map[string]any
	text     string
}

// ParseFilters reads an event source mapping's filter patterns.
func ParseFilters(patterns ...string) (*Filter, error) {
	if len(patterns) == 0 {
		return nil, fmt.Errorf("localstream: no filter pattern")
	}
	out := &Filter{text: strings.Join(patterns, "\n")}
	for _, text := range patterns {
		f, err := ParseFilter(text)
		if err != nil {
			return nil, err
		}
		out.patterns = append(out.patterns, f.patterns...)
	}
	return out, nil
}

// ParseFilter reads a filter pattern.
func ParseFilter(pattern string) (*Filter, error) {
	var p map[string]any
	dec := json.NewDecoder(strings.NewReader(pattern))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("localstream: filter pattern: %w", err)
	}
	if err := checkPattern(p, ""); err != nil {
		return nil, fmt.Errorf("localstream: filter pattern: %w", err)
	}
	return &Filter{patterns: []map[string]any{p}, text: pattern}, nil
}

// String is the pattern the filter was read from (its patterns, a line
// each).
func (f *Filter) String() string { return f.text }

func checkPattern(p map[string]any, at string) error {
	if len(p) == 0 {
		return fmt.Errorf("%sempty object", at)
	}
	for k, v := range p {
		switch v := v.(type) {
		case map[string]any:
			if err := checkPattern(v, at+k+"."); err != nil {
				return err
			}
		case []any:
			if len(v) == 0 {
				return fmt.Errorf("%s%s: an empty list matches nothing", at, k)
			}
			for _, rule := range v {
				if err := checkRule(rule); err != nil {
					return fmt.Errorf("%s%s: %w", at, k, err)
				}
			}
		default:
			return fmt.Errorf("%s%s: %v is neither an object nor a list", at, k, v)
		}
	}
	return nil
}

func checkRule(rule any) error {
	m, ok := rule.(map[string]any)
	if !ok {
		return nil // a literal
	}
	if len(m) != 1 {
		return fmt.Errorf("rule %v: one operator per rule", m)
	}
	for op, arg := range m {
		switch op {
		case "exists":
			if _, ok := arg.(bool); !ok {
				return fmt.Errorf("exists takes true or false, not %v", arg)
			}
		case "prefix":
			if _, ok := arg.(string); !ok {
				return fmt.Errorf("prefix takes a string, not %v", arg)
			}
		default:
			return fmt.Errorf("rule %q is not evaluated here", op)
		}
	}
	return nil
}

// Admits reports whether rec matches the filter. rec is seen as Lambda
// shows a stream record to a filter: {"eventName", "eventSource",
// "dynamodb": {"Keys", "NewImage", "OldImage", "SequenceNumber",
// "StreamViewType"}}, each attribute value in DynamoDB's JSON ({"S": …}).
func (f *Filter) Admits(rec types.Record) bool { return f.AdmitsEvent(eventOf(rec)) }

// AdmitsEvent reports whether a record in Lambda's JSON (decoded into maps,
// lists, strings, json.Number or float64, booleans) matches the filter.
func (f *Filter) AdmitsEvent(event map[string]any) bool {
	for _, p := range f.patterns {
		if matchObject(p, event) {
			return true
		}
	}
	return false
}

func matchObject(p map[string]any, event map[string]any) bool {
	for k, want := range p {
		got, present := event[k]
		switch want := want.(type) {
		case map[string]any:
			sub, ok := got.(map[string]any)
			if !present || !ok || !matchObject(want, sub) {
				return false
			}
		case []any:
			if !matchRules(want, got, present) {
				return false
			}
		}
	}
	return true
}

// matchRules: the field matches when any rule of the list does; a field
// that is a list matches when any of its values does.
func matchRules(rules []any, got any, present bool) bool {
	values := []any{got}
	if l, ok := got.([]any); ok {
		values = l
	}
	for _, rule := range rules {
		if m, ok := rule.(map[string]any); ok {
			if e, ok := m["exists"]; ok {
				if e.(bool) == present {
					return true
				}
				continue
			}
		}
		if !present {
			continue
		}
		for _, v := range values {
			if matchRule(rule, v) {
				return true
			}
		}
	}
	return false
}

func matchRule(rule, v any) bool {
	switch r := rule.(type) {
	case map[string]any:
		s, ok := v.(string)
		prefix, isPrefix := r["prefix"].(string)
		return ok && isPrefix && strings.HasPrefix(s, prefix)
	case string:
		s, ok := v.(string)
		return ok && s == r
	case json.Number:
		return sameNumber(r, v)
	case bool:
		b, ok := v.(bool)
		return ok && b == r
	case nil:
		return v == nil
	}
	return false
}

func sameNumber(r json.Number, v any) bool {
	want, ok := new(big.Float).SetString(r.String())
	if !ok {
		return false
	}
	var got *big.Float
	switch v := v.(type) {
	case json.Number:
		got, ok = new(big.Float).SetString(v.String())
	case float64:
		got, ok = big.NewFloat(v), true
	default:
		return false
	}
	return ok && want.Cmp(got) == 0
}

// eventOf is rec as Lambda's event JSON shows it to a filter.
func eventOf(rec types.Record) map[string]any {
	ev := map[string]any{"eventName": string(rec.EventName)}
	if rec.EventSource != nil {
		ev["eventSource"] = *rec.EventSource
	}
	if rec.AwsRegion != nil {
		ev["awsRegion"] = *rec.AwsRegion
	}
	if d := rec.Dynamodb; d != nil {
		ddb := map[string]any{"StreamViewType": string(d.StreamViewType)}
		if d.SequenceNumber != nil {
			ddb["SequenceNumber"] = *d.SequenceNumber
		}
		for name, image := range map[string]map[string]types.AttributeValue{"Keys": d.Keys, "NewImage": d.NewImage, "OldImage": d.OldImage} {
			if image != nil {
				ddb[name] = jsonImage(image)
			}
		}
		ev["dynamodb"] = ddb
	}
	return ev
}

func jsonImage(m map[string]types.AttributeValue) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = jsonValue(v)
	}
	return out
}

// jsonValue is an attribute value in DynamoDB's JSON: {"S": "…"},
// {"N": "…"} (a number is a string there), {"BOOL": true}, {"M": {…}}, …
func jsonValue(v types.AttributeValue) map[string]any {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return map[string]any{"S": x.Value}
	case *types.AttributeValueMemberN:
		return map[string]any{"N": x.Value}
	case *types.AttributeValueMemberB:
		return map[string]any{"B": base64.StdEncoding.EncodeToString(x.Value)}
	case *types.AttributeValueMemberBOOL:
		return map[string]any{"BOOL": x.Value}
	case *types.AttributeValueMemberNULL:
		return map[string]any{"NULL": x.Value}
	case *types.AttributeValueMemberSS:
		return map[string]any{"SS": strings2any(x.Value)}
	case *types.AttributeValueMemberNS:
		return map[string]any{"NS": strings2any(x.Value)}
	case *types.AttributeValueMemberBS:
		l := make([]any, len(x.Value))
		for n, b := range x.Value {
			l[n] = base64.StdEncoding.EncodeToString(b)
		}
		return map[string]any{"BS": l}
	case *types.AttributeValueMemberM:
		return map[string]any{"M": jsonImage(x.Value)}
	case *types.AttributeValueMemberL:
		l := make([]any, len(x.Value))
		for n, e := range x.Value {
			l[n] = jsonValue(e)
		}
		return map[string]any{"L": l}
	}
	return map[string]any{"NULL": true}
}

func strings2any(s []string) []any {
	out := make([]any, len(s))
	for n, v := range s {
		out[n] = v
	}
	return out
}
