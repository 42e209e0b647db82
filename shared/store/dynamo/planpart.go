package dynamo

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo/ddb"
)

// A run planned in shards records each shard's part (PutPlanPart) in an
// item of its own, PART#<run>#<shard> / P: its planned count and its target
// IDs, gzip'd. Each part is its own partition key, not an item of the
// run's: a million targets are some 100 parts of 30 to 100 KB written in
// the same few seconds, several thousand write units, which one partition
// key (1,000 WCU a second) would throttle.
//
// The run's item sums the parts: one UpdateItem per part, ADD pl :n, ps
// {shard}, only while the shard is not in ps, so that a part counts once
// however often it is put, also when a writer stopped between the part
// and the sum (the retry finds the part stored, reads its count, and adds
// it). That is one update per shard, about 100 a tick at a million
// targets: no hot key. Run reads the parts of the shards in ps, in shard
// order; Runs reads the run items only.
//
// A part's IDs over maxPartBytes gzip'd (15,000 IDs of 128 random
// characters are 1.4 MB) are split into chunk items under the part's key,
// P#<nonce>#<chunk>, written before the part, which names their nonce: the
// chunks of a writer that lost the race to another are never read.

// maxPartBytes is the most gzip'd IDs one item holds, with room under
// DynamoDB's 400 KB for its key and other attributes.
const maxPartBytes = 350 << 10

func partPK(runID string, shard int) string {
	return fmt.Sprintf("%s%s#%06d", prefixPart, runID, shard)
}

func partKey(runID string, shard int) item { return ddb.Key(partPK(runID, shard), skPart) }

// PutPlanPart records the part of a run one shard planned, once: a part
// that is stored is kept (created is false), and the run's planned count
// includes it once either way.
func (s *Store) PutPlanPart(ctx context.Context, p store.PlanPart) (bool, error) {
	created, err := s.putPlanPart(ctx, p)
	if err != nil {
		return false, fmt.Errorf("dynamo: put plan part %d of run %q: %w", p.Shard, p.RunID, err)
	}
	return created, nil
}

func (s *Store) putPlanPart(ctx context.Context, p store.PlanPart) (bool, error) {
	if err := store.CheckPlanPart(p); err != nil {
		return false, err
	}
	ids, err := encodeAllIDs(p.Targets)
	if err != nil {
		return false, fmt.Errorf("encode targets: %w", err)
	}
	u := update{
		set:    []string{"#rid = :rid", "#pl = :pl"},
		names:  map[string]string{"#pk": AttrPK, "#rid": attrRunID, "#pl": attrPlanned},
		values: map[string]types.AttributeValue{":rid": ddb.S(p.RunID), ":pl": ddb.N(int64(p.Planned))},
	}
	switch {
	case len(ids) == 0:
	case len(ids) <= maxPartBytes:
		u.set = append(u.set, "#tg = :tg")
		u.names["#tg"] = attrTargets
		u.values[":tg"] = &types.AttributeValueMemberB{Value: ids}
	default:
		nonce := fmt.Sprintf("%016x", rand.Uint64())
		n, err := s.putChunks(ctx, p, nonce, ids)
		if err != nil {
			return false, err
		}
		u.set = append(u.set, "#nc = :nc", "#nn = :nn")
		u.names["#nc"], u.names["#nn"] = attrChunks, attrNonce
		u.values[":nc"], u.values[":nn"] = ddb.N(int64(n)), ddb.S(nonce)
	}
	// An upsert that creates the part or fails: UpdateItem, so that the
	// planner's role needs no PutItem.
	in := u.input(s.table, partKey(p.RunID, p.Shard))
	in.ConditionExpression = aws.String("attribute_not_exists(#pk)")
	planned, created := p.Planned, true
	if _, err := s.db.UpdateItem(ctx, in); err != nil {
		if !ddb.IsConditionFailed(err) {
			return false, fmt.Errorf("part: %w", err)
		}
		// Stored before: the run counts the stored part's jobs, whichever
		// writer added them (maybe none yet, if the writer stopped).
		created = false
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:                aws.String(s.table),
			Key:                      partKey(p.RunID, p.Shard),
			ProjectionExpression:     aws.String("#pl"),
			ExpressionAttributeNames: map[string]string{"#pl": attrPlanned},
			ConsistentRead:           aws.Bool(true),
		})
		if err != nil {
			return false, fmt.Errorf("read the stored part: %w", err)
		}
		n, err := item(out.Item).Num(attrPlanned)
		if err != nil {
			return false, fmt.Errorf("stored part: %w", err)
		}
		planned = int(n)
	}
	if err := s.addPart(ctx, p.RunID, p.Shard, planned); err != nil {
		return false, fmt.Errorf("add the part to the run: %w", err)
	}
	return created, nil
}

