package dynamov1

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo/ddb"
)

// PutResult stores r once per (target ID, run ID). The first put counts in
// its run (creating the run if no PutRun came first), sets r's Changed flag
// against the target's previous ok result, recomputes the Changed flag of
// the target's next ok result, and moves the target's latest result forward
// if r is later. A later put of the same key reports Duplicate and stores
// nothing new, but completes those steps if an earlier put failed before
// it finished them. r.Changed is ignored: the store sets it.
//
// Cost of a first put, in order (results arriving in time order): one
// UpdateItem of the run item, one PutItem of the result (also written to
// GSI1 and LSI1), three strongly consistent LSI1 queries of a few items
// (previous result before and after the put, next result), one PutItem of
// the latest item (also written to GSI1) and one GetItem; a result that
// arrives out of order adds an UpdateItem or two.
//
// A put whose response is lost and whose retry (by the SDK) then finds the
// stored item reports Duplicate, though it was the one that stored it; the
// table is right either way.
func (s *Store) PutResult(ctx context.Context, r job.Result) (store.Outcome, error) {
	if err := r.Validate(); err != nil {
		return store.Outcome{}, fmt.Errorf("dynamo: put result %s/%s: %w", r.TargetID, r.RunID, err)
	}
	out, err := s.putResult(ctx, r)
	if err != nil {
		return store.Outcome{}, fmt.Errorf("dynamo: put result %s/%s: %w", r.TargetID, r.RunID, err)
	}
	return out, nil
}

func (s *Store) putResult(ctx context.Context, r job.Result) (store.Outcome, error) {
	now := s.now()
	// The run item first: a result never exists without its run.
	if _, err := s.db.UpdateItem(ctx, runUpdate(r.RunID, r.Schedule, r.ScheduledAt, now).input(s.table, runKey(r.RunID))); err != nil {
		return store.Outcome{}, fmt.Errorf("create run: %w", err)
	}
	// Compute Changed before the put, so that in the usual case the item is
	// right when it is written; link checks it again after the put.
	// A not-modified result without fields gets the previous ok result's
	// (and its content hash, if it has none) when both were extracted with
	// the same rules; otherwise it keeps none, and no rules hash, so that
	// the next plan fetches the page unconditionally (see package store).
	var (
		changed bool
		prev    neighbour
		found   bool
		fill    = r.NotModified && len(r.Fields) == 0
	)
	if r.Status == job.StatusOK {
		var err error
		prev, found, err = s.neighbourOK(ctx, r.TargetID, orderKey(r.ScheduledAt, r.RunID), lookup{side: before, fields: fill})
		if err != nil {
			return store.Outcome{}, fmt.Errorf("read previous result: %w", err)
		}
		changed = found && prev.hash != r.ContentHash && !r.NotModified
	}
	it, err := resultItem(r, changed, prev.key, now, s.expiresAt(now))
	if err != nil {
		return store.Outcome{}, err
	}
	switch {
	case fill && found && prev.rules == r.RulesHash:
		delete(it, attrFields)
		it.SetS(attrFields, prev.fields)
		it.SetS(attrTruncated, prev.truncated)
		if r.ContentHash == "" {
			it.SetS(attrContentHash, prev.hash)
		}
	case fill:
		delete(it, attrRulesHash)
	}
	var out store.Outcome
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     it,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK},
	})
	switch {
	case ddb.IsConditionFailed(err):
		out.Duplicate = true
		stored, found, err := s.getItem(ctx, it.Key())
		if err != nil {
			return store.Outcome{}, fmt.Errorf("read stored duplicate: %w", err)
		}
		if !found {
			return store.Outcome{}, errors.New("read stored duplicate: the put found an item that is gone")
		}
		it = stored
	case err != nil:
		return store.Outcome{}, fmt.Errorf("put: %w", err)
	}
	if err := s.link(ctx, it, &out); err != nil {
		return store.Outcome{}, err
	}
	return out, nil
}

