package local_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cronless/cronless/shared/local"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/queue/localq"
	"github.com/cronless/cronless/shared/sqlite"
)

// visibility is the visibility timeout of the queues of these tests (SQS
// counts it in whole seconds; one is the least that is not zero).
const visibility = time.Second

// openQueue creates a queue with a redrive policy of maxReceive receives on
// a fresh SQLite file, and returns it with its dead-letter queue.
func openQueue(t *testing.T, vis time.Duration, maxReceive int) (q, dlq *localq.Queue) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "esm.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b, err := localq.New(db)
	if err != nil {
		t.Fatal(err)
	}
	if dlq, err = b.CreateQueue(ctx, "jobs-dlq", localq.Config{}); err != nil {
		t.Fatal(err)
	}
	q, err = b.CreateQueue(ctx, "jobs", localq.Config{VisibilityTimeout: vis, MaxReceiveCount: maxReceive, DeadLetterQueue: "jobs-dlq"})
	if err != nil {
		t.Fatal(err)
	}
	return q, dlq
}

// sendBodies sends one message per body, in batches of up to ten.
func sendBodies(t *testing.T, q queue.Queue, bodies ...string) {
	t.Helper()
	for start := 0; start < len(bodies); start += queue.MaxBatch {
		var out []queue.Outgoing
		for i, b := range bodies[start:min(start+queue.MaxBatch, len(bodies))] {
			out = append(out, queue.Outgoing{ID: strconv.Itoa(i), Body: b})
		}
		if err := q.SendBatch(context.Background(), out); err != nil {
			t.Fatal(err)
		}
	}
}

func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%02d", prefix, i)
	}
	return out
}

func depth(t *testing.T, q queue.Queue) queue.Depth {
	t.Helper()
	d, err := q.Depth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// receiveAll receives until it holds want messages (at most 10 each call).
func receiveAll(t *testing.T, q queue.Queue, want int) []queue.Message {
	t.Helper()
	var all []queue.Message
	for len(all) < want {
		msgs, err := q.Receive(context.Background(), queue.ReceiveOptions{Max: min(want-len(all), queue.MaxBatch), Wait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			t.Fatalf("received %d messages, want %d", len(all), want)
		}
		all = append(all, msgs...)
	}
	return all
}

// eventually polls cond until it holds or the time is up.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startMapping runs m until the returned stop is called (or the test ends);
// stop fails the test when Run does not return soon after its context ends.
func startMapping(t *testing.T, m *local.Mapping) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run = %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// recorder is a handler that records the batches it is invoked with.
type recorder struct {
	mu      sync.Mutex
	batches [][]events.SQSMessage
	fn      func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error)
}

func (r *recorder) handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	r.mu.Lock()
	r.batches = append(r.batches, slices.Clone(ev.Records))
	r.mu.Unlock()
	if r.fn != nil {
		return r.fn(ctx, ev)
	}
	return events.SQSEventResponse{}, nil
}

// bodies counts how often each body was delivered.
func (r *recorder) bodies() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := map[string]int{}
	for _, b := range r.batches {
		for _, rec := range b {
			n[rec.Body]++
		}
	}
	return n
}

func (r *recorder) sizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for _, b := range r.batches {
		out = append(out, len(b))
	}
	return out
}

// goldenRecords decodes the records of events/worker-sqs.json twice: as the
// SDK type and as plain JSON objects (to compare key names).
func goldenRecords(t *testing.T) ([]events.SQSMessage, []map[string]any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "events", "worker-sqs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatal(err)
	}
	var raw struct{ Records []map[string]any }
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if len(ev.Records) == 0 || len(ev.Records) != len(raw.Records) {
		t.Fatalf("golden event has %d records", len(ev.Records))
	}
	return ev.Records, raw.Records
}

func keys(v any) []string {
	m, _ := v.(map[string]any)
	return slices.Sorted(maps.Keys(m))
}

