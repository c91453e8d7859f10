package enginetest

import (
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestTableName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)
	tests := []struct {
		testName string
		suffix   uint32
		want     string
	}{
		{"TestPut", 0xabc, "t_TestPut_00000abc"},
		{"TestPut/dynoxide", 1, "t_TestPut_dynoxide_00000001"},
		{"Test Put/case #1 (ü)", 0xffffffff, "t_Test_Put_case__1_____ffffffff"},
		{"TestA.b-c_d", 2, "t_TestA.b-c_d_00000002"},
		{strings.Repeat("x", 300), 3, "t_" + strings.Repeat("x", 244) + "_00000003"},
	}
	for _, tt := range tests {
		got := tableName(tt.testName, tt.suffix)
		if got != tt.want {
			t.Errorf("tableName(%q, %#x) = %q, want %q", tt.testName, tt.suffix, got, tt.want)
		}
		if !valid.MatchString(got) {
			t.Errorf("tableName(%q, %#x) = %q, not a valid table name (len %d)", tt.testName, tt.suffix, got, len(got))
		}
	}
}

func TestParseEndpoints(t *testing.T) {
	tests := []struct {
		in      string
		want    []Engine
		wantErr string
	}{
		{
			in: "dynoxide=http://127.0.0.1:1,dynamodb-local=http://127.0.0.1:2",
			want: []Engine{
				{Name: "dynoxide", Endpoint: "http://127.0.0.1:1"},
				{Name: "dynamodb-local", Endpoint: "http://127.0.0.1:2"},
			},
		},
		{in: " dynoxide = http://h:1 , ", want: []Engine{{Name: "dynoxide", Endpoint: "http://h:1"}}},
		{in: "dynoxide", wantErr: "not name=endpoint"},
		{in: "=http://h:1", wantErr: "not name=endpoint"},
		{in: "a=h:1", wantErr: "not an http(s) URL"},
		{in: "a=http://h:1,a=http://h:2", wantErr: "named twice"},
		{in: " , ", wantErr: "no engines"},
	}
	for _, tt := range tests {
		got, err := parseEndpoints(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseEndpoints(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseEndpoints(%q) = %v, %v; want %v, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestNeedsOf(t *testing.T) {
	table := aws.String("t")
	tests := []struct {
		op     string
		params any
		want   []Need
	}{
		{"GetItem", &dynamodb.GetItemInput{TableName: table}, []Need{{Action: "dynamodb:GetItem"}}},
		{"UpdateItem", &dynamodb.UpdateItemInput{TableName: table}, []Need{{Action: "dynamodb:UpdateItem"}}},
		{"TransactWriteItems", &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Update: &types.Update{TableName: table}}, {Put: &types.Put{TableName: table}}, {Update: &types.Update{TableName: table}},
			{Delete: &types.Delete{TableName: table}}, {ConditionCheck: &types.ConditionCheck{TableName: table}},
		}}, []Need{{Action: "dynamodb:UpdateItem"}, {Action: "dynamodb:PutItem"}, {Action: "dynamodb:DeleteItem"}, {Action: "dynamodb:ConditionCheckItem"}}},
		{"TransactGetItems", &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{{Get: &types.Get{TableName: table}}}}, []Need{{Action: "dynamodb:GetItem"}}},
		{"Query", &dynamodb.QueryInput{TableName: table, IndexName: aws.String("list-by-org")}, []Need{{Action: "dynamodb:Query", Index: "list-by-org"}}},
		{"BatchGetItem", &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"t": {}}}, []Need{{Action: "dynamodb:BatchGetItem"}}},
		{"Query", &dynamodb.QueryInput{TableName: table}, []Need{{Action: "dynamodb:Query"}}},
		{"Scan", &dynamodb.ScanInput{TableName: table}, []Need{{Action: "dynamodb:Scan"}}},
	}
	for _, tt := range tests {
		if got := NeedsOf(tt.op, tt.params); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("NeedsOf(%s, %T) = %v, want %v", tt.op, tt.params, got, tt.want)
		}
	}
}
