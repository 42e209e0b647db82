package main

import (
	"context"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/planner"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo"
	"github.com/cronless/cronless/shared/store/dynamo/dynamometer"
)

// countingSender counts the SendMessageBatch calls and messages of a queue,
// and remembers the largest body and which targets were sent, once or more:
// a bit each (the bench's IDs are t-<n>), so that the bookkeeping does not
// weigh on the planner's peak RSS.
type countingSender struct {
	inner    planner.Sender
	calls    atomic.Int64
	failures atomic.Int64
	mu       sync.Mutex
	largest  int
	once     []uint64 // bit n: t-<n> sent
	twice    []uint64 // bit n: t-<n> sent again
	strange  int      // IDs not of the bench
	previous int      // jobs sent with validators (a conditional request)
}

func newCountingSender(inner planner.Sender, n int) *countingSender {
	return &countingSender{inner: inner, once: make([]uint64, n/64+1), twice: make([]uint64, n/64+1)}
}

func (s *countingSender) mark(id string) {
	n, err := strconv.Atoi(strings.TrimPrefix(id, "t-"))
	if err != nil || n < 0 || n/64 >= len(s.once) {
		s.strange++
		return
	}
	w, b := n/64, uint64(1)<<(n%64)
	if s.once[w]&b != 0 {
		s.twice[w] |= b
	}
	s.once[w] |= b
}

// sent is how many targets were sent, and how many of them more than once.
func (s *countingSender) sent() (targets, duplicates int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.once {
		targets += bits.OnesCount64(s.once[i])
		duplicates += bits.OnesCount64(s.twice[i])
	}
	return targets + s.strange, duplicates
}

func (s *countingSender) SendBatch(ctx context.Context, msgs []queue.Outgoing) error {
	s.calls.Add(1)
	err := s.inner.SendBatch(ctx, msgs)
	bad, _ := queue.FailedIDs(err)
	if err != nil {
		s.failures.Add(1)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range msgs {
		s.largest = max(s.largest, len(m.Body))
		if strings.Contains(m.Body, `"previous":`) {
			s.previous++
		}
		if _, failed := bad[m.ID]; (err == nil || len(bad) > 0) && !failed {
			s.mark(m.Attributes[job.AttrTargetID])
		}
	}
	return err
}

// measuringList is a target list that remembers the largest plan part it
// recorded: the largest list of target IDs a run's item holds.
type measuringList struct {
	planner.TargetList
	mu      sync.Mutex
	largest int
}

func (l *measuringList) PutPlanPart(ctx context.Context, part store.PlanPart) (bool, error) {
	n := 0
	for _, id := range part.Targets {
		n += len(id) + 1
	}
	l.mu.Lock()
	l.largest = max(l.largest, n)
	l.mu.Unlock()
	return l.TargetList.PutPlanPart(ctx, part)
}

// sizes is a DynamoDB client that remembers the largest item written.
type sizes struct {
	dynamo.API
	mu      sync.Mutex
	largest int
	what    string
}

func (s *sizes) saw(n int, what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > s.largest {
		s.largest, s.what = n, what
	}
}

func (s *sizes) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	s.saw(dynamometer.ItemSize(in.Item), "PutItem "+keyOf(in.Item))
	return s.API.PutItem(ctx, in, o...)
}

func (s *sizes) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	for _, reqs := range in.RequestItems {
		for _, r := range reqs {
			if r.PutRequest != nil {
				s.saw(dynamometer.ItemSize(r.PutRequest.Item), "BatchWriteItem "+keyOf(r.PutRequest.Item))
			}
		}
	}
	return s.API.BatchWriteItem(ctx, in, o...)
}

// UpdateItem: the item is at least its key and the values set.
func (s *sizes) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	n := dynamometer.ItemSize(in.Key)
	for _, v := range in.ExpressionAttributeValues {
		n += dynamometer.ValueSize(v)
	}
	s.saw(n, "UpdateItem "+keyOf(in.Key))
	return s.API.UpdateItem(ctx, in, o...)
}

func keyOf(it map[string]ddbtypes.AttributeValue) string {
	pk, _ := it[dynamo.AttrPK].(*ddbtypes.AttributeValueMemberS)
	sk, _ := it[dynamo.AttrSK].(*ddbtypes.AttributeValueMemberS)
	if pk == nil || sk == nil {
		return "?"
	}
	return pk.Value + " " + sk.Value
}
