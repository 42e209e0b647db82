package reliability_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/cronless/cronless/reliability"
	"github.com/cronless/cronless/shared/standin"
)

// TestStandinRestart kills fauxqs and then dynalite in the middle of a run
// and starts each again on the same port, with its data kept on disk
// (fauxqs: FAUXQS_DATA_DIR, dynalite: --path). The pipeline keeps polling
// through the outages and the run completes: every job a result or a dead
// letter, and after a replay a result.
func TestStandinRestart(t *testing.T) {
	quickParallel(t)
	e := newEnv(t, backendStandins, envOpts{persist: true, maxReceives: 5})
	n := size.standinTargets
	r := newRig(t, e, rigOpts{n: n, latency: 20 * time.Millisecond, hostConc: 2, concurrency: 2, seed: seed(t)})
	sampler := reliability.StartSampler(20 * time.Millisecond)
	start := time.Now()
	ctx := context.Background()
	stop := r.start()
	r.plan(ctx, t0)
	waitPuts := func(k int) {
		for end := time.Now().Add(time.Minute); r.counted.puts.Load() < int64(k); {
			if time.Now().After(end) {
				t.Fatalf("only %d results stored in a minute (waiting for %d)%s", r.counted.puts.Load(), k, e.serverLogs())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitPuts(n / 4)
	e.fq.Restart(t)
	t.Logf("fauxqs restarted after %d results", r.counted.puts.Load())
	waitPuts(n / 2)
	e.dl.Restart(t)
	t.Logf("dynalite restarted after %d results", r.counted.puts.Load())
	if full {
		waitPuts(3 * n / 4)
		e.fq.Restart(t)
		e.dl.Restart(t)
		t.Logf("both restarted after %d results", r.counted.puts.Load())
	}
	r.waitDrained(3 * time.Minute)
	stop()
	before := r.check()
	sum := r.replay(2 * time.Minute)
	after := r.check()
	took := time.Since(start)
	heap, rss := sampler.Stop()
	r.settle()
	if after.stored != after.planned {
		t.Errorf("after the replay %d of %d stored", after.stored, after.planned)
	}
	t.Logf("planned %d, stored %d (+%d after replaying %d), dead %d, duplicates %d, lost %d",
		before.planned, before.stored, after.stored-before.stored, sum.Moved, before.deadPairs, r.counted.dups.Load(), after.lost)
	figures.Add(r.row("8 stand-in servers restarted mid-run", before, after, sum, took, heap, rss,
		fmt.Sprintf("fauxqs killed and restarted on its port after 1/4 of the results, dynalite after 1/2, both after 3/4 (4 restarts); "+
			"fauxqs keeps queues and messages (in flight with their deadlines) with FAUXQS_DATA_DIR, dynalite with --path. %s", fauxqsWithoutData(t))))
}

// fauxqsWithoutData restarts a fauxqs that has no data dir: its queues
// are gone, and every call names the queue as missing.
func fauxqsWithoutData(t *testing.T) string {
	if !full {
		return ""
	}
	fq := standin.Fauxqs(t)
	c := fq.SQS(t)
	out, err := c.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String("gone")})
	if err != nil {
		t.Fatal(err)
	}
	fq.Restart(t)
	_, err = c.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl})
	if err == nil {
		t.Errorf("fauxqs without a data dir kept its queue across a restart")
		return ""
	}
	t.Logf("fauxqs without a data dir after a restart: %v", err)
	return "Without a data dir a restarted fauxqs has no queues (QueueDoesNotExist): everything in them is gone."
}
