// Package ddb is the DynamoDB plumbing the store's two table schemas share
// (package dynamo, schema v2, and package dynamov1, the schema before it,
// which `cronless migrate` reads): items and their attribute values, paged
// queries, batch writes and reads that retry what DynamoDB leaves
// unprocessed, a table's creation, and a compressed list of IDs. What the
// items mean is the schemas'.
package ddb

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// AttrPK and AttrSK are the key attributes of both schemas' tables (both S).
const (
	AttrPK = "PK"
	AttrSK = "SK"
)

// Item is one DynamoDB item. Empty strings and zero times are left out, so
// a missing attribute reads as the zero value.
type Item map[string]types.AttributeValue

// S, N and Bool are attribute values.
func S(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func N(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
func Bool(v bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: v} }

// Key is the key (PK, SK) as an item.
func Key(pk, sk string) Item { return Item{AttrPK: S(pk), AttrSK: S(sk)} }

// Key returns the item's key.
func (it Item) Key() Item { return Item{AttrPK: it[AttrPK], AttrSK: it[AttrSK]} }

// KeyString names an item by its key, for messages.
func (it Item) KeyString() string { return it.Str(AttrPK) + " " + it.Str(AttrSK) }

// SetS sets a string, leaving an empty one out.
func (it Item) SetS(name, v string) {
	if v != "" {
		it[name] = S(v)
	}
}

// SetN sets a number.
func (it Item) SetN(name string, v int64) { it[name] = N(v) }

// SetTime sets a time as TimeLayout text, leaving a zero time out.
func (it Item) SetTime(name string, t time.Time) {
	if !t.IsZero() {
		it[name] = S(TimeString(t))
	}
}

// SetStamp sets a time as a number, its Unix time in nanoseconds (some 11
// bytes, a third of the text), leaving a zero time out.
func (it Item) SetStamp(name string, t time.Time) {
	if !t.IsZero() {
		it.SetN(name, t.UnixNano())
	}
}

// hashPrefix is the form of hash SetHash stores as bytes.
const hashPrefix = "sha256:"

// SetHash sets a hash: "sha256:<64 lowercase hex digits>" as the 32 bytes
// it spells (B), which is less than half its text; any other text as it is.
func (it Item) SetHash(name, v string) {
	h, ok := strings.CutPrefix(v, hashPrefix)
	if ok && len(h) == 64 && strings.ToLower(h) == h {
		if b, err := hex.DecodeString(h); err == nil {
			it[name] = &types.AttributeValueMemberB{Value: b}
			return
		}
	}
	it.SetS(name, v)
}

// Hash reads a hash SetHash set.
func (it Item) Hash(name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberB); ok {
		return hashPrefix + hex.EncodeToString(v.Value)
	}
	return it.Str(name)
}

// Str reads a string ("" when missing or not a string).
func (it Item) Str(name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// Boolean reads a BOOL (false when missing).
func (it Item) Boolean(name string) bool {
	v, ok := it[name].(*types.AttributeValueMemberBOOL)
	return ok && v.Value
}

// Num reads a whole number (0 when missing).
func (it Item) Num(name string) (int64, error) {
	switch v := it[name].(type) {
	case nil:
		return 0, nil
	case *types.AttributeValueMemberN:
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("attribute %s: %w", name, err)
		}
		return n, nil
	default:
		return 0, fmt.Errorf("attribute %s is %T, want a number", name, v)
	}
}

// NumOr0 reads a whole number, 0 when it is missing or not one.
func (it Item) NumOr0(name string) int64 {
	n, _ := it.Num(name)
	return n
}

// Time reads a time set as text (SetTime) or as a number (SetStamp).
func (it Item) Time(name string) (time.Time, error) {
	if n, ok := it[name].(*types.AttributeValueMemberN); ok {
		ns, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("attribute %s: %w", name, err)
		}
		return time.Unix(0, ns).UTC(), nil
	}
	s := it.Str(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("attribute %s: %w", name, err)
	}
	return t.UTC(), nil
}

// TimeLayout is RFC 3339 in UTC with a fixed nine fractional digits, so the
// text sorts in time order and round-trips to the nanosecond (the same as
// localstore's).
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// TimeString is t as TimeLayout text.
func TimeString(t time.Time) string { return t.UTC().Format(TimeLayout) }
