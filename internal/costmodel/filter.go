package costmodel

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Pattern is one event filter pattern of a Lambda event source mapping
// (FilterCriteria.Filters[].Pattern): a JSON object whose leaves are lists
// of what a field may be. Lambda invokes the function for a record that
// any one of the mapping's patterns matches.
//
// Match implements the filter rules of Lambda's "Control which events
// Lambda sends to your function" (invocation-eventfiltering.html): a
// field matches a list when it equals one of its values (a string, a
// number, true, false, null) or passes one of its operators (prefix,
// suffix, equals-ignore-case, anything-but, numeric, exists); an object
// matches a field's fields; a field that is a list matches when one of
// its elements does. An operator it does not know is an error, never a
// guess.
type Pattern struct {
	// Text is the pattern as written.
	Text string
	rule map[string]any
}

// ParsePattern reads a pattern.
func ParsePattern(text string) (Pattern, error) {
	var rule map[string]any
	if err := json.Unmarshal([]byte(text), &rule); err != nil {
		return Pattern{}, fmt.Errorf("filter pattern %s: %w", text, err)
	}
	return Pattern{Text: text, rule: rule}, nil
}

// Match reports whether the event (a record as Lambda hands it, decoded
// from JSON) passes the pattern.
func (p Pattern) Match(event map[string]any) (bool, error) {
	return matchObject(p.rule, event)
}

func matchObject(rule, event map[string]any) (bool, error) {
	for name, want := range rule {
		got, present := event[name]
		switch want := want.(type) {
		case map[string]any:
			sub, ok := got.(map[string]any)
			if !present || !ok {
				return false, nil
			}
			if ok, err := matchObject(want, sub); !ok || err != nil {
				return false, err
			}
		case []any:
			ok, err := matchField(want, got, present)
			if !ok || err != nil {
				return false, err
			}
		default:
			return false, fmt.Errorf("filter pattern: %s is %v, not a list or an object", name, want)
		}
	}
	return true, nil
}

// matchField reports whether a field (absent when !present) passes one of
// the values and operators of list.
func matchField(list []any, got any, present bool) (bool, error) {
	for _, want := range list {
		op, isOp := want.(map[string]any)
		if isOp && len(op) == 1 {
			if e, ok := op["exists"]; ok {
				b, isBool := e.(bool)
				if !isBool {
					return false, fmt.Errorf("filter pattern: exists takes true or false, not %v", e)
				}
				if b == present {
					return true, nil
				}
				continue
			}
		}
		if !present {
			continue
		}
		values := []any{got}
		if l, ok := got.([]any); ok {
			values = l
		}
		for _, v := range values {
			ok, err := matchValue(want, v)
			if err != nil {
				return false, err
			}
			if ok {
				return true, nil
			}
		}
	}
	return false, nil
}

// matchValue reports whether one value passes a value or operator of a
// pattern's list.
func matchValue(want, got any) (bool, error) {
	op, isOp := want.(map[string]any)
	if !isOp {
		return equalValues(want, got), nil
	}
	if len(op) != 1 {
		return false, fmt.Errorf("filter pattern: operator %v", op)
	}
	for name, arg := range op {
		s, isString := got.(string)
		switch name {
		case "prefix", "suffix", "equals-ignore-case":
			a, ok := arg.(string)
			if !ok {
				return false, fmt.Errorf("filter pattern: %s takes a string, not %v", name, arg)
			}
			if !isString {
				return false, nil
			}
			switch name {
			case "prefix":
				return strings.HasPrefix(s, a), nil
			case "suffix":
				return strings.HasSuffix(s, a), nil
			default:
				return strings.EqualFold(s, a), nil
			}
		case "anything-but":
			switch a := arg.(type) {
			case []any:
				for _, v := range a {
					if equalValues(v, got) {
						return false, nil
					}
				}
				return true, nil
			case map[string]any:
				ok, err := matchValue(a, got)
				return !ok, err
			default:
				return !equalValues(a, got), nil
			}
		case "numeric":
			return matchNumeric(arg, got)
		}
		return false, fmt.Errorf("filter pattern: operator %q is not one the cost model knows", name)
	}
	return false, nil
}

func equalValues(want, got any) bool {
	if w, ok := number(want); ok {
		g, ok := number(got)
		return ok && w == g
	}
	return reflect.DeepEqual(want, got)
}

func number(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	}
	return 0, false
}

