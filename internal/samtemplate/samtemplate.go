// Package samtemplate reads the SAM template (template.yaml) so that local
// tooling creates exactly the DynamoDB tables the deployed stack has. It
// parses the template with goformation (Open, which also reads the SAM
// spellings goformation's schema lacks) and converts AWS::DynamoDB::Table
// resources into CreateTable inputs. Its tests also run cfn-lint on the
// template, as `make validate` does.
package samtemplate

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/awslabs/goformation/v7/cloudformation"
	cfndynamodb "github.com/awslabs/goformation/v7/cloudformation/dynamodb"
	"github.com/awslabs/goformation/v7/intrinsics"
)

// Template parses the SAM or CloudFormation template at path (YAML, or JSON
// if the name ends in .json). Unlike goformation's default, a Ref to a
// resource resolves to the resource's logical id instead of "", so that
// references such as `TABLE_NAME: !Ref IdentificationsTable` stay readable;
// Refs to parameters and pseudo parameters resolve as goformation does
// (parameter defaults, fixed values for AWS::Region and the like), and so do
// the ${Name} variables of Fn::Sub (see SubHandler), so that
// `!Sub /aws/lambda/${CreateOtpFunction}` reads /aws/lambda/CreateOtpFunction.
// Fn::GetAtt is left unresolved (nil), and ${Resource.Attribute} in Fn::Sub
// as it is. Globals are not merged into functions.
func Template(path string) (*cloudformation.Template, error) {
	return Open(path, &intrinsics.ProcessorOptions{
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
			"Ref":     refToLogicalID,
			"Fn::Sub": SubHandler(refToLogicalID, nil),
		},
	})
}

// Open parses the template at path as goformation.OpenWithOptions does,
// with the intrinsic functions resolved as opts says, except that it reads
// the SAM properties goformation's schema spells differently from SAM:
// AWS::Serverless::HttpApi's AccessLogSettings, which goformation only knows
// as AccessLogSetting (and would reject as an unknown field), lands in
// HttpApi.AccessLogSetting. It also reads parameter values as CloudFormation
// passes them where goformation's schema wants a number or a list (see
// parameterValues).
func Open(path string, opts *intrinsics.ProcessorOptions) (*cloudformation.Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("parse template %s: %w", path, err)
	}
	var resolved []byte
	if strings.HasSuffix(path, ".json") {
		resolved, err = intrinsics.ProcessJSON(data, opts)
	} else {
		resolved, err = intrinsics.ProcessYAML(data, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("parse template %s: %w", path, err)
	}
	if resolved, err = goformationSpelling(resolved); err != nil {
		return nil, fmt.Errorf("parse template %s: %w", path, err)
	}
	if resolved, err = parameterValues(resolved); err != nil {
		return nil, fmt.Errorf("parse template %s: %w", path, err)
	}
	tmpl := &cloudformation.Template{}
	if err := json.Unmarshal(resolved, tmpl); err != nil {
		return nil, fmt.Errorf("parse template %s: %w", path, err)
	}
	return tmpl, nil
}

// goformationSpelling renames, in a resolved JSON template, the SAM
// properties that goformation's schema spells differently (see Open).
func goformationSpelling(resolved []byte) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(resolved, &doc); err != nil {
		return nil, err
	}
	resources, _ := doc["Resources"].(map[string]any)
	changed := false
	for id, r := range resources {
		res, _ := r.(map[string]any)
		if res["Type"] != "AWS::Serverless::HttpApi" {
			continue
		}
		props, _ := res["Properties"].(map[string]any)
		v, ok := props["AccessLogSettings"]
		if !ok {
			continue
		}
		if _, both := props["AccessLogSetting"]; both {
			return nil, fmt.Errorf("resource %s has both AccessLogSettings and AccessLogSetting", id)
		}
		delete(props, "AccessLogSettings")
		props["AccessLogSetting"] = v
		changed = true
	}
	if !changed {
		return resolved, nil
	}
	return json.Marshal(doc)
}

