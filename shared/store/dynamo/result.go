package dynamo

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

// PutResult stores r once per (target ID, run ID). The first put creates
// the run if no PutRun came first, sets r's Changed flag against the
// target's previous ok result, recomputes the Changed flag of the target's
// next ok result, and adds the target to the target list when it is its
// first result. A later put of the same key reports Duplicate and stores
// nothing new, but completes those steps if an earlier put failed before it
// finished them. r.Changed is ignored: the store sets it.
//
// Writes of a first put that arrives in time order: one PutItem of the
// result (the table, and its small entry in GSI1). The fields are not
// stored again when they are the previous ok result's (fields.go). Reads:
// two queries of a few of the target's results (before the put, eventually
// consistent, and around it after the put, strongly consistent), and a
// GetItem of the run item the first time this Store sees the run.
// docs/aws.md has the measured units.
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
	if err := s.ensureRun(ctx, r, now); err != nil {
		return store.Outcome{}, fmt.Errorf("create run: %w", err)
	}
	self := resultSK(r.ScheduledAt, r.RunID)
	// Compute Changed (and where the fields are) before the put, so that in
	// the usual case the item is right when it is written; link checks it
	// again after the put.
	prev, err := s.precedingOK(ctx, r.TargetID, self)
	if err != nil {
		return store.Outcome{}, fmt.Errorf("read previous result: %w", err)
	}
	expires := s.expiresAt(now)
	changed, fl, err := s.content(ctx, &r, prev, expires)
	if err != nil {
		return store.Outcome{}, err
	}
	if fl.holder == "" && r.Fields != nil {
		expires = s.holderExpiresAt(now) // it holds its fields
	}
	it, err := resultItem(r, changed, prev.ok.sk, fl, now, expires)
	if err != nil {
		return store.Outcome{}, err
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
	if !prev.some {
		// The target's first result (as far as this writer saw): list it.
		if err := s.addTarget(ctx, r.TargetID); err != nil {
			return store.Outcome{}, fmt.Errorf("list target: %w", err)
		}
	}
	lo := prev.ok.sk
	if lo == "" {
		lo = prefixResult
	}
	if err := s.link(ctx, r.TargetID, it, lo, &out); err != nil {
		return store.Outcome{}, err
	}
	return out, nil
}

// content decides r's Changed flag against prev (its target's results
// before it) and where its fields are stored: in its own item, or, when
// its content is prev's ok result's, in the result that holds that
// content's fields (whose expiry it extends when needed).
//
// A not-modified result without fields takes the previous ok result's
// fields (and its content hash, if it has none) when both were extracted
// with the same rules and, if it has a content hash, it is the previous
// one's; otherwise it keeps none, and no rules hash, so that the next plan
// fetches the page unconditionally (see package store).
func (s *Store) content(ctx context.Context, r *job.Result, prev around, expires int64) (bool, fieldsLink, error) {
	if r.Status != job.StatusOK {
		return false, fieldsLink{}, nil
	}
	p := prev.ok
	fill := r.NotModified && len(r.Fields) == 0
	same := p.found && p.rules == r.RulesHash && (p.hash == r.ContentHash || (fill && r.ContentHash == ""))
	if fill && same && r.ContentHash == "" {
		r.ContentHash = p.hash
	}
	changed := p.found && p.hash != r.ContentHash && !r.NotModified
	l := p.fieldsLink()
	switch {
	// A not-modified result that brings fields of its own keeps them; any
	// other result of the same content has the previous one's fields (the
	// content hash is of the fields).
	case same && p.hasFields() && (fill || !r.NotModified) && (l.expires == 0 || l.expires > s.now().Unix()):
		var err error
		if l.expires, err = s.extendHolder(ctx, r.TargetID, l, expires); err != nil {
			return false, fieldsLink{}, fmt.Errorf("keep the result that holds the fields: %w", err)
		}
		return changed, l, nil
	case fill && (!same || p.hasFields()):
		// Not completed: of other rules or content, or the holder of its
		// fields expired (DynamoDB's TTL deletes within a few days of it).
		r.RulesHash = ""
	}
	return changed, fieldsLink{}, nil
}

// link does what follows the put of the stored result item it (or finds a
// duplicate): relinks the target's chain of ok results, and sets out's
// Changed and Latest. lo is where its read starts (see surroundings).
//
// A Changed flag is written with the SK of the result it was computed
// against (prev_ok), only over an older one, so it moves only towards the
// truth. Each writer relinks both its neighbours after its put; of two
// neighbours written at once at least one sees the other, so the last word
// is right.
func (s *Store) link(ctx context.Context, targetID string, it item, lo string, out *store.Outcome) error {
	var (
		self = it.Str(AttrSK)
		ok   = it.Str(attrStatus) == string(job.StatusOK)
		nm   = it.Boolean(attrNotModified)
		hash = it.Hash(attrContentHash)
	)
	prev, next, err := s.surroundings(ctx, targetID, self, lo)
	if err != nil {
		return fmt.Errorf("read neighbouring results: %w", err)
	}
	out.Latest = !next.some && !out.Duplicate
	out.Changed = it.Boolean(attrChanged)
	if !ok {
		return nil
	}
	if p := prev.ok; p.found && p.sk > it.Str(attrPrev) {
		c := p.hash != hash && !nm
		applied, err := s.setChanged(ctx, targetID, self, c, p.sk)
		if err != nil {
			return fmt.Errorf("set changed: %w", err)
		}
		if applied {
			out.Changed = c
		} else if cur, found, err := s.getItem(ctx, it.Key()); err != nil {
			return fmt.Errorf("read result: %w", err)
		} else if found {
			out.Changed = cur.Boolean(attrChanged) // another writer's, computed against a later one
		}
	}
	// The next ok result's previous is now this one (unless it already
	// knows this one or a later one).
	if n := next.ok; n.found && n.prev < self {
		if _, err := s.setChanged(ctx, targetID, n.sk, n.hash != hash && !n.nm, self); err != nil {
			return fmt.Errorf("recompute next result's changed: %w", err)
		}
	}
	return nil
}

// setChanged sets a stored result's Changed flag, computed against the ok
// result whose SK is prev, unless the stored flag was computed against that
// one or a later one (or the result is missing).
func (s *Store) setChanged(ctx context.Context, targetID, sk string, changed bool, prev string) (bool, error) {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       ddb.Key(targetPK(targetID), sk),
		UpdateExpression:          aws.String("SET #chg = :chg, #prev = :prev"),
		ConditionExpression:       aws.String("attribute_exists(#pk) AND (attribute_not_exists(#prev) OR #prev < :prev)"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#chg": attrChanged, "#prev": attrPrev},
		ExpressionAttributeValues: map[string]types.AttributeValue{":chg": ddb.Bool(changed), ":prev": ddb.S(prev)},
	})
	if ddb.IsConditionFailed(err) {
		return false, nil
	}
	return err == nil, err
}

// addTarget adds a target to the target list (TARGETS#<shard>), once.
func (s *Store) addTarget(ctx context.Context, targetID string) error {
	it := ddb.Key(targetsPK(targetID), targetPK(targetID))
	it.SetS(attrTargetID, targetID)
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     it,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK},
	})
	if err != nil && !ddb.IsConditionFailed(err) {
		return err
	}
	return nil
}
