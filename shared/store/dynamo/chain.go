package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store/dynamo/ddb"
)

// A target's results are its partition's items with SKs R#<scheduled_at>#<run>,
// in time order (its attempts, A#…, sort before them): the chain of ok
// results that Changed flags are computed along is read from there, with
// strongly consistent queries.

// neighbour is the part of a result item that its neighbours need.
type neighbour struct {
	found  bool
	sk     string
	hash   string
	prev   string // its prev_ok
	nm     bool   // a not-modified result: never changed
	rules  string
	fields bool   // it holds its fields
	in     string // or the SK of the result that does
	inTTL  int64  // that result's expiry as known (0: never, or not known)
	exp    int64  // its own expiry (0: never)
}

// hasFields reports whether the neighbour's fields can be found: it holds
// them, or names the result that does.
func (n neighbour) hasFields() bool { return n.fields || n.in != "" }

// fieldsLink is where a result with the neighbour's content finds its
// fields.
func (n neighbour) fieldsLink() fieldsLink {
	if n.in != "" {
		return fieldsLink{holder: n.in, expires: n.inTTL}
	}
	return fieldsLink{holder: n.sk, expires: n.exp}
}

// around is what lies on one side of a result: whether any result does,
// and the nearest ok one.
type around struct {
	some bool
	ok   neighbour
}

// neighbourNames are the attributes of a result its neighbours read.
var neighbourNames = map[string]string{
	"#pk": AttrPK, "#sk": AttrSK, "#st": attrStatus, "#hash": attrContentHash, "#prev": attrPrev,
	"#nm": attrNotModified, "#rh": attrRulesHash, "#in": attrFieldsIn, "#ttl": attrFieldsTTL, "#exp": AttrExpiresAt,
	"#f": attrFields,
}

const neighbourProjection = "#sk, #st, #hash, #prev, #nm, #rh, #in, #ttl, #exp, #f"

// decodeNeighbour reads the part of a result item its neighbours need.
func decodeNeighbour(it item) neighbour {
	_, holds := it[attrFields]
	return neighbour{
		found: true, sk: it.Str(AttrSK), hash: it.Hash(attrContentHash), prev: it.Str(attrPrev),
		nm: it.Boolean(attrNotModified), rules: it.Hash(attrRulesHash), fields: holds,
		in: it.Str(attrFieldsIn), inTTL: it.NumOr0(attrFieldsTTL), exp: it.NumOr0(AttrExpiresAt),
	}
}

// precedingOK reads the target's results before the SK self, nearest first,
// until it finds an ok one: eventually consistent, as the guess a put is
// written with (link reads again, strongly consistent, after the put).
func (s *Store) precedingOK(ctx context.Context, targetID, self string) (around, error) {
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		KeyConditionExpression:   aws.String("#pk = :pk AND #sk BETWEEN :lo AND :k"),
		ProjectionExpression:     aws.String(neighbourProjection),
		ExpressionAttributeNames: neighbourNames,
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": ddb.S(targetPK(targetID)), ":lo": ddb.S(prefixResult), ":k": ddb.S(self),
		},
		ScanIndexForward: aws.Bool(false),
		// Usually the nearest result is ok; a page of two (some 3 KB of
		// items) keeps the read to half a unit when it is.
		Limit: aws.Int32(2),
	}
	var a around
	err := s.each(ctx, in, func(it item) (bool, error) {
		if it.Str(AttrSK) == self {
			return true, nil
		}
		a.some = true
		if it.Str(attrStatus) != string(job.StatusOK) {
			return true, nil
		}
		a.ok = decodeNeighbour(it)
		return false, nil
	})
	return a, err
}

// surroundings reads, strongly consistent, the target's results from lo
// (the nearest ok result before self that the put was written with, or the
// first result when there was none) up to the first ok result after self:
// in one query, the nearest ok result before self as it is now (another may
// have been stored since the guess) and what comes after it.
func (s *Store) surroundings(ctx context.Context, targetID, self, lo string) (before, after around, err error) {
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		KeyConditionExpression:   aws.String("#pk = :pk AND #sk >= :lo"),
		ProjectionExpression:     aws.String(neighbourProjection),
		ExpressionAttributeNames: neighbourNames,
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": ddb.S(targetPK(targetID)), ":lo": ddb.S(lo),
		},
		ConsistentRead: aws.Bool(true),
		// The previous result, this one and the next, usually.
		Limit: aws.Int32(4),
	}
	err = s.each(ctx, in, func(it item) (bool, error) {
		sk := it.Str(AttrSK)
		ok := it.Str(attrStatus) == string(job.StatusOK)
		switch {
		case sk < self:
			before.some = true
			if ok {
				before.ok = decodeNeighbour(it)
			}
		case sk > self:
			after.some = true
			if ok {
				after.ok = decodeNeighbour(it)
				return false, nil
			}
		}
		return true, nil
	})
	return before, after, err
}
