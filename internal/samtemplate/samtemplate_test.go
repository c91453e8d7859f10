package samtemplate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/awslabs/goformation/v7/intrinsics"
)

const tableID = "IdentificationsTable"

// repoTemplate returns the path of the repository's template.yaml, found by
// walking up from the working directory to the directory holding go.mod.
func repoTemplate(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("Getwd() error = %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "template.yaml")
		} else if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("look for go.mod in %s: %v", dir, err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// writeTemplate writes a template with the given Resources section (YAML,
// indented by four spaces) to a temporary file and returns its path.
func writeTemplate(t *testing.T, resources string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "template.yaml")
	body := "AWSTemplateFormatVersion: \"2010-09-09\"\nResources:\n" + resources
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return path
}

func TestLoadTableFromRepoTemplate(t *testing.T) {
	got, err := LoadTable(repoTemplate(t), tableID)
	if err != nil {
		t.Fatalf("LoadTable error = %v", err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"TableName", got.TableName, (*string)(nil)},
		{"BillingMode", got.BillingMode, types.BillingModePayPerRequest},
		{"ProvisionedThroughput", got.ProvisionedThroughput, (*types.ProvisionedThroughput)(nil)},
		{"KeySchema", got.KeySchema, []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
		}},
		{"AttributeDefinitions", got.AttributeDefinitions, []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("open_shard"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("open_expires_at"), AttributeType: types.ScalarAttributeTypeN},
			{AttributeName: aws.String("ls"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("l_org"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("l_email"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("l_phone"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("l_document"), AttributeType: types.ScalarAttributeTypeS},
		}},
		{"GlobalSecondaryIndexes", got.GlobalSecondaryIndexes, []types.GlobalSecondaryIndex{{
			IndexName: aws.String("open-by-expiry"),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String("open_shard"), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String("open_expires_at"), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}, listIndex("list-by-org", "l_org"),
			listIndex("find-by-email", "l_email", "l_phone"),
			listIndex("find-by-phone", "l_phone"),
			listIndex("find-by-document", "l_document", "l_email", "l_phone")}},
		{"LocalSecondaryIndexes", got.LocalSecondaryIndexes, []types.LocalSecondaryIndex(nil)},
		{"SSESpecification", got.SSESpecification, &types.SSESpecification{Enabled: aws.Bool(true)}},
		{"StreamSpecification", got.StreamSpecification, &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("%s = %s, want %s", tt.name, show(tt.got), show(tt.want))
			}
		})
	}
}

// listIndex is a listing index as the template declares it: the facet,
// the position, and the keys only, or with include (never an actor value).
func listIndex(name, facet string, include ...string) types.GlobalSecondaryIndex {
	p := &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly}
	if len(include) > 0 {
		p = &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: include}
	}
	return types.GlobalSecondaryIndex{
		IndexName: aws.String(name),
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(facet), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("ls"), KeyType: types.KeyTypeRange},
		},
		Projection: p,
	}
}

func TestTTLAttribute(t *testing.T) {
	tests := []struct {
		name        string
		path        func(t *testing.T) string
		logicalID   string
		wantName    string
		wantEnabled bool
	}{
		{"repo template", repoTemplate, tableID, "ttl", true},
		{"disabled", func(t *testing.T) string {
			return writeTemplate(t, `    T:
      Type: AWS::DynamoDB::Table
      Properties:
        BillingMode: PAY_PER_REQUEST
        AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
        KeySchema: [{AttributeName: id, KeyType: HASH}]
        TimeToLiveSpecification: {AttributeName: expires, Enabled: false}
`)
		}, "T", "expires", false},
		{"absent", func(t *testing.T) string {
			return writeTemplate(t, `    T:
      Type: AWS::DynamoDB::Table
      Properties:
        BillingMode: PAY_PER_REQUEST
        AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
        KeySchema: [{AttributeName: id, KeyType: HASH}]
`)
		}, "T", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, enabled, err := TTLAttribute(tt.path(t), tt.logicalID)
			if err != nil {
				t.Fatalf("TTLAttribute error = %v", err)
			}
			if name != tt.wantName || enabled != tt.wantEnabled {
				t.Errorf("TTLAttribute = %q, %t; want %q, %t", name, enabled, tt.wantName, tt.wantEnabled)
			}
		})
	}
}

