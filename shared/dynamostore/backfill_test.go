package dynamostore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/identification"
)

// previousShape rewrites i's item as earlier releases wrote it: the
// unsharded l_month and l_status, the status's partition l_org_status, no
// l_org.
func previousShape(t *testing.T, client *dynamodb.Client, table string, i *identification.Identification) {
	t.Helper()
	facet := i.OrgID + "#" + string(i.Type) + "#"
	_, err := client.UpdateItem(t.Context(), &dynamodb.UpdateItemInput{
		TableName: aws.String(table),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "ORG#" + i.OrgID + "#" + string(i.Type) + "#" + i.ID},
			"sk": &types.AttributeValueMemberS{Value: "P"}},
		UpdateExpression: aws.String("SET l_month = :m, l_status = :s, l_org_status = :o REMOVE l_org"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":m": &types.AttributeValueMemberS{Value: facet + i.CreatedAt.Format("200601")},
			":s": &types.AttributeValueMemberS{Value: facet + string(i.Status)},
			":o": &types.AttributeValueMemberS{Value: facet + string(i.Status) + "#00"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBackfillUnderChangesAndDeletes: a process whose status moves
// between the pass's scan and its write (the previous release, still
// serving, cancels it) is written all the same and listed under its new
// status; one deleted meanwhile is left a tombstone, without keys, and the
// delete took the previous releases' keys with the rest.
func TestBackfillUnderChangesAndDeletes(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		s, client, table, _ := newStore(t, e)
		svc := identification.NewService(s, identification.WithClock(func() time.Time { return now }), identification.WithCodeKeys(listKeys(t)))
		admin := identification.Caller{Kind: identification.CallerAdmin, Sub: "t"}
		for _, tc := range []struct {
			name   string
			change func(i *identification.Identification)
			want   dynamostore.BackfillCounts
		}{
			{"cancelled", func(i *identification.Identification) {
				// As the previous release cancels: status and l_status.
				_, err := client.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
					TableName: aws.String(table),
					Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "ORG#acme#" + string(i.Type) + "#" + i.ID},
						"sk": &types.AttributeValueMemberS{Value: "P"}},
					UpdateExpression:         aws.String("SET #s = :c, l_status = :l"),
					ExpressionAttributeNames: map[string]string{"#s": "status"},
					ExpressionAttributeValues: map[string]types.AttributeValue{
						":c": &types.AttributeValueMemberS{Value: string(identification.StatusCancelled)},
						":l": &types.AttributeValueMemberS{Value: "acme#" + string(i.Type) + "#CANCELLED"},
					},
				})
				if err != nil {
					t.Error(err)
				}
			}, dynamostore.BackfillCounts{Scanned: 1, Written: 1}},
			{"deleted", func(i *identification.Identification) {
				if err := s.Delete(context.Background(), i.Ref(), true, admin, now); err != nil {
					t.Error(err)
				}
			}, dynamostore.BackfillCounts{Scanned: 1, Gone: 1}},
		} {
			i := sample(t, identification.StatusCreated, now.Add(time.Hour))
			mustCreate(t, s, i)
			previousShape(t, client, table, i)
			writes := 0
			c, err := s.BackfillListKeys(context.Background(), dynamostore.Backfill{
				BeforeWrite: func(context.Context) error {
					if writes++; writes == 1 {
						tc.change(i)
					}
					return nil
				},
			})
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			// The first process is current (or gone) by the second case.
			c.Current, c.Scanned = 0, c.Scanned-c.Current
			if c != tc.want {
				t.Errorf("%s: counts %+v, want %+v", tc.name, c, tc.want)
			}
			item := rawItem(t, client, table, i)
			switch tc.name {
			case "cancelled":
				if _, ok := item["l_org_status"]; ok {
					t.Errorf("the pass left l_org_status")
				}
				p, err := svc.List(context.Background(), "acme", identification.TypeChain, identification.ListQuery{Statuses: []identification.Status{identification.StatusCancelled}, Limit: 10})
				if err != nil || !slices.ContainsFunc(p.Items, func(l *identification.Identification) bool { return l.ID == i.ID }) {
					t.Errorf("cancelled under the pass: not listed under CANCELLED (%v)", err)
				}
			case "deleted":
				for _, attr := range []string{"l_org", "l_org_status", "l_month", "l_status", "ls"} {
					if _, ok := item[attr]; ok {
						t.Errorf("the tombstone holds %s", attr)
					}
				}
			}
		}
	})
}
