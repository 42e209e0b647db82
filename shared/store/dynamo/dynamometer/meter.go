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
	"errors"
	"fmt"
	"reflect"
	"regexp"
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
	Op    string // GetItem, PutItem, UpdateItem, Query, BatchWriteItem
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

// Calls returns the metered calls, in order.
func (m *Meter) Calls() []Call {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Call(nil), m.calls...)
}

// Total is the units of every call.
func (m *Meter) Total() Units {
	var t Units
	for _, c := range m.Calls() {
		t = t.Add(c.Total())
	}
	return t
}

// ByTarget is the units by target: TableTarget and each index.
func (m *Meter) ByTarget() map[string]Units {
	out := map[string]Units{}
	for _, c := range m.Calls() {
		for t, u := range c.Units {
			out[t] = out[t].Add(u)
		}
	}
	return out
}

// ByLabel is the units by the label of the item each call wrote or read.
func (m *Meter) ByLabel() map[string]Units {
	out := map[string]Units{}
	for _, c := range m.Calls() {
		out[c.Label] = out[c.Label].Add(c.Total())
	}
	return out
}

// ByOp is the units by operation.
func (m *Meter) ByOp() map[string]Units {
	out := map[string]Units{}
	for _, c := range m.Calls() {
		out[c.Op] = out[c.Op].Add(c.Total())
	}
	return out
}

// PerSecond is the histogram of units by partition key and second.
func (m *Meter) PerSecond() map[PartitionSecond]Units {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[PartitionSecond]Units, len(m.seconds))
	for k, v := range m.seconds {
		out[k] = v
	}
	return out
}

// Hottest returns the partition key and second with the most write units,
// and the one with the most read units (ties broken by key, for stable
// reports).
func (m *Meter) Hottest() (write, read PartitionSecond, units Units) {
	ps := m.PerSecond()
	keys := make([]PartitionSecond, 0, len(ps))
	for k := range ps {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.Target != b.Target {
			return a.Target < b.Target
		}
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		return a.Second < b.Second
	})
	for _, k := range keys {
		if u := ps[k]; u.Write > units.Write {
			write, units.Write = k, u.Write
		}
		if u := ps[k]; u.Read > units.Read {
			read, units.Read = k, u.Read
		}
	}
	return write, read, units
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

// current reads an item as stored, strongly consistent, unmetered.
func (m *Meter) current(ctx context.Context, table *string, key Item) (Item, error) {
	out, err := m.inner.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("dynamometer: read %s: %w", keyString(key), err)
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	return out.Item, nil
}

// reported returns the table's units of a returned ConsumedCapacity.
func reported(cc *types.ConsumedCapacity) (float64, bool) {
	if cc == nil {
		return 0, false
	}
	if cc.Table != nil && cc.Table.CapacityUnits != nil {
		return *cc.Table.CapacityUnits, true
	}
	if cc.CapacityUnits != nil {
		return *cc.CapacityUnits, true
	}
	return 0, false
}

// askCapacity is the ReturnConsumedCapacity the meter sends: the caller's,
// or INDEXES (whose answer the meter then keeps from the caller).
func askCapacity(v types.ReturnConsumedCapacity) (types.ReturnConsumedCapacity, bool) {
	if v == "" || v == types.ReturnConsumedCapacityNone {
		return types.ReturnConsumedCapacityIndexes, true
	}
	return v, false
}

// GetItem forwards the call and meters the read of the item.
func (m *Meter) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	s, err := m.schema(in.TableName)
	if err != nil {
		return nil, err
	}
	req := *in
	var hide bool
	req.ReturnConsumedCapacity, hide = askCapacity(in.ReturnConsumedCapacity)
	out, err := m.inner.GetItem(ctx, &req, optFns...)
	if err != nil {
		return out, err
	}
	// The whole item is read, whatever the projection.
	size := 0
	if len(out.Item) > 0 {
		if req.ProjectionExpression != nil {
			full, err := m.current(ctx, in.TableName, in.Key)
			if err != nil {
				return nil, err
			}
			size = ItemSize(full)
		} else {
			size = ItemSize(out.Item)
		}
	}
	t := m.newTally(s)
	t.add(TableTarget, in.Key[s.pk], Units{Read: ReadUnits(size, aws.ToBool(in.ConsistentRead))})
	c := Call{Op: "GetItem", Table: aws.ToString(in.TableName), Label: m.label(aws.ToString(in.TableName), in.Key), Units: t.units}
	c.Reported, c.HasReported = reported(out.ConsumedCapacity)
	if hide {
		out.ConsumedCapacity = nil
	}
	m.record(c, t.parts)
	return out, nil
}

