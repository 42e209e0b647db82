package dynamometer

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

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

// finish records c, a call on table for the item at key, with t's units
// and the capacity DynamoDB reported in *cc (cc nil: no output), which it
// then takes out of the output when the caller did not ask for it (hide).
func (m *Meter) finish(c Call, table *string, key Item, t *tally, cc **types.ConsumedCapacity, hide bool) {
	c.Table = aws.ToString(table)
	c.Label = m.label(c.Table, key)
	c.Units = t.units
	if cc != nil {
		c.Reported, c.HasReported = reported(*cc)
		if hide {
			*cc = nil
		}
	}
	m.record(c, t.parts)
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
	m.finish(Call{Op: "GetItem"}, in.TableName, in.Key, t, &out.ConsumedCapacity, hide)
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
	var cc **types.ConsumedCapacity
	if out != nil {
		cc = &out.ConsumedCapacity
	}
	m.finish(Call{Op: "PutItem", ConditionFailed: failed}, in.TableName, key, t, cc, hide)
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
	var cc **types.ConsumedCapacity
	if out != nil {
		cc = &out.ConsumedCapacity
	}
	m.finish(Call{Op: "UpdateItem", ConditionFailed: failed}, in.TableName, in.Key, t, cc, hide)
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

// BatchGetItem forwards the call and meters each item it returned as a
// GetItem of its own: each item's whole size (whatever the projection) in
// 4 KB units, halved when eventually consistent (DynamoDB Developer Guide,
// "Read consistency" and "BatchGetItem"). Keys left unprocessed or of no
// item cost nothing here.
func (m *Meter) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	req := *in
	var hide bool
	req.ReturnConsumedCapacity, hide = askCapacity(in.ReturnConsumedCapacity)
	out, err := m.inner.BatchGetItem(ctx, &req, optFns...)
	if err != nil {
		return out, err
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
	for table, items := range out.Responses {
		s, err := m.schema(aws.String(table))
		if err != nil {
			return nil, err
		}
		consistent := aws.ToBool(in.RequestItems[table].ConsistentRead)
		t := m.newTally(s)
		var first Item
		for _, it := range items {
			k := s.key(it)
			full, err := m.current(ctx, aws.String(table), k)
			if err != nil {
				return nil, err
			}
			t.add(TableTarget, k[s.pk], Units{Read: ReadUnits(ItemSize(full), consistent)})
			if first == nil {
				first = k
			}
		}
		c := Call{Op: "BatchGetItem", Table: table, Label: m.label(table, first), Units: t.units, Items: len(items)}
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
