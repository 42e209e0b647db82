package dynamo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	smithytime "github.com/aws/smithy-go/time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/standin"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo/ddb"
)

// failAPI injects faults into the calls of API, as DynamoDB under load
// would (dynalite never throttles). fail, when set, returns the error a
// call gets instead of being made (nil: the call is made). The first
// unprocessed BatchWriteItem calls write only their first keep items and
// return the others as UnprocessedItems.
type failAPI struct {
	API
	fail        func(op string, in any) error
	unprocessed int
	keep        int

	mu         sync.Mutex
	batchCalls int
}

func (f *failAPI) inject(op string, in any) error {
	if f.fail == nil {
		return nil
	}
	return f.fail(op, in)
}

func (f *failAPI) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if err := f.inject("GetItem", in); err != nil {
		return nil, err
	}
	return f.API.GetItem(ctx, in, o...)
}

func (f *failAPI) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if err := f.inject("PutItem", in); err != nil {
		return nil, err
	}
	return f.API.PutItem(ctx, in, o...)
}

func (f *failAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if err := f.inject("UpdateItem", in); err != nil {
		return nil, err
	}
	return f.API.UpdateItem(ctx, in, o...)
}

func (f *failAPI) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if err := f.inject("Query", in); err != nil {
		return nil, err
	}
	return f.API.Query(ctx, in, o...)
}

func (f *failAPI) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	if err := f.inject("BatchWriteItem", in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.batchCalls++
	partial := f.batchCalls <= f.unprocessed
	f.mu.Unlock()
	if !partial {
		return f.API.BatchWriteItem(ctx, in, o...)
	}
	out := &dynamodb.BatchWriteItemOutput{UnprocessedItems: map[string][]types.WriteRequest{}}
	for table, reqs := range in.RequestItems {
		n := min(f.keep, len(reqs))
		if n > 0 {
			w, err := f.API.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
				RequestItems: map[string][]types.WriteRequest{table: reqs[:n]},
			}, o...)
			if err != nil {
				return nil, err
			}
			out.UnprocessedItems[table] = append(out.UnprocessedItems[table], w.UnprocessedItems[table]...)
		}
		out.UnprocessedItems[table] = append(out.UnprocessedItems[table], reqs[n:]...)
	}
	return out, nil
}

func (f *failAPI) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.batchCalls
}

// history is 3 runs of 20 targets: with the run and target items, 83 items
// to import, 4 batches.
func history() ([]store.Run, []job.Result) {
	var (
		runs []store.Run
		rs   []job.Result
	)
	for i := range 3 {
		runs = append(runs, store.Run{ID: job.RunID("hourly", tick(i)), Schedule: "hourly", ScheduledAt: tick(i), Planned: 20})
		for ti := range 20 {
			if (i+ti)%6 == 0 {
				rs = append(rs, failedResult(fmt.Sprintf("t%02d", ti), i))
			} else {
				rs = append(rs, okResult(fmt.Sprintf("t%02d", ti), i, fmt.Sprint("h", (i*ti)%2)))
			}
		}
	}
	return runs, rs
}

const seedItems = 3 + 60 + 20

// recordSleeps replaces s's backoff sleep with one that records the waits
// and does not wait.
func recordSleeps(s *Store) *[]time.Duration {
	var (
		mu     sync.Mutex
		sleeps []time.Duration
	)
	s.retry.Sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		sleeps = append(sleeps, d)
		return ctx.Err()
	}
	return &sleeps
}

