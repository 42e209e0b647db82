package main

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/standin"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo"
	"github.com/cronless/cronless/shared/store/dynamov1"
)

func TestMigrateNeedsAStage(t *testing.T) {
	code, _, stderr := cli(t, "migrate", "--db", filepath.Join(t.TempDir(), "local.db"))
	if code != exitUsage || !strings.Contains(stderr, "--stage") || !strings.Contains(stderr, "SQLite") {
		t.Errorf("migrate without --stage: exit %d, stderr %q; want %d, asking for --stage and saying the local store needs none",
			code, stderr, exitUsage)
	}
}

// migrateStage is a stage "test" on dynalite with a v1 table cronless-test
// (seeded with two targets' results over three runs) and an empty v2 table
// cronless-test-v2, the stack output TableName (CRONLESS_TABLE). Its
// queues are never reached: migrate reads only the table.
func migrateStage(t *testing.T) (db *dynamodb.Client, v1 *dynamov1.Store, v2 *dynamo.Store) {
	t.Helper()
	ctx := context.Background()
	dl := standin.Dynalite(t, "")
	db = dl.DynamoDB(t)
	if err := dynamov1.CreateTable(ctx, db, "cronless-test"); err != nil {
		t.Fatal(err)
	}
	if err := dynamo.CreateTable(ctx, db, "cronless-test-v2"); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		envTargetsQueue: "http://127.0.0.1:1/targets", envTargetsDLQ: "http://127.0.0.1:1/targets-dlq",
		envResultsQueue: "http://127.0.0.1:1/results", envResultsDLQ: "http://127.0.0.1:1/results-dlq", envTable: "cronless-test-v2",
		"AWS_ENDPOINT_URL_DYNAMODB": dl.Endpoint,
		"AWS_ACCESS_KEY_ID":         "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": standin.Region,
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
	} {
		t.Setenv(k, v)
	}
	v1 = dynamov1.New(db, "cronless-test")
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	for i := range 3 {
		sched := at.Add(time.Duration(i) * time.Hour)
		runID := job.RunID("hourly", sched)
		if _, err := v1.PutRun(ctx, store.Run{ID: runID, Schedule: "hourly", ScheduledAt: sched, Planned: 2, Targets: []string{"a", "b"}}); err != nil {
			t.Fatal(err)
		}
		for _, target := range []string{"a", "b"} {
			r := job.Result{V: job.Version, RunID: runID, Schedule: "hourly", TargetID: target, URL: "https://example.com/" + target,
				ScheduledAt: sched, FetchedAt: sched.Add(time.Second), Status: job.StatusOK, HTTPStatus: 200,
				Fields: map[string]any{"title": target}, ContentHash: target + string(rune('0'+i)), Attempt: 1}
			if _, err := v1.PutResult(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	return db, v1, dynamo.New(db, "cronless-test-v2")
}

func TestMigrateStage(t *testing.T) {
	_, v1, v2 := migrateStage(t)
	ctx := context.Background()
	checkpoint := filepath.Join(t.TempDir(), "migrate.json")
	stage := func(args ...string) []string {
		return append([]string{"migrate", "--stage", "test", "--checkpoint", checkpoint}, args...)
	}

	t.Run("wrong tables", func(t *testing.T) {
		for _, tt := range []struct {
			args []string
			code int
			says string
		}{
			{stage("--from-table", "cronless-test-v2", "--to-table", "cronless-test"), exitUsage, "not a v1 table"},
			{stage("--from-table", "cronless-gone"), exitError, "nothing to migrate"},
			{stage("--to-table", "cronless-gone-v2"), exitError, "deploy the stage"},
			{stage("--since", "yesterday"), exitUsage, "RFC 3339"},
			{stage("--parallel", "0"), exitUsage, "--parallel"},
		} {
			code, _, stderr := cli(t, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.says) {
				t.Errorf("cronless %v: exit %d, stderr %q; want %d saying %q", tt.args, code, stderr, tt.code, tt.says)
			}
		}
	})

	code, stdout, stderr := cli(t, stage("--dry-run")...)
	if code != exitOK || !strings.Contains(stdout, "dry run: would copy 3 runs, 2 targets, 6 results") {
		t.Fatalf("dry run: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if runs, _ := v2.Runs(ctx, 0); len(runs) != 0 {
		t.Errorf("the dry run wrote %d runs", len(runs))
	}

	code, stdout, stderr = cli(t, stage()...)
	if code != exitOK || !strings.Contains(stdout, "migrated 3 runs, 2 targets, 6 results from cronless-test to cronless-test-v2") ||
		!strings.Contains(stdout, "cronless-test is kept") {
		t.Fatalf("migrate: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "migrate: runs 3/3") || !strings.Contains(stderr, "migrate: targets 2/2, 6 results") {
		t.Errorf("progress on stderr (no terminal) %q; want a line at the end of each phase", stderr)
	}
	want, err := v1.Latest(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := v2.Latest(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got, want, func(a, b job.Result) bool {
		return a.TargetID == b.TargetID && a.RunID == b.RunID && a.ContentHash == b.ContentHash && a.Changed == b.Changed
	}) {
		t.Errorf("v2 latest %+v; want v1's %+v", got, want)
	}
	run, err := v2.Run(ctx, want[0].RunID)
	if err != nil || run.Planned != 2 || run.Succeeded != 2 || !slices.Equal(run.Targets, []string{"a", "b"}) {
		t.Errorf("v2 run %+v, %v; want planned 2 (a, b), 2 succeeded", run, err)
	}

	// Through the CLI's own reading of the stage (the v2 table).
	code, stdout, _ = cli(t, "results", "history", "a", "--stage", "test", "-o", "csv")
	if code != exitOK || strings.Count(stdout, "\n") != 4 {
		t.Errorf("results history a after migrating: exit %d, output %q; want a header and 3 results", code, stdout)
	}

	code, stdout, _ = cli(t, stage()...)
	if code != exitOK || !strings.Contains(stdout, "nothing to do") {
		t.Errorf("migrate again: exit %d, stdout %q; want nothing to do", code, stdout)
	}
	code, _, stderr = cli(t, stage("--since", "2026-11-01T10:00:00Z")...)
	if code != exitUsage || !strings.Contains(stderr, "--restart") {
		t.Errorf("migrate with another --since on the same checkpoint: exit %d, stderr %q; want a usage error naming --restart", code, stderr)
	}
	code, stdout, _ = cli(t, stage("--restart")...)
	if code != exitOK || !strings.Contains(stdout, "migrated 3 runs, 2 targets, 6 results") {
		t.Errorf("migrate --restart: exit %d, stdout %q", code, stdout)
	}
}