// putChunks stores a large part's IDs in chunk items keyed by nonce and
// returns how many.
func (s *Store) putChunks(ctx context.Context, p store.PlanPart, nonce string, ids []byte) (int, error) {
	var chunks [][]byte
	for b := ids; len(b) > 0; b = b[min(len(b), maxPartBytes):] {
		chunks = append(chunks, b[:min(len(b), maxPartBytes)])
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, c := range chunks {
		g.Go(func() error {
			_, err := s.db.UpdateItem(gctx, &dynamodb.UpdateItemInput{
				TableName:                 aws.String(s.table),
				Key:                       ddb.Key(partPK(p.RunID, p.Shard), chunkSK(nonce, i)),
				UpdateExpression:          aws.String("SET #tg = :tg"),
				ExpressionAttributeNames:  map[string]string{"#tg": attrTargets},
				ExpressionAttributeValues: map[string]types.AttributeValue{":tg": &types.AttributeValueMemberB{Value: c}},
			})
			if err != nil {
				return fmt.Errorf("chunk %d of %d: %w", i, len(chunks), err)
			}
			return nil
		})
	}
	return len(chunks), g.Wait()
}

func chunkSK(nonce string, i int) string { return fmt.Sprintf("%s%s#%03d", prefixPartChunk, nonce, i) }

// addPart adds a part's planned count to its run's item, once: ADD pl and
// the shard to ps unless ps holds it. The run item is created if it is
// missing (a part put before PutRun); it is a run once PutRun or a result
// gives it a run ID.
func (s *Store) addPart(ctx context.Context, runID string, shard, planned int) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      runKey(runID),
		UpdateExpression:         aws.String("ADD #pl :n, #ps :shard"),
		ConditionExpression:      aws.String("NOT contains(#ps, :sh)"),
		ExpressionAttributeNames: map[string]string{"#pl": attrPlanned, "#ps": attrPartShards},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":n":     ddb.N(int64(planned)),
			":shard": &types.AttributeValueMemberNS{Value: []string{strconv.Itoa(shard)}},
			":sh":    ddb.N(int64(shard)),
		},
	})
	if err != nil && !ddb.IsConditionFailed(err) {
		return err
	}
	return nil
}

// partShards reads the shards of a run item's ps, sorted.
func partShards(it item) ([]int, error) {
	v, ok := it[attrPartShards]
	if !ok {
		return nil, nil
	}
	ns, ok := v.(*types.AttributeValueMemberNS)
	if !ok {
		return nil, fmt.Errorf("attribute %s is %T, want a number set", attrPartShards, v)
	}
	out := make([]int, len(ns.Value))
	for i, n := range ns.Value {
		var err error
		if out[i], err = strconv.Atoi(n); err != nil {
			return nil, fmt.Errorf("attribute %s: %w", attrPartShards, err)
		}
	}
	slices.Sort(out)
	return out, nil
}

// part is a plan part as Run reads it.
type part struct {
	planned int
	targets []string
	whole   bool // targets are as many as planned
}

// readParts reads the parts of a run's shards (in their order): a strongly
// consistent Query of each part's partition, the part and its chunks.
func (s *Store) readParts(ctx context.Context, runID string, shards []int) ([]part, error) {
	parts := make([]part, len(shards))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(readParallelism)
	for i, sh := range shards {
		g.Go(func() error {
			in := &dynamodb.QueryInput{
				TableName:                 aws.String(s.table),
				KeyConditionExpression:    aws.String("#pk = :pk"),
				ExpressionAttributeNames:  map[string]string{"#pk": AttrPK},
				ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ddb.S(partPK(runID, sh))},
				ConsistentRead:            aws.Bool(true),
			}
			its, err := query(gctx, s, in, 0, func(it item) (item, error) { return it, nil })
			if err != nil {
				return fmt.Errorf("part %d: %w", sh, err)
			}
			if parts[i], err = decodePart(its); err != nil {
				return fmt.Errorf("part %d: %w", sh, err)
			}
			return nil
		})
	}
	return parts, g.Wait()
}

// decodePart reads a part from the items of its partition (the part and
// its chunks, by SK; chunks of other nonces are a losing writer's).
func decodePart(its []item) (part, error) {
	var head item
	chunks := map[string][]byte{}
	for _, it := range its {
		sk := it.Str(AttrSK)
		if sk == skPart {
			head = it
			continue
		}
		if b, ok := it[attrTargets].(*types.AttributeValueMemberB); ok {
			chunks[sk] = b.Value
		}
	}
	if head == nil {
		return part{}, nil // counted by the run, not stored (none should be)
	}
	n, err := head.Num(attrPlanned)
	if err != nil {
		return part{}, err
	}
	p := part{planned: int(n)}
	var ids []byte
	if b, ok := head[attrTargets].(*types.AttributeValueMemberB); ok {
		ids = b.Value
	} else if nc := head.NumOr0(attrChunks); nc > 0 {
		nonce := head.Str(attrNonce)
		for i := range int(nc) {
			c, ok := chunks[chunkSK(nonce, i)]
			if !ok {
				return p, nil // a chunk is missing: the part's targets are unknown
			}
			ids = append(ids, c...)
		}
	}
	if len(ids) > 0 {
		if p.targets, err = ddb.DecodeIDs(ids); err != nil {
			return part{}, fmt.Errorf("targets: %w", err)
		}
	}
	p.whole = len(p.targets) == p.planned
	return p, nil
}

// encodeAllIDs is ddb.EncodeIDs without its cap: gzip of the IDs joined by
// "\n" (nil for none).
func encodeAllIDs(ids []string) ([]byte, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		if i > 0 {
			if _, err := zw.Write([]byte{'\n'}); err != nil {
				return nil, err
			}
		}
		if _, err := io.WriteString(zw, id); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
