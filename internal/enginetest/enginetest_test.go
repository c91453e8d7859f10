package enginetest_test

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/internal/enginetest"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

func TestEnginesAreBoth(t *testing.T) {
	var got []string
	for _, e := range enginetest.Engines(t) {
		got = append(got, e.Name)
	}
	if v := os.Getenv("TEST_DYNAMODB_ENDPOINTS"); v != "" {
		t.Logf("engines from TEST_DYNAMODB_ENDPOINTS=%s: %q", v, got)
		return
	}
	if want := []string{"dynoxide", "dynamodb-local"}; !slices.Equal(got, want) {
		t.Errorf("self-started engine names = %q, want %q", got, want)
	}
}

func TestConditionalWritesAreCounted(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		client, table, counter := enginetest.NewTable(t, e)
		ctx := t.Context()
		key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "id-1"}, "sk": &types.AttributeValueMemberS{Value: "P"}}

		if got := counter.Total(); got != 0 {
			t.Errorf("counter.Total() right after NewTable = %d, want 0", got)
		}
		_, err := client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(table),
			Item: map[string]types.AttributeValue{
				"pk":      key["pk"],
				"sk":      key["sk"],
				"status":  &types.AttributeValueMemberS{Value: "open"},
				"version": &types.AttributeValueMemberN{Value: "1"},
			},
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		})
		if err != nil {
			t.Fatalf("PutItem error = %v", err)
		}

		// updateVersion moves the item from version from to from+1, closing it.
		updateVersion := func(from string, returnOld types.ReturnValuesOnConditionCheckFailure) (*dynamodb.UpdateItemOutput, error) {
			return client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName:                           aws.String(table),
				Key:                                 key,
				UpdateExpression:                    aws.String("SET #s = :closed, version = version + :one"),
				ConditionExpression:                 aws.String("version = :from"),
				ExpressionAttributeNames:            map[string]string{"#s": "status"},
				ExpressionAttributeValues:           map[string]types.AttributeValue{":closed": &types.AttributeValueMemberS{Value: "closed"}, ":one": &types.AttributeValueMemberN{Value: "1"}, ":from": &types.AttributeValueMemberN{Value: from}},
				ReturnValues:                        types.ReturnValueAllNew,
				ReturnValuesOnConditionCheckFailure: returnOld,
			})
		}
		wantItem := map[string]types.AttributeValue{
			"pk":      key["pk"],
			"sk":      key["sk"],
			"status":  &types.AttributeValueMemberS{Value: "closed"},
			"version": &types.AttributeValueMemberN{Value: "2"},
		}

		out, err := updateVersion("1", types.ReturnValuesOnConditionCheckFailureAllOld)
		if err != nil {
			t.Fatalf("UpdateItem from version 1 error = %v", err)
		}
		if !itemsEqual(out.Attributes, wantItem) {
			t.Errorf("UpdateItem from version 1 attributes = %v, want %v", out.Attributes, wantItem)
		}

		_, err = updateVersion("1", types.ReturnValuesOnConditionCheckFailureAllOld)
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			t.Fatalf("stale UpdateItem error = %v, want *types.ConditionalCheckFailedException", err)
		}
		if !itemsEqual(ccf.Item, wantItem) {
			t.Errorf("stale UpdateItem ConditionalCheckFailedException.Item = %v, want %v", ccf.Item, wantItem)
		}

		ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatalf("DescribeTimeToLive error = %v", err)
		}
		if got := ttl.TimeToLiveDescription; got == nil || aws.ToString(got.AttributeName) != "ttl" || got.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
			t.Errorf("DescribeTimeToLive = %+v, want attribute ttl ENABLED", got)
		}

		wantCalls := map[string]int{"PutItem": 1, "UpdateItem": 2, "DescribeTimeToLive": 1}
		if got := counter.ByOperation(); !maps.Equal(got, wantCalls) {
			t.Errorf("counter.ByOperation() = %v, want %v", got, wantCalls)
		}
		if got, want := counter.Total(), 4; got != want {
			t.Errorf("counter.Total() = %d, want %d", got, want)
		}
		if got, want := counter.Count("UpdateItem"), 2; got != want {
			t.Errorf(`counter.Count("UpdateItem") = %d, want %d`, got, want)
		}
		if got, want := counter.Ops(), []string{"PutItem", "UpdateItem", "UpdateItem", "DescribeTimeToLive"}; !slices.Equal(got, want) {
			t.Errorf("counter.Ops() = %v, want %v", got, want)
		}

		// A transaction is recorded with the item actions of its parts.
		counter.Reset()
		other := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "id-2"}, "sk": key["sk"]}
		_, err = client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{ConditionCheck: &types.ConditionCheck{TableName: aws.String(table), Key: key, ConditionExpression: aws.String("attribute_exists(pk)")}},
			{Put: &types.Put{TableName: aws.String(table), Item: other}},
		}})
		if err != nil {
			t.Fatalf("TransactWriteItems error = %v", err)
		}
		want := []enginetest.Call{{Op: "TransactWriteItems", Needs: []enginetest.Need{{Action: "dynamodb:ConditionCheckItem"}, {Action: "dynamodb:PutItem"}}}}
		if got := counter.Calls(); !reflect.DeepEqual(got, want) {
			t.Errorf("counter.Calls() = %+v, want %+v", got, want)
		}
		counter.Reset()
		if got := counter.Total(); got != 0 || len(counter.Calls()) != 0 {
			t.Errorf("counter.Total() after Reset = %d, Calls %v, want none", got, counter.Calls())
		}
	})
}