func TestEventMatchesLambda(t *testing.T) {
	q, _ := openQueue(t, visibility, 3)
	ctx := context.Background()
	attrs := map[string]string{"run_id": "hourly-20261127T090000Z", "target_id": "example"}
	before := time.Now()
	if err := q.SendBatch(ctx, []queue.Outgoing{
		{ID: "a", Body: `{"v":1,"target_id":"example"}`, Attributes: attrs},
		{ID: "b", Body: "plain body, no attributes"},
	}); err != nil {
		t.Fatal(err)
	}
	msgs := receiveAll(t, q, 2)
	after := time.Now()

	ev := local.Event(q.ARN(), "eu-west-3", msgs)
	if len(ev.Records) != len(msgs) {
		t.Fatalf("%d records for %d messages", len(ev.Records), len(msgs))
	}
	for i, rec := range ev.Records {
		msg := msgs[i]
		if rec.MessageId != msg.ID || rec.ReceiptHandle != msg.ReceiptHandle || rec.Body != msg.Body {
			t.Errorf("record %d = id %q handle %q body %q, want the message's %q %q %q",
				i, rec.MessageId, rec.ReceiptHandle, rec.Body, msg.ID, msg.ReceiptHandle, msg.Body)
		}
		sum := md5.Sum([]byte(msg.Body))
		if rec.Md5OfBody != hex.EncodeToString(sum[:]) {
			t.Errorf("record %d md5OfBody = %q, want %x", i, rec.Md5OfBody, sum)
		}
		if rec.EventSource != "aws:sqs" || rec.EventSourceARN != q.ARN() || rec.AWSRegion != "eu-west-3" {
			t.Errorf("record %d source = %q %q %q, want aws:sqs %q eu-west-3", i, rec.EventSource, rec.EventSourceARN, rec.AWSRegion, q.ARN())
		}
		if got := rec.Attributes["ApproximateReceiveCount"]; got != "1" {
			t.Errorf("record %d ApproximateReceiveCount = %q, want 1", i, got)
		}
		for _, name := range []string{"SentTimestamp", "ApproximateFirstReceiveTimestamp"} {
			ms, err := strconv.ParseInt(rec.Attributes[name], 10, 64)
			if err != nil || ms < before.UnixMilli() || ms > after.UnixMilli() {
				t.Errorf("record %d %s = %q, want epoch milliseconds between %d and %d",
					i, name, rec.Attributes[name], before.UnixMilli(), after.UnixMilli())
			}
		}
		if rec.Attributes["SentTimestamp"] != strconv.FormatInt(msg.SentAt.UnixMilli(), 10) {
			t.Errorf("record %d SentTimestamp = %q, want the message's %d", i, rec.Attributes["SentTimestamp"], msg.SentAt.UnixMilli())
		}
		if rec.Attributes["SenderId"] == "" {
			t.Errorf("record %d has no SenderId", i)
		}
		if len(rec.MessageAttributes) != len(msg.Attributes) {
			t.Errorf("record %d has %d message attributes, want %d", i, len(rec.MessageAttributes), len(msg.Attributes))
		}
		for k, v := range msg.Attributes {
			a := rec.MessageAttributes[k]
			if a.DataType != "String" || a.StringValue == nil || *a.StringValue != v {
				t.Errorf("record %d attribute %s = %+v, want String %q", i, k, a, v)
			}
		}
	}
	byBody := map[string]events.SQSMessage{}
	for _, rec := range ev.Records {
		byBody[rec.Body] = rec
	}
	if got, want := byBody[`{"v":1,"target_id":"example"}`].Md5OfMessageAttributes, local.AttributesMD5(attrs); got != want || got == "" {
		t.Errorf("md5OfMessageAttributes = %q, want %q", got, want)
	}
	if got := byBody["plain body, no attributes"].Md5OfMessageAttributes; got != "" {
		t.Errorf("md5OfMessageAttributes of a message without attributes = %q, want none", got)
	}

	// The JSON a handler decodes has the same keys as a real delivery.
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var ours struct{ Records []map[string]any }
	if err := json.Unmarshal(data, &ours); err != nil {
		t.Fatal(err)
	}
	_, golden := goldenRecords(t)
	g := golden[0]
	gAttr := keys(g["messageAttributes"].(map[string]any)["run_id"])
	for i, rec := range ours.Records {
		if got, want := keys(rec), keys(g); !slices.Equal(got, want) {
			t.Errorf("record %d keys = %v, want %v", i, got, want)
		}
		if got, want := keys(rec["attributes"]), keys(g["attributes"]); !slices.Equal(got, want) {
			t.Errorf("record %d attributes = %v, want %v", i, got, want)
		}
		if _, isObject := rec["messageAttributes"].(map[string]any); !isObject {
			t.Errorf("record %d messageAttributes = %v, want an object (Lambda sends {} when there are none)", i, rec["messageAttributes"])
		}
		for name, a := range rec["messageAttributes"].(map[string]any) {
			if got := keys(a); !slices.Equal(got, gAttr) {
				t.Errorf("record %d attribute %s keys = %v, want %v", i, name, got, gAttr)
			}
		}
	}
}

