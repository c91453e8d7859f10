package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/internal/localengine"
)

// The engine probe (-probe-engine) says how much of a soak's rate is the
// local engine's: it writes the same items (1 KB, the keys of every index
// the template's table has) into four tables of the engine, with and
// without a stream and with and without five keys-only indexes, and prints
// each table's writes a second per round of probeRound writes. A rate that
// falls round after round is a cost that grows with what the table (or its
// stream) holds: DynamoDB's does not.
const (
	probeRounds      = 6
	probeRound       = 1000
	probeConcurrency = 8
)

// probeIndexKeys are the attributes the probe's indexes key on, each sorted
// by ls, as the template's listing indexes are.
var probeIndexKeys = []string{"l_org", "l_email", "l_phone", "l_document", "open_shard"}

func probeEngine(ctx context.Context, w io.Writer, engine *localengine.Engine) error {
	client := localengine.NewClient(engine.Endpoint)
	fmt.Fprintf(w, "engine probe: %s, %d conditional PutItems of 1 KB per round from %d clients\n", engine.Name, probeRound, probeConcurrency)
	for _, v := range []struct {
		name         string
		stream, gsis bool
	}{{"plain", false, false}, {"stream", true, false}, {"indexes", false, true}, {"stream+indexes", true, true}} {
		table := "probe-" + strings.ReplaceAll(v.name, "+", "-")
		if _, err := client.CreateTable(ctx, probeTable(table, v.stream, v.gsis)); err != nil {
			return fmt.Errorf("create %s: %w", table, err)
		}
		rates := make([]string, 0, probeRounds)
		for round := range probeRounds {
			start := time.Now()
			var wg sync.WaitGroup
			errs := make([]error, probeConcurrency)
			for c := range probeConcurrency {
				wg.Go(func() {
					for k := c; k < probeRound && errs[c] == nil; k += probeConcurrency {
						errs[c] = probePut(ctx, client, table, fmt.Sprintf("%d-%d", round, k))
					}
				})
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					return fmt.Errorf("put into %s: %w", table, err)
				}
			}
			rates = append(rates, fmt.Sprintf("%5.0f", probeRound/time.Since(start).Seconds()))
		}
		fmt.Fprintf(w, "  %-15s writes/s per round: %s\n", v.name, strings.Join(rates, " "))
	}
	return nil
}

func probeTable(name string, stream, gsis bool) *dynamodb.CreateTableInput {
	s := types.ScalarAttributeTypeS
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: s}, {AttributeName: aws.String("sk"), AttributeType: s}},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange}},
	}
	if stream {
		in.StreamSpecification = &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages}
	}
	if gsis {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String("ls"), AttributeType: s})
		for _, k := range probeIndexKeys {
			in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String(k), AttributeType: s})
			in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
				IndexName: aws.String("by-" + k),
				KeySchema: []types.KeySchemaElement{
					{AttributeName: aws.String(k), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("ls"), KeyType: types.KeyTypeRange}},
				Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
			})
		}
	}
	return in
}

func probePut(ctx context.Context, client *dynamodb.Client, table, id string) error {
	item := map[string]types.AttributeValue{
		"pk":   &types.AttributeValueMemberS{Value: "ORG#probe#OTP#" + id},
		"sk":   &types.AttributeValueMemberS{Value: "P"},
		"body": &types.AttributeValueMemberS{Value: strings.Repeat("x", 1000)},
		"ls":   &types.AttributeValueMemberS{Value: id},
	}
	for _, k := range probeIndexKeys {
		item[k] = &types.AttributeValueMemberS{Value: k + "#" + id}
	}
	_, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	return err
}
