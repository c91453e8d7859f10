package costmodel

import (
	"encoding/base64"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// KeySchema names a table's or an index's key attributes.
type KeySchema struct {
	// Partition is the partition (HASH) key attribute.
	Partition string
	// Sort is the sort (RANGE) key attribute, "" when there is none.
	Sort string
}

// Names are the key's attributes.
func (k KeySchema) Names() []string {
	if k.Sort == "" {
		return []string{k.Partition}
	}
	return []string{k.Partition, k.Sort}
}

// Index is a global secondary index as the table defines it.
type Index struct {
	Name string
	Key  KeySchema
	// Projection is ALL, KEYS_ONLY or INCLUDE.
	Projection types.ProjectionType
	// NonKey are the attributes an INCLUDE projection adds.
	NonKey []string
}

// Table is what the cost model knows of the table: its key and indexes.
type Table struct {
	Key     KeySchema
	Indexes []Index
	// StreamViewType is what the table's stream records carry ("" when
	// it has no stream).
	StreamViewType types.StreamViewType
}

// TableFrom reads the table's definition from a CreateTable input (as
// internal/samtemplate makes from template.yaml). Local secondary indexes
// are refused: the model does not price them.
func TableFrom(in *dynamodb.CreateTableInput) (Table, error) {
	var t Table
	var err error
	if t.Key, err = keySchema(in.KeySchema); err != nil {
		return Table{}, fmt.Errorf("table key: %w", err)
	}
	if len(in.LocalSecondaryIndexes) > 0 {
		return Table{}, fmt.Errorf("the table has local secondary indexes, which the cost model does not price")
	}
	for _, g := range in.GlobalSecondaryIndexes {
		idx := Index{Name: aws.ToString(g.IndexName)}
		if idx.Key, err = keySchema(g.KeySchema); err != nil {
			return Table{}, fmt.Errorf("index %s: %w", idx.Name, err)
		}
		if g.Projection == nil {
			return Table{}, fmt.Errorf("index %s: no projection", idx.Name)
		}
		idx.Projection = g.Projection.ProjectionType
		idx.NonKey = slices.Clone(g.Projection.NonKeyAttributes)
		switch idx.Projection {
		case types.ProjectionTypeAll, types.ProjectionTypeKeysOnly, types.ProjectionTypeInclude:
		default:
			return Table{}, fmt.Errorf("index %s: projection type %q", idx.Name, idx.Projection)
		}
		t.Indexes = append(t.Indexes, idx)
	}
	if s := in.StreamSpecification; s != nil && aws.ToBool(s.StreamEnabled) {
		t.StreamViewType = s.StreamViewType
	}
	return t, nil
}

func keySchema(elems []types.KeySchemaElement) (KeySchema, error) {
	var k KeySchema
	for _, e := range elems {
		switch e.KeyType {
		case types.KeyTypeHash:
			k.Partition = aws.ToString(e.AttributeName)
		case types.KeyTypeRange:
			k.Sort = aws.ToString(e.AttributeName)
		}
	}
	if k.Partition == "" {
		return KeySchema{}, fmt.Errorf("no partition key in %v", elems)
	}
	return k, nil
}

// Index returns the index named name.
func (t Table) Index(name string) (Index, bool) {
	for _, idx := range t.Indexes {
		if idx.Name == name {
			return idx, true
		}
	}
	return Index{}, false
}

// KeyOf is the table key of item (nil when item lacks one of its
// attributes).
func (t Table) KeyOf(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	key := map[string]types.AttributeValue{}
	for _, name := range t.Key.Names() {
		v, ok := item[name]
		if !ok {
			return nil
		}
		key[name] = v
	}
	return key
}

// Entry is what index idx holds of item: nil when the item lacks one of
// the index's key attributes (a sparse index leaves it out), else the
// table's key, the index's key and the projected attributes.
func (t Table) Entry(idx Index, item map[string]types.AttributeValue) map[string]types.AttributeValue {
	if item == nil {
		return nil
	}
	for _, name := range idx.Key.Names() {
		if _, ok := item[name]; !ok {
			return nil
		}
	}
	if idx.Projection == types.ProjectionTypeAll {
		return maps.Clone(item)
	}
	entry := map[string]types.AttributeValue{}
	names := append(t.Key.Names(), idx.Key.Names()...)
	if idx.Projection == types.ProjectionTypeInclude {
		names = append(names, idx.NonKey...)
	}
	for _, name := range names {
		if v, ok := item[name]; ok {
			entry[name] = v
		}
	}
	return entry
}

// KeyText is a key attribute's value as text: a string as is, a number as
// written, a binary in base64.
func KeyText(v types.AttributeValue) string {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case *types.AttributeValueMemberN:
		return v.Value
	case *types.AttributeValueMemberB:
		return base64.StdEncoding.EncodeToString(v.Value)
	}
	return fmt.Sprintf("%v", v)
}