func TestTemplateRefResolvesToLogicalID(t *testing.T) {
	path := writeTemplate(t, `    T:
      Type: AWS::DynamoDB::Table
      Properties:
        BillingMode: PAY_PER_REQUEST
        AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
        KeySchema: [{AttributeName: id, KeyType: HASH}]
Parameters:
  Stage:
    Type: String
    Default: dev
Outputs:
  Table:
    Value: !Ref T
  Stage:
    Value: !Ref Stage
  Region:
    Value: !Ref AWS::Region
`)
	tmpl, err := Template(path)
	if err != nil {
		t.Fatalf("Template error = %v", err)
	}
	tests := []struct {
		output string
		want   any
	}{
		{"Table", "T"},
		{"Stage", "dev"},
		{"Region", "us-east-1"},
	}
	for _, tt := range tests {
		if got := tmpl.Outputs[tt.output].Value; got != tt.want {
			t.Errorf("output %s = %#v, want %#v", tt.output, got, tt.want)
		}
	}

	repo, err := Template(repoTemplate(t))
	if err != nil {
		t.Fatalf("Template(repo template) error = %v", err)
	}
	if got, want := repo.Outputs["TableName"].Value, any(tableID); got != want {
		t.Errorf("repo template output TableName = %#v, want %#v", got, want)
	}
}

func TestLoadTableConversions(t *testing.T) {
	tests := []struct {
		name      string
		resources string
		want      *dynamodb.CreateTableInput
	}{
		{
			name: "provisioned with LSI, stream, class, tags, KMS key",
			resources: `    T:
      Type: AWS::DynamoDB::Table
      Properties:
        TableName: ignored
        AttributeDefinitions:
          - {AttributeName: pk, AttributeType: S}
          - {AttributeName: sk, AttributeType: S}
          - {AttributeName: at, AttributeType: N}
        KeySchema:
          - {AttributeName: pk, KeyType: HASH}
          - {AttributeName: sk, KeyType: RANGE}
        ProvisionedThroughput: {ReadCapacityUnits: 5, WriteCapacityUnits: 2}
        GlobalSecondaryIndexes:
          - IndexName: by-at
            KeySchema: [{AttributeName: at, KeyType: HASH}]
            Projection: {ProjectionType: INCLUDE, NonKeyAttributes: [a, b]}
            ProvisionedThroughput: {ReadCapacityUnits: 1, WriteCapacityUnits: 1}
        LocalSecondaryIndexes:
          - IndexName: by-pk-at
            KeySchema:
              - {AttributeName: pk, KeyType: HASH}
              - {AttributeName: at, KeyType: RANGE}
            Projection: {ProjectionType: ALL}
        StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
        SSESpecification: {SSEEnabled: true, SSEType: KMS, KMSMasterKeyId: alias/k}
        TableClass: STANDARD_INFREQUENT_ACCESS
        DeletionProtectionEnabled: true
        Tags: [{Key: team, Value: id}]
`,
			want: &dynamodb.CreateTableInput{
				AttributeDefinitions: []types.AttributeDefinition{
					{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
					{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS},
					{AttributeName: aws.String("at"), AttributeType: types.ScalarAttributeTypeN},
				},
				KeySchema: []types.KeySchemaElement{
					{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
					{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
				},
				BillingMode:           types.BillingModeProvisioned,
				ProvisionedThroughput: &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(5), WriteCapacityUnits: aws.Int64(2)},
				GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
					IndexName:             aws.String("by-at"),
					KeySchema:             []types.KeySchemaElement{{AttributeName: aws.String("at"), KeyType: types.KeyTypeHash}},
					Projection:            &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: []string{"a", "b"}},
					ProvisionedThroughput: &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(1), WriteCapacityUnits: aws.Int64(1)},
				}},
				LocalSecondaryIndexes: []types.LocalSecondaryIndex{{
					IndexName: aws.String("by-pk-at"),
					KeySchema: []types.KeySchemaElement{
						{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
						{AttributeName: aws.String("at"), KeyType: types.KeyTypeRange},
					},
					Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
				}},
				StreamSpecification:       &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages},
				SSESpecification:          &types.SSESpecification{Enabled: aws.Bool(true), SSEType: types.SSETypeKms, KMSMasterKeyId: aws.String("alias/k")},
				TableClass:                types.TableClassStandardInfrequentAccess,
				DeletionProtectionEnabled: aws.Bool(true),
				Tags:                      []types.Tag{{Key: aws.String("team"), Value: aws.String("id")}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadTable(writeTemplate(t, tt.resources), "T")
			if err != nil {
				t.Fatalf("LoadTable error = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("LoadTable =\n%s\nwant\n%s", show(got), show(tt.want))
			}
		})
	}
}

