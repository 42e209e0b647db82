package ddb

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	smithytime "github.com/aws/smithy-go/time"
)

// The calls of the DynamoDB API these functions make, with the SDK's own
// signatures; *dynamodb.Client satisfies them.
type (
	GetItemAPI interface {
		GetItem(ctx context.Context, params *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	}
	BatchWriteItemAPI interface {
		BatchWriteItem(ctx context.Context, params *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	}
	BatchGetItemAPI interface {
		BatchGetItem(ctx context.Context, params *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	}
)

// GetConsistent reads one item, strongly consistent; found is false when
// there is none.
func GetConsistent(ctx context.Context, db GetItemAPI, table string, k Item) (Item, bool, error) {
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            k,
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, false, err
	}
	if len(out.Item) == 0 {
		return nil, false, nil
	}
	return out.Item, true, nil
}

// Each runs a query page by page (the SDK's paginator) and calls fn with
// every item until fn returns false or an error.
func Each(ctx context.Context, db dynamodb.QueryAPIClient, in *dynamodb.QueryInput, fn func(Item) (bool, error)) error {
	p := dynamodb.NewQueryPaginator(db, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, it := range page.Items {
			more, err := fn(it)
			if err != nil || !more {
				return err
			}
		}
	}
	return nil
}

// Query runs a query page by page and returns its items decoded by decode,
// at most limit of them (all when limit <= 0): it reads no page after the
// one that completes them. It returns an empty slice, not nil, when there
// are none.
func Query[T any](ctx context.Context, db dynamodb.QueryAPIClient, in *dynamodb.QueryInput, limit int, decode func(Item) (T, error)) ([]T, error) {
	out := []T{}
	err := Each(ctx, db, in, func(it Item) (bool, error) {
		v, err := decode(it)
		if err != nil {
			return false, err
		}
		out = append(out, v)
		return limit <= 0 || len(out) < limit, nil
	})
	return out, err
}

// IsConditionFailed reports whether err is a failed condition.
func IsConditionFailed(err error) bool {
	var c *types.ConditionalCheckFailedException
	return errors.As(err, &c)
}

// Retry is how a batch write or read retries the items DynamoDB left
// unprocessed (which the SDK returns as a success): up to Attempts calls per
// chunk, waiting between them an exponential backoff from Base, capped at
// Max, with jitter (the n-th wait is between half and all of
// min(Base·2ⁿ⁻¹, Max)).
type Retry struct {
	Attempts  int
	Base, Max time.Duration
	// Sleep waits (tests record it).
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultRetry is 8 calls, from 50ms to 5s.
func DefaultRetry() Retry {
	return Retry{Attempts: 8, Base: 50 * time.Millisecond, Max: 5 * time.Second, Sleep: smithytime.SleepWithContext}
}

// Backoff is the wait after the n-th call (n >= 1): Base·2ⁿ⁻¹ capped at
// Max, of which a random half is taken off (jitter, so that writers
// throttled together do not retry together).
func (r Retry) Backoff(n int) time.Duration {
	d := r.Max
	if n-1 < 32 {
		d = min(r.Base<<(n-1), r.Max)
		if d <= 0 { // overflow
			d = r.Max
		}
	}
	return d - rand.N(d/2+1)
}

// batchSize is the most items one BatchWriteItem call takes.
const batchSize = 25

// ErrUnprocessed is wrapped by a BatchError when DynamoDB kept leaving
// items unprocessed until the attempts ran out.
var ErrUnprocessed = errors.New("items left unprocessed")

// BatchError reports the items a batch write never wrote, and why.
type BatchError struct {
	// Unwritten are the keys ("PK SK") of the items not written.
	Unwritten []string
	// Total is how many items the write was given.
	Total int
	// Err is why: ErrUnprocessed, the context's error or the last call's.
	Err error
}

func (e *BatchError) Error() string {
	const show = 5
	names := e.Unwritten
	more := ""
	if len(names) > show {
		names, more = names[:show], fmt.Sprintf(" and %d more", len(e.Unwritten)-show)
	}
	return fmt.Sprintf("%d of %d items never written (%s%s): %v",
		len(e.Unwritten), e.Total, strings.Join(names, ", "), more, e.Err)
}

func (e *BatchError) Unwrap() error { return e.Err }

// BatchWrite puts items with BatchWriteItem, 25 at a time. Items that
// DynamoDB leaves unprocessed (throttling, partition limits) are sent again
// after r's backoff, until all are written or the attempts or ctx run out;
// then it returns a *BatchError naming every item not written. Errors of
// the call itself (after the SDK's own retries) end the write the same
// way. Items must have distinct keys.
func BatchWrite(ctx context.Context, db BatchWriteItemAPI, table string, r Retry, items []Item) error {
	reqs := make([]types.WriteRequest, len(items))
	for i, it := range items {
		reqs[i] = Put(it)
	}
	return BatchWriteRequests(ctx, db, table, r, reqs)
}

// Put and Delete are the requests of a batch write.
func Put(it Item) types.WriteRequest {
	return types.WriteRequest{PutRequest: &types.PutRequest{Item: it}}
}

func Delete(k Item) types.WriteRequest {
	return types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}}
}

// BatchWriteRequests is BatchWrite of puts and deletes (Put, Delete), each
// of a distinct key.
func BatchWriteRequests(ctx context.Context, db BatchWriteItemAPI, table string, r Retry, reqs []types.WriteRequest) error {
	for start := 0; start < len(reqs); start += batchSize {
		chunk := reqs[start:min(start+batchSize, len(reqs))]
		pending := slices.Clone(chunk)
		for attempt := 1; ; attempt++ {
			out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
				RequestItems: map[string][]types.WriteRequest{table: pending},
			})
			if err != nil {
				return batchError(pending, reqs[start+len(chunk):], len(reqs), err)
			}
			pending = out.UnprocessedItems[table]
			if len(pending) == 0 {
				break
			}
			if attempt >= r.Attempts {
				return batchError(pending, reqs[start+len(chunk):], len(reqs),
					fmt.Errorf("%w after %d attempts", ErrUnprocessed, attempt))
			}
			if err := r.Sleep(ctx, r.Backoff(attempt)); err != nil {
				return batchError(pending, reqs[start+len(chunk):], len(reqs), err)
			}
		}
	}
	return nil
}

