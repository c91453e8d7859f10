package costmodel

import (
	"math"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The sizes and units below follow the DynamoDB Developer Guide:
//
//   - "DynamoDB item sizes and formats" (CapacityUnitCalculations.html):
//     an item's size is the sum of its attributes' names and values; a
//     string is its UTF-8 bytes, a number about one byte per two
//     significant digits plus one, a binary its raw bytes, a Boolean or
//     null one byte, a list or map 3 bytes plus its elements, and each
//     element of a list or map one byte more;
//   - "DynamoDB read and write operations" (read-write-operations.html):
//     a write unit per started KiB of the larger of the item before and
//     after (PutItem, UpdateItem; DeleteItem the deleted item; each item
//     of a BatchWriteItem alone), a read unit per started 4 KiB read
//     strongly (half for an eventually consistent read), a Query summed
//     over its items before rounding, a BatchGetItem rounded per item, a
//     read of no item still one unit (or half);
//   - "Amazon DynamoDB Transactions: how it works" (transaction-apis.html):
//     a transaction reads or writes every item twice (prepare and commit);
//   - "Using Global Secondary Indexes" (GSI.html), "Write capacity units":
//     an index is written only when a write changes what it holds of the
//     item: one write to put an entry, one to remove one, two when its key
//     changes, one when only its projected attributes change; its size is
//     that of the entry (table keys, index keys and projected attributes).

const (
	// WriteUnitBytes is the item size one write unit covers.
	WriteUnitBytes = 1024
	// ReadUnitBytes is the size one read unit covers when read strongly.
	ReadUnitBytes = 4096
	// TransactionFactor is how many times a transaction writes (or reads)
	// each of its items on the table: prepare and commit.
	TransactionFactor = 2
	// listOrMapOverhead is a list's or a map's own bytes.
	listOrMapOverhead = 3
	// elementOverhead is each element's byte in a list or a map.
	elementOverhead = 1
)

// ItemSize is the size DynamoDB gives item, in bytes: each attribute's
// name and value. A nil or empty item is 0.
func ItemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + ValueSize(v)
	}
	return n
}

// ValueSize is the size of one value without its name.
func ValueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return NumberSize(v.Value)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberL:
		n := listOrMapOverhead
		for _, e := range v.Value {
			n += elementOverhead + ValueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := listOrMapOverhead
		for k, e := range v.Value {
			n += elementOverhead + len(k) + ValueSize(e)
		}
		return n
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberNS:
		n := 0
		for _, s := range v.Value {
			n += NumberSize(s)
		}
		return n
	case *types.AttributeValueMemberBS:
		n := 0
		for _, b := range v.Value {
			n += len(b)
		}
		return n
	}
	return 0
}

// NumberSize is the size of a number written as s: one byte per two
// significant digits (leading and trailing zeroes trimmed, a started pair
// counting whole) and one more.
func NumberSize(s string) int {
	s = strings.TrimLeft(s, "+-")
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		s = s[:i]
	}
	digits := strings.Replace(s, ".", "", 1)
	digits = strings.Trim(digits, "0")
	return (len(digits)+1)/2 + 1
}

// WriteUnits is the write units of one write of an item of size bytes:
// one per started KiB, at least one.
func WriteUnits(size int) float64 {
	return math.Max(1, math.Ceil(float64(size)/WriteUnitBytes))
}

// ReadUnits is the read units of reading size bytes at once (one item,
// or a Query's items together): one per started 4 KiB read strongly, half
// that eventually consistent, at least one (or half).
func ReadUnits(size int, consistent bool) float64 {
	u := math.Max(1, math.Ceil(float64(size)/ReadUnitBytes))
	if !consistent {
		u /= 2
	}
	return u
}
