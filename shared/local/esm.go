// Package local is the local runtime of cronless: it fires schedules as
// EventBridge Scheduler does and emulates the SQS event source mapping that
// invokes the worker and results functions on AWS, so the very same handler
// cores run on one machine. It works over the queue and store ports, so it
// runs on the embedded SQLite backend (the CLI's default) as well as on
// real SQS and DynamoDB endpoints.
package local

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"go.uber.org/zap"

	"github.com/cronless/cronless/shared/queue"
)

// SQSHandler is the signature of the worker and results handler cores.
type SQSHandler func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error)

// Mapping emulates one SQS event source mapping with ReportBatchItemFailures:
// it polls a queue, invokes the handler with batches built exactly as Lambda
// builds them, deletes the records that succeeded, and leaves the others to
// become visible again after the visibility timeout (and to be dead-lettered
// by the queue after maxReceiveCount receives).
type Mapping struct {
	// Function names the invoked function in logs.
	Function string
	Queue    queue.Queue
	Handler  SQSHandler
	// BatchSize is the most records per invocation, 1 to 10 (default 10).
	BatchSize int
	// BatchWindow is how long to gather records before invoking with a
	// batch that is not full (default 0: invoke with what one receive got).
	BatchWindow time.Duration
	// MaxConcurrency is the most invocations at once (default 2, Lambda's minimum).
	MaxConcurrency int
	// Timeout is the function timeout: each invocation's context ends then (default 30s).
	Timeout time.Duration
	// Region is the awsRegion of the records (default "local").
	Region string
	// PollWait is the long-polling wait of each receive (default 1s).
	PollWait time.Duration
	Log      *zap.Logger
}

// Invocation is the outcome of one invocation, as Lambda would see it.
type Invocation struct {
	Records int
	Failed  int // records left for redelivery
	Err     error
}

func (m *Mapping) defaults() {
	if m.BatchSize <= 0 || m.BatchSize > queue.MaxBatch {
		m.BatchSize = queue.MaxBatch
	}
	if m.MaxConcurrency <= 0 {
		m.MaxConcurrency = 2
	}
	if m.Timeout <= 0 {
		m.Timeout = 30 * time.Second
	}
	if m.Region == "" {
		m.Region = "local"
	}
	if m.PollWait <= 0 {
		m.PollWait = time.Second
	}
	if m.Log == nil {
		m.Log = zap.NewNop()
	}
}

// Run polls and invokes until ctx ends, then waits for the invocations in
// flight to finish (each within its own Timeout) and returns. Messages of an
// invocation cut short simply become visible again: nothing is lost.
func (m *Mapping) Run(ctx context.Context) error {
	m.defaults()
	var wg sync.WaitGroup
	for range m.MaxConcurrency {
		wg.Go(func() { m.poll(ctx) })
	}
	wg.Wait()
	return nil
}

func (m *Mapping) poll(ctx context.Context) {
	for ctx.Err() == nil {
		msgs, err := m.gather(ctx)
		if err != nil {
			if ctx.Err() == nil {
				m.Log.Warn("receive failed; retrying", zap.String("queue", m.Queue.Name()), zap.Error(err))
				sleep(ctx, time.Second)
			}
			continue
		}
		if len(msgs) > 0 {
			m.Invoke(ctx, msgs)
		}
	}
}

// maxPollWait is the longest long-polling wait of one receive (SQS's limit).
const maxPollWait = 20 * time.Second

// gather receives one batch: up to BatchSize records, waiting up to
// BatchWindow for a batch that is not full.
func (m *Mapping) gather(ctx context.Context) ([]queue.Message, error) {
	msgs, err := m.Queue.Receive(ctx, queue.ReceiveOptions{Max: m.BatchSize, Wait: m.PollWait})
	if err != nil || len(msgs) == 0 || m.BatchWindow <= 0 {
		return msgs, err
	}
	deadline := time.Now().Add(m.BatchWindow)
	for len(msgs) < m.BatchSize {
		left := time.Until(deadline)
		if left <= 0 || ctx.Err() != nil {
			break
		}
		// One receive waits at most maxPollWait (as on SQS); a longer
		// window takes several.
		more, err := m.Queue.Receive(ctx, queue.ReceiveOptions{Max: m.BatchSize - len(msgs), Wait: min(left, maxPollWait)})
		if err != nil {
			break // invoke with what we have; the rest is received later
		}
		msgs = append(msgs, more...)
	}
	return msgs, nil
}