// PutItem forwards the call and meters the write of the item.
func (m *Meter) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	s, err := m.schema(in.TableName)
	if err != nil {
		return nil, err
	}
	key := s.key(in.Item)
	old, err := m.current(ctx, in.TableName, key)
	if err != nil {
		return nil, err
	}
	req := *in
	var hide bool
	req.ReturnConsumedCapacity, hide = askCapacity(in.ReturnConsumedCapacity)
	out, err := m.inner.PutItem(ctx, &req, optFns...)
	failed := isConditionFailed(err)
	if err != nil && !failed {
		return out, err
	}
	t := m.newTally(s)
	if failed {
		t.write(old, nil, true, in.Item)
	} else {
		t.write(old, in.Item, false, nil)
	}
	c := Call{Op: "PutItem", Table: aws.ToString(in.TableName), Label: m.label(aws.ToString(in.TableName), key), Units: t.units, ConditionFailed: failed}
	if out != nil {
		c.Reported, c.HasReported = reported(out.ConsumedCapacity)
		if hide {
			out.ConsumedCapacity = nil
		}
	}
	m.record(c, t.parts)
	return out, err
}

// UpdateItem forwards the call and meters the write of the item, from its
// image before to its image after.
func (m *Meter) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	s, err := m.schema(in.TableName)
	if err != nil {
		return nil, err
	}
	old, err := m.current(ctx, in.TableName, in.Key)
	if err != nil {
		return nil, err
	}
	req := *in
	var hide bool
	req.ReturnConsumedCapacity, hide = askCapacity(in.ReturnConsumedCapacity)
	out, err := m.inner.UpdateItem(ctx, &req, optFns...)
	failed := isConditionFailed(err)
	if err != nil && !failed {
		return out, err
	}
	t := m.newTally(s)
	if failed {
		// The image the update would have made is unknown: the old one's
		// size counts, at least 1 unit.
		t.write(old, nil, true, in.Key)
	} else {
		cur, err := m.current(ctx, in.TableName, in.Key)
		if err != nil {
			return nil, err
		}
		t.write(old, cur, false, nil)
	}
	c := Call{Op: "UpdateItem", Table: aws.ToString(in.TableName), Label: m.label(aws.ToString(in.TableName), in.Key), Units: t.units, ConditionFailed: failed}
	if out != nil {
		c.Reported, c.HasReported = reported(out.ConsumedCapacity)
		if hide {
			out.ConsumedCapacity = nil
		}
	}
	m.record(c, t.parts)
	return out, err
}

// BatchWriteItem forwards the call and meters each processed put and
// delete as a PutItem or DeleteItem of its own; the items DynamoDB left
// unprocessed cost nothing.
func (m *Meter) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	type write struct {
		table    string
		key, new Item
		old      Item
	}
	var writes []write
	for table, reqs := range in.RequestItems {
		s, err := m.schema(aws.String(table))
		if err != nil {
			return nil, err
		}
		for _, r := range reqs {
			var w write
			switch {
			case r.PutRequest != nil:
				w = write{table: table, key: s.key(r.PutRequest.Item), new: r.PutRequest.Item}
			case r.DeleteRequest != nil:
				w = write{table: table, key: r.DeleteRequest.Key}
			default:
				continue
			}
			if w.old, err = m.current(ctx, aws.String(table), w.key); err != nil {
				return nil, err
			}
			writes = append(writes, w)
		}
	}
	req := *in
	var hide bool
	req.ReturnConsumedCapacity, hide = askCapacity(in.ReturnConsumedCapacity)
	out, err := m.inner.BatchWriteItem(ctx, &req, optFns...)
	if err != nil {
		return out, err
	}
	unprocessed := map[string]bool{}
	for table, reqs := range out.UnprocessedItems {
		s := m.schemas[table]
		for _, r := range reqs {
			switch {
			case r.PutRequest != nil:
				unprocessed[table+" "+keyString(s.key(r.PutRequest.Item))] = true
			case r.DeleteRequest != nil:
				unprocessed[table+" "+keyString(r.DeleteRequest.Key)] = true
			}
		}
	}
	byTable := map[string]*tally{}
	var first Item
	var firstTable string
	for _, w := range writes {
		if unprocessed[w.table+" "+keyString(w.key)] {
			continue
		}
		t := byTable[w.table]
		if t == nil {
			t = m.newTally(m.schemas[w.table])
			byTable[w.table] = t
		}
		t.write(w.old, w.new, false, nil)
		if first == nil {
			first, firstTable = w.key, w.table
		}
	}
	rep := map[string]float64{}
	for _, cc := range out.ConsumedCapacity {
		if u, ok := reported(&cc); ok {
			rep[aws.ToString(cc.TableName)] = u
		}
	}
	if hide {
		out.ConsumedCapacity = nil
	}
	for table, t := range byTable {
		c := Call{Op: "BatchWriteItem", Table: table, Units: t.units}
		if table == firstTable {
			c.Label = m.label(table, first)
		}
		c.Reported, c.HasReported = rep[table]
		m.record(c, t.parts)
	}
	return out, nil
}

