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
	// Reread are the times a process's status moved between its read and
	// its write, so that it was written from the item as it then was.
	Reread int
}

func (c *BackfillCounts) add(o BackfillCounts) {
	c.Scanned += o.Scanned
	c.Written += o.Written
	c.Current += o.Current
	c.Reread += o.Reread
	c.Gone += o.Gone
}

func (c BackfillCounts) String() string {
	return fmt.Sprintf("%d processes scanned: %d written, %d already current, %d deleted meanwhile (%d read again after a change)",
		c.Scanned, c.Written, c.Current, c.Gone, c.Reread)
}

// backfillAttrs are what a pass reads of an item: the key, what the
// listing keys are made of, and the keys it may hold already.
var backfillAttrs = []string{attrPK, attrSK, attrKind, "org", "type", "id", attrStatus, attrCreatedAt,
	attrPosition, attrListOrg, attrListOrgStatus}

// maxBackfillRereads bounds how often one process is read again because
// its status changed under the pass.
const maxBackfillRereads = 3

// BackfillListKeys scans b's segment and gives each process the listing
// keys of this release: ls (its position) where it has none, l_org and
// l_org_status (its organisation's and its status's partitions, in its
// shard). A process that has them already is not written, so a pass can
// run again, or go on from where one stopped (b.Start), at the cost of the
// scan alone. Each write is a conditional UpdateItem that sets only those
// attributes, on the condition that the item is still the process in the
// status the keys were made from; a process whose status moved meanwhile
// is read again and written with the new one, a deleted one left alone.
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
	for try := 0; ; try++ {
		it, err := decodeItem(av)
		if err != nil {
			return c, err
		}
		if it.Kind != kindProcess {
			c.Gone++
			return c, nil
		}
		typ, st := identification.Type(it.Type), identification.Status(it.Status)
		org, orgStatus := orgFacet(it.Org, typ, it.ID), statusFacet(it.Org, typ, st, it.ID)
		if it.ListPosition != "" && it.ListOrg == org && it.ListOrgStatus == orgStatus {
			c.Current++
			return c, nil
		}
		if beforeWrite != nil {
			if err := beforeWrite(ctx); err != nil {
				return c, err
			}
		}
		built, err := expression.NewBuilder().
			WithCondition(name(attrKind).Equal(expression.Value(kindProcess)).
				And(name(attrStatus).Equal(expression.Value(it.Status)))).
			WithUpdate(expression.
				Set(name(attrListOrg), expression.Value(org)).
				Set(name(attrListOrgStatus), expression.Value(orgStatus)).
				Set(name(attrPosition), expression.IfNotExists(name(attrPosition),
					expression.Value(identification.PositionOf(fromUnix(it.CreatedAt), it.ID))))).
			Build()
		if err != nil {
			return c, fmt.Errorf("build backfill update: %w", err)
		}
		_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                           s.table,
			Key:                                 map[string]types.AttributeValue{attrPK: av[attrPK], attrSK: av[attrSK]},
			ConditionExpression:                 built.Condition(),
			UpdateExpression:                    built.Update(),
			ExpressionAttributeNames:            built.Names(),
			ExpressionAttributeValues:           built.Values(),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		var ccf *types.ConditionalCheckFailedException
		switch {
		case err == nil:
			c.Written++
			return c, nil
		case !errors.As(err, &ccf):
			return c, classify("update item", err)
		case len(ccf.Item) == 0:
			c.Gone++ // removed outright (TTL)
			return c, nil
		case try == maxBackfillRereads:
			return c, fmt.Errorf("backfill %s: its status changed %d times under the pass", it.PK, try+1)
		}
		// Its status moved (or it was deleted) since it was read: go on
		// from the item as it is now.
		c.Reread++
		av = ccf.Item
	}
}