// neighbour is the part of a result item that its neighbours need.
type neighbour struct {
	key    string // LSI1SK
	run    string
	hash   string
	prev   string
	nm     bool   // a not-modified result: never changed
	fields string // JSON text, only when asked for
	// truncated is the JSON text of the fields' Truncated, only when fields
	// are asked for.
	truncated string
	rules     string // rules hash, only when asked for
}

// link does what follows the put of the stored result item it (or finds a
// duplicate): relinks the target's chain of ok results and moves its
// latest item, and sets out's Changed and Latest.
//
// A Changed flag is written with the order key it was computed against
// (prev_ok), only over an older one, so it moves only towards the truth.
// Each writer relinks both its neighbours after its put; of two neighbours
// written at once at least one sees the other, so the last word is right.
func (s *Store) link(ctx context.Context, it item, out *store.Outcome) error {
	var (
		target = it.Str(attrTargetID)
		run    = it.Str(attrRunID)
		self   = it.Str(AttrLSI1SK)
		ok     = it.Str(attrStatus) == string(job.StatusOK)
		nm     = it.Boolean(attrNotModified)
		stale  bool // another writer set its Changed flag after it was read
	)
	if ok {
		hash := it.Str(attrContentHash)
		p, found, err := s.neighbourOK(ctx, target, self, lookup{side: before})
		if err != nil {
			return fmt.Errorf("read previous result: %w", err)
		}
		if found && p.key > it.Str(attrPrev) {
			c := p.hash != hash && !nm
			applied, err := s.setChanged(ctx, target, run, c, p.key)
			if err != nil {
				return fmt.Errorf("set changed: %w", err)
			}
			if applied {
				it[attrChanged], it[attrPrev] = ddb.Bool(c), ddb.S(p.key)
			} else {
				stale = true
			}
		}
		// The next ok result's previous is now this one (unless it already
		// knows this one or a later one).
		n, found, err := s.neighbourOK(ctx, target, self, lookup{side: after})
		if err != nil {
			return fmt.Errorf("read next result: %w", err)
		}
		if found && n.prev < self {
			if _, err := s.setChanged(ctx, target, n.run, n.hash != hash && !n.nm, self); err != nil {
				return fmt.Errorf("recompute next result's changed: %w", err)
			}
		}
	}
	moved, err := s.moveLatest(ctx, it)
	if err != nil {
		return fmt.Errorf("move latest: %w", err)
	}
	out.Latest = moved
	if ok && (moved || stale) {
		// Another writer may have set the flag since we copied it.
		cur, found, err := s.getItem(ctx, it.Key())
		if err != nil {
			return fmt.Errorf("read result: %w", err)
		}
		if found {
			if moved && cur.Str(attrPrev) > it.Str(attrPrev) {
				if err := s.syncLatest(ctx, target, run, cur.Boolean(attrChanged), cur.Str(attrPrev)); err != nil {
					return fmt.Errorf("copy changed to latest: %w", err)
				}
			}
			it = cur
		}
	}
	out.Changed = it.Boolean(attrChanged)
	return nil
}

// side is which neighbour of an order key neighbourOK reads.
type side int

const (
	before side = iota // the nearest ok result before the key
	after              // the nearest ok result after it
)

// lookup is what neighbourOK reads: the neighbour on one side, and its
// fields (with their truncation) and rules hash too when fields (the read
// costs the same: DynamoDB charges for whole items whatever the
// projection).
type lookup struct {
	side   side
	fields bool
}