// Query forwards the call and meters the read of the items it evaluated.
func (m *Meter) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	s, err := m.schema(in.TableName)
	if err != nil {
		return nil, err
	}
	target, pkName := TableTarget, s.pk
	if name := aws.ToString(in.IndexName); name != "" {
		ix, ok := s.index(name)
		if !ok {
			return nil, fmt.Errorf("dynamometer: table %s has no index %s", aws.ToString(in.TableName), name)
		}
		target, pkName = ix.name, ix.pk
	}
	req := *in
	var hide bool
	req.ReturnConsumedCapacity, hide = askCapacity(in.ReturnConsumedCapacity)
	out, err := m.inner.Query(ctx, &req, optFns...)
	if err != nil {
		return out, err
	}
	evaluated, err := m.evaluated(ctx, in, out)
	if err != nil {
		return nil, err
	}
	size := 0
	for _, it := range evaluated {
		size += ItemSize(it)
	}
	pk := partitionValue(in, pkName)
	label := ""
	if len(evaluated) > 0 {
		label = m.label(aws.ToString(in.TableName), s.key(evaluated[0]))
	}
	t := m.newTally(s)
	t.add(target, pk, Units{Read: ReadUnits(size, aws.ToBool(in.ConsistentRead))})
	c := Call{Op: "Query", Table: aws.ToString(in.TableName), Label: label, Units: t.units, Items: len(evaluated)}
	if out.ConsumedCapacity != nil {
		// A query of an index reports the index's units, not the table's.
		u := 0.0
		for _, cap := range []map[string]types.Capacity{out.ConsumedCapacity.GlobalSecondaryIndexes, out.ConsumedCapacity.LocalSecondaryIndexes} {
			if v, ok := cap[target]; ok && v.CapacityUnits != nil {
				u += *v.CapacityUnits
			}
		}
		if target == TableTarget {
			u, _ = reported(out.ConsumedCapacity)
		}
		c.Reported, c.HasReported = u, true
	}
	if hide {
		out.ConsumedCapacity = nil
	}
	m.record(c, t.parts)
	return out, nil
}

// evaluated returns the items a query read: the same query without its
// filter and projection, limited to the ScannedCount.
func (m *Meter) evaluated(ctx context.Context, in *dynamodb.QueryInput, out *dynamodb.QueryOutput) ([]Item, error) {
	if in.FilterExpression == nil && in.ProjectionExpression == nil && in.Select == "" {
		return out.Items, nil
	}
	if out.ScannedCount == 0 {
		return nil, nil
	}
	kc := aws.ToString(in.KeyConditionExpression)
	q := &dynamodb.QueryInput{
		TableName:                 in.TableName,
		IndexName:                 in.IndexName,
		KeyConditionExpression:    in.KeyConditionExpression,
		ExpressionAttributeNames:  usedNames(in.ExpressionAttributeNames, kc),
		ExpressionAttributeValues: usedValues(in.ExpressionAttributeValues, kc),
		ExclusiveStartKey:         in.ExclusiveStartKey,
		ScanIndexForward:          in.ScanIndexForward,
		ConsistentRead:            in.ConsistentRead,
		Limit:                     aws.Int32(out.ScannedCount),
	}
	res, err := m.inner.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("dynamometer: read a query's evaluated items: %w", err)
	}
	return res.Items, nil
}

var tokens = regexp.MustCompile(`[#:][A-Za-z0-9_]+`)

func usedNames(names map[string]string, expr string) map[string]string {
	if names == nil {
		return nil
	}
	out := map[string]string{}
	for _, t := range tokens.FindAllString(expr, -1) {
		if v, ok := names[t]; ok {
			out[t] = v
		}
	}
	return out
}

func usedValues(values map[string]types.AttributeValue, expr string) map[string]types.AttributeValue {
	if values == nil {
		return nil
	}
	out := map[string]types.AttributeValue{}
	for _, t := range tokens.FindAllString(expr, -1) {
		if v, ok := values[t]; ok {
			out[t] = v
		}
	}
	return out
}

var equality = regexp.MustCompile(`([#A-Za-z0-9_]+)\s*=\s*(:[A-Za-z0-9_]+)`)

// partitionValue is the partition key value of a query's key condition.
func partitionValue(in *dynamodb.QueryInput, pkName string) types.AttributeValue {
	for _, m := range equality.FindAllStringSubmatch(aws.ToString(in.KeyConditionExpression), -1) {
		name := m[1]
		if strings.HasPrefix(name, "#") {
			name = in.ExpressionAttributeNames[name]
		}
		if name == pkName {
			return in.ExpressionAttributeValues[m[2]]
		}
	}
	return nil
}

func isConditionFailed(err error) bool {
	var c *types.ConditionalCheckFailedException
	return errors.As(err, &c)
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
