// The stack test: the osls package of stage prod deployed to a second,
// independent emulator (moto server, on 127.0.0.1) the way `osls deploy`
// deploys it, then the CLI's --stage commands run against that stack, as a
// user runs them against AWS. It proves that the stack's names and outputs
// are the ones the CLI looks up (cmd/cronless/backend.go), and that what the
// commands print and do holds on the deployed queues and table.
//
// moto runs no Lambda (it needs Docker) and creates no
// AWS::Scheduler::Schedule from CloudFormation: cfn-lint judges the
// template's schema and the RIE tests the functions. The CLI's `dlq replay`
// moves messages itself (send, then delete); `--native` (SQS message move
// tasks) is not run, as moto answers those calls with HTTP 500.
// Nothing here reaches AWS or the internet:
// every client, the CLI's included, talks to moto on 127.0.0.1 with static
// test credentials.
package cronless_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/queue/sqsq"
	"github.com/cronless/cronless/shared/standin"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo"
)

// stackStage is the stage the test deploys; its stack is cronless-prod.
const stackStage = "prod"

func TestStackOnMoto(t *testing.T) {
	osls := standin.Osls(t)
	node, err := exec.LookPath("node")
	if err != nil {
		standin.Unavailable(t, "osls needs node on PATH")
	}
	// moto invokes a function through Docker when a message reaches a queue
	// with an event source mapping. Point it at a socket that does not
	// exist, so that on a machine with Docker it still pulls no image.
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	moto := standin.Moto(t)
	root := standin.Root()
	cli := buildCLI(t, root)
	dir := serviceDir(t, root, cli, "")
	c := deployCase{name: "prod", stage: stackStage, region: standin.Region, params: []string{"alertEmail=ops@example.com"}}
	tpl := oslsPackage(t, node, osls, t.TempDir(), dir, c)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	outputs := deployStack(ctx, t, moto, dir, tpl)

	// The outputs the CLI reads (cmd/cronless/backend.go): a missing one fails
	// every --stage command.
	for _, k := range []string{"TargetsQueueUrl", "TargetsDLQUrl", "ResultsQueueUrl", "ResultsDLQUrl", "TableName",
		"PlannerFailuresQueueUrl", "PlannerFunctionName"} {
		if outputs[k] == "" {
			t.Fatalf("stack %s has no output %s: %v", stackName(), k, outputs)
		}
	}
	// TableName is the schema v2 table; V1TableName names the v1 table,
	// which the stack no longer holds, for `cronless migrate`.
	if got, w := outputs["TableName"], "cronless-"+stackStage+"-v2"; got != w {
		t.Errorf("output TableName = %q, want %q (docs/aws.md, Resources)", got, w)
	}
	if got, w := outputs["V1TableName"], "cronless-"+stackStage; got != w {
		t.Errorf("output V1TableName = %q, want %q", got, w)
	}
	// dlq replay --queue planner invokes the planner by this name
	// (docs/aws.md, Resources).
	if got, w := outputs["PlannerFunctionName"], "cronless-"+stackStage+"-planner"; got != w {
		t.Errorf("output PlannerFunctionName = %q, want %q", got, w)
	}

	sqsClient := sqs.NewFromConfig(standin.AWSConfig(t), func(o *sqs.Options) { o.BaseEndpoint = aws.String(moto.Endpoint) })
	st := stackQueues{
		targets:    sqsq.New(sqsClient, outputs["TargetsQueueUrl"]),
		targetsDLQ: sqsq.New(sqsClient, outputs["TargetsDLQUrl"]),
		results:    sqsq.New(sqsClient, outputs["ResultsQueueUrl"]),
		resultsDLQ: sqsq.New(sqsClient, outputs["ResultsDLQUrl"]),
	}
	for q, w := range map[*sqsq.Queue]string{st.targets: "targets", st.targetsDLQ: "targets-dlq", st.results: "results", st.resultsDLQ: "results-dlq"} {
		if got := q.Name(); got != "cronless-"+stackStage+"-"+w {
			t.Errorf("queue %s is named %q, want %q (docs/aws.md, Resources)", q.URL(), got, "cronless-"+stackStage+"-"+w)
		}
	}
	ddb := moto.DynamoDB(t)
	checkDeployedTable(ctx, t, ddb, outputs["TableName"])
	db := dynamo.New(ddb, outputs["TableName"])
	seed := seedStack(ctx, t, st, db)
	run := stackCLI(t, cli, moto.Endpoint)

	t.Run("dlq list", func(t *testing.T) {
		out, _ := run(t, "dlq", "list", "--stage", stackStage, "-o", "json")
		rows := decodeJSONLines[letterRow](t, out)
		if len(rows) != 2 {
			t.Fatalf("dlq list printed %d messages, want the 2 dead-lettered jobs:\n%s", len(rows), out)
		}
		for _, r := range rows {
			d, ok := seed.dead[r.TargetID]
			if !ok {
				t.Errorf("dlq list: message %s of target %q was not dead-lettered", r.MessageID, r.TargetID)
				continue
			}
			checkLetter(t, "dlq list", r, d, seed.runID)
		}
	})

	t.Run("dlq show", func(t *testing.T) {
		d := seed.dead["alpha"]
		out, _ := run(t, "dlq", "show", d.messageID, "--stage", stackStage, "-o", "json")
		var got struct {
			letterRow
			History []job.Attempt `json:"history"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("dlq show -o json: %v\n%s", err, out)
		}
		checkLetter(t, "dlq show", got.letterRow, d, seed.runID)
		var body job.Job
		if err := json.Unmarshal([]byte(got.Body), &body); err != nil || body.TargetID != "alpha" || body.URL != d.url {
			t.Errorf("dlq show: body %q is not alpha's job (%v)", got.Body, err)
		}
		if len(got.History) != len(d.attempts) {
			t.Fatalf("dlq show: %d attempts in the history, want %d:\n%s", len(got.History), len(d.attempts), out)
		}
		for i, h := range got.History {
			w := d.attempts[i]
			if h.Attempt != w.Attempt || h.MessageID != d.messageID || h.Error != w.Error || !h.At.Equal(w.At) {
				t.Errorf("dlq show: history[%d] = %+v, want %+v", i, h, w)
			}
		}
	})

	t.Run("runs list", func(t *testing.T) {
		out, _ := run(t, "runs", "list", "--stage", stackStage, "-o", "json")
		rows := decodeJSONLines[runRow](t, out)
		want := []runRow{
			// Run 1: gamma stored, alpha and beta in the targets DLQ.
			{ID: seed.runID, Schedule: "hourly", ScheduledAt: seed.scheduledAt, Planned: 3, Succeeded: 1, DeadLettered: 2},
			{ID: seed.prevRunID, Schedule: "hourly", ScheduledAt: seed.scheduledAt.Add(-time.Hour), Planned: 1, Succeeded: 1},
		}
		if len(rows) != len(want) {
			t.Fatalf("runs list printed %d runs, want %d (newest first):\n%s", len(rows), len(want), out)
		}
		for i := range want {
			if g := rows[i]; g.ID != want[i].ID || g.Schedule != want[i].Schedule || !g.ScheduledAt.Equal(want[i].ScheduledAt) ||
				g.Planned != want[i].Planned || g.Succeeded != want[i].Succeeded || g.Failed != want[i].Failed ||
				g.InFlight != want[i].InFlight || g.DeadLettered != want[i].DeadLettered {
				t.Errorf("runs list row %d = %+v, want %+v", i, g, want[i])
			}
		}
	})

	t.Run("results latest", func(t *testing.T) {
		out, _ := run(t, "results", "latest", "--stage", stackStage, "-o", "json")
		rows := decodeJSONLines[job.Result](t, out)
		got := map[string]job.Result{}
		for _, r := range rows {
			got[r.TargetID] = r
		}
		if len(rows) != len(seed.results) || len(got) != len(seed.results) {
			t.Fatalf("results latest printed %d results, want one per target with a result (%d):\n%s", len(rows), len(seed.results), out)
		}
		for id, w := range seed.results {
			g := got[id]
			if g.RunID != w.RunID || g.Status != w.Status || g.HTTPStatus != w.HTTPStatus || g.URL != w.URL || fmt.Sprint(g.Fields) != fmt.Sprint(w.Fields) {
				t.Errorf("results latest %s = %+v, want %+v", id, g, w)
			}
		}
	})

	t.Run("dlq replay --dry-run", func(t *testing.T) {
		out, errOut := run(t, "dlq", "replay", "--target", "alpha", "--dry-run", "--stage", stackStage, "-o", "json")
		rows := decodeJSONLines[letterRow](t, out)
		if len(rows) != 1 || rows[0].Action != "would move" || rows[0].MessageID != seed.dead["alpha"].messageID {
			t.Fatalf("dlq replay --dry-run printed %+v, want alpha's message, would move:\n%s", rows, out)
		}
		wantSummary(t, errOut, "dry run: would move 1, skipped 1; nothing changed (cronless-prod-targets-dlq → cronless-prod-targets on stage prod (us-east-1))")
		// Nothing moved: both jobs are still dead-lettered, none is queued.
		wantDepth(ctx, t, st.targetsDLQ, 2)
		wantDepth(ctx, t, st.targets, 0)
	})

	t.Run("dlq replay", func(t *testing.T) {
		d := seed.dead["alpha"]
		out, errOut := run(t, "dlq", "replay", "--target", "alpha", "--stage", stackStage, "-o", "json")
		rows := decodeJSONLines[letterRow](t, out)
		if len(rows) != 1 || rows[0].Action != "moved" || rows[0].MessageID != d.messageID {
			t.Fatalf("dlq replay printed %+v, want alpha's message, moved:\n%s", rows, out)
		}
		wantSummary(t, errOut, "moved 1, skipped 1, failed 0 (cronless-prod-targets-dlq → cronless-prod-targets on stage prod (us-east-1))")
		wantDepth(ctx, t, st.targetsDLQ, 1)
		// The job is back on the targets queue, body and attributes as the
		// planner sent them, for a worker to take.
		m := receiveOne(ctx, t, st.targets)
		if m.Body != d.body {
			t.Errorf("replayed body %q, want the dead-lettered job %q", m.Body, d.body)
		}
		if m.Attributes[job.AttrRunID] != seed.runID || m.Attributes[job.AttrTargetID] != "alpha" {
			t.Errorf("replayed attributes %v, want run_id %s and target_id alpha", m.Attributes, seed.runID)
		}
		if err := st.targets.Delete(ctx, []string{m.ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("dlq purge --archive", func(t *testing.T) {
		d := seed.dead["beta"]
		archive := filepath.Join(t.TempDir(), "purged.jsonl")
		out, errOut := run(t, "dlq", "purge", "--archive", archive, "--yes", "--stage", stackStage, "-o", "json")
		rows := decodeJSONLines[letterRow](t, out)
		if len(rows) != 1 || rows[0].Action != "purged" || rows[0].MessageID != d.messageID {
			t.Fatalf("dlq purge printed %+v, want beta's message, purged:\n%s", rows, out)
		}
		wantSummary(t, errOut, "purged 1, skipped 0, failed 0 (cronless-prod-targets-dlq on stage prod (us-east-1)); archived to "+archive)
		b, err := os.ReadFile(archive)
		if err != nil {
			t.Fatalf("purge --archive wrote no archive: %v", err)
		}
		type archived struct {
			letterRow
			ArchivedAt time.Time `json:"archived_at"`
		}
		lines := decodeJSONLines[archived](t, string(b))
		if len(lines) != 1 {
			t.Fatalf("archive holds %d messages, want beta's:\n%s", len(lines), b)
		}
		a := lines[0]
		if a.MessageID != d.messageID || a.Body != d.body || a.TargetID != "beta" || a.RunID != seed.runID || a.ArchivedAt.IsZero() {
			t.Errorf("archive line %+v, want beta's message %s with its body and an archived_at", a, d.messageID)
		}
		wantDepth(ctx, t, st.targetsDLQ, 0)
	})

	// A result whose fields take job.MaxFieldsBytes is over 256 KiB with the
	// rest of the result, and sqsq sends up to 1 MiB (queue.MaxMessageSize),
	// so the queues must take 1 MiB: MaximumMessageSize 1048576, the most
	// the AWS::SQS::Queue property (AWS CloudFormation User Guide) and
	// SetQueueAttributes (Amazon SQS API Reference) allow. A queue at
	// 262,144 (256 KiB: the default of older queues, which they keep until
	// told otherwise) rejects the whole batch. moto 5.2.1 creates queues at
	// 1 MiB when the template says nothing, so the template is checked too.
	t.Run("messages over 256 KiB", func(t *testing.T) {
		for _, id := range []string{"TargetsQueue", "TargetsDLQ", "ResultsQueue", "ResultsDLQ"} {
			p := tpl.res(t, id, "AWS::SQS::Queue").Properties
			want(t, id+" MaximumMessageSize", p["MaximumMessageSize"], "1048576")
		}
		for _, q := range []*sqsq.Queue{st.targets, st.results} {
			out, err := sqsClient.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.URL()),
				AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameMaximumMessageSize}})
			if err != nil {
				t.Fatal(err)
			}
			if got := out.Attributes[string(sqstypes.QueueAttributeNameMaximumMessageSize)]; got != "1048576" {
				t.Errorf("%s MaximumMessageSize = %s, want 1048576", q.Name(), got)
			}
		}
		big := bigMessages(t, seed.runID, seed.scheduledAt)
		for _, c := range []struct {
			q   *sqsq.Queue
			msg queue.Outgoing
		}{{st.results, big.result}, {st.targets, big.job}} {
			if len(c.msg.Body) < 900<<10 {
				t.Fatalf("test message of %d bytes is not over 900 KiB", len(c.msg.Body))
			}
			if err := c.q.SendBatch(ctx, []queue.Outgoing{c.msg}); err != nil {
				t.Errorf("send %d bytes to %s: %v", len(c.msg.Body), c.q.Name(), err)
				continue
			}
			m := receiveOne(ctx, t, c.q)
			if m.Body != c.msg.Body || m.Attributes[job.AttrTargetID] != "big" {
				t.Errorf("%s returned %d bytes (target %q), want the %d bytes sent", c.q.Name(), len(m.Body), m.Attributes[job.AttrTargetID], len(c.msg.Body))
			}
			if err := c.q.Delete(ctx, []string{m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func stackName() string { return "cronless-" + stackStage }

// deployStack deploys the package in dir to moto as `osls deploy` does
// (node_modules/osls/lib/plugins/aws/deploy): the create template (the
// deployment bucket) creates the stack; the compiled template, the state
// file and the functions' zips are uploaded to the bucket under the
// package's artifactDirectoryName; then the compiled template, by its S3
// URL, updates the stack. It waits for each stack operation and fails with
// the stack's events when one fails. It returns the stack's outputs.
//
// It deploys with CreateStack and UpdateStack, osls's
// `deploymentMethod: direct`, not change sets (osls's default): moto 5.2.1
// executes a change set's resources but not its outputs, and the outputs
// are what the CLI reads. The calls carry the same template, tags and
// capabilities either way.
func deployStack(ctx context.Context, t *testing.T, moto *standin.Server, dir string, tpl *template) map[string]string {
	t.Helper()
	cf, s3c := moto.CloudFormation(t), moto.S3(t)
	sls := filepath.Join(dir, ".serverless")
	createBody, err := os.ReadFile(filepath.Join(sls, "cloudformation-template-create-stack.json"))
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := os.ReadFile(filepath.Join(sls, "cloudformation-template-update-stack.json"))
	if err != nil {
		t.Fatal(err)
	}
	stateFile, err := os.ReadFile(filepath.Join(sls, "serverless-state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var state struct {
		Package struct{ ArtifactDirectoryName string }
		Service struct {
			Functions map[string]struct{ Package struct{ Artifact string } }
		}
	}
	if err := json.Unmarshal(stateFile, &state); err != nil {
		t.Fatal(err)
	}
	artifactDir := state.Package.ArtifactDirectoryName
	if !strings.HasPrefix(artifactDir, "serverless/cronless/"+stackStage+"/") {
		t.Fatalf("artifactDirectoryName %q, want serverless/cronless/%s/<time> (osls generate-artifact-directory-name.js)", artifactDir, stackStage)
	}

	// provider.stackTags and osls's own STAGE tag, the capabilities and the
	// create's OnFailure (get-shared-stack-action-params.js,
	// get-create-stack-params.js).
	tags := []cftypes.Tag{{Key: aws.String("STAGE"), Value: aws.String(stackStage)},
		{Key: aws.String("project"), Value: aws.String("cronless")}, {Key: aws.String("stage"), Value: aws.String(stackStage)}}
	caps := []cftypes.Capability{cftypes.CapabilityCapabilityIam, cftypes.CapabilityCapabilityNamedIam}
	if _, err := cf.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String(stackName()), TemplateBody: aws.String(string(createBody)),
		Capabilities: caps, Tags: tags, NotificationARNs: []string{}, OnFailure: cftypes.OnFailureDelete}); err != nil {
		t.Fatalf("create stack %s: %v\n%s", stackName(), err, standin.StackEvents(ctx, cf, stackName()))
	}
	standin.WaitStack(ctx, t, cf, stackName(), cftypes.StackStatusCreateComplete)

	res, err := cf.DescribeStackResource(ctx, &cloudformation.DescribeStackResourceInput{
		StackName: aws.String(stackName()), LogicalResourceId: aws.String("ServerlessDeploymentBucket")})
	if err != nil {
		t.Fatalf("the deployment bucket (provider.getServerlessDeploymentBucketName): %v", err)
	}
	bucket := aws.ToString(res.StackResourceDetail.PhysicalResourceId)
	put := func(key string, body []byte, contentType string) {
		t.Helper()
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
			Body: bytes.NewReader(body), ContentType: aws.String(contentType)}); err != nil {
			t.Fatalf("upload s3://%s/%s: %v", bucket, key, err)
		}
	}
	// upload-artifacts.js: the compiled template, the state file, then each
	// function's artifact under its file's base name. (osls also stores a
	// filesha256 metadata that only its next deploy's change check reads.)
	put(artifactDir+"/compiled-cloudformation-template.json", compiled, "application/json")
	put(artifactDir+"/serverless-state.json", stateFile, "application/json")
	for fn, id := range functionIDs {
		artifact := state.Service.Functions[fn].Package.Artifact
		if artifact == "" {
			t.Fatalf("function %s has no package.artifact in serverless-state.json", fn)
		}
		key := artifactDir + "/" + filepath.Base(artifact)
		code := tpl.res(t, id, "AWS::Lambda::Function").Properties["Code"]
		if got := ref(dig(code, "S3Key")); got != key {
			t.Fatalf("%s Code.S3Key = %s, want %s, where osls uploads %s", id, got, key, artifact)
		}
		if got := ref(dig(code, "S3Bucket")); got != "ServerlessDeploymentBucket" {
			t.Fatalf("%s Code.S3Bucket = %s, want the deployment bucket", id, got)
		}
		zip, err := os.ReadFile(filepath.Join(dir, artifact))
		if err != nil {
			t.Fatal(err)
		}
		put(key, zip, "application/zip")
	}

	// update-stack.js: the template by its S3 URL (getS3EndpointForRegion:
	// s3.amazonaws.com outside China, GovCloud and ISO). moto reads it from
	// its own S3; nothing connects to that host.
	templateURL := fmt.Sprintf("https://s3.amazonaws.com/%s/%s/compiled-cloudformation-template.json", bucket, artifactDir)
	if _, err := cf.UpdateStack(ctx, &cloudformation.UpdateStackInput{StackName: aws.String(stackName()), TemplateURL: aws.String(templateURL),
		Capabilities: caps, Tags: tags, NotificationARNs: []string{}}); err != nil {
		t.Fatalf("update stack %s: %v\n%s", stackName(), err, standin.StackEvents(ctx, cf, stackName()))
	}
	standin.WaitStack(ctx, t, cf, stackName(), cftypes.StackStatusUpdateComplete)

	out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stackName())})
	if err != nil || len(out.Stacks) != 1 {
		t.Fatalf("describe stack %s: %v", stackName(), err)
	}
	outputs := map[string]string{}
	for _, o := range out.Stacks[0].Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return outputs
}

// checkDeployedTable: the table the stack created is dynamo.TableInput's,
// as DescribeTable reports it (DynamoDB API Reference, TableDescription):
// key schema, attributes, and GSI1 with its INCLUDE projection, ACTIVE; no
// local secondary index. cfn-lint checks the template against AWS's
// resource schema; this checks what the emulator built from it.
func checkDeployedTable(ctx context.Context, t *testing.T, db *dynamodb.Client, name string) {
	t.Helper()
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatalf("describe table %s: %v", name, err)
	}
	got, w := out.Table, dynamo.TableInput(name)
	attrs := func(ds []dbtypes.AttributeDefinition) []string {
		var s []string
		for _, d := range ds {
			s = append(s, aws.ToString(d.AttributeName)+" "+string(d.AttributeType))
		}
		slices.Sort(s)
		return s
	}
	keys := func(ks []dbtypes.KeySchemaElement) string {
		var s []string
		for _, k := range ks {
			s = append(s, aws.ToString(k.AttributeName)+" "+string(k.KeyType))
		}
		return strings.Join(s, ", ")
	}
	if !slices.Equal(attrs(got.AttributeDefinitions), attrs(w.AttributeDefinitions)) {
		t.Errorf("table %s attributes %v, want %v", name, attrs(got.AttributeDefinitions), attrs(w.AttributeDefinitions))
	}
	if keys(got.KeySchema) != keys(w.KeySchema) {
		t.Errorf("table %s key %s, want %s", name, keys(got.KeySchema), keys(w.KeySchema))
	}
	if len(got.LocalSecondaryIndexes) > 0 {
		t.Errorf("table %s has %d local secondary indexes, want none", name, len(got.LocalSecondaryIndexes))
	}
	if len(got.GlobalSecondaryIndexes) != len(w.GlobalSecondaryIndexes) {
		t.Fatalf("table %s has %d global secondary indexes, want %d", name, len(got.GlobalSecondaryIndexes), len(w.GlobalSecondaryIndexes))
	}
	for i, wg := range w.GlobalSecondaryIndexes {
		g := got.GlobalSecondaryIndexes[i]
		gp, wp := slices.Sorted(slices.Values(g.Projection.NonKeyAttributes)), slices.Sorted(slices.Values(wg.Projection.NonKeyAttributes))
		if aws.ToString(g.IndexName) != aws.ToString(wg.IndexName) || keys(g.KeySchema) != keys(wg.KeySchema) ||
			g.Projection.ProjectionType != wg.Projection.ProjectionType || !slices.Equal(gp, wp) {
			t.Errorf("table %s index %s on (%s) projects %s %v, want %s on (%s) projecting %s %v", name,
				aws.ToString(g.IndexName), keys(g.KeySchema), g.Projection.ProjectionType, gp,
				aws.ToString(wg.IndexName), keys(wg.KeySchema), wg.Projection.ProjectionType, wp)
		}
		if g.IndexStatus != dbtypes.IndexStatusActive {
			t.Errorf("table %s index %s is %s, want ACTIVE", name, aws.ToString(g.IndexName), g.IndexStatus)
		}
	}
}

// stackQueues are the deployed queues, through the project's SQS adapter.
type stackQueues struct {
	targets, targetsDLQ, results, resultsDLQ *sqsq.Queue
}

// deadJob is a job seeded into the targets DLQ.
type deadJob struct {
	messageID, body, url string
	attempts             []job.Attempt
}

// stackSeed is what seedStack put into the stage.
type stackSeed struct {
	runID, prevRunID string
	scheduledAt      time.Time
	dead             map[string]deadJob    // target ID -> its job in the targets DLQ
	results          map[string]job.Result // target ID -> its latest result
}

// seedStack puts a stage's state into the deployed table and queues,
// through the project's adapters: run 1 planned alpha, beta and gamma;
// gamma's result is stored, alpha's and beta's jobs failed until the
// targets queue's redrive policy dead-lettered them, each failed attempt
// recorded. An earlier run 0 stored a result of alpha.
func seedStack(ctx context.Context, t *testing.T, st stackQueues, db *dynamo.Store) stackSeed {
	t.Helper()
	at := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	s := stackSeed{runID: job.RunID("hourly", at), prevRunID: job.RunID("hourly", at.Add(-time.Hour)), scheduledAt: at,
		dead: map[string]deadJob{}, results: map[string]job.Result{}}
	urls := map[string]string{"alpha": "https://alpha.example/", "beta": "https://beta.example/news", "gamma": "https://gamma.example/"}
	for _, r := range []store.Run{
		{ID: s.prevRunID, Schedule: "hourly", ScheduledAt: at.Add(-time.Hour), Planned: 1, Targets: []string{"alpha"}},
		{ID: s.runID, Schedule: "hourly", ScheduledAt: at, Planned: 3, Targets: []string{"alpha", "beta", "gamma"}},
	} {
		if _, err := db.PutRun(ctx, r); err != nil {
			t.Fatalf("put run %s: %v", r.ID, err)
		}
	}
	for _, r := range []job.Result{
		{V: job.Version, RunID: s.prevRunID, Schedule: "hourly", TargetID: "alpha", URL: urls["alpha"], ScheduledAt: at.Add(-time.Hour),
			Status: job.StatusOK, HTTPStatus: 200, Fields: map[string]any{"title": "Alpha"}, ContentHash: "a1",
			FetchedAt: at.Add(-time.Hour + time.Second), DurationMS: 120, Attempt: 1},
		{V: job.Version, RunID: s.runID, Schedule: "hourly", TargetID: "gamma", URL: urls["gamma"], ScheduledAt: at,
			Status: job.StatusOK, HTTPStatus: 200, Fields: map[string]any{"price": "12.50"}, ContentHash: "g1",
			FetchedAt: at.Add(2 * time.Second), DurationMS: 80, Attempt: 1},
	} {
		if _, err := db.PutResult(ctx, r); err != nil {
			t.Fatalf("put result of %s: %v", r.TargetID, err)
		}
		s.results[r.TargetID] = r
	}

	// The planner's messages (shared/planner): the job as the body, its run
	// and target as attributes.
	var msgs []queue.Outgoing
	bodies := map[string]string{}
	for _, id := range []string{"alpha", "beta"} {
		body, err := job.Encode(job.Job{V: job.Version, RunID: s.runID, Schedule: "hourly", TargetID: id, URL: urls[id], ScheduledAt: at})
		if err != nil {
			t.Fatal(err)
		}
		bodies[id] = body
		msgs = append(msgs, queue.Outgoing{ID: id, Body: body, Attributes: job.Attributes(s.runID, id)})
	}
	if err := st.targets.SendBatch(ctx, msgs); err != nil {
		t.Fatalf("send the jobs to %s: %v", st.targets.Name(), err)
	}
	// Fail them as a worker would, making each visible again at once, until
	// the redrive policy moves them to the DLQ (maxReceiveCount 5: a receive
	// after the 5th moves the message instead of returning it).
	ids := map[string]string{}
	for i := 0; ; i++ {
		got, err := st.targets.Receive(ctx, queue.ReceiveOptions{Max: queue.MaxBatch})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range got {
			ids[m.Attributes[job.AttrTargetID]] = m.ID
			if err := st.targets.ChangeVisibility(ctx, m.ReceiptHandle, 0); err != nil {
				t.Fatal(err)
			}
		}
		d, err := st.targetsDLQ.Depth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 && d.Visible == len(msgs) {
			break
		}
		if i == 20 {
			t.Fatalf("the jobs were not dead-lettered after %d receives: %s holds %+v", i, st.targetsDLQ.Name(), d)
		}
	}
	wantDepth(ctx, t, st.targets, 0)
	kinds := map[string]job.Error{
		"alpha": {Kind: "http_5xx", Message: "GET https://alpha.example/: 503 Service Unavailable"},
		"beta":  {Kind: "timeout", Message: "GET https://beta.example/news: no response within 30s"},
	}
	for _, id := range []string{"alpha", "beta"} {
		if ids[id] == "" {
			t.Fatalf("no receive returned %s's job", id)
		}
		d := deadJob{messageID: ids[id], body: bodies[id], url: urls[id]}
		for n := 1; n <= 5; n++ {
			a := job.Attempt{V: job.Version, RunID: s.runID, TargetID: id, MessageID: ids[id], Attempt: n,
				At: at.Add(time.Duration(n) * time.Minute), Error: kinds[id]}
			if err := db.RecordAttempt(ctx, a); err != nil {
				t.Fatalf("record attempt %d of %s: %v", n, id, err)
			}
			d.attempts = append(d.attempts, a)
		}
		s.dead[id] = d
	}
	return s
}

// bigMessages are a result and a job of over 900 KiB each, as sqsq sends
// them to the results and targets queues.
func bigMessages(t *testing.T, runID string, at time.Time) (m struct{ result, job queue.Outgoing }) {
	t.Helper()
	r := job.Result{V: job.Version, RunID: runID, Schedule: "hourly", TargetID: "big", URL: "https://big.example/", ScheduledAt: at,
		Status: job.StatusOK, HTTPStatus: 200, Fields: map[string]any{"text": strings.Repeat("lorem ipsum ", 900<<10/12+1)},
		FetchedAt: at.Add(time.Second), Attempt: 1}
	body, err := job.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	attrs := job.Attributes(runID, "big")
	attrs[job.AttrType] = job.TypeResult
	m.result = queue.Outgoing{ID: "big-result", Body: body, Attributes: attrs}

	// Many extract rules: about 60 bytes of JSON each.
	rules := map[string]job.Rule{}
	for i, size := 0, 0; size < 920<<10; i++ {
		name, css := "field"+strconv.Itoa(i), fmt.Sprintf("#listing > li:nth-child(%d) .value", i+1)
		rules[name] = job.Rule{CSS: css}
		size += len(name) + len(css) + len(`"":{"css":""},`)
	}
	body, err = job.Encode(job.Job{V: job.Version, RunID: runID, Schedule: "hourly", TargetID: "big", URL: "https://big.example/",
		ScheduledAt: at, Extract: rules})
	if err != nil {
		t.Fatal(err)
	}
	m.job = queue.Outgoing{ID: "big-job", Body: body, Attributes: job.Attributes(runID, "big")}
	return m
}

// receiveOne receives the one message a queue should hold.
func receiveOne(ctx context.Context, t *testing.T, q *sqsq.Queue) queue.Message {
	t.Helper()
	msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: queue.MaxBatch, Wait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 {
		t.Fatalf("%s returned %d messages, want 1", q.Name(), len(msgs))
	}
	return msgs[0]
}

// wantDepth checks how many messages a queue holds, visible or not.
func wantDepth(ctx context.Context, t *testing.T, q *sqsq.Queue, n int) {
	t.Helper()
	d, err := q.Depth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.Total() != n {
		t.Errorf("%s holds %d messages (%+v), want %d", q.Name(), d.Total(), d, n)
	}
}

// wantSummary checks the summary a dlq command prints on stderr under
// JSON lines: what it did, and on which stage and region.
func wantSummary(t *testing.T, stderr, line string) {
	t.Helper()
	if !slices.Contains(strings.Split(strings.TrimSpace(stderr), "\n"), "cronless: "+line) {
		t.Errorf("stderr lacks the summary %q:\n%s", "cronless: "+line, stderr)
	}
}

// letterRow is a dead letter as the dlq commands print it with -o json
// (the README's dlq section): what a user's script reads.
type letterRow struct {
	Action       string            `json:"action"`
	MessageID    string            `json:"message_id"`
	Queue        string            `json:"queue"`
	TargetID     string            `json:"target_id"`
	RunID        string            `json:"run_id"`
	URL          string            `json:"url"`
	ReceiveCount int               `json:"receive_count"`
	SentAt       time.Time         `json:"sent_at"`
	Attributes   map[string]string `json:"attributes"`
	Body         string            `json:"body"`
	LastError    *struct {
		Kind    string    `json:"kind"`
		Message string    `json:"message"`
		Attempt int       `json:"attempt"`
		At      time.Time `json:"at"`
		Source  string    `json:"source"`
	} `json:"last_error"`
}

// checkLetter checks a listed dead letter against the job seeded: where it
// is, what it is, and why it is there (its last recorded attempt).
func checkLetter(t *testing.T, cmd string, r letterRow, d deadJob, runID string) {
	t.Helper()
	if r.MessageID != d.messageID || r.Queue != "cronless-"+stackStage+"-targets-dlq" || r.RunID != runID || r.URL != d.url {
		t.Errorf("%s: %s is message %s in %s of run %s, url %s; want message %s in cronless-%s-targets-dlq of run %s, url %s",
			cmd, r.TargetID, r.MessageID, r.Queue, r.RunID, r.URL, d.messageID, stackStage, runID, d.url)
	}
	// It was received maxReceiveCount times before it was dead-lettered.
	if r.ReceiveCount < 5 || r.SentAt.IsZero() {
		t.Errorf("%s: %s receive_count %d, sent_at %v; want at least 5 and a time", cmd, r.TargetID, r.ReceiveCount, r.SentAt)
	}
	last := d.attempts[len(d.attempts)-1]
	if e := r.LastError; e == nil || e.Source != "history" || e.Kind != last.Error.Kind || e.Message != last.Error.Message ||
		e.Attempt != last.Attempt || !e.At.Equal(last.At) {
		t.Errorf("%s: %s last_error %+v, want attempt %d from the history: %+v", cmd, r.TargetID, r.LastError, last.Attempt, last.Error)
	}
}

// runRow is a run as `runs list -o json` prints it.
type runRow struct {
	ID           string    `json:"run_id"`
	Schedule     string    `json:"schedule"`
	ScheduledAt  time.Time `json:"scheduled_at"`
	Planned      int       `json:"planned"`
	Succeeded    int       `json:"succeeded"`
	Failed       int       `json:"failed"`
	InFlight     int       `json:"in_flight"`
	DeadLettered int       `json:"dead_lettered"`
}

// decodeJSONLines decodes JSON lines, one value a line.
func decodeJSONLines[T any](t *testing.T, out string) []T {
	t.Helper()
	var rows []T
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
		}
		rows = append(rows, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// stackCLI returns a runner of the CLI against the stack on moto: the
// SDK's AWS_ENDPOINT_URL, a region and static test credentials, and none
// of the caller's AWS_* or CRONLESS_* variables, HOME or AWS config files,
// so it can reach no account. A command that exits non-zero fails the test.
func stackCLI(t *testing.T, cli, endpoint string) func(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	home := t.TempDir()
	env := slices.DeleteFunc(withoutAWS(os.Environ()), func(kv string) bool {
		return strings.HasPrefix(kv, "CRONLESS_") || strings.HasPrefix(kv, "HOME=")
	})
	env = append(env, "HOME="+home,
		"AWS_ENDPOINT_URL="+endpoint, "AWS_REGION="+standin.Region,
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_CONFIG_FILE="+filepath.Join(home, "aws-config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true")
	return func(t *testing.T, args ...string) (string, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, cli, args...)
		cmd.Dir = home
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("cronless %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.Bytes(), stderr.Bytes())
		}
		return stdout.String(), stderr.String()
	}
}