// neighbourOK returns the target's ok result nearest key on l's side, by a
// strongly consistent query of LSI1.
func (s *Store) neighbourOK(ctx context.Context, targetID, key string, l lookup) (neighbour, bool, error) {
	cmp := ">"
	if l.side == before {
		cmp = "<"
	}
	projection := "#lsk, #rid, #hash, #prev, #st, #nm"
	names := map[string]string{
		"#pk": AttrPK, "#lsk": AttrLSI1SK, "#st": attrStatus, "#rid": attrRunID,
		"#hash": attrContentHash, "#prev": attrPrev, "#nm": attrNotModified,
	}
	if l.fields {
		projection += ", #f, #rh, #tr"
		names["#f"], names["#rh"], names["#tr"] = attrFields, attrRulesHash, attrTruncated
	}
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		IndexName:                aws.String(IndexLSI1),
		KeyConditionExpression:   aws.String("#pk = :pk AND #lsk " + cmp + " :k"),
		FilterExpression:         aws.String("#st = :ok"),
		ProjectionExpression:     aws.String(projection),
		ExpressionAttributeNames: names,
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": ddb.S(targetPK(targetID)), ":k": ddb.S(key), ":ok": ddb.S(string(job.StatusOK)),
		},
		ScanIndexForward: aws.Bool(l.side == after),
		ConsistentRead:   aws.Bool(true),
		// Usually the nearest result is ok; a small page keeps the read
		// cost of the filter low when it is.
		Limit: aws.Int32(4),
	}
	ns, err := query(ctx, s, in, 1, func(it item) (neighbour, error) {
		return neighbour{key: it.Str(AttrLSI1SK), run: it.Str(attrRunID), hash: it.Str(attrContentHash), prev: it.Str(attrPrev),
			nm: it.Boolean(attrNotModified), fields: it.Str(attrFields), truncated: it.Str(attrTruncated), rules: it.Str(attrRulesHash)}, nil
	})
	if err != nil || len(ns) == 0 {
		return neighbour{}, false, err
	}
	return ns[0], true, nil
}

// setChanged sets a stored result's Changed flag, computed against the ok
// result whose order key is prev, unless the stored flag was computed
// against that one or a later one (or the result is missing). When it
// writes the flag it copies it to the target's latest item too, if that
// holds this result.
func (s *Store) setChanged(ctx context.Context, targetID, runID string, changed bool, prev string) (bool, error) {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       ddb.Key(targetPK(targetID), resultSK(runID)),
		UpdateExpression:          aws.String("SET #chg = :chg, #prev = :prev"),
		ConditionExpression:       aws.String("attribute_exists(#pk) AND (attribute_not_exists(#prev) OR #prev < :prev)"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#chg": attrChanged, "#prev": attrPrev},
		ExpressionAttributeValues: map[string]types.AttributeValue{":chg": ddb.Bool(changed), ":prev": ddb.S(prev)},
	})
	if ddb.IsConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, s.syncLatest(ctx, targetID, runID, changed, prev)
}

// syncLatest copies a result's Changed flag to its target's latest item,
// if that holds the result with a flag computed against an older one.
func (s *Store) syncLatest(ctx context.Context, targetID, runID string, changed bool, prev string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      ddb.Key(targetPK(targetID), skLatest),
		UpdateExpression:         aws.String("SET #chg = :chg, #prev = :prev"),
		ConditionExpression:      aws.String("#rid = :rid AND (attribute_not_exists(#prev) OR #prev < :prev)"),
		ExpressionAttributeNames: map[string]string{"#rid": attrRunID, "#chg": attrChanged, "#prev": attrPrev},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":rid": ddb.S(runID), ":chg": ddb.Bool(changed), ":prev": ddb.S(prev),
		},
	})
	if err != nil && !ddb.IsConditionFailed(err) {
		return err
	}
	return nil
}

// moveLatest makes the result item res its target's latest, unless the
// latest is of a later (scheduled time, run ID) or is this result already.
func (s *Store) moveLatest(ctx context.Context, res item) (bool, error) {
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.table),
		Item:                latestItem(res),
		ConditionExpression: aws.String("attribute_not_exists(#pk) OR #at < :at OR (#at = :at AND #rid < :rid)"),
		ExpressionAttributeNames: map[string]string{
			"#pk": AttrPK, "#at": attrScheduledAt, "#rid": attrRunID,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":at": res[attrScheduledAt], ":rid": res[attrRunID],
		},
	})
	if ddb.IsConditionFailed(err) {
		return false, nil
	}
	return err == nil, err
}