func batchError(pending, rest []types.WriteRequest, total int, err error) error {
	e := &BatchError{Total: total, Err: err}
	for _, w := range slices.Concat(pending, rest) {
		switch {
		case w.PutRequest != nil:
			e.Unwritten = append(e.Unwritten, Item(w.PutRequest.Item).KeyString())
		case w.DeleteRequest != nil:
			e.Unwritten = append(e.Unwritten, Item(w.DeleteRequest.Key).KeyString())
		}
	}
	return e
}

// BatchGet reads items by key with BatchGetItem (100 keys a call, strongly
// consistent), projected by projection (with names; "" for whole items),
// retrying the keys DynamoDB leaves unprocessed as BatchWrite does. Keys
// must be distinct; items that do not exist are left out.
func BatchGet(ctx context.Context, db BatchGetItemAPI, table string, r Retry, keys []Item, projection string, names map[string]string) ([]Item, error) {
	var out []Item
	for start := 0; start < len(keys); start += 100 {
		chunk := keys[start:min(start+100, len(keys))]
		pending := make([]map[string]types.AttributeValue, len(chunk))
		for i, k := range chunk {
			pending[i] = k
		}
		for attempt := 1; len(pending) > 0; attempt++ {
			ka := types.KeysAndAttributes{Keys: pending, ConsistentRead: aws.Bool(true)}
			if projection != "" {
				ka.ProjectionExpression, ka.ExpressionAttributeNames = aws.String(projection), names
			}
			res, err := db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
				RequestItems: map[string]types.KeysAndAttributes{table: ka},
			})
			if err != nil {
				return nil, err
			}
			for _, it := range res.Responses[table] {
				out = append(out, it)
			}
			pending = res.UnprocessedKeys[table].Keys
			if len(pending) == 0 {
				break
			}
			if attempt >= r.Attempts {
				return nil, fmt.Errorf("%w: %d keys after %d attempts", ErrUnprocessed, len(pending), attempt)
			}
			if err := r.Sleep(ctx, r.Backoff(attempt)); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
