package job_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cronless/cronless/shared/job"
)

const goodJob = `{"v":1,"run_id":"hourly-20261127T090000Z","schedule":"hourly","target_id":"example","url":"https://example.com/","scheduled_at":"2026-11-27T09:00:00Z","extract":{"title":{"css":"title"}}}`

func TestDecodeJob(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr string // empty: valid
	}{
		{"valid", goodJob, ""},
		{"not json", `hello`, "invalid character"},
		{"empty", ``, "EOF"},
		{"wrong version", strings.Replace(goodJob, `"v":1`, `"v":2`, 1), `version 2 is not supported`},
		{"no version", strings.Replace(goodJob, `"v":1,`, ``, 1), `version 0 is not supported`},
		{"unknown field", strings.Replace(goodJob, `"v":1`, `"v":1,"colour":"red"`, 1), `unknown field "colour"`},
		{"missing run", strings.Replace(goodJob, `"run_id":"hourly-20261127T090000Z",`, ``, 1), "run_id is missing"},
		{"missing target", strings.Replace(goodJob, `"target_id":"example",`, ``, 1), "target_id is missing"},
		{"missing time", strings.Replace(goodJob, `"scheduled_at":"2026-11-27T09:00:00Z",`, ``, 1), "scheduled_at is missing"},
		{"ftp url", strings.Replace(goodJob, `https://example.com/`, `ftp://example.com/`, 1), `has scheme "ftp"; only http and https can be crawled`},
		{"no host", strings.Replace(goodJob, `https://example.com/`, `https:///x`, 1), "has no host"},
		{"empty css", strings.Replace(goodJob, `{"css":"title"}`, `{"css":" "}`, 1), "extract.title.css is missing"},
		{"trailing data", goodJob + `{}`, "trailing data"},
		{"wrong type", strings.Replace(goodJob, `"v":1`, `"v":"1"`, 1), "cannot unmarshal"},
		{"previous with etag", strings.Replace(goodJob, `"v":1`, `"v":1,"previous":{"etag":"\"abc\"","content_hash":"h"}`, 1), ""},
		{"previous with last_modified", strings.Replace(goodJob, `"v":1`, `"v":1,"previous":{"last_modified":"Wed, 21 Oct 2015 07:28:00 GMT"}`, 1), ""},
		{"previous without validators", strings.Replace(goodJob, `"v":1`, `"v":1,"previous":{"content_hash":"h"}`, 1), "previous has neither etag nor last_modified"},
		{"previous etag with newline", strings.Replace(goodJob, `"v":1`, `"v":1,"previous":{"etag":"a\r\nX-Evil: 1"}`, 1), "previous.etag"},
		{"previous unknown field", strings.Replace(goodJob, `"v":1`, `"v":1,"previous":{"etag":"x","hash":"h"}`, 1), `unknown field "hash"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := job.DecodeJob([]byte(tt.body))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("DecodeJob: %v", err)
				}
				if j.TargetID != "example" || j.Extract["title"].CSS != "title" || !j.RespectsRobots() {
					t.Errorf("decoded %+v", j)
				}
				return
			}
			if err == nil {
				t.Fatalf("DecodeJob accepted %s", tt.body)
			}
			if !errors.Is(err, job.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not say %q", err, tt.wantErr)
			}
		})
	}
}

const goodAttempt = `{"v":1,"run_id":"hourly-20261127T090000Z","target_id":"example","message_id":"m-1","attempt":3,"at":"2026-11-27T09:00:02Z","error":{"kind":"http_5xx","message":"503 Service Unavailable"}}`

func TestDecodeAttempt(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr string // empty: valid
	}{
		{"valid", goodAttempt, ""},
		{"no message id or time", strings.Replace(goodAttempt, `"message_id":"m-1","attempt":3,"at":"2026-11-27T09:00:02Z",`, `"attempt":3,`, 1), ""},
		{"not json", `hello`, "invalid character"},
		{"empty", ``, "EOF"},
		{"wrong version", strings.Replace(goodAttempt, `"v":1`, `"v":2`, 1), "version 2 is not supported"},
		{"no version", strings.Replace(goodAttempt, `"v":1,`, ``, 1), "version 0 is not supported"},
		{"unknown field", strings.Replace(goodAttempt, `"v":1`, `"v":1,"status":"failed"`, 1), `unknown field "status"`},
		{"missing run", strings.Replace(goodAttempt, `"run_id":"hourly-20261127T090000Z",`, ``, 1), "run_id is missing"},
		{"missing target", strings.Replace(goodAttempt, `"target_id":"example",`, ``, 1), "target_id is missing"},
		{"attempt 0", strings.Replace(goodAttempt, `"attempt":3`, `"attempt":0`, 1), "attempt must be 1 or more"},
		{"negative attempt", strings.Replace(goodAttempt, `"attempt":3`, `"attempt":-1`, 1), "attempt must be 1 or more"},
		{"no attempt", strings.Replace(goodAttempt, `"attempt":3,`, ``, 1), "attempt must be 1 or more"},
		{"missing kind", strings.Replace(goodAttempt, `"kind":"http_5xx",`, ``, 1), "error.kind is missing"},
		{"empty kind", strings.Replace(goodAttempt, `"kind":"http_5xx"`, `"kind":""`, 1), "error.kind is missing"},
		{"no error", strings.Replace(goodAttempt, `,"error":{"kind":"http_5xx","message":"503 Service Unavailable"}`, ``, 1), "error.kind is missing"},
		{"trailing data", goodAttempt + `{}`, "trailing data"},
		{"wrong type", strings.Replace(goodAttempt, `"attempt":3`, `"attempt":"3"`, 1), "cannot unmarshal"},
		{"a result, not an attempt", `{"v":1,"run_id":"r","target_id":"t","url":"https://x/","scheduled_at":"2026-11-27T09:00:00Z","status":"ok","fetched_at":"2026-11-27T09:00:01Z","duration_ms":1,"attempt":1,"changed":false}`, "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := job.DecodeAttempt([]byte(tt.body))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("DecodeAttempt: %v", err)
				}
				if a.V != 1 || a.RunID != "hourly-20261127T090000Z" || a.TargetID != "example" || a.Attempt != 3 ||
					a.Error != (job.Error{Kind: "http_5xx", Message: "503 Service Unavailable"}) {
					t.Errorf("decoded %+v", a)
				}
				return
			}
			if err == nil {
				t.Fatalf("DecodeAttempt accepted %s", tt.body)
			}
			if !errors.Is(err, job.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not say %q", err, tt.wantErr)
			}
		})
	}
}

func TestAttemptRoundTrip(t *testing.T) {
	a := job.Attempt{V: job.Version, RunID: "r", TargetID: "t", MessageID: "m", Attempt: 4,
		At: time.Date(2026, 11, 27, 9, 0, 2, 500_000_000, time.UTC), Error: job.Error{Kind: "timeout", Message: "no answer"}}
	body, err := job.Encode(a)
	if err != nil {
		t.Fatal(err)
	}
	back, err := job.DecodeAttempt([]byte(body))
	if err != nil {
		t.Fatalf("DecodeAttempt(%s): %v", body, err)
	}
	if back.V != a.V || back.RunID != a.RunID || back.TargetID != a.TargetID || back.MessageID != a.MessageID ||
		back.Attempt != a.Attempt || !back.At.Equal(a.At) || back.Error != a.Error {
		t.Errorf("round trip: %+v, want %+v", back, a)
	}
}

func TestResultValidate(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	ok := job.Result{V: 1, RunID: "r", TargetID: "t", URL: "https://x/", ScheduledAt: at, FetchedAt: at, Status: job.StatusOK}
	tests := []struct {
		name    string
		mutate  func(*job.Result)
		wantErr string
	}{
		{"ok", func(r *job.Result) {}, ""},
		{"failed with error", func(r *job.Result) {
			r.Status, r.Error = job.StatusFailed, &job.Error{Kind: "http_4xx", Message: "404"}
		}, ""},
		{"failed without error", func(r *job.Result) { r.Status = job.StatusFailed }, "needs an error"},
		{"ok with error", func(r *job.Result) { r.Error = &job.Error{Kind: "x"} }, "must not carry an error"},
		{"bad status", func(r *job.Result) { r.Status = "maybe" }, `status "maybe"`},
		{"no fetched_at", func(r *job.Result) { r.FetchedAt = time.Time{} }, "fetched_at is missing"},
		{"not modified", func(r *job.Result) { r.NotModified, r.HTTPStatus, r.ETag = true, 304, `"v1"` }, ""},
		{"failed not modified", func(r *job.Result) {
			r.Status, r.Error, r.NotModified = job.StatusFailed, &job.Error{Kind: "http_4xx", Message: "404"}, true
		}, `not_modified needs status "ok"`},
		{"truncated list", func(r *job.Result) {
			r.Fields = map[string]any{"title": "T", "links": []string{"a", "b"}}
			r.Truncated = map[string]job.Truncation{"links": {Bytes: 900, Items: 100, KeptBytes: 9, KeptItems: 2}}
		}, ""},
		{"truncated list as stored", func(r *job.Result) {
			r.Fields = map[string]any{"jsonld": []any{map[string]any{}}, "og": map[string]any{"og:title": "x"}}
			r.Truncated = map[string]job.Truncation{"jsonld": {Bytes: 900, Items: 3, KeptBytes: 4, KeptItems: 1},
				"og": {Bytes: 90, Items: 3, KeptBytes: 16, KeptItems: 1}}
		}, ""},
		{"truncated to nothing", func(r *job.Result) {
			r.Fields = map[string]any{"links": []string{}}
			r.Truncated = map[string]job.Truncation{"links": {Bytes: 900, Items: 1, KeptBytes: 2}}
		}, ""},
		{"truncated string", func(r *job.Result) {
			r.Fields = map[string]any{"body": "abc"}
			r.Truncated = map[string]job.Truncation{"body": {Bytes: 900, KeptBytes: 5}}
		}, ""},
		{"truncated field missing", func(r *job.Result) {
			r.Truncated = map[string]job.Truncation{"links": {Bytes: 900, Items: 100, KeptBytes: 2}}
		}, "truncated.links: names no field"},
		{"truncated not smaller", func(r *job.Result) {
			r.Fields = map[string]any{"body": "abc"}
			r.Truncated = map[string]job.Truncation{"body": {Bytes: 5, KeptBytes: 5}}
		}, "kept_bytes 5 is not between 2 and bytes 5"},
		{"truncated over the limit", func(r *job.Result) {
			r.Fields = map[string]any{"body": "abc"}
			r.Truncated = map[string]job.Truncation{"body": {Bytes: 1 << 30, KeptBytes: 1 << 20}}
		}, "is over 262144"},
		{"truncated more items kept", func(r *job.Result) {
			r.Fields = map[string]any{"links": []string{"a", "b"}}
			r.Truncated = map[string]job.Truncation{"links": {Bytes: 900, Items: 1, KeptBytes: 9, KeptItems: 2}}
		}, "kept_items 2 is not between 0 and items 1"},
		{"truncated items miscounted", func(r *job.Result) {
			r.Fields = map[string]any{"links": []string{"a", "b"}}
			r.Truncated = map[string]job.Truncation{"links": {Bytes: 900, Items: 10, KeptBytes: 9, KeptItems: 3}}
		}, "kept_items 3, but the field holds 2"},
		{"truncated string with items", func(r *job.Result) {
			r.Fields = map[string]any{"body": "abc"}
			r.Truncated = map[string]job.Truncation{"body": {Bytes: 900, Items: 2, KeptBytes: 5}}
		}, "not a list or an object has no items"},
		{"failed truncated", func(r *job.Result) {
			r.Status, r.Error = job.StatusFailed, &job.Error{Kind: "http_4xx", Message: "404"}
			r.Fields = map[string]any{"body": "abc"}
			r.Truncated = map[string]job.Truncation{"body": {Bytes: 900, KeptBytes: 5}}
		}, `truncated needs status "ok"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok
			tt.mutate(&r)
			err := r.Validate()
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Validate = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	r := job.Result{V: 1, RunID: "r", TargetID: "t", URL: "https://x/", ScheduledAt: at, FetchedAt: at.Add(time.Second),
		Status: job.StatusFailed, HTTPStatus: 404, Error: &job.Error{Kind: "http_4xx", Message: "not found"}, Attempt: 2}
	body, err := job.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{`"run_id"`, `"target_id"`, `"scheduled_at"`, `"status":"failed"`, `"http_status":404`, `"fetched_at"`, `"duration_ms"`, `"attempt":2`, `"error":{"kind":"http_4xx","message":"not found"}`, `"changed":false`, `"v":1`} {
		if !strings.Contains(body, name) {
			t.Errorf("encoded result %s lacks %s", body, name)
		}
	}
	back, err := job.DecodeResult([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if back.Error.Message != "not found" || !back.ScheduledAt.Equal(at) || back.Attempt != 2 {
		t.Errorf("round trip: %+v", back)
	}
}

func TestConditionalRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	j := job.Job{V: 1, RunID: "r", TargetID: "t", URL: "https://x/", ScheduledAt: at,
		Previous: &job.Previous{ETag: `W/"1"`, LastModified: "Wed, 21 Oct 2015 07:28:00 GMT", ContentHash: "h1"}}
	body, err := job.Encode(j)
	if err != nil {
		t.Fatal(err)
	}
	want := `"previous":{"etag":"W/\"1\"","last_modified":"Wed, 21 Oct 2015 07:28:00 GMT","content_hash":"h1"}`
	if !strings.Contains(body, want) {
		t.Errorf("encoded job %s lacks %s", body, want)
	}
	back, err := job.DecodeJob([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if back.Previous == nil || *back.Previous != *j.Previous || !back.Previous.Conditional() {
		t.Errorf("previous round trip: %+v, want %+v", back.Previous, j.Previous)
	}
	// Absent: nothing on the wire, and no conditional request.
	j.Previous = nil
	if body, _ = job.Encode(j); strings.Contains(body, "previous") {
		t.Errorf("job without previous encodes %s", body)
	}
	if (*job.Previous)(nil).Conditional() || (&job.Previous{ContentHash: "h"}).Conditional() {
		t.Error("Conditional() true without validators")
	}

	r := job.Result{V: 1, RunID: "r", TargetID: "t", URL: "https://x/", ScheduledAt: at, FetchedAt: at, Status: job.StatusOK,
		HTTPStatus: 304, ETag: `"e"`, LastModified: "Wed, 21 Oct 2015 07:28:00 GMT", NotModified: true, ContentHash: "h1",
		RulesHash: job.RulesHash(nil)}
	if body, err = job.Encode(r); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{`"etag":"\"e\""`, `"last_modified":"Wed, 21 Oct 2015 07:28:00 GMT"`, `"not_modified":true`, `"rules_hash":"` + r.RulesHash + `"`} {
		if !strings.Contains(body, name) {
			t.Errorf("encoded result %s lacks %s", body, name)
		}
	}
	rb, err := job.DecodeResult([]byte(body))
	if err != nil || rb.ETag != r.ETag || rb.LastModified != r.LastModified || !rb.NotModified || rb.RulesHash != r.RulesHash {
		t.Errorf("result round trip: %+v, %v", rb, err)
	}
	r.ETag, r.LastModified, r.NotModified, r.RulesHash = "", "", false, ""
	if body, _ = job.Encode(r); strings.Contains(body, "etag") || strings.Contains(body, "modified") || strings.Contains(body, "rules_hash") {
		t.Errorf("result without validators encodes %s", body)
	}
}

func TestTruncatedRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	r := job.Result{V: 1, RunID: "r", TargetID: "t", URL: "https://x/", ScheduledAt: at, FetchedAt: at, Status: job.StatusOK,
		Fields:    map[string]any{"title": "T", "links": []any{"https://x/1"}, "body": "ab"},
		Truncated: map[string]job.Truncation{"links": {Bytes: 1048576, Items: 3563, KeptBytes: 14, KeptItems: 1}, "body": {Bytes: 70, KeptBytes: 4}}}
	body, err := job.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `"truncated":{"body":{"bytes":70,"kept_bytes":4},"links":{"bytes":1048576,"items":3563,"kept_bytes":14,"kept_items":1}}`
	if !strings.Contains(body, want) {
		t.Errorf("encoded result %s lacks %s", body, want)
	}
	back, err := job.DecodeResult([]byte(body))
	if err != nil || !reflect.DeepEqual(back.Truncated, r.Truncated) {
		t.Errorf("round trip: %+v, %v; want %+v", back.Truncated, err, r.Truncated)
	}
	if got := back.TruncatedFields(); !reflect.DeepEqual(got, []string{"body", "links"}) {
		t.Errorf("TruncatedFields = %v", got)
	}
	r.Truncated = nil
	if body, _ = job.Encode(r); strings.Contains(body, "truncated") {
		t.Errorf("result without truncation encodes %s", body)
	}
}

// A result whose fields take MaxFieldsBytes as canonical JSON, all of them
// markup, is a message of little more: HTML is not escaped, so it fits a
// results-queue message (1 MiB), and it decodes back the same.
func TestEncodeLargestFields(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	markup := strings.Repeat("<a href=\"x?a=1&b=2\">&amp;</a>", job.MaxFieldsBytes/40)
	r := job.Result{V: 1, RunID: "r", TargetID: "t", URL: "https://x/?a=1&b=<2>", ScheduledAt: at, FetchedAt: at,
		Status: job.StatusOK, Fields: map[string]any{"html": markup}}
	body, err := job.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	if max := job.MaxFieldsBytes + len(markup)/4 + 1024; len(body) > max {
		t.Errorf("the message takes %d bytes, want at most %d", len(body), max)
	}
	if !strings.Contains(body, `"url":"https://x/?a=1&b=<2>"`) || strings.HasSuffix(body, "\n") {
		t.Errorf("message %.200s… escapes HTML or ends in a newline", body)
	}
	back, err := job.DecodeResult([]byte(body))
	if err != nil || back.Fields["html"] != markup || back.URL != r.URL {
		t.Errorf("round trip: %v", err)
	}
}

func TestRunIDDeterministic(t *testing.T) {
	seoul, _ := time.LoadLocation("Asia/Seoul")
	a := job.RunID("hourly", time.Date(2026, 11, 27, 18, 0, 0, 0, seoul))
	b := job.RunID("hourly", time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC))
	if a != b || a != "hourly-20261127T090000Z" {
		t.Fatalf("RunID = %q and %q, want both hourly-20261127T090000Z", a, b)
	}
}

// TestGoldenEvents decodes the sample events with aws-lambda-go's types
// and the bodies with the contracts.
func TestGoldenEvents(t *testing.T) {
	for _, tt := range []struct {
		file   string
		decode func([]byte) error
	}{
		{"worker-sqs.json", func(b []byte) error { _, err := job.DecodeJob(b); return err }},
		{"results-sqs.json", func(b []byte) error { _, err := job.DecodeResult(b); return err }},
	} {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("..", "..", "events", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var ev events.SQSEvent
			if err := json.Unmarshal(data, &ev); err != nil {
				t.Fatal(err)
			}
			if len(ev.Records) == 0 {
				t.Fatal("no records")
			}
			for _, r := range ev.Records {
				if r.EventSource != "aws:sqs" || r.MessageId == "" || r.ReceiptHandle == "" || r.Attributes["ApproximateReceiveCount"] == "" {
					t.Errorf("record %s is not shaped as Lambda delivers it", r.MessageId)
				}
				if err := tt.decode([]byte(r.Body)); err != nil {
					t.Errorf("record %s: %v", r.MessageId, err)
				}
			}
		})
	}
}

func TestRulesHash(t *testing.T) {
	base := map[string]job.Rule{
		"title": {CSS: "h1"},
		"price": {CSS: ".price", Attr: "data-value", Required: true, Regex: `[0-9.]+`},
		"links": {CSS: "a", Attr: "href", All: true},
	}
	with := func(mutate func(map[string]job.Rule)) map[string]job.Rule {
		m := maps.Clone(base)
		mutate(m)
		return m
	}
	rule := func(name string, edit func(*job.Rule)) func(map[string]job.Rule) {
		return func(m map[string]job.Rule) {
			r := m[name]
			edit(&r)
			m[name] = r
		}
	}
	tests := []struct {
		name string
		a, b map[string]job.Rule
		same bool
	}{
		{"same rules", base, with(func(map[string]job.Rule) {}), true},
		{"built in another order", base, map[string]job.Rule{
			"links": {All: true, Attr: "href", CSS: "a"},
			"price": {Regex: `[0-9.]+`, Required: true, Attr: "data-value", CSS: ".price"},
			"title": {CSS: "h1"},
		}, true},
		{"nil and empty", nil, map[string]job.Rule{}, true},
		{"none and some", nil, map[string]job.Rule{"title": {CSS: "title"}}, false},
		{"css", base, with(rule("title", func(r *job.Rule) { r.CSS = "h2" })), false},
		{"attr set", base, with(rule("title", func(r *job.Rule) { r.Attr = "html" })), false},
		{"attr changed", base, with(rule("links", func(r *job.Rule) { r.Attr = "src" })), false},
		{"attr text spelled out", base, with(rule("title", func(r *job.Rule) { r.Attr = "text" })), false},
		{"all set", base, with(rule("title", func(r *job.Rule) { r.All = true })), false},
		{"all cleared", base, with(rule("links", func(r *job.Rule) { r.All = false })), false},
		{"required set", base, with(rule("title", func(r *job.Rule) { r.Required = true })), false},
		{"required cleared", base, with(rule("price", func(r *job.Rule) { r.Required = false })), false},
		{"regex set", base, with(rule("title", func(r *job.Rule) { r.Regex = "(.*)" })), false},
		{"regex changed", base, with(rule("price", func(r *job.Rule) { r.Regex = `[0-9]+` })), false},
		{"rule added", base, with(func(m map[string]job.Rule) { m["sku"] = job.Rule{CSS: ".sku"} }), false},
		{"rule removed", base, with(func(m map[string]job.Rule) { delete(m, "links") }), false},
		{"rule renamed", base, with(func(m map[string]job.Rule) { m["heading"] = m["title"]; delete(m, "title") }), false},
		{"rules swapped between names", base, with(func(m map[string]job.Rule) { m["title"], m["price"] = m["price"], m["title"] }), false},
		{"value moved between attributes", map[string]job.Rule{"x": {CSS: "a", Attr: "b"}}, map[string]job.Rule{"x": {CSS: "b", Attr: "a"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := job.RulesHash(tt.a), job.RulesHash(tt.b)
			if again := job.RulesHash(tt.a); again != a {
				t.Fatalf("RulesHash is not stable: %s, then %s", a, again)
			}
			if len(a) != 64 || strings.Trim(a, "0123456789abcdef") != "" {
				t.Errorf("RulesHash = %q, want 64 lower-case hex digits", a)
			}
			if (a == b) != tt.same {
				t.Errorf("RulesHash(%v) = %s, RulesHash(%v) = %s; same = %v, want %v", tt.a, a, tt.b, b, a == b, tt.same)
			}
		})
	}
}

// TestRulesHashEveryAttribute makes sure the hash covers every attribute
// of a rule, including one added to job.Rule later: each is set to a
// value other than its zero value in turn, and the hash must change.
func TestRulesHashEveryAttribute(t *testing.T) {
	zero := job.RulesHash(map[string]job.Rule{"f": {}})
	seen := map[string]string{zero: "no attribute"}
	typ := reflect.TypeFor[job.Rule]()
	for i := range typ.NumField() {
		field := typ.Field(i)
		t.Run(field.Name, func(t *testing.T) {
			var r job.Rule
			v := reflect.ValueOf(&r).Elem().Field(i)
			switch v.Kind() {
			case reflect.String:
				v.SetString("x")
			case reflect.Bool:
				v.SetBool(true)
			case reflect.Int, reflect.Int64:
				v.SetInt(1)
			default:
				t.Fatalf("job.Rule.%s is a %s: teach this test (and check RulesHash's encoding) about it", field.Name, v.Kind())
			}
			h := job.RulesHash(map[string]job.Rule{"f": r})
			if other, dup := seen[h]; dup {
				t.Errorf("setting %s gives the same hash as %s", field.Name, other)
			}
			seen[h] = field.Name
		})
	}
}

// TestRulesHashGolden pins the encoding: a change of RulesHash makes every
// target's next request unconditional once, so it must be deliberate.
func TestRulesHashGolden(t *testing.T) {
	tests := []struct {
		name  string
		rules map[string]job.Rule
		want  string
	}{
		{"none", nil, "a32cc761acd64c7518d47a3b998cc788da0a9e93ce3f2e8d380b9f465f63b36e"},
		{"title", map[string]job.Rule{"title": {CSS: "title"}}, "c1b4d88902ebe9133110ba621c3b526e7c44962a45c8f253bfcdbe5e46e2c63f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := job.RulesHash(tt.rules); got != tt.want {
				t.Errorf("RulesHash(%v) = %s, want %s", tt.rules, got, tt.want)
			}
		})
	}
}