func TestBatchWriteRetriesUnprocessed(t *testing.T) {
	client := dynalite(t)
	api := &failAPI{API: client, unprocessed: 4, keep: 5}
	s := New(api, newTable(t, client), WithRetry(6, 10*time.Millisecond, 40*time.Millisecond))
	sleeps := recordSleeps(s)
	runs, rs := history()
	if err := s.Import(t.Context(), runs, rs); err != nil {
		t.Fatalf("Import: %v", err)
	}
	// The first batch of 25 takes 5 calls (5 items each of the first 4,
	// then the last 5); the 3 others one each.
	if got := api.calls(); got != 5+3 {
		t.Errorf("%d BatchWriteItem calls, want 8", got)
	}
	if len(*sleeps) != 4 {
		t.Fatalf("backoff waits %v, want 4", *sleeps)
	}
	for i, d := range *sleeps {
		ceiling := min(10*time.Millisecond<<i, 40*time.Millisecond)
		if d < ceiling/2 || d > ceiling {
			t.Errorf("wait %d = %v, want between %v and %v (exponential, capped, with jitter)", i+1, d, ceiling/2, ceiling)
		}
	}
	// Everything was written.
	got, err := s.Runs(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("Runs = %+v, want 3", got)
	}
	for _, run := range got {
		if run.Planned != 20 || run.Done() != 20 {
			t.Errorf("run %s: planned %d, done %d; want 20, 20", run.ID, run.Planned, run.Done())
		}
	}
	if l, err := s.Latest(t.Context(), ""); err != nil || len(l) != 20 {
		t.Errorf("Latest = %d results, %v; want 20", len(l), err)
	}
}

func TestBatchWriteGivesUp(t *testing.T) {
	client := dynalite(t)
	// Of the first batch, 10 items are written per call, 2 calls: 5 are
	// left, and the 3 later batches are never sent.
	api := &failAPI{API: client, unprocessed: 1000, keep: 10}
	table := newTable(t, client)
	s := New(api, table, WithRetry(2, time.Millisecond, time.Millisecond))
	sleeps := recordSleeps(s)
	runs, rs := history()
	err := s.Import(t.Context(), runs, rs)
	var be *BatchError
	if !errors.As(err, &be) || !errors.Is(err, ErrUnprocessed) {
		t.Fatalf("Import error = %v, want a *BatchError wrapping ErrUnprocessed", err)
	}
	if want := 5 + seedItems - 25; len(be.Unwritten) != want || be.Total != seedItems {
		t.Errorf("%d of %d unwritten, want %d of %d", len(be.Unwritten), be.Total, want, seedItems)
	}
	if !strings.Contains(err.Error(), "dynamo: import") || !strings.Contains(err.Error(), be.Unwritten[0]) {
		t.Errorf("error %q does not say what it did and what was not written", err)
	}
	if api.calls() != 2 || len(*sleeps) != 1 {
		t.Errorf("%d calls, %d waits; want 2 calls, 1 wait", api.calls(), len(*sleeps))
	}
	// What it names is exactly what is missing.
	unwritten := map[string]bool{}
	for _, k := range be.Unwritten {
		unwritten[k] = true
	}
	for _, k := range []item{runKey(runs[0].ID), runKey(runs[2].ID), ddb.Key(targetPK("t00"), resultSK(runs[0].ScheduledAt, runs[0].ID)), ddb.Key(targetsPK("t19"), targetPK("t19"))} {
		_, found, err := s.getItem(t.Context(), k)
		if err != nil {
			t.Fatal(err)
		}
		if found == unwritten[k.KeyString()] {
			t.Errorf("item %s: stored %v, named unwritten %v", k.KeyString(), found, unwritten[k.KeyString()])
		}
	}
}

func TestBatchWriteCanceled(t *testing.T) {
	client := dynalite(t)
	api := &failAPI{API: client, unprocessed: 1000, keep: 0}
	s := New(api, newTable(t, client))
	ctx, cancel := context.WithCancel(t.Context())
	s.retry.Sleep = func(ctx context.Context, d time.Duration) error {
		cancel()
		return smithytime.SleepWithContext(ctx, d)
	}
	runs, rs := history()
	err := s.Import(ctx, runs, rs)
	var be *BatchError
	if !errors.As(err, &be) || !errors.Is(err, context.Canceled) || len(be.Unwritten) != seedItems {
		t.Fatalf("Import error = %v, want a *BatchError wrapping context.Canceled naming all %d items", err, seedItems)
	}
}

