// Package cwlogs reads the functions' log records of a deployed stage from
// CloudWatch Logs with FilterLogEvents, paced under the API's quota.
package cwlogs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/cronless/cronless/shared/logs"
)

// Group is the log group of a stage's function: osls names it
// /aws/lambda/<service>-<stage>-<function> (serverless.yml, service
// cronless; docs/aws.md).
func Group(stage, function string) string { return "/aws/lambda/cronless-" + stage + "-" + function }

// DefaultPace is the least time between two FilterLogEvents calls: the
// API's quota is a few transactions a second per account and Region,
// shared with every other reader, so a CLI keeps well under it.
const DefaultPace = 250 * time.Millisecond

// Lookback is how far before the newest record seen a follow reads again:
// events reach CloudWatch Logs a little after their timestamps, so a late
// one is still read; the event IDs already printed are skipped.
const Lookback = 10 * time.Second

// pageLimit is the events asked for a page (the API's most is 10,000).
const pageLimit = 1000

// Reader reads a stage's log groups.
type Reader struct {
	// Client is a CloudWatch Logs client (its retryer backs off on
	// throttling; the CLI uses the adaptive one).
	Client cloudwatchlogs.FilterLogEventsAPIClient
	Stage  string
	// Pace is the least time between two calls (default DefaultPace).
	Pace time.Duration

	mu     sync.Mutex
	next   time.Time        // when the next call may be made
	seen   map[string]int64 // event IDs returned, with their timestamps (ms)
	newest int64            // the newest event's timestamp (ms), kept or not
}

// Pattern is a JSON filter pattern that narrows FilterLogEvents to f's run,
// or else its target, on the server (the syntax of "Filter pattern syntax
// for metric filters, subscription filters, filter log events, and Live
// Tail", JSON log events, in the CloudWatch Logs User Guide). It is only a
// narrowing: f.Match decides. Empty when nothing narrows or a value would
// need escaping.
func Pattern(f logs.Filter) string {
	field, v := "", ""
	switch {
	case f.RunID != "":
		field, v = "run_id", f.RunID
	case f.TargetID != "":
		field, v = "target_id", f.TargetID
	default:
		return ""
	}
	if strings.ContainsAny(v, "\"\\*") {
		return ""
	}
	return fmt.Sprintf(`{ $.%s = "%s" }`, field, v)
}

// Read returns the records of f's functions logged since from that f
// keeps and that no earlier Read returned, in time order.
//
// Each log group is read with FilterLogEvents (FilterLogEvents, CloudWatch
// Logs API Reference: logGroupName, startTime in ms, filterPattern, limit,
// nextToken until none), one goroutine a group, the calls paced together.
func (r *Reader) Read(ctx context.Context, f logs.Filter, from time.Time) ([]logs.Record, error) {
	fns := logs.Functions
	if f.Function != "" {
		fns = []string{f.Function}
	}
	keep := f
	keep.Since = time.Time{} // startTime already bounds them, to the millisecond
	pattern := Pattern(f)
	got := make([][]logs.Record, len(fns))
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() { got[i], errs[i] = r.group(ctx, fn, pattern, from, keep) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var out []logs.Record
	for _, rs := range got {
		out = append(out, rs...)
	}
	logs.Sort(out)
	return out, nil
}

func (r *Reader) group(ctx context.Context, fn, pattern string, from time.Time, f logs.Filter) ([]logs.Record, error) {
	group := Group(r.Stage, fn)
	in := &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group), Limit: aws.Int32(pageLimit)}
	if !from.IsZero() {
		in.StartTime = aws.Int64(from.UnixMilli())
	}
	if pattern != "" {
		in.FilterPattern = aws.String(pattern)
	}
	p := cloudwatchlogs.NewFilterLogEventsPaginator(r.Client, in, func(o *cloudwatchlogs.FilterLogEventsPaginatorOptions) { o.StopOnDuplicateToken = true })
	var out []logs.Record
	for p.HasMorePages() {
		if err := r.wait(ctx); err != nil {
			return nil, err
		}
		page, err := p.NextPage(ctx)
		if err != nil {
			var nf *types.ResourceNotFoundException
			if errors.As(err, &nf) {
				return nil, fmt.Errorf("log group %s not found: is stage %s deployed in this region (--region), and has its %s run yet?", group, r.Stage, fn)
			}
			return nil, fmt.Errorf("read log group %s: %w", group, err)
		}
		for _, e := range page.Events {
			if !r.first(e) {
				continue
			}
			rec := record(fn, e)
			if f.Match(rec) {
				out = append(out, rec)
			}
		}
	}
	return out, nil
}

// record is the log record of an event: the zap JSON line a function
// wrote, or a platform line (START, REPORT) as an info message.
func record(fn string, e types.FilteredLogEvent) logs.Record {
	msg := aws.ToString(e.Message)
	rec, err := logs.Parse([]byte(msg))
	if err != nil {
		rec = logs.Record{Level: "info", Msg: strings.TrimSpace(msg)}
	}
	if rec.Function == "" {
		rec.Function = fn
	}
	if rec.Time.IsZero() {
		rec.Time = time.UnixMilli(aws.ToInt64(e.Timestamp)).UTC()
	}
	rec.EventID = aws.ToString(e.EventId)
	return rec
}

// first records e's ID and reports whether it is new.
func (r *Reader) first(e types.FilteredLogEvent) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]int64{}
	}
	id := aws.ToString(e.EventId)
	if _, ok := r.seen[id]; ok && id != "" {
		return false
	}
	ts := aws.ToInt64(e.Timestamp)
	r.seen[id] = ts
	r.newest = max(r.newest, ts)
	return true
}

// forget drops the IDs of events older than t, which no later Read from t
// returns again.
func (r *Reader) forget(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, ts := range r.seen {
		if ts < t.UnixMilli() {
			delete(r.seen, id)
		}
	}
}

// wait waits for the pace's next slot.
func (r *Reader) wait(ctx context.Context) error {
	pace := r.Pace
	if pace <= 0 {
		pace = DefaultPace
	}
	r.mu.Lock()
	now := time.Now()
	at := r.next
	if at.Before(now) {
		at = now
	}
	r.next = at.Add(pace)
	r.mu.Unlock()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Until(at)):
		return nil
	}
}

// Follow reads the records since from, hands them to emit, then every
// `every` reads those logged since (the newest seen − Lookback) and hands
// the new ones to emit, until ctx ends (then it returns nil).
func (r *Reader) Follow(ctx context.Context, f logs.Filter, from time.Time, every time.Duration, emit func([]logs.Record) error) error {
	for {
		rs, err := r.Read(ctx, f, from)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		if err := emit(rs); err != nil {
			return err
		}
		r.mu.Lock()
		newest := r.newest
		r.mu.Unlock()
		if t := time.UnixMilli(newest).Add(-Lookback); t.After(from) {
			from = t
			r.forget(from)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}