// TestGoldenRulesHash: the sample results carry the rules hash of the
// sample jobs of their targets, as the worker sets it.
func TestGoldenRulesHash(t *testing.T) {
	bodies := func(t *testing.T, file string) []string {
		t.Helper()
		data, err := os.ReadFile(filepath.Join("..", "..", "events", file))
		if err != nil {
			t.Fatal(err)
		}
		var ev events.SQSEvent
		if err := json.Unmarshal(data, &ev); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range ev.Records {
			out = append(out, r.Body)
		}
		return out
	}
	rules := map[string]string{}
	for _, b := range bodies(t, "worker-sqs.json") {
		j, err := job.DecodeJob([]byte(b))
		if err != nil {
			t.Fatal(err)
		}
		rules[j.TargetID] = job.RulesHash(j.Extract)
	}
	for _, b := range bodies(t, "results-sqs.json") {
		r, err := job.DecodeResult([]byte(b))
		if err != nil {
			t.Fatal(err)
		}
		if want, ok := rules[r.TargetID]; !ok || r.RulesHash != want {
			t.Errorf("result of %s: rules_hash %q, want %q (its job's rules in worker-sqs.json)", r.TargetID, r.RulesHash, want)
		}
	}
}

func TestErrorCapped(t *testing.T) {
	const max = job.MaxErrorMessageBytes
	tests := []struct {
		name    string
		message string
		cut     bool
	}{
		{"short", "connection refused", false},
		{"at the limit", strings.Repeat("a", max), false},
		{"one byte over", strings.Repeat("a", max+1), true},
		{"410 KB", strings.Repeat("x", 410_000), true},
		// é is 2 bytes and 😀 4: a byte cut would split one of them.
		{"multibyte", strings.Repeat("é😀", 410_000/6), true},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := job.Error{Kind: "http_5xx", Message: tt.message}
			got := in.Capped()
			if got.Kind != in.Kind {
				t.Errorf("kind %q, want %q", got.Kind, in.Kind)
			}
			if !tt.cut {
				if got.Message != tt.message {
					t.Errorf("message of %d bytes changed to %d bytes", len(tt.message), len(got.Message))
				}
				return
			}
			marker := fmt.Sprintf(" … [cut: %d bytes in all]", len(tt.message))
			switch {
			case len(got.Message) > max:
				t.Errorf("capped message holds %d bytes, more than %d", len(got.Message), max)
			case len(got.Message) < max-utf8.UTFMax:
				t.Errorf("capped message holds %d bytes, want close to %d", len(got.Message), max)
			case !strings.HasSuffix(got.Message, marker):
				t.Errorf("capped message ends %q, want the marker %q", got.Message[len(got.Message)-60:], marker)
			case !strings.HasPrefix(tt.message, strings.TrimSuffix(got.Message, marker)):
				t.Errorf("capped message does not start with the original")
			case !utf8.ValidString(got.Message):
				t.Errorf("capped message is not valid UTF-8: a character was split")
			}
			if again := got.Capped(); again != got {
				t.Errorf("capping a capped message changed it")
			}
		})
	}
}
