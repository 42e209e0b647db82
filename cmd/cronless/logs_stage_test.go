package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/cronless/cronless/shared/logs/cwlogs"
	"github.com/cronless/cronless/shared/standin"
)

// motoLogs starts moto, points the CLI at it (AWS_ENDPOINT_URL, test
// credentials) and returns a CloudWatch Logs client of it.
func motoLogs(t *testing.T) *cloudwatchlogs.Client {
	t.Helper()
	m := standin.Moto(t)
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": m.Endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": standin.Region,
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
	} {
		t.Setenv(k, v)
	}
	return cloudwatchlogs.NewFromConfig(standin.AWSConfig(t), func(o *cloudwatchlogs.Options) { o.BaseEndpoint = aws.String(m.Endpoint) })
}

// putLogs writes a function's log group of the stage as Lambda does: a
// stream and events of JSON lines (PutLogEvents, CloudWatch Logs API
// Reference: events in timestamp order, at most 10,000 a call).
func putLogs(t *testing.T, c *cloudwatchlogs.Client, stage, fn string, events []cwtypes.InputLogEvent) {
	t.Helper()
	ctx := context.Background()
	group, stream := aws.String(cwlogs.Group(stage, fn)), aws.String("2026/12/07/[$LATEST]0123456789abcdef")
	if _, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: group}); err != nil {
		t.Fatalf("create log group on moto: %v", err)
	}
	if _, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: group, LogStreamName: stream}); err != nil {
		t.Fatalf("create log stream on moto: %v", err)
	}
	if _, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: group, LogStreamName: stream, LogEvents: events}); err != nil {
		t.Fatalf("put log events on moto: %v", err)
	}
}

// A stage's three log groups, with interleaved records of a run and, in
// the worker's, more than a page of another run's: `logs --stage` merges
// the run's records in time order across the groups and pages.
func TestLogsOfAStage(t *testing.T) {
	c := motoLogs(t)
	t0 := time.Now().Add(-10 * time.Minute).Truncate(time.Millisecond).UTC()
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	ev := func(i int, level, msg, run, target string) cwtypes.InputLogEvent {
		line := fmt.Sprintf(`{"level":%q,"time":%q,"msg":%q,"run_id":%q`, level, at(i).Format(time.RFC3339Nano), msg, run)
		if target != "" {
			line += fmt.Sprintf(`,"target_id":%q,"message_id":"m-%d"`, target, i)
		}
		return cwtypes.InputLogEvent{Timestamp: aws.Int64(at(i).UnixMilli()), Message: aws.String(line + "}\n")}
	}
	const run = "hourly-20261207T090000Z"
	putLogs(t, c, "test", "planner", []cwtypes.InputLogEvent{
		{Timestamp: aws.Int64(at(0).UnixMilli()), Message: aws.String("START RequestId: 1 Version: $LATEST\n")},
		ev(1, "info", "run planned", run, ""),
		ev(8, "info", "run planned", "hourly-20261207T100000Z", ""),
	})
	worker := []cwtypes.InputLogEvent{
		ev(2, "warn", "crawl failed, will retry", run, "a"),
		ev(4, "info", "crawl failed permanently", run, "b"),
	}
	for i := range 1200 { // another run's, more than a page (cwlogs asks 1,000)
		e := ev(5, "info", "crawl failed permanently", "other", fmt.Sprint("t", i))
		worker = append(worker, e)
	}
	worker = append(worker, ev(6, "error", "results not sent; their jobs will be retried", run, "a"))
	putLogs(t, c, "test", "worker", worker)
	putLogs(t, c, "test", "results", []cwtypes.InputLogEvent{
		ev(3, "info", "result stored", run, "c"),
		ev(7, "info", "failed attempt stored", run, "b"),
	})

	msgs := func(out string) []string {
		var got []string
		for _, r := range logLines(t, out) {
			got = append(got, fmt.Sprintf("%v %v %v", r["function"], r["target_id"], r["msg"]))
		}
		return got
	}
	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"the run, merged", []string{"--run", run}, []string{
			"planner <nil> run planned", "worker a crawl failed, will retry", "results c result stored",
			"worker b crawl failed permanently", "worker a results not sent; their jobs will be retried", "results b failed attempt stored",
		}},
		{"a target's story", []string{"--run", run, "--target", "b"}, []string{
			"planner <nil> run planned", "worker b crawl failed permanently", "results b failed attempt stored",
		}},
		{"one function, warn and up", []string{"--run", run, "--function", "worker", "--level", "warn"}, []string{
			"worker a crawl failed, will retry", "worker a results not sent; their jobs will be retried",
		}},
		{"since", []string{"--run", run, "--since", at(6).Format(time.RFC3339)}, []string{
			"worker a results not sent; their jobs will be retried", "results b failed attempt stored",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := cli(t, append([]string{"logs", "--stage", "test", "-o", "json"}, tt.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			inTimeOrder(t, logLines(t, out))
			if got := msgs(out); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}

	// Every page is read: the other run's 1,200 records.
	code, out, stderr := cli(t, "logs", "--stage", "test", "-o", "json", "--run", "other")
	if n := len(logLines(t, out)); code != exitOK || n != 1200 {
		t.Errorf("other run: exit %d, %d records, want 1200 %s", code, n, stderr)
	}
	// A platform line is a record of its function too.
	code, out, _ = cli(t, "logs", "--stage", "test", "-o", "json", "--function", "planner")
	if rs := logLines(t, out); code != exitOK || len(rs) != 3 || !strings.HasPrefix(fmt.Sprint(rs[0]["msg"]), "START") {
		t.Errorf("planner: exit %d %v", code, rs)
	}
	code, _, stderr = cli(t, "logs", "--stage", "nope")
	if code != exitError || !strings.Contains(stderr, "log group /aws/lambda/cronless-nope-") {
		t.Errorf("unknown stage: exit %d, %q", code, stderr)
	}
}
