package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/standin"
	"github.com/cronless/cronless/shared/status"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo"
)

// TestStatusOnMoto runs `cronless status --stage prod` against moto
// server's SQS, DynamoDB and CloudWatch: a targets queue with messages, a
// targets DLQ with one, a run still draining, one alarm of the stage in
// ALARM (and one of another stage, and one of this stage in OK, not
// shown). The queues' ApproximateAgeOfOldestMessage is what CloudWatch
// holds: moto publishes no SQS metrics, so the test puts one datapoint
// for the targets queue (PutMetricData) and the other queues show "-".
func TestStatusOnMoto(t *testing.T) {
	ctx := context.Background()
	m := standin.Moto(t)
	sq := m.SQS(t)
	cw := status.NewCloudWatch(standin.AWSConfig(t), func(o *cloudwatch.Options) { o.BaseEndpoint = aws.String(m.Endpoint) })
	url := func(name string) string {
		out, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
		if err != nil {
			t.Fatalf("create queue %s on moto: %v", name, err)
		}
		return aws.ToString(out.QueueUrl)
	}
	urls := map[string]string{
		envTargetsQueue: url("cronless-prod-targets"), envTargetsDLQ: url("cronless-prod-targets-dlq"),
		envResultsQueue: url("cronless-prod-results"), envResultsDLQ: url("cronless-prod-results-dlq"),
		envPlannerDLQ: url("cronless-prod-planner-failures"),
	}
	for k, v := range urls {
		t.Setenv(k, v)
	}
	for k, v := range map[string]string{
		envTable: "cronless-prod", "AWS_ENDPOINT_URL": m.Endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": standin.Region,
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
	} {
		t.Setenv(k, v)
	}
	send := func(queueURL, body string) {
		if _, err := sq.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	send(urls[envTargetsQueue], `{"pending":1}`)
	send(urls[envTargetsQueue], `{"pending":2}`)
	send(urls[envTargetsDLQ], `{"dead":1}`)

	// A run of schedule hourly an hour ago, planned 2, nothing stored: still draining.
	db := m.DynamoDB(t)
	if err := dynamo.CreateTable(ctx, db, "cronless-prod"); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	at := now.Add(-time.Hour).Truncate(time.Minute)
	runID := job.RunID("hourly", at)
	if _, err := dynamo.New(db, "cronless-prod").PutRun(ctx, store.Run{ID: runID, Schedule: "hourly", ScheduledAt: at, Planned: 2}); err != nil {
		t.Fatal(err)
	}

	// CloudWatch API Reference: PutMetricAlarm, then SetAlarmState (which
	// sets the state until the next evaluation; moto evaluates none).
	alarm := func(name, desc string, state cwtypes.StateValue) {
		_, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
			AlarmName: aws.String(name), AlarmDescription: aws.String(desc),
			Namespace: aws.String("AWS/SQS"), MetricName: aws.String("ApproximateNumberOfMessagesVisible"),
			Statistic: cwtypes.StatisticMaximum, Period: aws.Int32(300), EvaluationPeriods: aws.Int32(1),
			Threshold: aws.Float64(0), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
		})
		if err != nil {
			t.Fatalf("put alarm %s on moto: %v", name, err)
		}
		if _, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String(name), StateValue: state,
			StateReason: aws.String("Threshold Crossed: 1 datapoint [1.0] was greater than the threshold (0.0).")}); err != nil {
			t.Fatalf("set the state of alarm %s on moto: %v", name, err)
		}
	}
	alarm("cronless-prod-targets-dlq-not-empty", "Jobs were dead-lettered; see `cronless dlq list`.", cwtypes.StateValueAlarm)
	alarm("cronless-prod-results-queue-stalled", "The results queue's oldest result waited too long.", cwtypes.StateValueOk)
	alarm("cronless-dev-targets-dlq-not-empty", "Another stage's.", cwtypes.StateValueAlarm)

	// CloudWatch API Reference: PutMetricData; the SQS metric as SQS
	// publishes it (SQS Developer Guide, "Available CloudWatch metrics for Amazon SQS").
	_, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("AWS/SQS"), MetricData: []cwtypes.MetricDatum{{
		MetricName: aws.String("ApproximateAgeOfOldestMessage"), Timestamp: aws.Time(now.Add(-2 * time.Minute)),
		Dimensions: []cwtypes.Dimension{{Name: aws.String("QueueName"), Value: aws.String("cronless-prod-targets")}},
		Value:      aws.Float64(1800), Unit: cwtypes.StandardUnitSeconds,
	}}})
	if err != nil {
		t.Fatalf("put metric data on moto: %v", err)
	}

	tf := writeFile(t, "targets.yaml", `schedules:
  hourly: { expression: "rate(1 hour)" }
targets:
  - { id: a, url: "https://example.com/a", schedule: hourly }
  - { id: b, url: "https://example.com/b", schedule: hourly }
`)
	code, out, stderr := cli(t, "status", "--stage", "prod", "--targets", tf, "-o", "table")
	for _, want := range []string{
		"stage prod (" + standin.Region + ")",
		runID, "draining ",
		"cronless-prod-planner-failures",
		"cronless-prod-targets-dlq-not-empty",
		"1 dead letter in cronless-prod-targets-dlq",
		"next: cronless dlq list --queue targets --stage prod",
		"still draining after 1h0m",
		"next: cronless runs show " + runID + " --stage prod",
		"the oldest message of cronless-prod-targets is 30m0s old",
		"alarm cronless-prod-targets-dlq-not-empty is in ALARM: Jobs were dead-lettered",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status --stage prod does not say %q:\n%s", want, out)
		}
	}
	for _, not := range []string{"cronless-dev-", "results-queue-stalled"} {
		if strings.Contains(out, not) {
			t.Errorf("status --stage prod shows %q, an alarm of another stage or not in ALARM:\n%s", not, out)
		}
	}
	if code != exitAttention {
		t.Errorf("status --stage prod: exit %d, want %d\nstderr %s", code, exitAttention, stderr)
	}

	code, out, stderr = cli(t, "status", "--stage", "prod", "--targets", tf, "-o", "json")
	var r status.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("status --stage prod -o json: %v\n%s\n%s", err, out, stderr)
	}
	if code != exitAttention || r.Healthy || len(r.Alarms) != 1 || r.Alarms[0].Name != "cronless-prod-targets-dlq-not-empty" || r.Alarms[0].Since.IsZero() {
		t.Errorf("status -o json: exit %d, healthy %v, alarms %+v; want %d and the one alarm", code, r.Healthy, r.Alarms, exitAttention)
	}
	got := map[string]status.Queue{}
	for _, q := range r.Queues {
		got[q.Role] = q
	}
	if q := got[status.RoleTargets]; q.Visible != 2 || q.OldestAgeSeconds == nil || *q.OldestAgeSeconds != 1800 {
		t.Errorf("targets queue %+v; want 2 visible, 1800 s old", q)
	}
	if q := got[status.RoleTargetsDLQ]; q.Total() != 1 || q.OldestAgeSeconds != nil {
		t.Errorf("targets DLQ %+v; want 1 message, no age (no datapoint)", q)
	}
	if _, ok := got[status.RolePlannerFailures]; !ok || len(r.Queues) != 5 {
		t.Errorf("queues %+v; want the four and the planner failures queue", r.Queues)
	}
	if lr := r.Schedules[0].LastRun; lr == nil || lr.ID != runID || !lr.Draining || lr.InFlight != 2 || lr.DeadLettered != 0 || lr.DrainingSeconds == nil {
		t.Errorf("hourly's last run %+v; want %s draining, 2 in flight (the DLQ message is of no run)", lr, runID)
	}
}