func TestAttributesMD5MatchesSQS(t *testing.T) {
	recs, _ := goldenRecords(t)
	for _, rec := range recs {
		attrs := map[string]string{}
		for k, a := range rec.MessageAttributes {
			if a.DataType != "String" || a.StringValue == nil {
				t.Fatalf("golden attribute %s is %+v, want a String", k, a)
			}
			attrs[k] = *a.StringValue
		}
		if got := local.AttributesMD5(attrs); got != rec.Md5OfMessageAttributes {
			t.Errorf("AttributesMD5(%v) = %s, want %s (as SQS computed it)", attrs, got, rec.Md5OfMessageAttributes)
		}
	}
	// The sum does not depend on the order the map is walked in.
	attrs := map[string]string{}
	for i := range 10 {
		attrs[fmt.Sprintf("k%d", i)] = fmt.Sprint(i)
	}
	first := local.AttributesMD5(attrs)
	for range 20 {
		if got := local.AttributesMD5(attrs); got != first {
			t.Fatalf("AttributesMD5 changed from %s to %s for the same attributes", first, got)
		}
	}
}

func TestMappingInvokeOutcomes(t *testing.T) {
	t.Parallel() // it waits out a visibility timeout
	bodies := numbered("m", 4)
	failFirstTwo := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		var resp events.SQSEventResponse
		for _, r := range ev.Records {
			if r.Body == bodies[0] || r.Body == bodies[1] {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
			}
		}
		return resp, nil
	}
	naming := func(id string) local.SQSHandler {
		return func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: id}}}, nil
		}
	}
	errBoom := errors.New("boom")
	cases := []struct {
		name    string
		handler local.SQSHandler
		stay    []string // bodies left for redelivery
		err     error    // the invocation's error wraps it (nil: no error)
		anyErr  bool     // the invocation fails with some error
	}{
		{name: "success", handler: func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{}, nil
		}},
		{name: "partial batch failure", handler: failFirstTwo, stay: bodies[:2]},
		{name: "handler error", handler: func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{}, errBoom
		}, stay: bodies, err: errBoom},
		{name: "handler panic", handler: func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
			panic("boom")
		}, stay: bodies, err: local.ErrPanic},
		{name: "unknown item identifier", handler: naming("not-a-message-of-the-batch"), stay: bodies, anyErr: true},
		{name: "empty item identifier", handler: naming(""), stay: bodies, anyErr: true},
	}
	// First every case's invocation, then one wait for the visibility
	// timeout shared by all, so the test takes it once.
	type pending struct {
		name     string
		q        *localq.Queue
		received time.Time
		stay     []string
	}
	var waiting []pending
	for _, tc := range cases {
		q, _ := openQueue(t, visibility, 5) // outlives the subtest
		t.Run(tc.name, func(t *testing.T) {
			sendBodies(t, q, bodies...)
			received := time.Now()
			msgs := receiveAll(t, q, len(bodies))

			m := &local.Mapping{Function: "worker", Queue: q, Handler: tc.handler}
			inv := m.Invoke(context.Background(), msgs)

			wantErr := tc.err != nil || tc.anyErr
			if inv.Records != len(bodies) || inv.Failed != len(tc.stay) || (inv.Err != nil) != wantErr {
				t.Errorf("Invoke = %+v, want %d records, %d failed, error %v", inv, len(bodies), len(tc.stay), wantErr)
			}
			if tc.err != nil && !errors.Is(inv.Err, tc.err) {
				t.Errorf("Invoke error = %v, want it to wrap %v", inv.Err, tc.err)
			}
			// What succeeded is deleted; what failed waits out its visibility timeout.
			if d := depth(t, q); d.InFlight != len(tc.stay) || d.Visible != 0 || d.Delayed != 0 {
				t.Errorf("after Invoke depth = %+v, want %d in flight and nothing else", d, len(tc.stay))
			}
			waiting = append(waiting, pending{tc.name, q, received, tc.stay})
		})
	}
	for _, p := range waiting {
		t.Run(p.name+"/redelivery", func(t *testing.T) {
			// Collect what comes back until well after the visibility timeout.
			var back []queue.Message
			until := p.received.Add(visibility + 600*time.Millisecond)
			for {
				got, err := p.q.Receive(context.Background(), queue.ReceiveOptions{Max: queue.MaxBatch, Wait: max(time.Until(until), 0)})
				if err != nil {
					t.Fatal(err)
				}
				if len(got) > 0 && time.Since(p.received) < visibility {
					t.Errorf("%d messages came back %v after the receive, before the visibility timeout", len(got), time.Since(p.received))
				}
				back = append(back, got...)
				if len(got) == 0 && time.Until(until) <= 0 {
					break
				}
			}
			var gotBodies []string
			for _, msg := range back {
				gotBodies = append(gotBodies, msg.Body)
				if msg.ReceiveCount != 2 {
					t.Errorf("%s came back with ReceiveCount %d, want 2", msg.Body, msg.ReceiveCount)
				}
			}
			slices.Sort(gotBodies)
			if !slices.Equal(gotBodies, p.stay) {
				t.Errorf("redelivered %v, want %v", gotBodies, p.stay)
			}
		})
	}
}

