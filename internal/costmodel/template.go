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
	// StreamSources are the event sources that feed the table's stream to
	// a function: AWS::Lambda::EventSourceMapping resources and SAM
	// events of type DynamoDB.
	StreamSources []StreamSource
	// MemoryMB is each function's MemorySize (its own, or the Globals'),
	// by the last element of its CodeUri: "create-otp" for
	// functions/create-otp, "stream" for functions/stream.
	MemoryMB map[string]int
	// FunctionIDs are the functions' logical ids by the same names.
	FunctionIDs map[string]string
	// Defaults are the parameters' default values, as text.
	Defaults map[string]string
}

// Model is the cost model of the template's table and stream sources.
func (t *Template) Model() Model {
	return Model{Table: t.Table, Sources: t.StreamSources}
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
	var mappings []map[string]any
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
				src, err := streamSource(id, name, evProps)
				if err != nil {
					return nil, fmt.Errorf("%s: %s.Events.%s: %w", templatePath, id, evName, err)
				}
				t.StreamSources = append(t.StreamSources, src)
			}
		case "AWS::Lambda::EventSourceMapping":
			if props["EventSourceArn"] != streamArn {
				continue
			}
			props["_id"] = id
			mappings = append(mappings, props)
		}
	}
	// A mapping names its function, whose name is known once every
	// function is read.
	names := map[string]string{}
	for name, id := range t.FunctionIDs {
		names[id] = name
	}
	for _, props := range mappings {
		fn, _ := props["FunctionName"].(string)
		name, ok := names[fn]
		if !ok {
			return nil, fmt.Errorf("%s: %s feeds the table's stream to %q, not a function of the template", templatePath, props["_id"], fn)
		}
		src, err := streamSource(fn, name, props)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", templatePath, props["_id"], err)
		}
		t.StreamSources = append(t.StreamSources, src)
	}
	return t, nil
}

// streamSource reads an event source of function fn (its logical id;
// name its CodeUri's last element): its filters and batch size.
func streamSource(fn, name string, props map[string]any) (StreamSource, error) {
	src := StreamSource{Function: fn, Name: name}
	if b, ok := props["BatchSize"]; ok {
		n, err := intOf(b)
		if err != nil {
			return src, fmt.Errorf("BatchSize: %w", err)
		}
		src.BatchSize = n
	}
	filters, _ := dig(props, "FilterCriteria", "Filters")
	list, _ := filters.([]any)
	for _, f := range list {
		m, _ := f.(map[string]any)
		text, ok := m["Pattern"].(string)
		if !ok {
			return src, fmt.Errorf("a filter without a Pattern string: %v", f)
		}
		p, err := ParsePattern(text)
		if err != nil {
			return src, err
		}
		src.Filters = append(src.Filters, p)
	}
	return src, nil
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