func matchNumeric(arg, got any) (bool, error) {
	terms, ok := arg.([]any)
	if !ok || len(terms)%2 != 0 || len(terms) == 0 {
		return false, fmt.Errorf("filter pattern: numeric %v", arg)
	}
	g, ok := number(got)
	if !ok {
		return false, nil
	}
	for i := 0; i < len(terms); i += 2 {
		op, _ := terms[i].(string)
		n, ok := number(terms[i+1])
		if !ok {
			return false, fmt.Errorf("filter pattern: numeric %v", arg)
		}
		var pass bool
		switch op {
		case "=":
			pass = g == n
		case "<":
			pass = g < n
		case "<=":
			pass = g <= n
		case ">":
			pass = g > n
		case ">=":
			pass = g >= n
		default:
			return false, fmt.Errorf("filter pattern: numeric operator %q", op)
		}
		if !pass {
			return false, nil
		}
	}
	return true, nil
}

// Invoked are the functions (StreamSource.Name) record invokes: those
// whose source has a filter it passes, or none.
func (m Model) Invoked(record map[string]any) ([]string, error) {
	var out []string
	for _, src := range m.Sources {
		pass, err := src.Passes(record)
		if err != nil {
			return nil, fmt.Errorf("the event source of %s: %w", src.Function, err)
		}
		if pass {
			out = append(out, src.Name)
		}
	}
	return out, nil
}

// Passes reports whether the source invokes its function for record: it
// passes one of the source's filters, or the source has none.
func (s StreamSource) Passes(record map[string]any) (bool, error) {
	if len(s.Filters) == 0 {
		return true, nil
	}
	for _, p := range s.Filters {
		ok, err := p.Match(record)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// StreamRecord is the record a write of the item whose key is key, from
// before to after (nil where there is none), puts on the table's stream,
// as Lambda hands it to a function and its filters see it: eventName
// INSERT, MODIFY or REMOVE, and under dynamodb the Keys and the images
// the table's StreamViewType carries, in DynamoDB's JSON. It is decoded
// from JSON, as the filters read it.
func (t Table) StreamRecord(key, before, after map[string]types.AttributeValue) map[string]any {
	name := "MODIFY"
	switch {
	case before == nil:
		name = "INSERT"
	case after == nil:
		name = "REMOVE"
	}
	ddb := map[string]any{"Keys": imageJSON(key), "StreamViewType": string(t.StreamViewType),
		"SizeBytes": ItemSize(before) + ItemSize(after)}
	if after != nil && slices.Contains([]types.StreamViewType{types.StreamViewTypeNewImage, types.StreamViewTypeNewAndOldImages}, t.StreamViewType) {
		ddb["NewImage"] = imageJSON(after)
	}
	if before != nil && slices.Contains([]types.StreamViewType{types.StreamViewTypeOldImage, types.StreamViewTypeNewAndOldImages}, t.StreamViewType) {
		ddb["OldImage"] = imageJSON(before)
	}
	rec := map[string]any{"eventName": name, "eventSource": "aws:dynamodb", "eventVersion": "1.1", "dynamodb": ddb}
	// Through JSON, so that numbers and lists are what a decoded event has.
	raw, _ := json.Marshal(rec)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

// imageJSON is an item in DynamoDB's JSON ({"name": {"S": "value"}}).
func imageJSON(item map[string]types.AttributeValue) map[string]any {
	out := make(map[string]any, len(item))
	for k, v := range item {
		out[k] = valueJSON(v)
	}
	return out
}

func valueJSON(v types.AttributeValue) map[string]any {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return map[string]any{"S": v.Value}
	case *types.AttributeValueMemberN:
		return map[string]any{"N": v.Value}
	case *types.AttributeValueMemberB:
		return map[string]any{"B": base64.StdEncoding.EncodeToString(v.Value)}
	case *types.AttributeValueMemberBOOL:
		return map[string]any{"BOOL": v.Value}
	case *types.AttributeValueMemberNULL:
		return map[string]any{"NULL": true}
	case *types.AttributeValueMemberL:
		l := make([]any, len(v.Value))
		for i, e := range v.Value {
			l[i] = valueJSON(e)
		}
		return map[string]any{"L": l}
	case *types.AttributeValueMemberM:
		return map[string]any{"M": imageJSON(v.Value)}
	case *types.AttributeValueMemberSS:
		return map[string]any{"SS": v.Value}
	case *types.AttributeValueMemberNS:
		return map[string]any{"NS": v.Value}
	case *types.AttributeValueMemberBS:
		l := make([]string, len(v.Value))
		for i, b := range v.Value {
			l[i] = base64.StdEncoding.EncodeToString(b)
		}
		return map[string]any{"BS": l}
	}
	return map[string]any{"?": strconv.Quote(fmt.Sprint(v))}
}
