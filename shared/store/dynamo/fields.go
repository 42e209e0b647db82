package dynamo

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store/dynamo/ddb"
)

// A result's fields are most of its item, and a write costs a unit per KB:
// they are stored gzip-compressed, and only once per content. A result whose
// content (content hash and rules hash) is that of the target's previous ok
// result does not store them again: its item names the result that holds
// them (fields_in, that result's SK), and readers fill them in (resolve).
//
// The holder must outlive every result that refers to it. A result that
// holds fields expires HolderSlack (at most its retention) later than
// others, so that the results of the next HolderSlack can refer to it as it
// is. A referring item carries the holder's expiry as its writer knew it
// (fields_ttl); when that is earlier than the new result's own expiry, the
// writer first moves the holder's expiry to the slack past its own
// (extendHolder): once per HolderSlack of a content that does not change,
// not per result.

// HolderSlack is how much longer than its retention a result that holds
// its fields lives (at most the retention).
const HolderSlack = 7 * 24 * time.Hour

// fieldsLink is where a result's fields are: in a holder (its SK) that
// expires at expires (0: never), or in the result itself (holder "").
type fieldsLink struct {
	holder  string
	expires int64
}

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestCompression)
	return w
}}

// packFields is the fields' JSON text (without HTML escaping, so a "<" stays
// one byte before compression too), gzip-compressed at the best level.
func packFields(f map[string]any) ([]byte, error) {
	text, err := jsonText(f)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&b)
	if _, err := io.WriteString(zw, text); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// unpackFields reads fields packFields wrote.
func unpackFields(b []byte) (map[string]any, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	var f map[string]any
	if err := json.NewDecoder(zr).Decode(&f); err != nil {
		return nil, err
	}
	return f, nil
}

// extendHolder makes the holder of a target's fields expire no earlier
// than need (0: never): it moves the holder's expiry to HolderSlack past
// need, or takes it away, unless it already expires at or after need. It
// returns the holder's expiry as it now stands (as far as this writer
// knows).
func (s *Store) extendHolder(ctx context.Context, targetID string, l fieldsLink, need int64) (int64, error) {
	if l.expires == 0 || (need != 0 && l.expires >= need) {
		return l.expires, nil
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      ddb.Key(targetPK(targetID), l.holder),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#exp": AttrExpiresAt},
	}
	ttl := int64(0)
	if need == 0 { // a result that never expires names it
		in.UpdateExpression = aws.String("REMOVE #exp")
		in.ConditionExpression = aws.String("attribute_exists(#pk)")
	} else {
		ttl = need + int64(s.slack()/time.Second)
		in.UpdateExpression = aws.String("SET #exp = :exp")
		in.ConditionExpression = aws.String("attribute_exists(#pk) AND #exp < :need")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":exp": ddb.N(ttl), ":need": ddb.N(need)}
	}
	if _, err := s.db.UpdateItem(ctx, in); err != nil && !ddb.IsConditionFailed(err) {
		return 0, err
	}
	// A failed condition: another writer extended it, or it is gone (then
	// the fields are lost whatever this writer does; resolve says so).
	return ttl, nil
}

// resolve fills in the fields of the results in rs whose items (its, in
// the same order) refer to another result's: from a holder among its, or
// else read by BatchGetItem (strongly consistent).
func (s *Store) resolve(ctx context.Context, its []item, rs []job.Result) error {
	type ref struct{ pk, sk string }
	have := map[ref]int{}
	for i, it := range its {
		if _, ok := it[attrFields]; ok {
			have[ref{it.Str(AttrPK), it.Str(AttrSK)}] = i
		}
	}
	missing := map[ref][]int{}
	for i, it := range its {
		h := it.Str(attrFieldsIn)
		if h == "" {
			continue
		}
		k := ref{it.Str(AttrPK), h}
		if j, ok := have[k]; ok {
			rs[i].Fields, rs[i].Truncated = rs[j].Fields, rs[j].Truncated
			continue
		}
		missing[k] = append(missing[k], i)
	}
	if len(missing) == 0 {
		return nil
	}
	keys := make([]item, 0, len(missing))
	for k := range missing {
		keys = append(keys, ddb.Key(k.pk, k.sk))
	}
	holders, err := s.batchGet(ctx, keys, "#pk, #sk, #f, #tr", map[string]string{
		"#pk": AttrPK, "#sk": AttrSK, "#f": attrFields, "#tr": attrTruncated,
	})
	if err != nil {
		return fmt.Errorf("read the results that hold their fields: %w", err)
	}
	for _, h := range holders {
		var r job.Result
		if err := decodeFields(h, &r); err != nil {
			return fmt.Errorf("stored result %s: %w", h.KeyString(), err)
		}
		for _, i := range missing[ref{h.Str(AttrPK), h.Str(AttrSK)}] {
			rs[i].Fields, rs[i].Truncated = r.Fields, r.Truncated
		}
	}
	return nil
}

// slack is how much longer a result that holds fields lives: HolderSlack,
// at most the retention.
func (s *Store) slack() time.Duration { return min(s.retention, HolderSlack) }

// holderExpiresAt is the expiry of a result stored at now that holds its
// fields (0: none).
func (s *Store) holderExpiresAt(now time.Time) int64 {
	if s.retention <= 0 {
		return 0
	}
	return now.Add(s.retention + s.slack()).Unix()
}