// Invoke runs the handler on one batch and deletes the records that
// succeeded, as Lambda's event source mapping does. A handler error or panic
// fails the whole batch; so does a response naming a record that is not in
// the batch.
func (m *Mapping) Invoke(ctx context.Context, msgs []queue.Message) Invocation {
	m.defaults()
	ev := Event(m.Queue.ARN(), m.Region, msgs)
	invCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.Timeout)
	resp, err := safeCall(invCtx, m.Handler, ev)
	if err == nil && errors.Is(invCtx.Err(), context.DeadlineExceeded) {
		// Lambda ends an invocation at its timeout; whatever it returns
		// after that is lost and the whole batch is retried.
		err = fmt.Errorf("%w after %s", ErrTimeout, m.Timeout)
	}
	cancel()

	failed := map[string]bool{}
	if err == nil {
		err = checkResponse(ev, resp, failed)
	}
	if err != nil {
		m.Log.Error("invocation failed; the whole batch will be retried",
			zap.String("function", m.Function), zap.Int("records", len(msgs)), zap.Error(err))
		return Invocation{Records: len(msgs), Failed: len(msgs), Err: err}
	}
	var done []string
	for _, msg := range msgs {
		if !failed[msg.ID] {
			done = append(done, msg.ReceiptHandle)
		}
	}
	// Deleting must not be cut short by a shutdown: the work is done.
	delCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for start := 0; start < len(done); start += queue.MaxBatch {
		part := done[start:min(start+queue.MaxBatch, len(done))]
		if err := m.Queue.Delete(delCtx, part); err != nil {
			// The records will be delivered again; handlers are idempotent.
			m.Log.Warn("delete failed; the records will be delivered again", zap.String("queue", m.Queue.Name()), zap.Error(err))
		}
	}
	return Invocation{Records: len(msgs), Failed: len(failed)}
}

// ErrTimeout is wrapped by the error of an invocation that outlived the
// function timeout.
var ErrTimeout = errors.New("task timed out")

// ErrPanic is wrapped by the error of an invocation whose handler panicked.
var ErrPanic = errors.New("handler panicked")

func safeCall(ctx context.Context, h SQSHandler, ev events.SQSEvent) (resp events.SQSEventResponse, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", ErrPanic, p)
		}
	}()
	return h(ctx, ev)
}

// checkResponse fills failed from a partial batch response; like Lambda, it
// fails the whole batch when an item identifier is empty or unknown.
func checkResponse(ev events.SQSEvent, resp events.SQSEventResponse, failed map[string]bool) error {
	inBatch := make(map[string]bool, len(ev.Records))
	for _, r := range ev.Records {
		inBatch[r.MessageId] = true
	}
	for _, f := range resp.BatchItemFailures {
		if !inBatch[f.ItemIdentifier] {
			return fmt.Errorf("batch item failure %q is not a message of the batch", f.ItemIdentifier)
		}
		failed[f.ItemIdentifier] = true
	}
	return nil
}

// Event builds the SQS event Lambda would deliver for msgs received from the
// queue with the given ARN.
func Event(queueARN, region string, msgs []queue.Message) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(msgs))}
	for i, msg := range msgs {
		sum := md5.Sum([]byte(msg.Body))
		rec := events.SQSMessage{
			MessageId:     msg.ID,
			ReceiptHandle: msg.ReceiptHandle,
			Body:          msg.Body,
			Md5OfBody:     hex.EncodeToString(sum[:]),
			Attributes: map[string]string{
				"ApproximateReceiveCount":          strconv.Itoa(msg.ReceiveCount),
				"SentTimestamp":                    millis(msg.SentAt),
				"SenderId":                         "AIDALOCALCRONLESS",
				"ApproximateFirstReceiveTimestamp": millis(msg.FirstReceivedAt),
			},
			MessageAttributes: map[string]events.SQSMessageAttribute{},
			EventSource:       "aws:sqs",
			EventSourceARN:    queueARN,
			AWSRegion:         region,
		}
		for k, v := range msg.Attributes {
			rec.MessageAttributes[k] = events.SQSMessageAttribute{
				StringValue: &v, StringListValues: []string{}, BinaryListValues: [][]byte{}, DataType: "String",
			}
		}
		if len(msg.Attributes) > 0 {
			rec.Md5OfMessageAttributes = AttributesMD5(msg.Attributes)
		}
		ev.Records[i] = rec
	}
	return ev
}

// AttributesMD5 computes SQS's MD5OfMessageAttributes for String attributes.
func AttributesMD5(attrs map[string]string) string {
	names := make([]string, 0, len(attrs))
	for k := range attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	h := md5.New()
	put := func(s string) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	for _, k := range names {
		put(k)
		put("String")
		h.Write([]byte{1}) // transport type: string
		put(attrs[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func millis(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
