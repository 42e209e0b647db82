package dynamo

import (
	"context"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cronless/cronless/shared/job"
)

// A target's results are its partition's items with SKs R#<scheduled_at>#<run>,
// in time order (its attempts, A#…, sort before them): the chain of ok
// results that Changed flags are computed along is read from there, with
// strongly consistent queries.

// side is which neighbours of a result neighbours reads.
type side int

const (
	before side = iota // the results before it, nearest first
	after              // the results after it, nearest first
)

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

// neighbours reads the target's results on one side of the SK self (not
// self itself) until it finds an ok one.
func (s *Store) neighbours(ctx context.Context, targetID, self string, sd side) (around, error) {
	names := map[string]string{
		"#pk": AttrPK, "#sk": AttrSK, "#st": attrStatus, "#hash": attrContentHash, "#prev": attrPrev,
		"#nm": attrNotModified, "#rh": attrRulesHash, "#in": attrFieldsIn, "#ttl": attrFieldsTTL, "#exp": AttrExpiresAt,
		"#f": attrFields,
	}
	values := map[string]types.AttributeValue{":pk": avS(targetPK(targetID)), ":k": avS(self)}
	cond := "#pk = :pk AND #sk > :k"
	if sd == before {
		cond = "#pk = :pk AND #sk BETWEEN :lo AND :k"
		values[":lo"] = avS(prefixResult)
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String(cond),
		ProjectionExpression:      aws.String("#sk, #st, #hash, #prev, #nm, #rh, #in, #ttl, #exp, #f"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ScanIndexForward:          aws.Bool(sd == after),
		ConsistentRead:            aws.Bool(true),
		// Usually the nearest result is ok; a page of two (some 3 KB of
		// items) keeps the read to 1 unit when it is.
		Limit: aws.Int32(2),
	}
	var a around
	err := s.each(ctx, in, func(it item) (bool, error) {
		if it.str(AttrSK) == self {
			return true, nil
		}
		a.some = true
		if it.str(attrStatus) != string(job.StatusOK) {
			return true, nil
		}
		_, holds := it[attrFields]
		a.ok = neighbour{
			found: true, sk: it.str(AttrSK), hash: it.hash(attrContentHash), prev: it.str(attrPrev),
			nm: it.boolean(attrNotModified), rules: it.hash(attrRulesHash), fields: holds,
			in: it.str(attrFieldsIn), inTTL: numOr0(it, attrFieldsTTL), exp: numOr0(it, AttrExpiresAt),
		}
		return false, nil
	})
	return a, err
}

// numOr0 is a number attribute, 0 when it is missing or not a number.
func numOr0(it item, name string) int64 {
	if v, ok := it[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}
