// Package dynamometer is a DynamoDB client for tests that meters what each
// call would cost on DynamoDB: the write and read request units it
// consumes, in the table and in each secondary index, by DynamoDB's rules,
// and the units each partition key takes a second. It forwards every call
// to the client it wraps and returns that client's answer.
//
// DynamoDB's stand-ins report consumed capacity for the table only (dynalite)
// or not at all; the meter computes it from the items themselves and the
// table's definition. How, and the figures of the store's schema, are in
// docs/aws.md ("Measured write and read units per stored result (v1)").
//
// The rules (Amazon DynamoDB Developer Guide, "DynamoDB read/write capacity
// mode", "DynamoDB item sizes and formats", "Managing settings on DynamoDB
// provisioned capacity tables" for GSI writes, "Local secondary indexes":
// "Provisioned throughput considerations"):
//   - a write costs 1 unit per KB of item, rounded up, at least 1; a put or
//     an update costs the larger of the old and the new image; a conditional
//     write whose condition fails costs that too (at least 1), in the table
//     only;
//   - each index the item is in before or after the write costs the same for
//     its entry (the projected attributes): a new entry, a changed one (the
//     larger image) or a removed one; an entry whose index key changes costs
//     a delete and a put; an entry that does not change costs nothing;
//   - a GetItem costs 1 read unit per 4 KB of item, rounded up, at least 1;
//     a Query 1 per 4 KB of the items it evaluated (those its filter then
//     dropped included, whatever its projection), rounded up once per call;
//     either half that when eventually consistent.
//
// To know a write's old and new images, the meter reads the item through the
// wrapped client (a strongly consistent GetItem) before every write, and
// after an UpdateItem; to know the items a Query evaluated, it runs the
// query again without its filter and projection, with Limit set to the
// ScannedCount. These reads are not metered. Reading rather than keeping a
// shadow copy of what it saw written keeps the meter right for items written
// around it (by another client, or before it was wrapped); the price is that
// under concurrent writes of one item another writer's image may be counted.
package dynamometer

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// API is the part of the DynamoDB API the store uses (dynamo.API), with
// the SDK's signatures. A Meter wraps one and is one.
type API interface {
	GetItem(ctx context.Context, params *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, params *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, params *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, params *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchWriteItem(ctx context.Context, params *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	BatchGetItem(ctx context.Context, params *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

var _ API = (*Meter)(nil)

// Units are request units: write request units (WRU) and read request units
// (RRU), which an eventually consistent read makes halves.
type Units struct {
	Write, Read float64
}

// Add returns u plus v.
func (u Units) Add(v Units) Units { return Units{u.Write + v.Write, u.Read + v.Read} }

// Div returns u divided by n (per stored result, per second).
func (u Units) Div(n float64) Units { return Units{u.Write / n, u.Read / n} }

func (u Units) String() string { return fmt.Sprintf("%.2f WRU, %.2f RRU", u.Write, u.Read) }

// Call is one metered call.
type Call struct {
	Op    string // GetItem, PutItem, UpdateItem, Query, BatchWriteItem, BatchGetItem
	Table string
	// Label is the label of the item the call wrote or read (WithLabel), a
	// Query's first evaluated item's; a BatchWriteItem's first item's.
	Label string
	// Units are the call's units by target: TableTarget and index names.
	Units map[string]Units
	// Items is how many items a Query evaluated (its ScannedCount).
	Items int
	// ConditionFailed: the call's condition did not hold.
	ConditionFailed bool
	// Reported is the table's consumed capacity the service returned, and
	// HasReported whether it returned any (a failed call returns none).
	Reported    float64
	HasReported bool
}

// Total is the call's units over its targets.
func (c Call) Total() Units {
	var t Units
	for _, u := range c.Units {
		t = t.Add(u)
	}
	return t
}

// PartitionSecond is one partition key of one target in one second.
type PartitionSecond struct {
	Target string // TableTarget or an index name
	Key    string // the partition key's value
	Second int64  // Unix time
}

// Meter is a metering DynamoDB client. Create it with New. It is safe for
// concurrent use.
type Meter struct {
	inner   API
	schemas map[string]schema
	now     func() time.Time
	label   func(table string, key Item) string

	mu      sync.Mutex
	calls   []Call
	seconds map[PartitionSecond]Units
}

// Option configures a Meter.
type Option func(*Meter)

// WithClock sets the clock of the per-second tally (a simulated run's).
func WithClock(now func() time.Time) Option {
	return func(m *Meter) { m.now = now }
}

// WithLabel names the kind of an item from its table and key (a result, a
// latest item), so that tallies can be split by kind (ByLabel).
func WithLabel(label func(table string, key Item) string) Option {
	return func(m *Meter) { m.label = label }
}

// New returns a Meter of inner that meters the tables whose CreateTable
// requests tables are (dynamo.TableInput: the store's own definition, so the
// meter cannot drift from the schema). A call on another table fails.
func New(inner API, tables []*dynamodb.CreateTableInput, opts ...Option) *Meter {
	m := &Meter{
		inner:   inner,
		schemas: map[string]schema{},
		now:     time.Now,
		label:   func(string, Item) string { return "" },
		seconds: map[PartitionSecond]Units{},
	}
	for _, t := range tables {
		m.schemas[aws.ToString(t.TableName)] = schemaOf(t)
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

func (m *Meter) schema(table *string) (schema, error) {
	s, ok := m.schemas[aws.ToString(table)]
	if !ok {
		return schema{}, fmt.Errorf("dynamometer: table %q is not metered (pass its CreateTable request to New)", aws.ToString(table))
	}
	return s, nil
}

// Reset forgets every tally.
func (m *Meter) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = nil
	m.seconds = map[PartitionSecond]Units{}
}

// record adds a call and its per-partition units.
func (m *Meter) record(c Call, parts map[PartitionSecond]Units) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, c)
	for k, u := range parts {
		m.seconds[k] = m.seconds[k].Add(u)
	}
}

// tally is the units of one call as they are computed.
type tally struct {
	s     schema
	sec   int64
	units map[string]Units
	parts map[PartitionSecond]Units
}

func (m *Meter) newTally(s schema) *tally {
	return &tally{s: s, sec: m.now().Unix(), units: map[string]Units{}, parts: map[PartitionSecond]Units{}}
}

func (t *tally) add(target string, pk types.AttributeValue, u Units) {
	t.units[target] = t.units[target].Add(u)
	k := PartitionSecond{Target: target, Key: valueString(pk), Second: t.sec}
	t.parts[k] = t.parts[k].Add(u)
}

// write tallies the write of one item from old to new (nil: none), or of a
// failed condition (attempted: the image the write would have made, nil
// when unknown).
func (t *tally) write(old, new Item, failed bool, attempted Item) {
	if failed {
		size := max(ItemSize(old), ItemSize(attempted))
		pk := old[t.s.pk]
		if pk == nil {
			pk = attempted[t.s.pk]
		}
		t.add(TableTarget, pk, Units{Write: WriteUnits(size)})
		return
	}
	pk := new[t.s.pk]
	if pk == nil {
		pk = old[t.s.pk]
	}
	t.add(TableTarget, pk, Units{Write: WriteUnits(max(ItemSize(old), ItemSize(new)))})
	for _, ix := range t.s.indexes {
		oe, inOld := t.s.entry(ix, old)
		ne, inNew := t.s.entry(ix, new)
		switch {
		case inOld && inNew && sameKey(ix, oe, ne):
			if !reflect.DeepEqual(oe, ne) {
				t.add(ix.name, ne[ix.pk], Units{Write: WriteUnits(max(ItemSize(oe), ItemSize(ne)))})
			}
		default:
			if inOld {
				t.add(ix.name, oe[ix.pk], Units{Write: WriteUnits(ItemSize(oe))})
			}
			if inNew {
				t.add(ix.name, ne[ix.pk], Units{Write: WriteUnits(ItemSize(ne))})
			}
		}
	}
}

func sameKey(ix index, a, b Item) bool {
	return reflect.DeepEqual(a[ix.pk], b[ix.pk]) && (ix.sk == "" || reflect.DeepEqual(a[ix.sk], b[ix.sk]))
}

// valueString is a key value as text (a binary one in hex).
func valueString(v types.AttributeValue) string {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case *types.AttributeValueMemberN:
		return v.Value
	case *types.AttributeValueMemberB:
		return fmt.Sprintf("%x", v.Value)
	case nil:
		return ""
	}
	return fmt.Sprintf("%v", v)
}

// keyString is a key as text, its attributes in name order.
func keyString(k Item) string {
	names := make([]string, 0, len(k))
	for n := range k {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s=%s;", n, valueString(k[n]))
	}
	return b.String()
}