// TestPermanentErrors: an error that no retry fixes surfaces, wrapped with
// what the Store was doing, and errors.As finds the SDK's error.
func TestPermanentErrors(t *testing.T) {
	client := dynalite(t)
	table := newTable(t, client)
	notFound := func(op string, in any) error {
		return &types.ResourceNotFoundException{Message: aws.String("Requested resource not found")}
	}
	s := New(&failAPI{API: client, fail: notFound}, table)
	r := okResult("a", 0, "h")
	calls := []struct {
		what string
		err  error
	}{
		{"dynamo: put result a/" + r.RunID + ": create run", func() error { _, err := s.PutResult(t.Context(), r); return err }()},
		{"dynamo: put run", func() error {
			_, err := s.PutRun(t.Context(), store.Run{ID: r.RunID, ScheduledAt: r.ScheduledAt})
			return err
		}()},
		{"dynamo: record attempt", s.RecordAttempt(t.Context(), store.Attempt{RunID: r.RunID, TargetID: "a", Attempt: 1})},
		{"dynamo: run", func() error { _, err := s.Run(t.Context(), r.RunID); return err }()},
		{"dynamo: runs", func() error { _, err := s.Runs(t.Context(), 5); return err }()},
		{"dynamo: results of run", func() error { _, err := s.RunResults(t.Context(), r.RunID); return err }()},
		{"dynamo: latest", func() error { _, err := s.Latest(t.Context(), ""); return err }()},
		{"dynamo: attempts", func() error { _, err := s.Attempts(t.Context(), r.RunID, "a"); return err }()},
		{"dynamo: import", s.Import(t.Context(), nil, []job.Result{r})},
	}
	for _, c := range calls {
		var nf *types.ResourceNotFoundException
		if !errors.As(c.err, &nf) || !strings.HasPrefix(c.err.Error(), c.what) {
			t.Errorf("error %v, want %q... wrapping ResourceNotFoundException", c.err, c.what)
		}
	}

	// The same from a real client and a table that does not exist.
	_, err := New(client, "no-such-table").PutResult(t.Context(), r)
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("PutResult to a missing table: %v, want ResourceNotFoundException", err)
	}
}

// TestThrottledAfterSDKRetries: when throttling outlasts the SDK's
// retries, the error surfaces (the results handler then leaves the message
// for SQS to redeliver) and the redelivery stores the result once, with
// right counters, wherever the first put stopped.
func TestThrottledAfterSDKRetries(t *testing.T) {
	client := dynalite(t)
	for _, tt := range []struct {
		name string
		op   string
		sk   string
		err  error
	}{
		{"run item", "UpdateItem", skRun, &types.ThrottlingException{Message: aws.String("injected")}},
		{"result put", "PutItem", resultSK(tick(2), job.RunID("hourly", tick(2))), &types.ProvisionedThroughputExceededException{Message: aws.String("injected")}},
		{"next result's flag", "UpdateItem", resultSK(tick(3), job.RunID("hourly", tick(3))), &types.ThrottlingException{Message: aws.String("injected")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			table := newTable(t, client)
			plain := New(client, table)
			// Ticks 1 and 3 first, then 2 arrives late and is throttled.
			for _, r := range []job.Result{okResult("a", 1, "A"), okResult("a", 3, "A")} {
				if _, err := plain.PutResult(t.Context(), r); err != nil {
					t.Fatal(err)
				}
			}
			var once sync.Once
			throttled := New(&failAPI{API: client, fail: func(op string, in any) error {
				var err error
				if op == tt.op && sortKey(in) == tt.sk {
					once.Do(func() { err = tt.err })
				}
				return err
			}}, table)
			late := okResult("a", 2, "B")
			_, err := throttled.PutResult(t.Context(), late)
			if !errors.As(err, new(interface{ ErrorCode() string })) || !strings.Contains(err.Error(), "dynamo: put result a/") {
				t.Fatalf("throttled put: %v, want the throttling error, wrapped", err)
			}
			if _, err := throttled.PutResult(t.Context(), late); err != nil {
				t.Fatalf("redelivery: %v", err)
			}
			run, err := plain.Run(t.Context(), late.RunID)
			if err != nil {
				t.Fatal(err)
			}
			if run.Succeeded != 1 || run.Failed != 0 {
				t.Errorf("run counters %d/%d, want 1/0", run.Succeeded, run.Failed)
			}
			wantChanged(t, plain, "a", map[int]bool{1: false, 2: true, 3: true}, 3)
		})
	}
}