func TestNewTableMatchesTemplate(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		client, table, counter := enginetest.NewTable(t, e)
		out, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatalf("DescribeTable error = %v", err)
		}
		desc := out.Table
		if got, want := desc.TableStatus, types.TableStatusActive; got != want {
			t.Errorf("TableStatus = %s, want %s", got, want)
		}
		if got := keys(desc.KeySchema); got != "pk:HASH sk:RANGE" {
			t.Errorf("KeySchema = %s, want pk:HASH sk:RANGE", got)
		}
		want := map[string]string{
			"open-by-expiry":   "open_shard:HASH open_expires_at:RANGE KEYS_ONLY",
			"list-by-org":      "l_org:HASH ls:RANGE KEYS_ONLY",
			"find-by-email":    "l_email:HASH ls:RANGE INCLUDE [l_phone]",
			"find-by-phone":    "l_phone:HASH ls:RANGE KEYS_ONLY",
			"find-by-document": "l_document:HASH ls:RANGE INCLUDE [l_email l_phone]",
		}
		got := map[string]string{}
		for _, gsi := range desc.GlobalSecondaryIndexes {
			proj := "none"
			if gsi.Projection != nil {
				proj = string(gsi.Projection.ProjectionType)
				if len(gsi.Projection.NonKeyAttributes) > 0 {
					// The engines may answer them in any order.
					proj += " " + fmt.Sprint(slices.Sorted(slices.Values(gsi.Projection.NonKeyAttributes)))
				}
			}
			got[aws.ToString(gsi.IndexName)] = keys(gsi.KeySchema) + " " + proj
		}
		if !maps.Equal(got, want) {
			t.Errorf("GlobalSecondaryIndexes = %v, want %v", got, want)
		}
		if got, want := counter.ByOperation(), map[string]int{"DescribeTable": 1}; !maps.Equal(got, want) {
			t.Errorf("counter.ByOperation() = %v, want %v", got, want)
		}
	})
}

func TestNewTableIsDeletedAfterTheTest(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		var table string
		t.Run("inner", func(t *testing.T) {
			_, table, _ = enginetest.NewTable(t, e)
		})
		client, _ := enginetest.NewClientWithCounter(e)
		_, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		var notFound *types.ResourceNotFoundException
		if !errors.As(err, &notFound) {
			t.Errorf("DescribeTable(%s) after its test ended: error = %v, want *types.ResourceNotFoundException", table, err)
		}
	})
}

func TestCounterCountsConcurrentCalls(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		client, table, counter := enginetest.NewTable(t, e)
		const calls = 16
		var wg sync.WaitGroup
		for range calls {
			wg.Go(func() {
				_, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{
					TableName: aws.String(table),
					Key:       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "absent"}, "sk": &types.AttributeValueMemberS{Value: "P"}},
				})
				if err != nil {
					t.Errorf("GetItem error = %v", err)
				}
			})
		}
		wg.Wait()
		if got, want := counter.ByOperation(), map[string]int{"GetItem": calls}; !maps.Equal(got, want) {
			t.Errorf("counter.ByOperation() = %v, want %v", got, want)
		}
	})
}

// keys renders a key schema as "name:TYPE ...".
func keys(schema []types.KeySchemaElement) string {
	var s string
	for i, k := range schema {
		if i > 0 {
			s += " "
		}
		s += aws.ToString(k.AttributeName) + ":" + string(k.KeyType)
	}
	return s
}

// itemsEqual compares items made of string and number attributes.
func itemsEqual(a, b map[string]types.AttributeValue) bool {
	if len(a) != len(b) {
		return false
	}
	for k, av := range a {
		if scalar(av) != scalar(b[k]) {
			return false
		}
	}
	return true
}

// scalar renders a string or number attribute value as "S:v" or "N:v".
func scalar(av types.AttributeValue) string {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return "S:" + v.Value
	case *types.AttributeValueMemberN:
		return "N:" + v.Value
	default:
		return "?"
	}
}
