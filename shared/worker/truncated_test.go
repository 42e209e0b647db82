package worker_test

import (
	"context"
	"reflect"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/cronless/cronless/shared/crawl"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/worker"
)

// A page whose fields were cut to fit job.MaxFieldsBytes gives an ok result
// that carries the cut (job.Result.Truncated), and its "crawled" log line is
// a warning that says which fields were cut and how large they were; a page
// without a cut logs no such field, at info.
func TestHandleTruncatedPage(t *testing.T) {
	cut := map[string]job.Truncation{"links": {Bytes: 1104001, Items: 8000, KeptBytes: 16, KeptItems: 1}}
	pages := map[string]crawl.Page{
		"cut": {URL: "https://a.example.com/", HTTPStatus: 200, ContentHash: "h-full", Truncated: cut,
			Fields: map[string]any{"title": "Big", "h1": "Heading", "links": []string{"https://x/1"}}},
		"whole": {URL: "https://b.example.com/", HTTPStatus: 200, ContentHash: "h", Fields: map[string]any{"title": "Small"}},
	}
	core, logs := observer.New(zapcore.InfoLevel)
	results := &fakeSender{}
	w := worker.New(&fakeFetcher{pages: pages}, results, worker.WithLogger(zap.New(core)))
	if _, err := w.Handle(context.Background(), event(jobRecord(t, "cut", 1), jobRecord(t, "whole", 1))); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	got := results.results(t)
	if r := got["cut"]; r.Status != job.StatusOK || !reflect.DeepEqual(r.Truncated, cut) || r.Fields["title"] != "Big" || r.ContentHash != "h-full" {
		t.Errorf("cut page's result = %+v", r)
	}
	if r := got["whole"]; r.Truncated != nil {
		t.Errorf("whole page's result is truncated: %+v", r.Truncated)
	}
	for _, e := range logs.FilterMessage("crawled").All() {
		f, ok := e.ContextMap()["truncated"]
		switch target := e.ContextMap()["target_id"]; {
		case target == "cut" && (!ok || !reflect.DeepEqual(f, cut) || e.Level != zapcore.WarnLevel):
			t.Errorf("crawled log of the cut page: %s, truncated = %#v; want a warning with %v", e.Level, f, cut)
		case target == "whole" && (ok || e.Level != zapcore.InfoLevel):
			t.Errorf("crawled log of the whole page: %s, truncated %v; want info without", e.Level, f)
		}
	}
	if n := logs.FilterMessage("crawled").Len(); n != 2 {
		t.Errorf("%d crawled lines, want 2", n)
	}
}