func TestMappingHandlerContextDeadline(t *testing.T) {
	for _, tc := range []struct {
		timeout, want time.Duration
	}{
		{2 * time.Second, 2 * time.Second},
		{0, 30 * time.Second}, // Mapping's default
	} {
		t.Run(fmt.Sprint(tc.want), func(t *testing.T) {
			q, _ := openQueue(t, visibility, 5)
			sendBodies(t, q, "x")
			msgs := receiveAll(t, q, 1)
			var (
				left time.Duration
				has  bool
			)
			m := &local.Mapping{Queue: q, Timeout: tc.timeout, Handler: func(ctx context.Context, _ events.SQSEvent) (events.SQSEventResponse, error) {
				var dl time.Time
				dl, has = ctx.Deadline()
				left = time.Until(dl)
				return events.SQSEventResponse{}, nil
			}}
			// Even a shutdown under way does not cut the invocation short
			// before its timeout.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			m.Invoke(ctx, msgs)
			if !has || left > tc.want || left < tc.want-time.Second {
				t.Errorf("handler context deadline in %v (set %v), want ≈ %v", left, has, tc.want)
			}
		})
	}
}

func TestMappingRunDeletesSuccesses(t *testing.T) {
	q, _ := openQueue(t, 30*time.Second, 3)
	bodies := numbered("ok", 7)
	sendBodies(t, q, bodies...)
	rec := &recorder{}
	stop := startMapping(t, &local.Mapping{Queue: q, Handler: rec.handle, PollWait: 50 * time.Millisecond})
	eventually(t, 5*time.Second, "queue not emptied", func() bool { return depth(t, q).Total() == 0 })
	stop()
	got := rec.bodies()
	for _, b := range bodies {
		if got[b] != 1 {
			t.Errorf("%s delivered %d times, want 1", b, got[b])
		}
	}
}