// parameterValues converts, in a resolved JSON template, the values of
// AWS::S3::Bucket properties that a Ref to a parameter resolved to as its
// Default is written, a string, where goformation's schema wants a number
// or a list. CloudFormation passes a Number parameter where an integer is
// wanted and a CommaDelimitedList where a list of strings is, but
// goformation's Ref yields the Default as is: "30" for a Number whose
// Default is a string (as RetentionDays' is, since it also feeds an
// environment variable), "*" for a CommaDelimitedList. A lifecycle rule's
// ExpirationInDays (or NoncurrentVersionExpiration's NoncurrentDays) that
// is a string of digits becomes that number; a CORS
// rule's AllowedOrigins, AllowedMethods, AllowedHeaders or ExposedHeaders
// that is a string becomes the list of its comma-separated items. Anything
// else is left as it is.
func parameterValues(resolved []byte) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(resolved, &doc); err != nil {
		return nil, err
	}
	resources, _ := doc["Resources"].(map[string]any)
	changed := false
	for _, r := range resources {
		res, _ := r.(map[string]any)
		if res["Type"] != "AWS::S3::Bucket" {
			continue
		}
		props, _ := res["Properties"].(map[string]any)
		lifecycle, _ := props["LifecycleConfiguration"].(map[string]any)
		for _, rule := range listOf(lifecycle["Rules"]) {
			if s, ok := rule["ExpirationInDays"].(string); ok {
				if n, err := strconv.Atoi(s); err == nil {
					rule["ExpirationInDays"] = n
					changed = true
				}
			}
			if nv, ok := rule["NoncurrentVersionExpiration"].(map[string]any); ok {
				if s, ok := nv["NoncurrentDays"].(string); ok {
					if n, err := strconv.Atoi(s); err == nil {
						nv["NoncurrentDays"] = n
						changed = true
					}
				}
			}
		}
		cors, _ := props["CorsConfiguration"].(map[string]any)
		for _, rule := range listOf(cors["CorsRules"]) {
			for _, k := range []string{"AllowedOrigins", "AllowedMethods", "AllowedHeaders", "ExposedHeaders"} {
				if s, ok := rule[k].(string); ok {
					rule[k] = strings.Split(s, ",")
					changed = true
				}
			}
		}
	}
	if !changed {
		return resolved, nil
	}
	return json.Marshal(doc)
}

