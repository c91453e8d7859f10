package costmodel

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/awslabs/goformation/v7/intrinsics"

	"github.com/idadmin/api/internal/samtemplate"
)

// Template is what the cost model reads of template.yaml: the table (as
// internal/samtemplate makes it for the local engines), the filters of
// the event source that feeds the table's stream to a function, and each
// function's memory.
type Template struct {
	Table Table
	// StreamFunction is the logical id of the function the table's stream
	// feeds ("" when none), and StreamFilters its event source's filter
	// patterns (none: every record invokes it).
	StreamFunction string
	StreamFilters  []Pattern
	// StreamBatchSize is the event source's BatchSize (0 when unset).
	StreamBatchSize int
	// MemoryMB is each function's MemorySize (its own, or the Globals'),
	// by the last element of its CodeUri: "create-otp" for
	// functions/create-otp, "stream" for functions/stream.
	MemoryMB map[string]int
	// FunctionIDs are the functions' logical ids by the same names.
	FunctionIDs map[string]string
	// Defaults are the parameters' default values, as text.
	Defaults map[string]string
}

// Model is the cost model of the template's table and stream filters.
func (t *Template) Model() Model {
	return Model{Table: t.Table, Filters: t.StreamFilters}
}

// LoadTemplate reads the template at path, whose table is the resource
// tableID.
func LoadTemplate(templatePath, tableID string) (*Template, error) {
	in, err := samtemplate.LoadTable(templatePath, tableID)
	if err != nil {
		return nil, err
	}
	table, err := TableFrom(in)
	if err != nil {
		return nil, fmt.Errorf("table %s in %s: %w", tableID, templatePath, err)
	}
	doc, err := resolved(templatePath)
	if err != nil {
		return nil, err
	}
	t := &Template{Table: table, MemoryMB: map[string]int{}, FunctionIDs: map[string]string{}, Defaults: map[string]string{}}
	params, _ := doc["Parameters"].(map[string]any)
	for name, p := range params {
		if d, ok := dig(p, "Default"); ok {
			t.Defaults[name] = fmt.Sprint(d)
		}
	}

	globalMemory := 128 // Lambda's default
	if g, ok := dig(doc, "Globals", "Function", "MemorySize"); ok {
		if globalMemory, err = intOf(g); err != nil {
			return nil, fmt.Errorf("%s: Globals.Function.MemorySize: %w", templatePath, err)
		}
	}
	resources, _ := doc["Resources"].(map[string]any)
	streamArn := tableID + ".StreamArn"
	var sources []string
	for _, id := range slices.Sorted(maps.Keys(resources)) {
		res, _ := resources[id].(map[string]any)
		props, _ := res["Properties"].(map[string]any)
		switch res["Type"] {
		case "AWS::Serverless::Function", "AWS::Lambda::Function":
			mem := globalMemory
			if res["Type"] == "AWS::Lambda::Function" {
				mem = 128
			}
			if m, ok := props["MemorySize"]; ok {
				if mem, err = intOf(m); err != nil {
					return nil, fmt.Errorf("%s: %s.MemorySize: %w", templatePath, id, err)
				}
			}
			name := id
			if uri, ok := props["CodeUri"].(string); ok {
				name = path.Base(strings.TrimRight(uri, "/"))
			}
			t.MemoryMB[name] = mem
			t.FunctionIDs[name] = id
			// A SAM event of type DynamoDB on the table's stream.
			events, _ := props["Events"].(map[string]any)
			for _, evName := range slices.Sorted(maps.Keys(events)) {
				ev, _ := events[evName].(map[string]any)
				evProps, _ := ev["Properties"].(map[string]any)
				if ev["Type"] != "DynamoDB" || evProps["Stream"] != streamArn {
					continue
				}
				if err := t.setStreamSource(id, evProps); err != nil {
					return nil, fmt.Errorf("%s: %s.Events.%s: %w", templatePath, id, evName, err)
				}
				sources = append(sources, id+"."+evName)
			}
		case "AWS::Lambda::EventSourceMapping":
			if props["EventSourceArn"] != streamArn {
				continue
			}
			fn, _ := props["FunctionName"].(string)
			if err := t.setStreamSource(fn, props); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", templatePath, id, err)
			}
			sources = append(sources, id)
		}
	}
	if len(sources) > 1 {
		return nil, fmt.Errorf("%s: the table's stream feeds %d event sources (%v); the model prices one", templatePath, len(sources), sources)
	}
	return t, nil
}

// setStreamSource records the function fn an event source feeds and the
// source's filters and batch size.
func (t *Template) setStreamSource(fn string, props map[string]any) error {
	t.StreamFunction = fn
	if b, ok := props["BatchSize"]; ok {
		n, err := intOf(b)
		if err != nil {
			return fmt.Errorf("BatchSize: %w", err)
		}
		t.StreamBatchSize = n
	}
	filters, _ := dig(props, "FilterCriteria", "Filters")
	list, _ := filters.([]any)
	for _, f := range list {
		m, _ := f.(map[string]any)
		text, ok := m["Pattern"].(string)
		if !ok {
			return fmt.Errorf("a filter without a Pattern string: %v", f)
		}
		p, err := ParsePattern(text)
		if err != nil {
			return err
		}
		t.StreamFilters = append(t.StreamFilters, p)
	}
	return nil
}

// resolved is the template as JSON with its intrinsic functions resolved
// for reading: a Ref to a resource is its logical id, a GetAtt
// "Resource.Attribute", conditions evaluated with the parameters'
// defaults.
func resolved(templatePath string) (map[string]any, error) {
	data, err := os.ReadFile(templatePath)
	if err != nil {
		return nil, err
	}
	getAtt := func(_ string, input, _ any) any {
		if l, ok := input.([]any); ok && len(l) == 2 {
			return fmt.Sprint(l[0], ".", l[1])
		}
		if s, ok := input.(string); ok {
			return s
		}
		return nil
	}
	ref := func(name string, input, template any) any {
		if id, ok := input.(string); ok {
			if tmpl, ok := template.(map[string]any); ok {
				if resources, ok := tmpl["Resources"].(map[string]any); ok {
					if _, ok := resources[id]; ok {
						return id
					}
				}
			}
		}
		return intrinsics.Ref(name, input, template)
	}
	out, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{"Ref": ref, "Fn::GetAtt": getAtt,
			"Fn::Sub": samtemplate.SubHandler(ref, getAtt)},
		EvaluateConditions: true,
	})
	if err != nil {
		return nil, fmt.Errorf("parse template %s: %w", templatePath, err)
	}
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, fmt.Errorf("parse template %s: %w", templatePath, err)
	}
	return doc, nil
}

func dig(v any, names ...string) (any, bool) {
	for _, n := range names {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[n]; !ok {
			return nil, false
		}
	}
	return v, true
}

func intOf(v any) (int, error) {
	switch v := v.(type) {
	case float64:
		return int(v), nil
	case string:
		return strconv.Atoi(v)
	}
	return 0, fmt.Errorf("%v is not a number", v)
}
