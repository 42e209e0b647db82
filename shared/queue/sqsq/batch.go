package sqsq

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	smithytime "github.com/aws/smithy-go/time"

	"github.com/cronless/cronless/shared/queue"
)

// SendBatch sends 1 to 10 messages in as many requests as MaxBatchSize needs,
// retrying transient failures, and names the entries not sent in a
// *queue.BatchError; bad entry IDs fail the whole batch, as on SQS.
//
// A request that fails outright is returned as is (queue.ErrNoQueue when the
// queue is missing). A message over the queue's MaximumMessageSize fails alone
// (ErrQueueMessageSize), also where moto refuses the whole request.
func (q *Queue) SendBatch(ctx context.Context, msgs []queue.Outgoing) error {
	if len(msgs) == 0 || len(msgs) > queue.MaxBatch {
		return fmt.Errorf("send batch to %s: %d entries: %w", q.name, len(msgs), queue.ErrBatchTooLarge)
	}
	if q.urlErr != nil {
		return fmt.Errorf("send batch to %s: %w", q.url, q.urlErr)
	}
	if err := queue.CheckEntryIDs(msgs); err != nil {
		return fmt.Errorf("send batch to %s: %w", q.name, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("send batch to %s: %w", q.name, err)
	}
	entries := make([]types.SendMessageBatchRequestEntry, len(msgs))
	sizes := make([]int, len(msgs))
	index := make(map[string]int, len(msgs))
	failed := make(map[int]attempt)
	var pending []int
	for i, m := range msgs {
		index[m.ID] = i
		e, size, err := toEntry(m)
		if err != nil {
			failed[i] = attempt{err: err, senderFault: true}
			continue
		}
		entries[i], sizes[i] = e, size
		pending = append(pending, i)
	}
	send := func(ctx context.Context, pending []int) map[int]attempt {
		res := make(map[int]attempt)
		for _, chunk := range splitBySize(pending, sizes, MaxBatchSize) {
			q.sendChunk(ctx, chunk, entries, index, res)
		}
		q.overQueueLimit(res, sizes)
		return res
	}
	if len(pending) > 0 {
		for i, r := range q.withRetries(ctx, pending, send) {
			failed[i] = r
		}
	}
	if len(failed) == 0 {
		return nil
	}
	if err := wholeFailure(failed, len(msgs)); err != nil {
		return fmt.Errorf("send batch to %s: %w", q.name, mapErr(err))
	}
	be := &queue.BatchError{}
	var berr error = be
	for _, i := range slices.Sorted(maps.Keys(failed)) {
		r := failed[i]
		be.Failed = append(be.Failed, queue.EntryError{ID: msgs[i].ID, Err: r.err, SenderFault: r.senderFault})
		if errors.Is(r.err, ErrQueueMessageSize) {
			berr = overLimit{be}
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("send batch to %s: %w (%w)", q.name, berr, err)
	}
	return fmt.Errorf("send batch to %s: %w", q.name, berr)
}

// overLimit is the *queue.BatchError of a batch some of whose entries were
// over the queue's MaximumMessageSize; it matches ErrQueueMessageSize too,
// so a caller can tell that the queue needs changing.
type overLimit struct{ *queue.BatchError }

func (e overLimit) Unwrap() []error { return []error{e.BatchError, ErrQueueMessageSize} }

// sendChunk sends the entries chunk (indexes into entries) in one
// SendMessageBatch request and records in res those that failed. When SQS
// refuses the whole request for what an entry holds (refusedForContent),
// nothing was sent: each entry is sent again alone, so that the others go
// through and the one at fault fails by itself, as on AWS.
func (q *Queue) sendChunk(ctx context.Context, chunk []int, entries []types.SendMessageBatchRequestEntry, index map[string]int, res map[int]attempt) {
	in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.url), Entries: make([]types.SendMessageBatchRequestEntry, 0, len(chunk))}
	for _, i := range chunk {
		in.Entries = append(in.Entries, entries[i])
	}
	out, err := q.api.SendMessageBatch(ctx, in, safeBody)
	if err != nil {
		if len(chunk) > 1 && refusedForContent(err) {
			for _, i := range chunk {
				q.sendChunk(ctx, []int{i}, entries, index, res)
			}
			return
		}
		for _, i := range chunk {
			res[i] = attempt{err: err, retry: transient(err), request: true}
		}
		return
	}
	batchResults(chunk, index, out.Successful, out.Failed, res, func(i int) string { return aws.ToString(entries[i].Id) })
}