// faultDoer is the HTTP client of a real SDK client: it answers chosen
// requests with an error instead of DynamoDB's answer, or after it (the
// write happened, the response was lost), so that the SDK's own retryer
// is what deals with them.
type faultDoer struct {
	next   *http.Client
	decide func(op string, body []byte) (code string, status int, forward bool)

	mu   sync.Mutex
	seen map[string]int // op -> requests
}

func (d *faultDoer) Do(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	op := strings.TrimPrefix(req.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	d.mu.Lock()
	d.seen[op]++
	code, status, forward := d.decide(op, body)
	d.mu.Unlock()
	if code == "" || forward {
		resp, err := d.next.Do(req)
		if err != nil || code == "" {
			return resp, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	msg := `{"__type":"` + code + `","message":"injected"}`
	return &http.Response{
		StatusCode: status,
		Status:     http.StatusText(status),
		Header: http.Header{
			"Content-Type":     {"application/x-amz-json-1.0"},
			"X-Amzn-Requestid": {"injected"},
			"X-Amz-Crc32":      {strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(msg))), 10)},
		},
		Body:    io.NopCloser(strings.NewReader(msg)),
		Request: req,
	}, nil
}

// TestThrottlingRetriedBySDK: throttling and 5xx answers to PutItem and
// UpdateItem are retried by the SDK client's retryer (the Store has no
// retry loop of its own for them), including a write whose response was
// lost after it was applied; every result is stored once, with right
// counters, flags and latest.
func TestThrottlingRetriedBySDK(t *testing.T) {
	srv := standin.Dynalite(t, "")
	const (
		ptee     = "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
		throttle = "com.amazon.coral.availability#ThrottlingException"
		internal = "com.amazonaws.dynamodb.v20120810#InternalServerError"
	)
	p, x := okResult("a", 1, "A"), okResult("a", 2, "B")
	faults := map[string][]struct {
		code    string
		status  int
		forward bool
	}{
		// Result p's put: throttled twice, then stored.
		"PutItem " + resultSK(p.ScheduledAt, p.RunID): {{ptee, 400, false}, {throttle, 400, false}},
		// Run item of x: throttled once.
		"UpdateItem " + skRun: {{throttle, 400, false}},
		// Result x's put: applied, but the answer is lost; the SDK's retry
		// then finds the item.
		"PutItem " + resultSK(x.ScheduledAt, x.RunID): {{internal, 500, true}},
		// The target list's item of a (p is its first result): throttled once.
		"PutItem " + targetPK("a"): {{ptee, 400, false}},
	}
	var injected int
	doer := &faultDoer{next: &http.Client{}, seen: map[string]int{}, decide: func(op string, body []byte) (string, int, bool) {
		for k, fs := range faults {
			kop, sk, _ := strings.Cut(k, " ")
			if kop != op || len(fs) == 0 || !bytes.Contains(body, []byte(`"SK":{"S":"`+sk+`"}`)) {
				continue
			}
			faults[k] = fs[1:]
			injected++
			return fs[0].code, fs[0].status, fs[0].forward
		}
		return "", 0, false
	}}
	client := dynamodb.NewFromConfig(standin.AWSConfig(t), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(srv.Endpoint)
		o.HTTPClient = doer
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 5
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
			so.RateLimiter = ratelimit.None
		})
	})
	s := New(client, newTable(t, client))
	for _, r := range []job.Result{p, x} {
		if _, err := s.PutResult(t.Context(), r); err != nil {
			t.Fatalf("PutResult(%s): %v", r.RunID, err)
		}
	}
	if injected != 5 {
		t.Errorf("%d faults injected, want 5 (%v)", injected, faults)
	}
	for _, r := range []job.Result{p, x} {
		run, err := s.Run(t.Context(), r.RunID)
		if err != nil {
			t.Fatal(err)
		}
		if run.Succeeded != 1 || run.Failed != 0 {
			t.Errorf("run %s: counters %d/%d, want 1/0", r.RunID, run.Succeeded, run.Failed)
		}
	}
	wantChanged(t, s, "a", map[int]bool{1: false, 2: true}, 2)
}
