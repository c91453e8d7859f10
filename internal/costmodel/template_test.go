package costmodel_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/internal/costmodel"
	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/internal/samtemplate"
)

// TestTheRepositorysTemplate: the model reads template.yaml's table as the
// local engines get it, the stream's event source and every function's
// memory.
func TestTheRepositorysTemplate(t *testing.T) {
	root, err := localengine.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "template.yaml")
	tmpl, err := costmodel.LoadTemplate(path, enginetest.TableLogicalID)
	if err != nil {
		t.Fatal(err)
	}
	in, err := samtemplate.LoadTable(path, enginetest.TableLogicalID)
	if err != nil {
		t.Fatal(err)
	}
	if len(tmpl.Table.Indexes) != len(in.GlobalSecondaryIndexes) || tmpl.Table.StreamViewType == "" {
		t.Errorf("table %+v, want the template's %d indexes and its stream", tmpl.Table, len(in.GlobalSecondaryIndexes))
	}
	if len(tmpl.StreamSources) == 0 {
		t.Error("no function is fed the table's stream")
	}
	for _, fn := range []string{"stream", "create-otp", "validate-otp"} {
		if tmpl.MemoryMB[fn] < 128 {
			t.Errorf("function %s: memory %d MB", fn, tmpl.MemoryMB[fn])
		}
	}
	for _, src := range tmpl.StreamSources {
		if tmpl.FunctionIDs[src.Name] != src.Function {
			t.Errorf("the stream is fed to %s (%s), whose id is %s", src.Function, src.Name, tmpl.FunctionIDs[src.Name])
		}
	}
}

// TestTemplateVariants: Globals' memory and a function's own, and a SAM
// event of type DynamoDB with filters.
func TestTemplateVariants(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "template.yaml")
	yaml := `Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    MemorySize: 512
Resources:
  Things:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: g, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
      GlobalSecondaryIndexes:
        - IndexName: by-g
          KeySchema:
            - {AttributeName: g, KeyType: HASH}
          Projection:
            ProjectionType: INCLUDE
            NonKeyAttributes: [a, b]
      StreamSpecification:
        StreamViewType: NEW_IMAGE
  Small:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/small/
      MemorySize: 128
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/reader
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Things.StreamArn
            StartingPosition: LATEST
            BatchSize: 10
            FilterCriteria:
              Filters:
                - Pattern: '{"eventName": ["INSERT"]}'
                - Pattern: '{"dynamodb": {"NewImage": {"kind": {"S": [{"prefix": "del"}]}}}}'
`
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	tmpl, err := costmodel.LoadTemplate(path, "Things")
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.MemoryMB["small"] != 128 || tmpl.MemoryMB["reader"] != 512 {
		t.Errorf("memory %v, want small 128 and reader 512 (Globals)", tmpl.MemoryMB)
	}
	if len(tmpl.StreamSources) != 1 {
		t.Fatalf("stream sources %+v, want one", tmpl.StreamSources)
	}
	if src := tmpl.StreamSources[0]; src.Function != "Reader" || src.Name != "reader" || len(src.Filters) != 2 || src.BatchSize != 10 {
		t.Errorf("stream source %+v", src)
	}
	idx := tmpl.Table.Indexes[0]
	if idx.Projection != types.ProjectionTypeInclude || strings.Join(idx.NonKey, ",") != "a,b" || tmpl.Table.StreamViewType != types.StreamViewTypeNewImage {
		t.Errorf("table %+v", tmpl.Table)
	}
	m := tmpl.Model()
	key := map[string]types.AttributeValue{"pk": s("1")}
	item := func(kind string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": s("1"), "kind": s(kind)}
	}
	for _, c := range []struct {
		what          string
		before, after map[string]types.AttributeValue
		want          bool
	}{
		{"an insert passes the first filter", nil, item("process"), true},
		{"a change of a delivery item passes the second", item("delivery"), item("delivery"), true},
		{"a change of a process passes neither", item("process"), item("process"), false},
		{"a removal has no new image: neither", item("delivery"), nil, false},
	} {
		invoked, err := m.Invoked(m.Table.StreamRecord(key, c.before, c.after))
		if err != nil {
			t.Fatal(err)
		}
		if got := len(invoked) == 1; got != c.want {
			t.Errorf("%s: invokes %v, want it to: %v", c.what, invoked, c.want)
		}
	}
}

// TestFilterPatterns: the filter rules of Lambda's event filtering.
func TestFilterPatterns(t *testing.T) {
	event := map[string]any{"eventName": "MODIFY", "n": 5.0, "tags": []any{"a", "b"}, "dynamodb": map[string]any{
		"NewImage": map[string]any{"kind": map[string]any{"S": "process"}, "v": map[string]any{"N": "3"}}}}
	for _, c := range []struct {
		pattern string
		want    bool
	}{
		{`{"eventName": ["INSERT", "MODIFY"]}`, true},
		{`{"eventName": ["REMOVE"]}`, false},
		{`{"dynamodb": {"NewImage": {"kind": {"S": ["process"]}}}}`, true},
		{`{"dynamodb": {"OldImage": {"kind": {"S": ["process"]}}}}`, false},
		{`{"dynamodb": {"OldImage": [{"exists": false}]}}`, true},
		{`{"dynamodb": {"NewImage": [{"exists": true}]}}`, true},
		{`{"dynamodb": {"NewImage": {"kind": {"S": [{"prefix": "proc"}]}}}}`, true},
		{`{"dynamodb": {"NewImage": {"kind": {"S": [{"suffix": "ess"}]}}}}`, true},
		{`{"dynamodb": {"NewImage": {"kind": {"S": [{"anything-but": ["process"]}]}}}}`, false},
		{`{"dynamodb": {"NewImage": {"kind": {"S": [{"anything-but": {"prefix": "x"}}]}}}}`, true},
		{`{"dynamodb": {"NewImage": {"kind": {"S": [{"equals-ignore-case": "PROCESS"}]}}}}`, true},
		{`{"n": [{"numeric": [">", 1, "<=", 5]}]}`, true},
		{`{"n": [{"numeric": [">", 5]}]}`, false},
		{`{"n": [5]}`, true},
		{`{"tags": ["b"]}`, true},
		{`{"eventName": ["MODIFY"], "n": [6]}`, false},
	} {
		p, err := costmodel.ParsePattern(c.pattern)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Match(event)
		if err != nil {
			t.Fatalf("%s: %v", c.pattern, err)
		}
		if got != c.want {
			t.Errorf("%s: %v, want %v", c.pattern, got, c.want)
		}
	}
	p, _ := costmodel.ParsePattern(`{"eventName": [{"wildcard": "M*"}]}`)
	if _, err := p.Match(event); err == nil {
		t.Error("an operator the model does not know matched quietly")
	}
}