// overQueueLimit gives the entries SQS refused for being over the queue's
// MaximumMessageSize an error that says so and what to do (it matches
// ErrQueueMessageSize). SQS says it with InvalidParameterValue, its code
// for any bad value; but an entry that passed toEntry's checks and holds
// more than OldMaxMessageSize bytes has no other value SQS could refuse.
// Retrying will not help until the queue is changed.
func (q *Queue) overQueueLimit(res map[int]attempt, sizes []int) {
	for i, r := range res {
		if sizes[i] <= OldMaxMessageSize {
			continue
		}
		if code, _, ok := apiError(r.err); !ok || code != codeInvalidParameterValue {
			continue
		}
		r.err = fmt.Errorf("queue %s refused a message of %d bytes: %w; set the queue's MaximumMessageSize to %d, as serverless.yml does, and deploy again (SQS: %w)",
			q.name, sizes[i], ErrQueueMessageSize, queue.MaxMessageSize, r.err)
		r.retry, r.senderFault = false, true
		res[i] = r
	}
}

// batchResults records the outcome of one batch request's entries (chunk,
// indexes into the caller's entries) in res: the failed ones with their
// error, retryable unless SenderFault; those the response does not mention
// as failed to be retried.
func batchResults[S any](chunk []int, index map[string]int, successful []S, failed []types.BatchResultErrorEntry,
	res map[int]attempt, id func(int) string) {
	inChunk := make(map[int]bool, len(chunk))
	for _, i := range chunk {
		inChunk[i] = true
	}
	done := make(map[int]bool, len(successful))
	for _, s := range successful {
		var sid string
		switch e := any(s).(type) {
		case types.SendMessageBatchResultEntry:
			sid = aws.ToString(e.Id)
		case types.DeleteMessageBatchResultEntry:
			sid = aws.ToString(e.Id)
		}
		if i, ok := index[sid]; ok && inChunk[i] {
			done[i] = true
		}
	}
	for _, f := range failed {
		i, ok := index[aws.ToString(f.Id)]
		if !ok || !inChunk[i] {
			continue
		}
		ef := &EntryFailure{Code: normCode(aws.ToString(f.Code)), Message: aws.ToString(f.Message), SenderFault: f.SenderFault}
		res[i] = attempt{err: ef, retry: !f.SenderFault, senderFault: f.SenderFault}
	}
	for _, i := range chunk {
		if _, isFailed := res[i]; !isFailed && !done[i] {
			res[i] = attempt{err: fmt.Errorf("entry %s missing from the response", id(i)), retry: true}
		}
	}
}

// wholeFailure returns the request error when every one of n entries
// failed because its request did: then nothing was sent, and the caller
// gets the request's error rather than a BatchError.
func wholeFailure(failed map[int]attempt, n int) error {
	if len(failed) != n {
		return nil
	}
	var first error
	for i := range n {
		r := failed[i]
		if !r.request {
			return nil
		}
		if first == nil {
			first = r.err
		}
	}
	return first
}

// Delete deletes by receipt handle (1 to 10) with DeleteMessageBatch,
// retrying transient failures. A stale or expired handle deletes nothing and
// is no error, as on SQS; a malformed one matches queue.ErrReceiptInvalid.
func (q *Queue) Delete(ctx context.Context, receiptHandles []string) error {
	if len(receiptHandles) == 0 || len(receiptHandles) > queue.MaxBatch {
		return fmt.Errorf("delete from %s: %d handles: %w", q.name, len(receiptHandles), queue.ErrBatchTooLarge)
	}
	for i, h := range receiptHandles {
		if h == "" {
			return fmt.Errorf("delete from %s: handle %d is empty: %w", q.name, i, queue.ErrReceiptInvalid)
		}
	}
	if q.urlErr != nil {
		return fmt.Errorf("delete from %s: %w", q.url, q.urlErr)
	}
	index := make(map[string]int, len(receiptHandles))
	pending := make([]int, len(receiptHandles))
	for i := range receiptHandles {
		index[strconv.Itoa(i)] = i
		pending[i] = i
	}
	del := func(ctx context.Context, pending []int) map[int]attempt {
		res := make(map[int]attempt)
		in := &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(q.url)}
		for _, i := range pending {
			in.Entries = append(in.Entries, types.DeleteMessageBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(receiptHandles[i]),
			})
		}
		out, err := q.api.DeleteMessageBatch(ctx, in, safeBody)
		if err != nil {
			for _, i := range pending {
				res[i] = attempt{err: err, retry: transient(err), request: true}
			}
			return res
		}
		batchResults(pending, index, out.Successful, out.Failed, res, strconv.Itoa)
		for i, r := range res {
			var ef *EntryFailure
			if !errors.As(r.err, &ef) {
				continue
			}
			switch {
			case staleReceipt(ef.Code):
				delete(res, i)
			case malformedReceipt(ef.Code):
				res[i] = attempt{err: fmt.Errorf("%w: %w", queue.ErrReceiptInvalid, ef), senderFault: true}
			}
		}
		return res
	}
	failed := q.withRetries(ctx, pending, del)
	if len(failed) == 0 {
		return nil
	}
	if err := wholeFailure(failed, len(receiptHandles)); err != nil {
		return fmt.Errorf("delete from %s: %w", q.name, mapErr(err))
	}
	var errs []error
	for _, i := range slices.Sorted(maps.Keys(failed)) {
		errs = append(errs, fmt.Errorf("handle %d (%s): %w", i, abbrev(receiptHandles[i]), failed[i].err))
	}
	return fmt.Errorf("delete from %s: %d of %d entries failed: %w", q.name, len(failed), len(receiptHandles), errors.Join(errs...))
}

