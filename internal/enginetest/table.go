package enginetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/internal/samtemplate"
)

// TableLogicalID is the template.yaml resource NewTable creates tables from.
const TableLogicalID = "IdentificationsTable"

const (
	// tableTimeout bounds creating, or deleting, one table.
	tableTimeout = 30 * time.Second
	// maxTableName is DynamoDB's limit on table name length.
	maxTableName = 255
)

// tableSpec is the table definition read from template.yaml once per test binary.
var tableSpec struct {
	once       sync.Once
	input      *dynamodb.CreateTableInput
	ttlName    string
	ttlEnabled bool
	err        error
}

// loadTableSpec parses template.yaml at the repository root.
func loadTableSpec() (*dynamodb.CreateTableInput, string, bool, error) {
	tableSpec.once.Do(func() {
		root, err := localengine.RepoRoot()
		if err != nil {
			tableSpec.err = err
			return
		}
		path := filepath.Join(root, "template.yaml")
		if tableSpec.input, tableSpec.err = samtemplate.LoadTable(path, TableLogicalID); tableSpec.err != nil {
			return
		}
		tableSpec.ttlName, tableSpec.ttlEnabled, tableSpec.err = samtemplate.TTLAttribute(path, TableLogicalID)
	})
	return tableSpec.input, tableSpec.ttlName, tableSpec.ttlEnabled, tableSpec.err
}

// NewClientWithCounter returns a client for e whose operations are counted by
// the returned counter. optFns run after the counter is installed, so they
// can add further middleware (fault injection, say) or change retries.
func NewClientWithCounter(e Engine, optFns ...func(*dynamodb.Options)) (*dynamodb.Client, *CallCounter) {
	counter := &CallCounter{}
	opts := append([]func(*dynamodb.Options){dynamodb.WithAPIOptions(counter.AddTo)}, optFns...)
	return localengine.NewClient(e.Endpoint, opts...), counter
}

// NewTable creates, on engine e, a fresh table shaped like the
// IdentificationsTable of template.yaml (keys, indexes, TTL enabled on the
// template's attribute), named after the test, and deletes it when the test
// ends. It returns a counting client for the engine, the table's name and
// the client's counter, reset so that it counts only the test's own calls.
func NewTable(t testing.TB, e Engine) (*dynamodb.Client, string, *CallCounter) {
	t.Helper()
	spec, ttlName, ttlEnabled, err := loadTableSpec()
	if err != nil {
		t.Fatalf("enginetest: read table from template.yaml: %v", err)
	}
	client, counter := NewClientWithCounter(e)
	name := tableName(t.Name(), rand.Uint32())

	in := *spec
	in.TableName = aws.String(name)
	in.DeletionProtectionEnabled = nil // the cleanup must be able to delete it

	ctx, cancel := context.WithTimeout(t.Context(), tableTimeout)
	defer cancel()
	// The name is this call's own (a random suffix), so "already exists"
	// is the SDK's retry of this CreateTable after an attempt that landed
	// but whose answer was lost (seen under load on dynoxide): the table
	// is ours.
	var inUse *types.ResourceInUseException
	if _, err := client.CreateTable(ctx, &in); err != nil && !errors.As(err, &inUse) {
		t.Fatalf("enginetest: create table %s on %s: %v", name, e.Name, err)
	}
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), tableTimeout)
		defer cancel()
		// "not found" is, likewise, the SDK's retry of a DeleteTable that
		// landed but whose answer was lost (seen under load on dynoxide):
		// the table is gone, which is what the cleanup is for.
		var gone *types.ResourceNotFoundException
		if _, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil && !errors.As(err, &gone) {
			t.Errorf("enginetest: delete table %s on %s: %v", name, e.Name, err)
		}
	})
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 10 * time.Millisecond
		o.MaxDelay = 250 * time.Millisecond
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, tableTimeout); err != nil {
		t.Fatalf("enginetest: wait for table %s on %s to be ACTIVE: %v", name, e.Name, err)
	}
	if ttlEnabled {
		_, err := client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
			TableName: aws.String(name),
			TimeToLiveSpecification: &types.TimeToLiveSpecification{
				AttributeName: aws.String(ttlName),
				Enabled:       aws.Bool(true),
			},
		})
		if err != nil {
			t.Fatalf("enginetest: enable TTL on %s.%s on %s: %v", name, ttlName, e.Name, err)
		}
	}
	counter.Reset()
	return client, name, counter
}

// tableName builds a valid, unique table name from a test name:
// "t_<test name with characters outside [a-zA-Z0-9_.-] replaced by _>_<suffix
// in hex>", cut to DynamoDB's 255 characters by shortening the test name.
func tableName(testName string, suffix uint32) string {
	tail := fmt.Sprintf("_%08x", suffix)
	var b strings.Builder
	b.WriteString("t_")
	for _, r := range testName {
		if b.Len() >= maxTableName-len(tail) {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String() + tail
}
