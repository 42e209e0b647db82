// Package functions_test runs the three Lambda functions as built binaries
// under the Lambda runtime interface emulator (aws-lambda-rie), against
// fauxqs (SQS) and dynalite (DynamoDB) on 127.0.0.1, and drives the worker
// and results functions with SQS events built from the real queues, as the
// event source mapping would.
package functions_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/cronless/cronless/shared/emf"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/local"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/queue/sqsq"
	"github.com/cronless/cronless/shared/standin"
	"github.com/cronless/cronless/shared/store/dynamo"
)

const maxReceives = 2

// build compiles a function's bootstrap for this machine, as the Lambda
// build does for arm64 (no cgo, lambda.norpc).
func build(t *testing.T, fn, dir string) string {
	t.Helper()
	out := filepath.Join(dir, fn, "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", out, "./functions/"+fn)
	cmd.Dir = standin.Root()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", fn, err, b)
	}
	return out
}

// function is one bootstrap running under its own aws-lambda-rie.
type function struct {
	name   string
	invoke string // the invocation URL
	log    *bytes.Buffer
	mu     sync.Mutex
}

func startFunction(t *testing.T, rie, bootstrap, name string, env map[string]string) *function {
	t.Helper()
	apiPort, rapidPort := standin.FreePort(t), standin.FreePort(t)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", "127.0.0.1:"+strconv.Itoa(apiPort),
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(rapidPort), bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_REGION=" + standin.Region,
		"AWS_LAMBDA_FUNCTION_NAME=cronless-test-" + name, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_EC2_METADATA_DISABLED=true"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	f := &function{name: name, invoke: fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", apiPort), log: &bytes.Buffer{}}
	w := &lockedWriter{f: f}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return f
}

type lockedWriter struct{ f *function }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.f.mu.Lock()
	defer w.f.mu.Unlock()
	return w.f.log.Write(p)
}

func (f *function) logs() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.log.String()
}

// call invokes the function once (the emulator takes one invocation at a
// time) and returns the response body.
func (f *function) call(t *testing.T, payload []byte) []byte {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Post(f.invoke, "application/json", bytes.NewReader(payload))
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("invoke %s: %v\n%s", f.name, err, f.logs())
		}
		time.Sleep(50 * time.Millisecond) // the emulator is still starting
	}
}

type stack struct {
	sqs                        *sqs.Client
	jobs, jobsDLQ, res, resDLQ string // queue URLs
	table                      string
	store                      *dynamo.Store
	dynamoEndpoint             string // dynalite's
	env                        map[string]string
}