// listOf returns the objects of a JSON list, skipping anything else.
func listOf(v any) []map[string]any {
	l, _ := v.([]any)
	out := make([]map[string]any, 0, len(l))
	for _, e := range l {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// refToLogicalID resolves a Ref to a resource to its logical id and defers
// every other Ref to goformation's handler.
func refToLogicalID(name string, input, template interface{}) interface{} {
	if id, ok := input.(string); ok {
		if tmpl, ok := template.(map[string]interface{}); ok {
			if resources, ok := tmpl["Resources"].(map[string]interface{}); ok {
				if _, ok := resources[id]; ok {
					return id
				}
			}
		}
	}
	return intrinsics.Ref(name, input, template)
}

// subVariable matches a variable of an Fn::Sub string: ${Name},
// ${Resource.Attribute}, ${AWS::Region}, or the literal ${!Text}.
var subVariable = regexp.MustCompile(`\$\{(!?)([0-9A-Za-z_.:]+)\}`)

// SubHandler returns a handler for Fn::Sub, for
// intrinsics.ProcessorOptions.IntrinsicHandlerOverrides, that resolves the
// string's variables with the given handlers, unlike goformation's own,
// which always uses its default Ref and drops what that cannot resolve.
// A ${Name} is the name's value in the optional map of the list form, or
// else what ref makes of the name; a ${Resource.Attribute} is what getAtt
// makes of [Resource, Attribute] (a nil getAtt resolves nothing). A variable
// that resolves to no string (or number) stays as written; ${!Text} is the
// literal ${Text}.
func SubHandler(ref, getAtt intrinsics.IntrinsicHandler) intrinsics.IntrinsicHandler {
	return func(_ string, input, template any) any {
		var src string
		vars := map[string]any{}
		switch v := input.(type) {
		case string:
			src = v
		case []any:
			if len(v) != 2 {
				return nil
			}
			s, ok := v[0].(string)
			m, okm := v[1].(map[string]any)
			if !ok || !okm {
				return nil
			}
			src, vars = s, m
		default:
			return nil
		}
		return subVariable.ReplaceAllStringFunc(src, func(match string) string {
			m := subVariable.FindStringSubmatch(match)
			if m[1] == "!" {
				return "${" + m[2] + "}"
			}
			name := m[2]
			var val any
			if v, ok := vars[name]; ok {
				val = v
			} else if res, attr, ok := strings.Cut(name, "."); ok && !strings.Contains(name, "::") {
				if getAtt != nil {
					val = getAtt("Fn::GetAtt", []any{res, attr}, template)
				}
			} else if ref != nil {
				val = ref("Ref", name, template)
			}
			switch v := val.(type) {
			case string:
				return v
			case float64:
				return strconv.FormatFloat(v, 'f', -1, 64)
			}
			return match
		})
	}
}

// LoadTable parses the template at templatePath and converts its
// AWS::DynamoDB::Table resource logicalID into a CreateTable input:
// attribute definitions, key schema, global and local secondary indexes with
// their projections, billing mode and provisioned throughput, server-side
// encryption, stream, table class, deletion protection and tags. TableName is
// left nil for the caller to set. Settings that CreateTable does not take
// (TimeToLiveSpecification, PointInTimeRecoverySpecification, contributor
// insights, Kinesis streams, resource policy, import source) are left out;
// see TTLAttribute for the TTL.
func LoadTable(templatePath, logicalID string) (*dynamodb.CreateTableInput, error) {
	table, err := loadTable(templatePath, logicalID)
	if err != nil {
		return nil, err
	}
	in, err := CreateTableInput(table)
	if err != nil {
		return nil, fmt.Errorf("table %s in %s: %w", logicalID, templatePath, err)
	}
	return in, nil
}

// TTLAttribute returns the TimeToLiveSpecification of the AWS::DynamoDB::Table
// resource logicalID in the template at templatePath: the attribute name and
// whether TTL is enabled. A table without a specification yields "", false.
func TTLAttribute(templatePath, logicalID string) (string, bool, error) {
	table, err := loadTable(templatePath, logicalID)
	if err != nil {
		return "", false, err
	}
	spec := table.TimeToLiveSpecification
	if spec == nil {
		return "", false, nil
	}
	name := aws.ToString(spec.AttributeName)
	if spec.Enabled && name == "" {
		return "", false, fmt.Errorf("table %s in %s: TimeToLiveSpecification is enabled without an AttributeName", logicalID, templatePath)
	}
	return name, spec.Enabled, nil
}

// loadTable parses the template and returns its table resource logicalID.
func loadTable(templatePath, logicalID string) (*cfndynamodb.Table, error) {
	tmpl, err := Template(templatePath)
	if err != nil {
		return nil, err
	}
	res, ok := tmpl.Resources[logicalID]
	if !ok {
		return nil, fmt.Errorf("template %s: no resource %q", templatePath, logicalID)
	}
	table, ok := res.(*cfndynamodb.Table)
	if !ok {
		return nil, fmt.Errorf("template %s: resource %q is a %s, not an AWS::DynamoDB::Table", templatePath, logicalID, res.AWSCloudFormationType())
	}
	return table, nil
}

// CreateTableInput converts a parsed AWS::DynamoDB::Table resource into a
// CreateTable input with TableName unset, as described for LoadTable.
func CreateTableInput(table *cfndynamodb.Table) (*dynamodb.CreateTableInput, error) {
	if len(table.KeySchema) == 0 {
		return nil, fmt.Errorf("no KeySchema")
	}
	in := &dynamodb.CreateTableInput{
		KeySchema:                 keySchema(table.KeySchema),
		DeletionProtectionEnabled: table.DeletionProtectionEnabled,
	}
	for _, def := range table.AttributeDefinitions {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(def.AttributeName),
			AttributeType: types.ScalarAttributeType(def.AttributeType),
		})
	}

	// CloudFormation's default billing mode is PROVISIONED.
	in.BillingMode = types.BillingModeProvisioned
	if table.BillingMode != nil {
		in.BillingMode = types.BillingMode(*table.BillingMode)
	}
	switch in.BillingMode {
	case types.BillingModePayPerRequest:
	case types.BillingModeProvisioned:
		if table.ProvisionedThroughput == nil {
			return nil, fmt.Errorf("BillingMode PROVISIONED without ProvisionedThroughput")
		}
		in.ProvisionedThroughput = throughput(table.ProvisionedThroughput)
	default:
		return nil, fmt.Errorf("unknown BillingMode %q", in.BillingMode)
	}

	for _, gsi := range table.GlobalSecondaryIndexes {
		p, err := projection(gsi.Projection)
		if err != nil {
			return nil, fmt.Errorf("index %s: %w", gsi.IndexName, err)
		}
		idx := types.GlobalSecondaryIndex{
			IndexName:  aws.String(gsi.IndexName),
			KeySchema:  keySchema(gsi.KeySchema),
			Projection: p,
		}
		if in.BillingMode == types.BillingModeProvisioned {
			if gsi.ProvisionedThroughput == nil {
				return nil, fmt.Errorf("index %s: BillingMode PROVISIONED without ProvisionedThroughput", gsi.IndexName)
			}
			idx.ProvisionedThroughput = throughput(gsi.ProvisionedThroughput)
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, idx)
	}
	for _, lsi := range table.LocalSecondaryIndexes {
		p, err := projection(lsi.Projection)
		if err != nil {
			return nil, fmt.Errorf("index %s: %w", lsi.IndexName, err)
		}
		in.LocalSecondaryIndexes = append(in.LocalSecondaryIndexes, types.LocalSecondaryIndex{
			IndexName:  aws.String(lsi.IndexName),
			KeySchema:  keySchema(lsi.KeySchema),
			Projection: p,
		})
	}

	if sse := table.SSESpecification; sse != nil {
		in.SSESpecification = &types.SSESpecification{
			Enabled:        aws.Bool(sse.SSEEnabled),
			KMSMasterKeyId: sse.KMSMasterKeyId,
		}
		if sse.SSEType != nil {
			in.SSESpecification.SSEType = types.SSEType(*sse.SSEType)
		}
	}
	if s := table.StreamSpecification; s != nil {
		in.StreamSpecification = &types.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: types.StreamViewType(s.StreamViewType),
		}
	}
	if table.TableClass != nil {
		in.TableClass = types.TableClass(*table.TableClass)
	}
	for _, tag := range table.Tags {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(tag.Key), Value: aws.String(tag.Value)})
	}
	return in, nil
}