func TestLoadTableErrors(t *testing.T) {
	tests := []struct {
		name      string
		resources string
		logicalID string
		wantErr   string
	}{
		{"missing resource", `    Other:
      Type: AWS::SNS::Topic
`, "T", `no resource "T"`},
		{"not a table", `    T:
      Type: AWS::SNS::Topic
`, "T", "is a AWS::SNS::Topic, not an AWS::DynamoDB::Table"},
		{"provisioned without throughput", `    T:
      Type: AWS::DynamoDB::Table
      Properties:
        AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
        KeySchema: [{AttributeName: id, KeyType: HASH}]
`, "T", "BillingMode PROVISIONED without ProvisionedThroughput"},
		{"no key schema", `    T:
      Type: AWS::DynamoDB::Table
      Properties:
        BillingMode: PAY_PER_REQUEST
`, "T", "no KeySchema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadTable(writeTemplate(t, tt.resources), tt.logicalID)
			if err == nil {
				t.Fatalf("LoadTable error = nil, want one containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("LoadTable error = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestTemplateMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.yaml")
	_, err := Template(path)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Template(%q) error = %v, want one wrapping os.ErrNotExist", path, err)
	}
}

// show renders a value as JSON, pointers followed, for failure messages.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

func TestSubHandler(t *testing.T) {
	path := writeTemplate(t, `    Fn:
      Type: AWS::Serverless::Function
      Properties:
        CodeUri: functions/fn
Parameters:
  Stage:
    Type: String
    Default: dev
Outputs:
  Resource:
    Value: !Sub /aws/lambda/${Fn}
  Parameter:
    Value: !Sub api-${Stage}-${AWS::Region}
  Attribute:
    Value: !Sub ${Fn.Arn}/index/i
  Literal:
    Value: !Sub ${!Fn} is ${Fn}
  Unknown:
    Value: !Sub ${Nothing}-x
  Map:
    Value: !Sub ["${Fn}-${Name}-${Stage}", {Name: !Ref Stage, Fn: mapped}]
`)
	tmpl, err := Template(path)
	if err != nil {
		t.Fatalf("Template error = %v", err)
	}
	tests := []struct {
		output string
		want   string
	}{
		{"Resource", "/aws/lambda/Fn"},
		{"Parameter", "api-dev-us-east-1"},
		{"Attribute", "${Fn.Arn}/index/i"}, // no getAtt
		{"Literal", "${Fn} is Fn"},
		{"Unknown", "${Nothing}-x"},
		{"Map", "mapped-dev-dev"},
	}
	for _, tt := range tests {
		if got := tmpl.Outputs[tt.output].Value; got != tt.want {
			t.Errorf("Template: output %s = %#v, want %q", tt.output, got, tt.want)
		}
	}

	getAtt := func(_ string, input, _ any) any {
		parts, _ := input.([]any)
		if len(parts) != 2 {
			return nil
		}
		return fmt.Sprintf("arn-of-%v-%v", parts[0], parts[1])
	}
	withGetAtt, err := Open(path, &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
		"Fn::Sub": SubHandler(intrinsics.Ref, getAtt),
	}})
	if err != nil {
		t.Fatalf("Open error = %v", err)
	}
	if got, want := withGetAtt.Outputs["Attribute"].Value, "arn-of-Fn-Arn/index/i"; got != want {
		t.Errorf("SubHandler with getAtt: output Attribute = %#v, want %q", got, want)
	}
}

// TestOpenReadsAccessLogSettings: goformation's schema knows
// AWS::Serverless::HttpApi's AccessLogSettings only as AccessLogSetting and
// would reject the template; Open reads it into AccessLogSetting.
func TestOpenReadsAccessLogSettings(t *testing.T) {
	path := writeTemplate(t, `    Api:
      Type: AWS::Serverless::HttpApi
      Properties:
        AccessLogSettings:
          DestinationArn: arn:aws:logs:us-east-1:123456789012:log-group:api
          Format: $context.requestId
`)
	tmpl, err := Template(path)
	if err != nil {
		t.Fatalf("Template error = %v", err)
	}
	api, err := tmpl.GetServerlessHttpApiWithName("Api")
	if err != nil {
		t.Fatal(err)
	}
	if s := api.AccessLogSetting; s == nil || aws.ToString(s.DestinationArn) != "arn:aws:logs:us-east-1:123456789012:log-group:api" || aws.ToString(s.Format) != "$context.requestId" {
		t.Errorf("AccessLogSetting = %s, want the template's AccessLogSettings", show(s))
	}
}