func newStack(t *testing.T) *stack {
	t.Helper()
	ctx := context.Background()
	fq, dl := standin.Fauxqs(t), standin.Dynalite(t, "")
	s := &stack{sqs: fq.SQS(t), table: "cronless-test"}
	mk := func(name string, dlq string) string {
		attrs := map[string]string{"VisibilityTimeout": "30"}
		if dlq != "" {
			arn, err := s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &dlq, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
			if err != nil {
				t.Fatal(err)
			}
			attrs["RedrivePolicy"] = fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"%d"}`, arn.Attributes["QueueArn"], maxReceives)
		}
		out, err := s.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
		if err != nil {
			t.Fatal(err)
		}
		return *out.QueueUrl
	}
	s.jobsDLQ = mk("cronless-test-targets-dlq", "")
	s.resDLQ = mk("cronless-test-results-dlq", "")
	s.jobs = mk("cronless-test-targets", s.jobsDLQ)
	s.res = mk("cronless-test-results", s.resDLQ)
	db := dl.DynamoDB(t)
	if err := dynamo.CreateTable(ctx, db, s.table); err != nil {
		t.Fatal(err)
	}
	s.store = dynamo.New(db, s.table)
	s.dynamoEndpoint = dl.Endpoint
	s.env = map[string]string{
		"AWS_ENDPOINT_URL_SQS": fq.Endpoint, "AWS_ENDPOINT_URL_DYNAMODB": dl.Endpoint,
		"TARGETS_QUEUE_URL": s.jobs, "TARGETS_DLQ_URL": s.jobsDLQ, "RESULTS_QUEUE_URL": s.res, "RESULTS_DLQ_URL": s.resDLQ,
		"TABLE_NAME": s.table, "RETRY_DELAY": "0s", "ALLOW_PRIVATE": "true", "LOG_LEVEL": "debug",
		"HOST_CONCURRENCY": "4", "HOST_DELAY": "0s", "MAX_BODY_BYTES": "1048576", "STAGE": "test",
	}
	return s
}

// drive plays the event source mapping of one queue for fn until the queue
// is empty: receive a batch, invoke, delete what succeeded.
func (s *stack) drive(t *testing.T, fn *function, queueURL string) (invocations int) {
	t.Helper()
	ctx := context.Background()
	q := sqsq.New(s.sqs, queueURL)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: 10, Wait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			d, err := q.Depth(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if d.Total() == 0 {
				return invocations
			}
			continue
		}
		payload, _ := json.Marshal(local.Event(q.ARN(), standin.Region, msgs))
		body := fn.call(t, payload)
		invocations++
		var resp events.SQSEventResponse
		if err := json.Unmarshal(body, &resp); err != nil || strings.Contains(string(body), "errorMessage") {
			t.Fatalf("%s answered %s (%v)\n%s", fn.name, body, err, fn.logs())
		}
		failed := map[string]bool{}
		for _, f := range resp.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		var done []string
		for _, m := range msgs {
			if !failed[m.ID] {
				done = append(done, m.ReceiptHandle)
			}
		}
		if len(done) > 0 {
			if err := q.Delete(ctx, done); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Fatalf("%s: queue not drained in 60s\n%s", fn.name, fn.logs())
	return invocations
}

func TestFunctionsUnderRIE(t *testing.T) {
	rie := standin.RIE(t)
	s := newStack(t)
	ctx := context.Background()

	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			http.NotFound(w, r)
		case "/down":
			http.Error(w, "down", http.StatusInternalServerError)
		case "/missing":
			http.NotFound(w, r)
		case "/one":
			w.Header().Set("ETag", `"one-v1"`)
			if r.Header.Get("If-None-Match") == `"one-v1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, "<title>page %s</title><h1>%s</h1>", r.URL.Path, r.URL.Path)
		default:
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, "<title>page %s</title><h1>%s</h1>", r.URL.Path, r.URL.Path)
		}
	}))
	defer site.Close()

	dir := t.TempDir()
	bins := map[string]string{}
	for _, fn := range []string{"planner", "worker", "results"} {
		bins[fn] = build(t, fn, dir)
	}
	// The planner's targets file is packaged beside its bootstrap; the
	// schedule is the one events/schedule.json names.
	targetsYAML := fmt.Sprintf(`schedules:
  hourly: { expression: "rate(1 hour)", timezone: "Asia/Seoul" }
defaults: { host_rate: 1000/s } # not a pacing test: the local host at full speed
targets:
  - { id: one, url: "%[1]s/one", schedule: hourly, extract: { h1: { css: h1 } } }
  - { id: two, url: "%[1]s/two", schedule: hourly }
  - { id: missing, url: "%[1]s/missing", schedule: hourly }
  - { id: down, url: "%[1]s/down", schedule: hourly }
`, site.URL)
	if err := os.WriteFile(filepath.Join(dir, "planner", "targets.yaml"), []byte(targetsYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	// Each function reaches dynalite through its own recorder, which notes
	// the action and resource of every DynamoDB request.
	dynamoCalls := map[string]*dynamoRecorder{}
	envOf := func(fn string) map[string]string {
		dynamoCalls[fn] = recordDynamoDB(t, s.dynamoEndpoint)
		env := maps.Clone(s.env)
		env["AWS_ENDPOINT_URL_DYNAMODB"] = dynamoCalls[fn].endpoint
		return env
	}
	planner := startFunction(t, rie, bins["planner"], "planner", envOf("planner"))
	worker := startFunction(t, rie, bins["worker"], "worker", envOf("worker"))
	results := startFunction(t, rie, bins["results"], "results", envOf("results"))

	tick, err := os.ReadFile(filepath.Join(standin.Root(), "events", "schedule.json"))
	if err != nil {
		t.Fatal(err)
	}
	var plan struct {
		RunID   string `json:"run_id"`
		Planned int    `json:"planned"`
	}
	body := planner.call(t, tick)
	if err := json.Unmarshal(body, &plan); err != nil || plan.Planned != 4 || plan.RunID != "hourly-20261127T090000Z" {
		t.Fatalf("planner answered %s\n%s", body, planner.logs())
	}

	s.drive(t, worker, s.jobs)
	s.drive(t, results, s.res)

	run, err := s.store.Run(ctx, plan.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Planned != 4 || run.Succeeded != 2 || run.Failed != 1 {
		t.Errorf("run = planned %d ok %d failed %d, want 4 2 1", run.Planned, run.Succeeded, run.Failed)
	}
	latest, err := s.store.Latest(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]job.Result{}
	for _, r := range latest {
		got[r.TargetID] = r
	}
	if r := got["one"]; r.Status != job.StatusOK || r.Fields["h1"] != "/one" {
		t.Errorf("one = %+v, want ok with h1 extracted", r)
	}
	if r := got["missing"]; r.Status != job.StatusFailed || r.HTTPStatus != 404 {
		t.Errorf("missing = %+v, want failed 404", r)
	}
	if _, ok := got["down"]; ok {
		t.Errorf("down has a result; want it dead-lettered")
	}
	// The failing target is in the targets DLQ, its last error recorded.
	dlq := sqsq.New(s.sqs, s.jobsDLQ)
	msgs, err := dlq.Receive(ctx, queue.ReceiveOptions{Max: 10, Wait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Attributes[job.AttrTargetID] != "down" {
		t.Fatalf("targets DLQ holds %+v, want down's job", msgs)
	}
	attempts, err := s.store.Attempts(ctx, plan.RunID, "down")
	if err != nil {
		t.Fatal(err)
	}
	if len(attempts) != maxReceives || attempts[len(attempts)-1].Error.Kind != "http_5xx" {
		t.Errorf("attempts of down = %+v, want %d ending in http_5xx", attempts, maxReceives)
	}

	// A second tick: the planner reads the latest results (Query of GSI1)
	// and sends one's ETag; the site answers 304, and the stored result
	// keeps the first run's fields.
	body = planner.call(t, []byte(`{"schedule": "hourly", "scheduled_time": "2026-11-27T10:00:00Z"}`))
	if err := json.Unmarshal(body, &plan); err != nil || plan.Planned != 4 {
		t.Fatalf("planner answered %s\n%s", body, planner.logs())
	}
	s.drive(t, worker, s.jobs)
	s.drive(t, results, s.res)
	second, err := s.store.Result(ctx, "one", plan.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if !second.NotModified || second.HTTPStatus != 304 || second.Changed || second.ETag != `"one-v1"` || second.Fields["h1"] != "/one" {
		t.Errorf("one's second result = %+v, want a 304, not changed, with the first run's fields", second)
	}

	// Each function writes its metrics as EMF lines on stdout, beside its
	// logs, and they follow the specification.
	for _, tc := range []struct {
		fn   *function
		want []string
	}{
		{worker, []string{`"PagesOK":`, `"NotModified":1`, `"kind":"http_5xx"`, `"kind":"http_4xx"`, `"CrawlDuration":`, `"Bytes":`}},
		{results, []string{`"ResultsStored":`, `"schedule":"hourly"`}}, // nothing changed: the site is the same twice
		{planner, []string{`"JobsPlanned":4`, `"schedule":"hourly"`}},
	} {
		lines := emfLines(t, tc.fn)
		all := strings.Join(lines, "\n")
		for _, w := range tc.want {
			if !strings.Contains(all, w) {
				t.Errorf("%s's EMF lines lack %s:\n%s", tc.fn.name, w, all)
			}
		}
		if strings.Contains(all, plan.RunID) || strings.Contains(all, `"target`) {
			t.Errorf("%s's EMF lines carry a run or target ID:\n%s", tc.fn.name, all)
		}
	}

	checkDynamoGrants(t, s.table, dynamoCalls)

	// The Lambda logs carry the request ID and the cold-start flag.
	if l := worker.logs(); !strings.Contains(l, `"request_id"`) || !strings.Contains(l, `"cold_start":true`) || !strings.Contains(l, `"run_id":"hourly-20261127T090000Z"`) {
		t.Errorf("worker logs lack request_id, cold_start or run_id:\n%s", l)
	}
}

// A missing or bad variable fails the function's init with one error that
// names every problem.
func TestInitErrorNamesEveryProblem(t *testing.T) {
	rie := standin.RIE(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		fn   string
		env  map[string]string
		want []string
	}{
		{"worker", map[string]string{"RESULTS_QUEUE_URL": "nope", "RETRY_DELAY": "soon",
			"HOST_CONCURRENCY": "0", "HOST_DELAY": "later", "MAX_BODY_BYTES": "5MB"},
			[]string{"TARGETS_QUEUE_URL is not set", "TARGETS_DLQ_URL is not set", `RESULTS_QUEUE_URL="nope" is not a queue URL`, `RETRY_DELAY="soon"`,
				`HOST_CONCURRENCY="0"`, `HOST_DELAY="later"`, `MAX_BODY_BYTES="5MB"`}},
		{"results", map[string]string{}, []string{"TABLE_NAME is not set", "RESULTS_DLQ_URL is not set", "STAGE is not set"}},
		{"planner", map[string]string{"TABLE_NAME": "t"}, []string{"TARGETS_QUEUE_URL is not set"}},
	} {
		t.Run(tc.fn, func(t *testing.T) {
			f := startFunction(t, rie, build(t, tc.fn, dir), tc.fn, tc.env)
			var initErr struct {
				Message string `json:"errorMessage"`
				Type    string `json:"errorType"`
			}
			raw := f.call(t, []byte(`{}`))
			if err := json.Unmarshal(raw, &initErr); err != nil || initErr.Type != "Runtime.InitError" {
				t.Fatalf("response %s is not an init error (%v)\nlogs:\n%s", raw, err, f.logs())
			}
			body := initErr.Message
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("init error %q does not say %q\nlogs:\n%s", body, w, f.logs())
				}
			}
			if !strings.Contains(body, "bad configuration") {
				t.Errorf("response %q is not the init error", body)
			}
		})
	}
}

// emfLines returns fn's EMF lines (the log lines with an _aws member),
// each checked against the specification's rules; at least one.
func emfLines(t *testing.T, fn *function) []string {
	t.Helper()
	var lines []string
	for l := range strings.Lines(fn.logs()) {
		if !strings.Contains(l, `"_aws":`) {
			continue
		}
		l = strings.TrimSpace(l)
		if err := emf.Validate([]byte(l)); err != nil {
			t.Errorf("%s: %v\n%s", fn.name, err, l)
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		t.Errorf("%s wrote no EMF line:\n%s", fn.name, fn.logs())
	}
	return lines
}

// dynamoGrants is, per function, the DynamoDB part of its role in
// serverless.yml, as "action resource" with the table's ARN written
// "table": what a request may touch. deploy_test.go's grants checks that the
// template grants exactly these (and iam_test.go that the code calls no
// other action); this checks the resource of each request the functions
// really make: IAM authorizes a Query of an index on
// <table ARN>/index/<name>, and one of the table on the table's ARN (Service
// Authorization Reference, Amazon DynamoDB, resource types table and index).
var dynamoGrants = map[string][]string{
	"planner": {"dynamodb:UpdateItem table", "dynamodb:GetItem table", "dynamodb:Query table", "dynamodb:Query table/index/GSI1"},
	"worker":  nil,
	"results": {"dynamodb:PutItem table", "dynamodb:UpdateItem table", "dynamodb:GetItem table", "dynamodb:Query table"},
}

// dynamoRecorder is a reverse proxy to DynamoDB that notes the action and
// resource of each request ("dynamodb:Query table/index/GSI1").
type dynamoRecorder struct {
	endpoint string
	mu       sync.Mutex
	calls    map[string]bool
}

func recordDynamoDB(t *testing.T, upstream string) *dynamoRecorder {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	r := &dynamoRecorder{calls: map[string]bool{}}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		// The JSON protocol: X-Amz-Target is DynamoDB_20120810.<Operation>.
		_, op, _ := strings.Cut(req.Header.Get("X-Amz-Target"), ".")
		var in struct {
			TableName, IndexName string
			RequestItems         map[string]json.RawMessage // BatchGetItem, BatchWriteItem
		}
		_ = json.Unmarshal(body, &in)
		tables := []string{in.TableName}
		if in.TableName == "" {
			tables = slices.Sorted(maps.Keys(in.RequestItems))
		}
		r.mu.Lock()
		for _, tbl := range tables {
			res := tbl
			if in.IndexName != "" {
				res += "/index/" + in.IndexName
			}
			r.calls["dynamodb:"+op+" "+res] = true
		}
		r.mu.Unlock()
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.endpoint = srv.URL
	return r
}

// checkDynamoGrants: every DynamoDB request of a function is one its role
// allows; and the requests that tell the table from its index were made
// (the planner's Query of GSI1, the results function's Query of the
// table), so that the check is not passed by a run that made none.
func checkDynamoGrants(t *testing.T, table string, recorders map[string]*dynamoRecorder) {
	t.Helper()
	for fn, r := range recorders {
		r.mu.Lock()
		var got []string
		for c := range r.calls {
			action, res, _ := strings.Cut(c, " ")
			if rest, ok := strings.CutPrefix(res, table); ok {
				res = "table" + rest
			}
			got = append(got, action+" "+res)
		}
		r.mu.Unlock()
		slices.Sort(got)
		t.Logf("%s's DynamoDB requests: %v", fn, got)
		for _, c := range got {
			if !slices.Contains(dynamoGrants[fn], c) {
				t.Errorf("%s made a DynamoDB request its role does not allow: %s (allowed: %v)", fn, c, dynamoGrants[fn])
			}
		}
		for _, need := range map[string][]string{"planner": {"dynamodb:Query table/index/GSI1"}, "results": {"dynamodb:Query table"}}[fn] {
			if !slices.Contains(got, need) {
				t.Errorf("%s made no %s request; the test no longer exercises it", fn, need)
			}
		}
	}
}