func keySchema(keys []cfndynamodb.Table_KeySchema) []types.KeySchemaElement {
	out := make([]types.KeySchemaElement, 0, len(keys))
	for _, k := range keys {
		out = append(out, types.KeySchemaElement{
			AttributeName: aws.String(k.AttributeName),
			KeyType:       types.KeyType(k.KeyType),
		})
	}
	return out
}

func projection(p *cfndynamodb.Table_Projection) (*types.Projection, error) {
	if p == nil {
		return nil, fmt.Errorf("no Projection")
	}
	out := &types.Projection{NonKeyAttributes: p.NonKeyAttributes}
	if p.ProjectionType != nil {
		out.ProjectionType = types.ProjectionType(*p.ProjectionType)
	}
	return out, nil
}

func throughput(p *cfndynamodb.Table_ProvisionedThroughput) *types.ProvisionedThroughput {
	return &types.ProvisionedThroughput{
		ReadCapacityUnits:  aws.Int64(int64(p.ReadCapacityUnits)),
		WriteCapacityUnits: aws.Int64(int64(p.WriteCapacityUnits)),
	}
}

// StringList reads an element of a parsed template that is a string or a
// list of strings (a policy's Action or Resource, say); anything else
// yields "<non-string>", so that comparisons with it fail.
func StringList(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				s = "<non-string>"
			}
			out = append(out, s)
		}
		return out
	}
	return []string{"<non-string>"}
}
