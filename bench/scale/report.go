package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// report is what one run measured.
type report struct {
	Targets, Hosts, Shards, Tails  int
	Wall, Tick                     time.Duration
	ShardTimes                     []time.Duration
	SendCalls, SendFailures        int64
	Enqueued, Duplicates           int
	LargestBody                    int
	LargestItem                    int
	LargestItemWhat                string
	RecordedPlanned, PlannedShards int
	Reads                          string
	WithValidators                 int
}

func (r report) print() {
	slices.Sort(r.ShardTimes)
	var sum time.Duration
	for _, d := range r.ShardTimes {
		sum += d
	}
	mean, most := time.Duration(0), time.Duration(0)
	if n := len(r.ShardTimes); n > 0 {
		mean, most = sum/time.Duration(n), r.ShardTimes[n-1]
	}
	fmt.Printf("targets %d over %d hosts: %d shards\n", r.Targets, r.Hosts, r.Shards)
	fmt.Printf("tick %.2f s (it planned %d targets of the shards' tails); per shard mean %.2f s, slowest %.2f s\n",
		r.Tick.Seconds(), r.Tails, mean.Seconds(), most.Seconds())
	fmt.Printf("SendMessageBatch calls %d (ceil(N/10) = %d; %d failed and retried)\n", r.SendCalls, (r.Targets+9)/10, r.SendFailures)
	fmt.Printf("jobs enqueued %d, duplicates %d; run recorded: planned %d, shards %d of %d\n",
		r.Enqueued, r.Duplicates, r.RecordedPlanned, r.PlannedShards, r.Shards)
	fmt.Printf("largest job %d B; largest item written %d B (%s)\n", r.LargestBody, r.LargestItem, r.LargestItemWhat)
	fmt.Printf("jobs with the validators of an earlier result: %d\n", r.WithValidators)
	if r.Reads != "" {
		fmt.Println(r.Reads)
	}
	fmt.Printf("planned in %.1f s\n", r.Wall.Seconds())
	fmt.Printf("peak RSS %d MiB\n", peakRSSMiB())
}

// maxShard is the longest a shard may take (issue 16: on the stand-ins,
// none over 10 s).
const maxShard = 10 * time.Second

// check says what is wrong with a run: a count off, a duplicate, a shard
// slower than maxShard, an item DynamoDB would refuse.
func (r report) check() error {
	var problems []string
	if r.Enqueued != r.Targets {
		problems = append(problems, fmt.Sprintf("%d jobs enqueued, want %d", r.Enqueued, r.Targets))
	}
	// Every batch full but the last (the tick's planner plans each shard's
	// last count mod 10 targets itself): a call more only for a retry.
	if want := int64(r.Targets+9) / 10; r.SendCalls > want+r.SendFailures {
		problems = append(problems, fmt.Sprintf("%d SendMessageBatch calls, want ceil(N/10) = %d plus %d retried", r.SendCalls, want, r.SendFailures))
	}
	if r.Duplicates > 0 {
		problems = append(problems, fmt.Sprintf("%d targets sent twice", r.Duplicates))
	}
	if r.RecordedPlanned != r.Targets || r.PlannedShards != r.Shards {
		problems = append(problems, fmt.Sprintf("the run records %d planned in %d of %d shards, want %d", r.RecordedPlanned, r.PlannedShards, r.Shards, r.Targets))
	}
	if n := len(r.ShardTimes); n > 0 && slices.Max(r.ShardTimes) > maxShard {
		problems = append(problems, fmt.Sprintf("a shard took %s, over %s", slices.Max(r.ShardTimes).Round(time.Millisecond), maxShard))
	}
	if r.LargestItem > 400*1024 {
		problems = append(problems, fmt.Sprintf("an item of %d B, over DynamoDB's 400 KB", r.LargestItem))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}
