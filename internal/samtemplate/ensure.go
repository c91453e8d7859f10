package samtemplate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TableLogicalID is the template's one table.
const TableLogicalID = "IdentificationsTable"

// TableOption changes the table EnsureTable creates from the template's.
type TableOption func(*dynamodb.CreateTableInput)

// WithoutStream creates the table without its stream: for a dev server
// that runs no stream processor (-stream-interval 0), so that the engine
// does not keep records nobody reads (dynoxide's writes slow down as its
// stream grows; see cmd/soak).
func WithoutStream() TableOption {
	return func(in *dynamodb.CreateTableInput) { in.StreamSpecification = nil }
}

// EnsureTable creates the table name from the template's definition unless
// it exists, waits until it is ACTIVE and applies the template's TTL
// setting, so local engines hold exactly the table AWS would (but for
// opts). It returns whether it created the table.
func EnsureTable(ctx context.Context, client *dynamodb.Client, templatePath, name string, opts ...TableOption) (bool, error) {
	_, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err == nil {
		return false, nil
	}
	var missing *types.ResourceNotFoundException
	if !errors.As(err, &missing) {
		return false, fmt.Errorf("describe table %s: %w", name, err)
	}
	in, err := LoadTable(templatePath, TableLogicalID)
	if err != nil {
		return false, err
	}
	in.TableName = aws.String(name)
	for _, o := range opts {
		o(in)
	}
	if _, err := client.CreateTable(ctx, in); err != nil {
		var inUse *types.ResourceInUseException
		if errors.As(err, &inUse) {
			return false, nil
		}
		return false, fmt.Errorf("create table %s: %w", name, err)
	}
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 20 * time.Millisecond
		o.MaxDelay = 500 * time.Millisecond
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, time.Minute); err != nil {
		return true, fmt.Errorf("wait for table %s: %w", name, err)
	}
	attr, enabled, err := TTLAttribute(templatePath, TableLogicalID)
	if err != nil {
		return true, err
	}
	if enabled {
		_, err := client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
			TableName:               aws.String(name),
			TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(attr), Enabled: aws.Bool(true)},
		})
		if err != nil {
			return true, fmt.Errorf("enable ttl on %s: %w", name, err)
		}
	}
	return true, nil
}