func TestMappingRunDeadLettersAfterMaxReceiveCount(t *testing.T) {
	t.Parallel() // it waits out two visibility timeouts
	const maxReceive = 2
	q, dlq := openQueue(t, visibility, maxReceive)
	sendBodies(t, q, "good-1", "poison", "good-2")
	var (
		mu     sync.Mutex
		counts []string // ApproximateReceiveCount of each delivery of poison
	)
	rec := &recorder{fn: func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		var resp events.SQSEventResponse
		for _, r := range ev.Records {
			if r.Body == "poison" {
				mu.Lock()
				counts = append(counts, r.Attributes["ApproximateReceiveCount"])
				mu.Unlock()
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
			}
		}
		return resp, nil
	}}
	stop := startMapping(t, &local.Mapping{Queue: q, Handler: rec.handle, PollWait: 50 * time.Millisecond})
	eventually(t, 8*time.Second, "poison not dead-lettered", func() bool {
		return depth(t, dlq).Total() == 1 && depth(t, q).Total() == 0
	})
	stop()

	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(counts, []string{"1", "2"}) {
		t.Errorf("poison delivered with receive counts %v, want [1 2] (maxReceiveCount %d)", counts, maxReceive)
	}
	if got := rec.bodies(); got["good-1"] != 1 || got["good-2"] != 1 {
		t.Errorf("deliveries = %v, want the good messages once each", got)
	}
	dl := receiveAll(t, dlq, 1)
	if dl[0].Body != "poison" {
		t.Errorf("DLQ holds %q, want poison", dl[0].Body)
	}
}

func TestMappingRunSurvivesPanic(t *testing.T) {
	q, _ := openQueue(t, 30*time.Second, 5)
	rec := &recorder{fn: func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		if ev.Records[0].Body == "panics" {
			panic("handler bug")
		}
		return events.SQSEventResponse{}, nil
	}}
	stop := startMapping(t, &local.Mapping{Queue: q, Handler: rec.handle, BatchSize: 1, MaxConcurrency: 1, PollWait: 50 * time.Millisecond})
	sendBodies(t, q, "panics")
	eventually(t, 5*time.Second, "handler not invoked", func() bool { return rec.bodies()["panics"] == 1 })
	// The one poller survived the panic: it goes on with the next message.
	sendBodies(t, q, "after")
	eventually(t, 5*time.Second, "message after the panic not handled", func() bool { return rec.bodies()["after"] == 1 })
	stop()
	// The panicking batch was not deleted: it waits for redelivery.
	if d := depth(t, q); d.InFlight != 1 || d.Total() != 1 {
		t.Errorf("depth = %+v, want the panicking message in flight", d)
	}
}

func TestMappingRunBatchSize(t *testing.T) {
	q, _ := openQueue(t, 30*time.Second, 3)
	bodies := numbered("b", 25)
	sendBodies(t, q, bodies...)
	rec := &recorder{}
	stop := startMapping(t, &local.Mapping{Queue: q, Handler: rec.handle, BatchSize: 4, PollWait: 50 * time.Millisecond})
	eventually(t, 5*time.Second, "queue not emptied", func() bool { return depth(t, q).Total() == 0 })
	stop()
	sizes := rec.sizes()
	if slices.Max(sizes) != 4 {
		t.Errorf("batch sizes %v, want none over 4 and full batches of 4", sizes)
	}
	got := rec.bodies()
	if len(got) != len(bodies) {
		t.Errorf("%d distinct messages delivered, want %d", len(got), len(bodies))
	}
	for b, n := range got {
		if n != 1 {
			t.Errorf("%s delivered %d times, want 1", b, n)
		}
	}
}

func TestMappingRunMaxConcurrency(t *testing.T) {
	for _, limit := range []int{2, 3} {
		t.Run(strconv.Itoa(limit), func(t *testing.T) {
			t.Parallel()
			q, _ := openQueue(t, 30*time.Second, 3)
			sendBodies(t, q, numbered("c", 4*limit)...)
			var (
				mu                sync.Mutex
				inFlight, maxSeen int
			)
			h := func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
				mu.Lock()
				inFlight++
				maxSeen = max(maxSeen, inFlight)
				mu.Unlock()
				time.Sleep(60 * time.Millisecond)
				mu.Lock()
				inFlight--
				mu.Unlock()
				return events.SQSEventResponse{}, nil
			}
			stop := startMapping(t, &local.Mapping{Queue: q, Handler: h, BatchSize: 1, MaxConcurrency: limit, PollWait: 50 * time.Millisecond})
			eventually(t, 5*time.Second, "queue not emptied", func() bool { return depth(t, q).Total() == 0 })
			stop()
			mu.Lock()
			defer mu.Unlock()
			if maxSeen != limit {
				t.Errorf("at most %d invocations ran at once, want %d (MaxConcurrency)", maxSeen, limit)
			}
		})
	}
}