// abbrev shortens a receipt handle for error messages.
func abbrev(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}

// attempt is the outcome of one try of one failed batch entry.
type attempt struct {
	err         error
	retry       bool // transient: worth trying again
	senderFault bool // the entry itself is wrong
	request     bool // the whole request failed
}

// withRetries calls try with the pending entries, then again with those it
// reports as failed and retryable, pacing the calls with the Backoff, until
// none is left, the attempts or the time are used up, or ctx ends. It
// returns the entries that failed in the end.
func (q *Queue) withRetries(ctx context.Context, pending []int, try func(context.Context, []int) map[int]attempt) map[int]attempt {
	final := make(map[int]attempt)
	start := time.Now()
	for n := 1; ; n++ {
		res := try(ctx, pending)
		var again []int
		for _, i := range pending {
			r, isFailed := res[i]
			if !isFailed {
				delete(final, i)
				continue
			}
			final[i] = r
			if r.retry {
				again = append(again, i)
			}
		}
		if len(again) == 0 || n >= q.backoff.Attempts || ctx.Err() != nil {
			return final
		}
		wait := q.backoff.delay(n)
		if time.Since(start)+wait > q.backoff.MaxElapsed {
			return final
		}
		if err := smithytime.SleepWithContext(ctx, wait); err != nil {
			for _, i := range again {
				r := final[i]
				r.err = fmt.Errorf("%w (retry abandoned: %w)", r.err, err)
				final[i] = r
			}
			return final
		}
		pending = again
	}
}

// delay returns the wait before retry n (1, 2, ...): full jitter over
// min(Max, Base·2^(n-1)).
func (b Backoff) delay(n int) time.Duration {
	ceiling := b.Max
	if n-1 < 32 {
		if d := b.Base << (n - 1); d > 0 && d < ceiling {
			ceiling = d
		}
	}
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling + 1)
}

// splitBySize cuts the entries idx, in order, into requests of at most
// limit bytes each (an entry alone never exceeds it: toEntry refuses it).
func splitBySize(idx []int, sizes []int, limit int) [][]int {
	var chunks [][]int
	var cur []int
	total := 0
	for _, i := range idx {
		if len(cur) > 0 && total+sizes[i] > limit {
			chunks = append(chunks, cur)
			cur, total = nil, 0
		}
		cur = append(cur, i)
		total += sizes[i]
	}
	if len(cur) > 0 {
		chunks = append(chunks, cur)
	}
	return chunks
}

// toEntry maps an outgoing message to a batch entry and its size, or
// refuses it as SQS would (an *EntryFailure with SenderFault set).
func toEntry(m queue.Outgoing) (types.SendMessageBatchRequestEntry, int, error) {
	size, err := queue.CheckOutgoing(m)
	var r *queue.Refusal
	if errors.As(err, &r) {
		return types.SendMessageBatchRequestEntry{}, 0, &EntryFailure{Code: r.Code, Message: r.Message, SenderFault: true}
	}
	e := types.SendMessageBatchRequestEntry{
		Id:           aws.String(m.ID),
		MessageBody:  aws.String(m.Body),
		DelaySeconds: seconds(m.Delay),
	}
	if len(m.Attributes) > 0 {
		e.MessageAttributes = make(map[string]types.MessageAttributeValue, len(m.Attributes))
	}
	for k, v := range m.Attributes {
		e.MessageAttributes[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	return e, size, nil
}
