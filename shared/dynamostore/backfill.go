package dynamostore

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/shared/identification"
)

// Backfill is one segment of a pass that gives every process the listing
// keys this release writes (cmd/backfill; docs/deployment.md, "Moving to
// the keys-only listing indexes").
type Backfill struct {
	// Segment of Segments: the part of the table this pass scans
	// (DynamoDB's parallel scan).
	Segment, Segments int
	// Start is where the scan goes on from (the ExclusiveStartKey a
	// previous pass stopped at), nil for the segment's beginning.
	Start map[string]types.AttributeValue
	// BeforeWrite, when set, runs before each UpdateItem (to pace the
	// pass); an error stops it.
	BeforeWrite func(ctx context.Context) error
	// AfterPage, when set, runs after each page of the scan with the key
	// the scan goes on from (nil once the segment is done) and the counts
	// so far; an error stops the pass.
	AfterPage func(next map[string]types.AttributeValue, c BackfillCounts) error
}

// BackfillCounts count what a pass did.
type BackfillCounts struct {
	// Scanned are the process items the scan read (other items, such as
	// tombstones and idempotency records, are filtered out).
	Scanned int
	// Written are the processes whose keys were set, Current those whose
	// keys were already the ones this release writes, Gone those deleted
	// before the write: each scanned process is one of the three.
	Written, Current, Gone int
}

func (c *BackfillCounts) add(o BackfillCounts) {
	c.Scanned += o.Scanned
	c.Written += o.Written
	c.Current += o.Current
	c.Gone += o.Gone
}

func (c BackfillCounts) String() string {
	return fmt.Sprintf("%d processes scanned: %d written, %d already current, %d deleted meanwhile",
		c.Scanned, c.Written, c.Current, c.Gone)
}

// backfillAttrs are what a pass reads of an item: the key, what the
// listing keys are made of, and the keys it may hold already.
var backfillAttrs = []string{attrPK, attrSK, attrKind, "org", "type", "id", attrCreatedAt,
	attrPosition, attrListOrg, attrLegacyOrgStatus}

// BackfillListKeys scans b's segment and gives each process the listing
// keys of this release: ls (its position) where it has none and l_org
// (its organisation's partition, in its shard), and removes the
// l_org_status an earlier release wrote (the list-by-org-status index is
// gone). A process that has them already is not written, so a pass can
// run again, or go on from where one stopped (b.Start), at the cost of the
// scan alone. Each write is a conditional UpdateItem that sets (and
// removes) only those attributes, on the condition that the item is still
// a process: none of them depends on anything a process's changes change,
// so a change made meanwhile does not matter, and a process deleted
// meanwhile is left alone.
func (s *Store) BackfillListKeys(ctx context.Context, b Backfill) (BackfillCounts, error) {
	var total BackfillCounts
	proj := expression.NamesList(name(backfillAttrs[0]))
	for _, a := range backfillAttrs[1:] {
		proj = proj.AddNames(name(a))
	}
	expr, err := expression.NewBuilder().WithProjection(proj).
		WithFilter(name(attrKind).Equal(expression.Value(kindProcess))).Build()
	if err != nil {
		return total, fmt.Errorf("build backfill scan: %w", err)
	}
	in := &dynamodb.ScanInput{
		TableName:                 s.table,
		ProjectionExpression:      expr.Projection(),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ExclusiveStartKey:         b.Start,
	}
	if b.Segments > 1 {
		in.Segment, in.TotalSegments = aws.Int32(int32(b.Segment)), aws.Int32(int32(b.Segments))
	}
	for {
		page, err := s.client.Scan(ctx, in)
		if err != nil {
			return total, classify("scan", err)
		}
		for _, av := range page.Items {
			c, err := s.backfillOne(ctx, av, b.BeforeWrite)
			total.add(c)
			if err != nil {
				return total, err
			}
		}
		if b.AfterPage != nil {
			if err := b.AfterPage(page.LastEvaluatedKey, total); err != nil {
				return total, err
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			return total, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// backfillOne gives the process av its listing keys, unless it has them.
func (s *Store) backfillOne(ctx context.Context, av map[string]types.AttributeValue, beforeWrite func(context.Context) error) (BackfillCounts, error) {
	c := BackfillCounts{Scanned: 1}
	it, err := decodeItem(av)
	if err != nil {
		return c, err
	}
	if it.Kind != kindProcess {
		c.Gone++
		return c, nil
	}
	org := orgFacet(it.Org, identification.Type(it.Type), it.ID)
	_, legacy := av[attrLegacyOrgStatus]
	if it.ListPosition != "" && it.ListOrg == org && !legacy {
		c.Current++
		return c, nil
	}
	if beforeWrite != nil {
		if err := beforeWrite(ctx); err != nil {
			return c, err
		}
	}
	built, err := expression.NewBuilder().
		WithCondition(name(attrKind).Equal(expression.Value(kindProcess))).
		WithUpdate(expression.
			Set(name(attrListOrg), expression.Value(org)).
			Set(name(attrPosition), expression.IfNotExists(name(attrPosition),
				expression.Value(identification.PositionOf(fromUnix(it.CreatedAt), it.ID)))).
			Remove(name(attrLegacyOrgStatus))).
		Build()
	if err != nil {
		return c, fmt.Errorf("build backfill update: %w", err)
	}
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 s.table,
		Key:                       map[string]types.AttributeValue{attrPK: av[attrPK], attrSK: av[attrSK]},
		ConditionExpression:       built.Condition(),
		UpdateExpression:          built.Update(),
		ExpressionAttributeNames:  built.Names(),
		ExpressionAttributeValues: built.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		c.Written++
	case errors.As(err, &ccf):
		c.Gone++ // deleted (a tombstone) or removed outright (TTL) since the scan
	default:
		return c, classify("update item", err)
	}
	return c, nil
}