func TestMappingRunBatchWindow(t *testing.T) {
	q, _ := openQueue(t, 30*time.Second, 3)
	rec := &recorder{}
	stop := startMapping(t, &local.Mapping{Queue: q, Handler: rec.handle, BatchWindow: 300 * time.Millisecond, MaxConcurrency: 1, PollWait: 50 * time.Millisecond})
	bodies := numbered("w", 5)
	for _, b := range bodies {
		sendBodies(t, q, b)
		time.Sleep(50 * time.Millisecond)
	}
	eventually(t, 5*time.Second, "queue not emptied", func() bool { return depth(t, q).Total() == 0 })
	stop()
	if sizes := rec.sizes(); slices.Max(sizes) < 2 {
		t.Errorf("batch sizes %v, want the window to gather messages sent 50ms apart", sizes)
	}
	if got := rec.bodies(); len(got) != len(bodies) {
		t.Errorf("delivered %v, want each of %v", got, bodies)
	}
}

// A batch window longer than one long poll (SQS allows 20 s per receive,
// Lambda and `cronless run` up to 5 minutes) still gathers, and a batch that
// fills up is invoked at once.
func TestMappingRunLongBatchWindow(t *testing.T) {
	q, _ := openQueue(t, 30*time.Second, 3)
	rec := &recorder{}
	stop := startMapping(t, &local.Mapping{Queue: q, Handler: rec.handle, BatchSize: 3, BatchWindow: time.Minute, MaxConcurrency: 1, PollWait: 50 * time.Millisecond})
	sendBodies(t, q, "first")
	time.Sleep(100 * time.Millisecond)
	sendBodies(t, q, "second", "third")
	eventually(t, 5*time.Second, "full batch not invoked", func() bool { return depth(t, q).Total() == 0 })
	stop()
	if sizes := rec.sizes(); !slices.Equal(sizes, []int{3}) {
		t.Errorf("batch sizes %v, want one batch of 3", sizes)
	}
}

func TestMappingRunShutdownFinishesInFlight(t *testing.T) {
	q, _ := openQueue(t, visibility, 3)
	bodies := numbered("s", 3)
	sendBodies(t, q, bodies...)
	started := make(chan struct{})
	release := make(chan struct{})
	var ctxErr error
	rec := &recorder{fn: func(ctx context.Context, _ events.SQSEvent) (events.SQSEventResponse, error) {
		close(started)
		<-release
		ctxErr = ctx.Err()
		return events.SQSEventResponse{}, nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- (&local.Mapping{Queue: q, Handler: rec.handle, MaxConcurrency: 1, Timeout: 5 * time.Second, PollWait: 50 * time.Millisecond}).Run(ctx)
	}()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("handler not invoked")
	}
	cancel()
	select {
	case <-done:
		t.Fatal("Run returned while an invocation was in flight")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the in-flight invocation finished")
	}
	if ctxErr != nil {
		t.Errorf("the in-flight invocation's context ended with the shutdown: %v", ctxErr)
	}
	if got := rec.bodies(); len(got) != len(bodies) {
		t.Fatalf("the in-flight batch held %v, want %v", got, bodies)
	}
	// Its records were deleted, not left in flight: nothing will come back.
	if d := depth(t, q); d.Total() != 0 {
		t.Errorf("after shutdown depth = %+v, want empty", d)
	}
}

// A handler that outlives the function timeout fails the whole batch, even
// when it then reports success: Lambda has ended the invocation.
func TestMappingTimeoutFailsBatch(t *testing.T) {
	q, _ := openQueue(t, visibility, 5)
	sendBodies(t, q, "slow")
	msgs := receiveAll(t, q, 1)
	m := &local.Mapping{Queue: q, Timeout: time.Second, Handler: func(ctx context.Context, _ events.SQSEvent) (events.SQSEventResponse, error) {
		<-ctx.Done()
		return events.SQSEventResponse{}, nil
	}}
	inv := m.Invoke(context.Background(), msgs)
	if !errors.Is(inv.Err, local.ErrTimeout) || inv.Failed != 1 {
		t.Fatalf("invocation = %+v, want the whole batch failed with ErrTimeout", inv)
	}
	if d := depth(t, q); d.Total() != 1 {
		t.Errorf("queue holds %d messages, want the timed-out one kept", d.Total())
	}
}
