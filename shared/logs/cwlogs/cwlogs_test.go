package cwlogs_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/cronless/cronless/shared/logs"
	"github.com/cronless/cronless/shared/logs/cwlogs"
)

// The patterns follow "Using filter patterns to match terms in JSON log
// events" (CloudWatch Logs User Guide): { $.field = "value" }.
func TestPattern(t *testing.T) {
	for _, tt := range []struct {
		f    logs.Filter
		want string
	}{
		{logs.Filter{}, ""},
		{logs.Filter{Function: "worker"}, ""},
		{logs.Filter{RunID: "hourly-20261207T090000Z", TargetID: "a"}, `{ $.run_id = "hourly-20261207T090000Z" }`},
		{logs.Filter{TargetID: "a"}, `{ $.target_id = "a" }`},
		{logs.Filter{TargetID: `a"b`}, ""},
	} {
		if got := cwlogs.Pattern(tt.f); got != tt.want {
			t.Errorf("Pattern(%+v) = %q, want %q", tt.f, got, tt.want)
		}
	}
}

// fakeLogs serves a growing list of events of one group, recording the
// calls' start times.
type fakeLogs struct {
	mu     sync.Mutex
	events []types.FilteredLogEvent
	starts []int64
}

func (f *fakeLogs) FilterLogEvents(_ context.Context, in *cloudwatchlogs.FilterLogEventsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts = append(f.starts, aws.ToInt64(in.StartTime))
	var out []types.FilteredLogEvent
	for _, e := range f.events {
		if aws.ToInt64(e.Timestamp) >= aws.ToInt64(in.StartTime) {
			out = append(out, e)
		}
	}
	return &cloudwatchlogs.FilterLogEventsOutput{Events: out}, nil
}

func (f *fakeLogs) add(at time.Time, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, types.FilteredLogEvent{
		EventId: aws.String(fmt.Sprint(len(f.events))), Timestamp: aws.Int64(at.UnixMilli()),
		Message: aws.String(fmt.Sprintf(`{"level":"info","time":%q,"msg":%q}`, at.Format(time.RFC3339Nano), msg)),
	})
}

// A follow reads again from a little before the newest event seen, and
// prints each event once.
func TestFollowPrintsEachEventOnce(t *testing.T) {
	t0 := time.Now().Add(-time.Minute).UTC()
	fake := &fakeLogs{}
	fake.add(t0, "one")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []string
	polls := 0
	r := &cwlogs.Reader{Client: fake, Stage: "test", Pace: time.Millisecond}
	err := r.Follow(ctx, logs.Filter{Function: "worker"}, t0.Add(-time.Hour), time.Millisecond, func(rs []logs.Record) error {
		for _, rec := range rs {
			got = append(got, rec.Msg)
		}
		switch polls++; polls {
		case 1:
			fake.add(t0.Add(time.Second), "two")
		case 2:
			fake.add(t0.Add(500*time.Millisecond), "late") // ingested after two, timestamped before
		case 4:
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[one two late]" {
		t.Errorf("printed %v, want [one two late]", got)
	}
	if want := t0.Add(time.Second - cwlogs.Lookback).UnixMilli(); fake.starts[len(fake.starts)-1] != want {
		t.Errorf("last read from %d, want %d (the newest seen less the lookback)", fake.starts[len(fake.starts)-1], want)
	}
}
