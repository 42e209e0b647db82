// The deployment test: the Serverless Framework (osls, the open-source v3
// line) packages serverless.yml offline, with no credentials; AWS's own
// CloudFormation linter (cfn-lint, built on AWS's resource schemas) must
// find nothing in what it generates, and the test reads the template. The
// layouts it asserts follow the CloudFormation template reference
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/,
// named at each check). Nothing reaches AWS.
//
// It runs in a temporary copy of what osls needs (serverless.yml, targets,
// package.json, a node_modules link and placeholder artifacts in build/), so
// it never writes into the repository. build/schedules.json comes from the
// real `cronless schedules` command, as in `make build`.
package cronless_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cronless/cronless/shared/standin"
	"github.com/cronless/cronless/shared/store/dynamo"
	"github.com/cronless/cronless/shared/targets"
)

// A targets file with what the repository's example lacks: an at()
// expression (which osls's schema only takes wrapped in Fn::Sub), a
// schedule with no timezone (UTC), and three schedules.
const otherTargets = `schedules:
  every-15: { expression: "rate(15 minutes)" }
  launch: { expression: "at(2030-01-01T09:00:00)", timezone: "Europe/London" }
  nightly: { expression: "cron(0 2 * * ? *)", timezone: "America/New_York" }
targets:
  - { id: a, url: "https://example.com/", schedule: every-15 }
  - { id: b, url: "https://example.org/", schedule: nightly }
`

// deployCase is one `osls package` run and what its template must hold.
type deployCase struct {
	name            string
	stage, region   string
	params          []string // --param name=value
	targets         string   // contents of the targets file; "" = the repository's targets.yaml
	maxReceiveCount int
	timeouts        map[string]int // function key -> seconds
	alertEmail      string
	retainTable     bool              // the table survives the stack (every stage but dev)
	workerEnv       map[string]string // worker variables that differ from the defaults
}

func TestDeploymentTemplate(t *testing.T) {
	osls := standin.Osls(t)
	node, err := exec.LookPath("node")
	if err != nil {
		standin.Unavailable(t, "osls needs node on PATH")
	}
	root := standin.Root()
	cli := buildCLI(t, root)
	// One HOME for both runs: osls caches its compiled schema validator
	// there (~/.serverless/artifacts), which halves the second run.
	home := t.TempDir()

	cases := []deployCase{
		{
			name: "dev", stage: "dev", region: "us-east-1",
			maxReceiveCount: 5,
			timeouts:        map[string]int{"planner": 30, "worker": 60, "results": 30},
		},
		{
			name: "prod", stage: "prod", region: "eu-west-1",
			params: []string{"maxReceiveCount=3", "workerTimeout=90", "resultsTimeout=45", "alertEmail=ops@example.com",
				"hostConcurrency=4", "hostDelay=250ms", "maxBodyBytes=1048576"},
			targets:         otherTargets,
			maxReceiveCount: 3,
			timeouts:        map[string]int{"planner": 30, "worker": 90, "results": 45},
			alertEmail:      "ops@example.com",
			retainTable:     true,
			workerEnv:       map[string]string{"HOST_CONCURRENCY": "4", "HOST_DELAY": "250ms", "MAX_BODY_BYTES": "1048576"},
		},
		{
			// A stage other than dev that notifies nobody, on purpose.
			name: "staging", stage: "staging", region: "us-east-1", params: []string{"alertEmail=none"},
			maxReceiveCount: 5,
			timeouts:        map[string]int{"planner": 30, "worker": 60, "results": 30},
			alertEmail:      "none",
			retainTable:     true,
		},
	}
	cfnLint := standin.CfnLint(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := serviceDir(t, root, cli, c.targets)
			tpl := oslsPackage(t, node, osls, home, dir, c)
			t.Run("cfn-lint", func(t *testing.T) { checkCfnLint(t, cfnLint, root, dir) })
			tf, err := targets.Load(filepath.Join(dir, "targets.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			t.Run("functions", func(t *testing.T) { checkFunctions(t, tpl, c) })
			t.Run("queues", func(t *testing.T) { checkQueues(t, tpl, c) })
			t.Run("alarms", func(t *testing.T) { checkAlarms(t, tpl, c) })
			t.Run("dashboard", func(t *testing.T) { checkDashboard(t, tpl, c) })
			t.Run("schedules", func(t *testing.T) { checkSchedules(t, tpl, tf) })
			t.Run("table", func(t *testing.T) { checkTable(t, tpl, c) })
			t.Run("deployment bucket", func(t *testing.T) { checkBucket(t, tpl) })
			t.Run("iam", func(t *testing.T) { checkIAM(t, tpl, c.stage) })
			t.Run("outputs", func(t *testing.T) { checkOutputs(t, tpl, c) })
			t.Run("names", func(t *testing.T) { checkNames(t, tpl, c) })
		})
	}
}

// buildCLI builds cmd/cronless for the host.
func buildCLI(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cronless")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/cronless")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/cronless: %v\n%s", err, out)
	}
	return bin
}

// serviceDir lays out a temporary service directory: serverless.yml,
// targets.yaml, package.json, node_modules (a link), build/schedules.json
// from `cronless schedules` and placeholder artifacts.
func serviceDir(t *testing.T, root, cli, targetsYAML string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"serverless.yml", "package.json"} {
		copyFile(t, filepath.Join(root, f), filepath.Join(dir, f))
	}
	if targetsYAML == "" {
		copyFile(t, filepath.Join(root, "targets.yaml"), filepath.Join(dir, "targets.yaml"))
	} else {
		writeFile(t, filepath.Join(dir, "targets.yaml"), []byte(targetsYAML))
	}
	if err := os.Symlink(filepath.Join(root, "node_modules"), filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	build := filepath.Join(dir, "build")
	if err := os.Mkdir(build, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cli, "schedules", "--targets", "targets.yaml")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cronless schedules: %v\n%s", err, stderr.Bytes())
	}
	writeFile(t, filepath.Join(build, "schedules.json"), out)
	for _, fn := range []string{"planner", "worker", "results"} {
		writeFile(t, filepath.Join(build, fn+".zip"), placeholderZip(t))
	}
	return dir
}

// placeholderZip is an artifact with an executable bootstrap at its root
// (osls packages it as is; the Lambda tests build the real ones).
func placeholderZip(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err == nil {
		_, err = w.Write([]byte("#!/bin/sh\necho placeholder\n"))
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, b)
}

func writeFile(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// oslsPackage runs `osls package` in dir with no AWS credentials and a
// throwaway HOME, and returns the generated template.
func oslsPackage(t *testing.T, node, osls, home, dir string, c deployCase) *template {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{osls, "package", "--stage", c.stage, "--region", c.region}
	for _, p := range c.params {
		args = append(args, "--param", p)
	}
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Env = append(withoutAWS(os.Environ()),
		"HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"SLS_TELEMETRY_DISABLED=1", "SLS_NOTIFICATIONS_MODE=off", "AWS_EC2_METADATA_DISABLED=true")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("osls %s: %v\n%s", strings.Join(args[1:], " "), err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, ".serverless", "cloudformation-template-update-stack.json"))
	if err != nil {
		t.Fatalf("%v\nosls output:\n%s", err, out)
	}
	var tpl template
	if err := json.Unmarshal(b, &tpl); err != nil {
		t.Fatal(err)
	}
	return &tpl
}

// withoutAWS drops every AWS_* variable (credentials, profile, region,
// endpoints) so nothing can reach an account.
func withoutAWS(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, "AWS_") })
}

// checkCfnLint runs cfn-lint on both templates of the package (the create
// template, which only makes the deployment bucket, and the update template)
// with every check, informational ones included. The repository's
// .cfnlintrc.yaml lists the checks it ignores, each with its reason. Any
// finding fails the test.
func checkCfnLint(t *testing.T, cfnLint, root, dir string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sls := filepath.Join(dir, ".serverless")
	cmd := exec.CommandContext(ctx, cfnLint, "--config-file", filepath.Join(root, ".cfnlintrc.yaml"),
		"--include-checks", "I", "--format", "parseable",
		filepath.Join(sls, "cloudformation-template-create-stack.json"),
		filepath.Join(sls, "cloudformation-template-update-stack.json"))
	cmd.Env = withoutAWS(os.Environ())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	// Exit codes are a bit mask: 2 errors, 4 warnings, 8 informational; 1
	// (or anything else) is cfn-lint failing to run.
	var exit *exec.ExitError
	if err != nil && (!errors.As(err, &exit) || exit.ExitCode()&1 != 0) {
		t.Fatalf("cfn-lint did not run: %v\n%s", err, stderr.Bytes())
	}
	if findings := strings.TrimSpace(strings.ReplaceAll(string(out), sls+string(filepath.Separator), "")); findings != "" || err != nil {
		t.Errorf("cfn-lint found (file:line:col:endline:endcol:rule:message):\n%s\n%s", findings, stderr.Bytes())
	}
}

// template is the part of a CloudFormation template the test reads.
type template struct {
	Parameters map[string]map[string]any
	Conditions map[string]any
	Resources  map[string]resource
	Outputs    map[string]struct{ Value any }
}

type resource struct {
	Type                string
	Condition           string
	DeletionPolicy      string
	UpdateReplacePolicy string
	Properties          map[string]any
}

// res returns the resource with the logical ID, of the type.
func (tpl *template) res(t *testing.T, id, typ string) resource {
	t.Helper()
	r, ok := tpl.Resources[id]
	if !ok {
		t.Fatalf("no resource %s", id)
	}
	if r.Type != typ {
		t.Fatalf("%s is a %s, want %s", id, r.Type, typ)
	}
	return r
}

// ofType returns the logical IDs of the resources of a type, sorted.
func (tpl *template) ofType(typ string) []string {
	var ids []string
	for id, r := range tpl.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// dig walks nested maps.
func dig(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// subVar is a variable in an Fn::Sub text: ${X} or ${X.A}.
var subVar = regexp.MustCompile(`\$\{([^}!]+)\}`)

// ref renders a CloudFormation value as text: Ref X is "X", Fn::GetAtt
// [X, A] is "X.A", Fn::Join is its parts and Fn::Sub its text with each
// ${…} replaced by what it names; a literal is itself.
func ref(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case map[string]any:
		if len(v) == 1 {
			switch {
			case v["Ref"] != nil:
				return ref(v["Ref"])
			case v["Fn::GetAtt"] != nil:
				if a, ok := v["Fn::GetAtt"].([]any); ok && len(a) == 2 {
					return ref(a[0]) + "." + ref(a[1])
				}
			case v["Fn::Sub"] != nil:
				return subVar.ReplaceAllString(ref(v["Fn::Sub"]), "$1")
			case v["Fn::Join"] != nil:
				if a, ok := v["Fn::Join"].([]any); ok && len(a) == 2 {
					parts, _ := a[1].([]any)
					s := make([]string, len(parts))
					for i, p := range parts {
						s[i] = ref(p)
					}
					return strings.Join(s, ref(a[0]))
				}
			}
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// list returns v as a list of rendered values (a single value is a list of one).
func list(v any) []string {
	a, ok := v.([]any)
	if !ok {
		return []string{ref(v)}
	}
	out := make([]string, len(a))
	for i, x := range a {
		out[i] = ref(x)
	}
	return out
}

func want(t *testing.T, what string, got any, wantV string) {
	t.Helper()
	if g := ref(got); g != wantV {
		t.Errorf("%s = %s, want %s", what, g, wantV)
	}
}

// functionIDs maps each function key to its logical ID.
var functionIDs = map[string]string{"planner": "PlannerLambdaFunction", "worker": "WorkerLambdaFunction", "results": "ResultsLambdaFunction"}

func checkFunctions(t *testing.T, tpl *template, c deployCase) {
	if got := tpl.ofType("AWS::Lambda::Function"); !slices.Equal(got, slices.Sorted(maps.Values(functionIDs))) {
		t.Errorf("functions %v, want %v", got, slices.Sorted(maps.Values(functionIDs)))
	}
	// docs/aws.md, Function configuration: the variables each function gets.
	env := map[string]map[string]string{
		"planner": {"TARGETS_QUEUE_URL": "TargetsQueue", "TABLE_NAME": "TableV2", "TARGETS_FILE": "targets.yaml", "LOG_LEVEL": "info"},
		"worker": {"TARGETS_QUEUE_URL": "TargetsQueue", "TARGETS_DLQ_URL": "TargetsDLQ", "RESULTS_QUEUE_URL": "ResultsQueue",
			"RETRY_DELAY": "30s", "WORKER_CONCURRENCY": "10", "LOG_LEVEL": "info",
			"HOST_CONCURRENCY": "2", "HOST_DELAY": "0s", "MAX_BODY_BYTES": "5242880", "GOGC": "200"},
		"results": {"RESULTS_DLQ_URL": "ResultsDLQ", "TABLE_NAME": "TableV2", "RETENTION_DAYS": "90", "LOG_LEVEL": "info"},
	}
	maps.Copy(env["worker"], c.workerEnv)
	for fn := range env {
		env[fn]["STAGE"] = c.stage // the metrics' stage dimension
	}
	for fn, id := range functionIDs {
		p := tpl.res(t, id, "AWS::Lambda::Function").Properties
		want(t, id+" Runtime", p["Runtime"], "provided.al2023")
		want(t, id+" Handler", p["Handler"], "bootstrap")
		want(t, id+" Architectures", p["Architectures"], `["arm64"]`)
		want(t, id+" Timeout", p["Timeout"], strconv.Itoa(c.timeouts[fn]))
		want(t, id+" Role", p["Role"], strings.ToUpper(fn[:1])+fn[1:]+"Role.Arn")
		vars, _ := dig(p, "Environment", "Variables").(map[string]any)
		got := map[string]string{}
		for k, v := range vars {
			got[k] = ref(v)
		}
		if !maps.Equal(got, env[fn]) {
			t.Errorf("%s environment %v, want %v", id, got, env[fn])
		}
	}

	// The planner is invoked asynchronously: two retries, then the
	// failures queue.
	ec := tpl.res(t, "PlannerLambdaEvConf", "AWS::Lambda::EventInvokeConfig").Properties
	want(t, "planner MaximumRetryAttempts", ec["MaximumRetryAttempts"], "2")
	want(t, "planner on-failure destination", dig(ec, "DestinationConfig", "OnFailure", "Destination"), "PlannerFailuresQueue.Arn")
}

// consumers maps each queue to the function its event source mapping invokes.
var consumers = map[string]string{"TargetsQueue": "WorkerLambdaFunction", "ResultsQueue": "ResultsLambdaFunction"}

func checkQueues(t *testing.T, tpl *template, c deployCase) {
	esms := tpl.ofType("AWS::Lambda::EventSourceMapping")
	if len(esms) != len(consumers) {
		t.Errorf("%d event source mappings %v, want %d", len(esms), esms, len(consumers))
	}
	seen := map[string]bool{}
	for _, id := range esms {
		p := tpl.Resources[id].Properties
		want(t, id+" FunctionResponseTypes", p["FunctionResponseTypes"], `["ReportBatchItemFailures"]`)
		queue := strings.TrimSuffix(ref(p["EventSourceArn"]), ".Arn")
		fn := strings.TrimSuffix(ref(p["FunctionName"]), ".Arn")
		if consumers[queue] != fn {
			t.Errorf("%s: %s consumes %s, want %q", id, fn, queue, consumers[queue])
			continue
		}
		seen[queue] = true
		if dig(p, "ScalingConfig", "MaximumConcurrency") == nil || p["BatchSize"] == nil {
			t.Errorf("%s: no BatchSize or ScalingConfig.MaximumConcurrency: %v", id, p)
		}
		// AWS: a queue's visibility timeout should be at least 6 times its
		// consumer's timeout, or messages in flight are redelivered.
		vis, _ := tpl.res(t, queue, "AWS::SQS::Queue").Properties["VisibilityTimeout"].(float64)
		timeout, _ := tpl.res(t, fn, "AWS::Lambda::Function").Properties["Timeout"].(float64)
		if timeout <= 0 || vis < 6*timeout {
			t.Errorf("%s VisibilityTimeout %v < 6 × %s Timeout %v", queue, vis, fn, timeout)
		}
	}
	for q := range consumers {
		if !seen[q] {
			t.Errorf("no event source mapping on %s", q)
		}
	}

	for queue, dlq := range map[string]string{"TargetsQueue": "TargetsDLQ", "ResultsQueue": "ResultsDLQ"} {
		p := tpl.res(t, queue, "AWS::SQS::Queue").Properties
		want(t, queue+" dead-letter target", dig(p, "RedrivePolicy", "deadLetterTargetArn"), dlq+".Arn")
		// A --param arrives as a string; SQS takes either.
		want(t, queue+" maxReceiveCount", dig(p, "RedrivePolicy", "maxReceiveCount"), strconv.Itoa(c.maxReceiveCount))
	}
	// AWS::SQS::Queue (CloudFormation template reference): a source keeps a
	// message 4 days, its dead-letter queue 14 (the most SQS allows), since
	// a dead letter keeps its first enqueue time (SQS Developer Guide,
	// "Setting up dead-letter queue retention").
	retention := map[string]string{
		"TargetsQueue": "345600", "ResultsQueue": "345600",
		"TargetsDLQ": "1209600", "ResultsDLQ": "1209600", "PlannerFailuresQueue": "1209600",
	}
	if got := tpl.ofType("AWS::SQS::Queue"); !slices.Equal(got, slices.Sorted(maps.Keys(retention))) {
		t.Errorf("queues %v, want %v", got, slices.Sorted(maps.Keys(retention)))
	}
	for id, days := range retention {
		r := tpl.res(t, id, "AWS::SQS::Queue")
		want(t, id+" MessageRetentionPeriod", r.Properties["MessageRetentionPeriod"], days)
		want(t, id+" SqsManagedSseEnabled", r.Properties["SqsManagedSseEnabled"], "true")
		// The adapters send up to 1 MiB (queue.MaxMessageSize); a queue at
		// SQS's old default of 262,144 rejects a whole batch holding a
		// larger message.
		want(t, id+" MaximumMessageSize", r.Properties["MaximumMessageSize"], "1048576")
		if r.DeletionPolicy != "Delete" || r.UpdateReplacePolicy != "Delete" {
			t.Errorf("%s DeletionPolicy %q, UpdateReplacePolicy %q: want both Delete, said explicitly", id, r.DeletionPolicy, r.UpdateReplacePolicy)
		}
	}
}

// ageAlarm is the threshold of a queue's ApproximateAgeOfOldestMessage
// alarm by its consumer's timeout (serverless.yml custom.oldestMessageAge):
// three visibility timeouts of 6 × the timeout.
func ageAlarm(timeout int) string { return strconv.Itoa(3 * 6 * timeout) }

// checkDashboard: one AWS::CloudWatch::Dashboard named for the stage whose
// DashboardBody (an Fn::Sub of JSON, CloudWatch API Reference, "Dashboard
// Body Structure and Syntax") is a JSON object once substituted, shows the
// stage's queues, dead-letter queues and functions, and lists every alarm.
func checkDashboard(t *testing.T, tpl *template, c deployCase) {
	ids := tpl.ofType("AWS::CloudWatch::Dashboard")
	if len(ids) != 1 {
		t.Fatalf("dashboards %v, want one", ids)
	}
	p := tpl.Resources[ids[0]].Properties
	want(t, "DashboardName", p["DashboardName"], "cronless-"+c.stage)
	body, ok := dig(p, "DashboardBody", "Fn::Sub").(string)
	if !ok {
		t.Fatalf("DashboardBody %v, want an Fn::Sub of a string", p["DashboardBody"])
	}
	// Substitute as CloudFormation would: the pseudo parameters.
	body = strings.NewReplacer("${AWS::Region}", c.region, "${AWS::Partition}", "aws", "${AWS::AccountId}", "123456789012").Replace(body)
	if i := strings.Index(body, "${"); i >= 0 {
		t.Fatalf("DashboardBody has an unresolved substitution at %q", body[i:min(i+40, len(body))])
	}
	var dash struct {
		Widgets []struct {
			Type       string `json:"type"`
			Properties struct {
				Title   string  `json:"title"`
				Region  string  `json:"region"`
				Metrics [][]any `json:"metrics"`
				Alarms  []string
			} `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(body), &dash); err != nil {
		t.Fatalf("DashboardBody is not JSON: %v\n%s", err, body)
	}
	shown := map[string]bool{}
	var listed, expressions []string
	for _, w := range dash.Widgets {
		switch w.Type {
		case "metric":
			if w.Properties.Region != c.region {
				t.Errorf("widget %q: region %q, want %s", w.Properties.Title, w.Properties.Region, c.region)
			}
			for _, m := range w.Properties.Metrics {
				for _, v := range m {
					switch v := v.(type) {
					case string:
						shown[v] = true
					case map[string]any: // a metric math expression
						if e, ok := v["expression"].(string); ok {
							expressions = append(expressions, e)
						}
					}
				}
			}
		case "alarm":
			listed = append(listed, w.Properties.Alarms...)
		}
	}
	for _, name := range []string{"targets", "results", "targets-dlq", "results-dlq", "planner-failures", "planner", "worker"} {
		if !shown["cronless-"+c.stage+"-"+name] {
			t.Errorf("the dashboard does not show cronless-%s-%s", c.stage, name)
		}
	}
	// The functions' EMF metrics (docs/aws.md, Metrics), found with SEARCH
	// over their exact dimension sets (CloudWatch User Guide, "Using search
	// expressions in graphs"), for this stage only.
	for _, m := range []string{"PagesOK", "PagesFailed", "Retried", "Deferred", "ResultsStored", "Changed", "NotModified"} {
		found := false
		for _, e := range expressions {
			if strings.Contains(e, "{cronless,stage,function,") && strings.Contains(e, `MetricName="`+m+`"`) && strings.Contains(e, `stage="`+c.stage+`"`) {
				found = true
			}
		}
		if !found {
			t.Errorf("no dashboard expression graphs %s of stage %s: %q", m, c.stage, expressions)
		}
	}
	var names []string
	for _, a := range tpl.ofType("AWS::CloudWatch::Alarm") {
		names = append(names, "arn:aws:cloudwatch:"+c.region+":123456789012:alarm:"+ref(tpl.Resources[a].Properties["AlarmName"]))
	}
	if slices.Sort(names); !slices.Equal(slices.Sorted(slices.Values(listed)), names) {
		t.Errorf("the dashboard lists alarms %v, want every alarm of the stage: %v", listed, names)
	}
}

func checkAlarms(t *testing.T, tpl *template, c deployCase) {
	// AWS::CloudWatch::Alarm on AWS/SQS metrics (CloudWatch User Guide,
	// "Available CloudWatch metrics for Amazon SQS"): a dead-letter queue
	// that holds a message, and a source queue whose oldest message waits
	// longer than a running consumer lets it.
	type alarm struct{ metric, threshold string }
	wantAlarms := map[string]alarm{
		"TargetsDLQ":           {"ApproximateNumberOfMessagesVisible", "0"},
		"ResultsDLQ":           {"ApproximateNumberOfMessagesVisible", "0"},
		"PlannerFailuresQueue": {"ApproximateNumberOfMessagesVisible", "0"},
		"TargetsQueue":         {"ApproximateAgeOfOldestMessage", ageAlarm(c.timeouts["worker"])},
		"ResultsQueue":         {"ApproximateAgeOfOldestMessage", ageAlarm(c.timeouts["results"])},
	}
	alarmed := map[string]bool{}
	for _, id := range tpl.ofType("AWS::CloudWatch::Alarm") {
		p := tpl.Resources[id].Properties
		dims, _ := p["Dimensions"].([]any)
		if len(dims) != 1 || ref(dig(dims[0], "Name")) != "QueueName" {
			t.Errorf("%s: dimensions %v, want one QueueName", id, dims)
			continue
		}
		queue := strings.TrimSuffix(ref(dig(dims[0], "Value")), ".QueueName")
		w, ok := wantAlarms[queue]
		if !ok || alarmed[queue] {
			t.Errorf("%s: an alarm on %s, want one on each of %v", id, queue, slices.Sorted(maps.Keys(wantAlarms)))
			continue
		}
		alarmed[queue] = true
		want(t, id+" Namespace", p["Namespace"], "AWS/SQS")
		want(t, id+" MetricName", p["MetricName"], w.metric)
		want(t, id+" Statistic", p["Statistic"], "Maximum")
		want(t, id+" ComparisonOperator", p["ComparisonOperator"], "GreaterThanThreshold")
		want(t, id+" Threshold", p["Threshold"], w.threshold)
		want(t, id+" AlarmActions", p["AlarmActions"], `[{"Ref":"AlarmTopic"}]`)
	}
	for q := range wantAlarms {
		if !alarmed[q] {
			t.Errorf("no alarm on %s", q)
		}
	}

	// The e-mail subscription exists only when alertEmail is an address:
	// a stack parameter defaulting to it, so CloudFormation decides the
	// condition ('' and none notify nobody).
	want(t, "AlertEmail parameter default", dig(tpl.Parameters["AlertEmail"], "Default"), c.alertEmail)
	want(t, "AlertEmail parameter type", dig(tpl.Parameters["AlertEmail"], "Type"), "String")
	sub := tpl.res(t, "AlarmEmailSubscription", "AWS::SNS::Subscription")
	if sub.Condition != "HasAlertEmail" {
		t.Errorf("AlarmEmailSubscription condition %q, want HasAlertEmail", sub.Condition)
	}
	want(t, "HasAlertEmail", tpl.Conditions["HasAlertEmail"],
		`{"Fn::Not":[{"Fn::Or":[{"Fn::Equals":[{"Ref":"AlertEmail"},""]},{"Fn::Equals":[{"Ref":"AlertEmail"},"none"]}]}]}`)
	want(t, "subscription endpoint", sub.Properties["Endpoint"], "AlertEmail")
	want(t, "subscription protocol", sub.Properties["Protocol"], "email")
	want(t, "subscription topic", sub.Properties["TopicArn"], "AlarmTopic")
}

func checkSchedules(t *testing.T, tpl *template, tf *targets.File) {
	ids := tpl.ofType("AWS::Scheduler::Schedule")
	if len(ids) != len(tf.ScheduleNames) {
		t.Errorf("%d schedules %v, want one per targets schedule %v", len(ids), ids, tf.ScheduleNames)
	}
	// A schedule is found by the name in its Input. It has no Name of its
	// own (CloudFormation names it; see cmd/cronless/internal/cmd/schedules/schedules.go).
	byName := map[string]map[string]any{}
	for _, id := range ids {
		p := tpl.Resources[id].Properties
		var input struct{ Schedule string }
		if s, ok := dig(p, "Target", "Input").(string); !ok || json.Unmarshal([]byte(s), &input) != nil {
			t.Errorf("%s Input %v is not a JSON object", id, dig(p, "Target", "Input"))
			continue
		}
		if _, dup := byName[input.Schedule]; dup {
			t.Errorf("two schedules for %q", input.Schedule)
		}
		byName[input.Schedule] = p
		if p["Name"] != nil {
			t.Errorf("%s has a Name %v: renaming or reordering schedules would fail a deploy", id, p["Name"])
		}
	}
	for _, name := range tf.ScheduleNames {
		sc := tf.Schedules[name]
		p, ok := byName[name]
		if !ok {
			t.Errorf("no schedule delivers %q", name)
			continue
		}
		want(t, name+" Description", p["Description"], "cronless: targets.yaml schedule "+name)
		// A plain string: an Fn::Sub with nothing to substitute (as osls
		// writes at() expressions) is cfn-lint's W1020.
		if got, ok := p["ScheduleExpression"].(string); !ok || got != sc.Expression {
			t.Errorf("%s ScheduleExpression %v, want the text %q", name, p["ScheduleExpression"], sc.Expression)
		}
		want(t, name+" ScheduleExpressionTimezone", p["ScheduleExpressionTimezone"], sc.Timezone)
		want(t, name+" GroupName", p["GroupName"], "SchedulerGroup")
		want(t, name+" State", p["State"], "ENABLED")
		want(t, name+" FlexibleTimeWindow", dig(p, "FlexibleTimeWindow", "Mode"), "OFF")
		// AWS::Scheduler::Schedule Target (CloudFormation template
		// reference): the retry policy and dead-letter queue are the
		// Target's; the schedule itself takes neither.
		want(t, name+" target", dig(p, "Target", "Arn"), "PlannerLambdaFunction.Arn")
		want(t, name+" role", dig(p, "Target", "RoleArn"), "SchedulerRole.Arn")
		want(t, name+" dead-letter queue", dig(p, "Target", "DeadLetterConfig", "Arn"), "PlannerFailuresQueue.Arn")
		want(t, name+" retry policy", dig(p, "Target", "RetryPolicy"), `{"MaximumEventAgeInSeconds":3600,"MaximumRetryAttempts":20}`)
		if w := []string{"Arn", "DeadLetterConfig", "Input", "RetryPolicy", "RoleArn"}; !slices.Equal(slices.Sorted(maps.Keys(p["Target"].(map[string]any))), w) {
			t.Errorf("%s Target has %v, want %v", name, slices.Sorted(maps.Keys(p["Target"].(map[string]any))), w)
		}
		for _, k := range []string{"RetryPolicy", "DeadLetterConfig"} {
			if p[k] != nil {
				t.Errorf("%s has %s outside its Target: CloudFormation rejects the schedule", name, k)
			}
		}
		var input map[string]any
		_ = json.Unmarshal([]byte(dig(p, "Target", "Input").(string)), &input)
		if w := map[string]any{"schedule": name, "scheduled_time": "<aws.scheduler.scheduled-time>"}; !maps.Equal(input, w) {
			t.Errorf("%s Input %v, want %v", name, input, w)
		}
	}
}

// tableID is the logical ID of the results table, schema v2. v1's was
// Table: its table, cronless-<stage>, had a local secondary index, which
// only a new table drops, so v2 is a new resource with a new name.
const tableID = "TableV2"

func checkTable(t *testing.T, tpl *template, c deployCase) {
	// The one table is v2's; v1's resource has left the template (its
	// DeletionPolicy decides what the deploy does with its table).
	if got := tpl.ofType("AWS::DynamoDB::Table"); !slices.Equal(got, []string{tableID}) {
		t.Errorf("tables %v, want [%s]", got, tableID)
	}
	if _, ok := tpl.Resources["Table"]; ok {
		t.Errorf("the template still has the v1 table's logical ID Table")
	}
	r := tpl.res(t, tableID, "AWS::DynamoDB::Table")
	p := r.Properties
	// DeletionPolicy and UpdateReplacePolicy (CloudFormation template
	// reference, resource attributes) and AWS::DynamoDB::Table
	// DeletionProtectionEnabled: every stage but dev keeps its results.
	policy, protect := "Delete", "false"
	if c.retainTable {
		policy, protect = "Retain", "true"
	}
	if r.DeletionPolicy != policy || r.UpdateReplacePolicy != policy {
		t.Errorf("table DeletionPolicy %q, UpdateReplacePolicy %q, want %s", r.DeletionPolicy, r.UpdateReplacePolicy, policy)
	}
	want(t, "DeletionProtectionEnabled", p["DeletionProtectionEnabled"], protect)
	want(t, "TableName", p["TableName"], "cronless-"+c.stage+"-v2")

	// The definition is dynamo.TableInput's, the CreateTable request the
	// store's tests and the emulators use, in CloudFormation's terms.
	in := dynamo.TableInput("cronless-" + c.stage + "-v2")
	w := cfnTableDefinition(t, in)
	for _, k := range []string{"BillingMode", "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes"} {
		want(t, k, normalizeTableProperty(k, p[k]), ref(normalizeTableProperty(k, w[k])))
	}
	if p["LocalSecondaryIndexes"] != nil {
		t.Errorf("LocalSecondaryIndexes %s: schema v2 has none", ref(p["LocalSecondaryIndexes"]))
	}
	if p["StreamSpecification"] != nil || p["ProvisionedThroughput"] != nil {
		t.Errorf("the table has a stream or provisioned throughput, which dynamo.TableInput does not: %s", ref(p))
	}
	// What CreateTable does not set: TTL on the attribute the store writes
	// (dynamo.AttrExpiresAt), point-in-time recovery, encryption.
	want(t, "TimeToLiveSpecification", p["TimeToLiveSpecification"], `{"AttributeName":"`+dynamo.AttrExpiresAt+`","Enabled":true}`)
	want(t, "PointInTimeRecoverySpecification", p["PointInTimeRecoverySpecification"], `{"PointInTimeRecoveryEnabled":true}`)
	want(t, "SSESpecification", p["SSESpecification"], `{"SSEEnabled":true}`)
}

// cfnTableDefinition renders the parts of a CreateTable request that
// serverless.yml declares as AWS::DynamoDB::Table properties. The property
// names and shapes follow AWS's CloudFormation resource schema for
// AWS::DynamoDB::Table (aws-cloudformation/aws-cloudformation-resource-providers-dynamodb,
// aws-dynamodb-table.json: AttributeDefinition, KeySchema,
// GlobalSecondaryIndex, Projection), which are the API's. A request with
// anything this does not render fails the test rather than pass unchecked.
func cfnTableDefinition(t *testing.T, in *dynamodb.CreateTableInput) map[string]any {
	t.Helper()
	if len(in.LocalSecondaryIndexes) > 0 || in.StreamSpecification != nil || in.ProvisionedThroughput != nil ||
		in.SSESpecification != nil || in.OnDemandThroughput != nil || in.WarmThroughput != nil || in.TableClass != "" {
		t.Fatalf("dynamo.TableInput sets what this test does not compare: %+v", in)
	}
	keys := func(ks []dbtypes.KeySchemaElement) []any {
		var out []any
		for _, k := range ks {
			out = append(out, map[string]any{"AttributeName": *k.AttributeName, "KeyType": string(k.KeyType)})
		}
		return out
	}
	var attrs, gsis []any
	for _, a := range in.AttributeDefinitions {
		attrs = append(attrs, map[string]any{"AttributeName": *a.AttributeName, "AttributeType": string(a.AttributeType)})
	}
	for _, g := range in.GlobalSecondaryIndexes {
		if g.ProvisionedThroughput != nil || g.OnDemandThroughput != nil || g.WarmThroughput != nil {
			t.Fatalf("dynamo.TableInput's index %s sets a throughput this test does not compare", *g.IndexName)
		}
		proj := map[string]any{"ProjectionType": string(g.Projection.ProjectionType)}
		if len(g.Projection.NonKeyAttributes) > 0 {
			var nk []any
			for _, a := range g.Projection.NonKeyAttributes {
				nk = append(nk, a)
			}
			proj["NonKeyAttributes"] = nk
		}
		gsis = append(gsis, map[string]any{"IndexName": *g.IndexName, "KeySchema": keys(g.KeySchema), "Projection": proj})
	}
	return map[string]any{
		"BillingMode": string(in.BillingMode), "AttributeDefinitions": attrs,
		"KeySchema": keys(in.KeySchema), "GlobalSecondaryIndexes": gsis,
	}
}

// normalizeTableProperty sorts what DynamoDB treats as a set: attribute
// definitions by name, and each index's projected non-key attributes.
// Key schemas keep their order (HASH, then RANGE).
func normalizeTableProperty(name string, v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out) // a copy, in the template's JSON types
	switch name {
	case "AttributeDefinitions":
		if l, ok := out.([]any); ok {
			slices.SortFunc(l, func(a, b any) int { return strings.Compare(ref(dig(a, "AttributeName")), ref(dig(b, "AttributeName"))) })
		}
	case "GlobalSecondaryIndexes":
		l, _ := out.([]any)
		for _, g := range l {
			if nk, ok := dig(g, "Projection", "NonKeyAttributes").([]any); ok {
				slices.SortFunc(nk, func(a, b any) int { return strings.Compare(ref(a), ref(b)) })
			}
		}
	}
	return out
}

// checkBucket: the deployment bucket osls uploads the artifacts and templates
// to blocks every form of public access (AWS::S3::Bucket
// PublicAccessBlockConfiguration), in both templates' definition.
func checkBucket(t *testing.T, tpl *template) {
	p := tpl.res(t, "ServerlessDeploymentBucket", "AWS::S3::Bucket").Properties
	want(t, "PublicAccessBlockConfiguration", p["PublicAccessBlockConfiguration"],
		`{"BlockPublicAcls":true,"BlockPublicPolicy":true,"IgnorePublicAcls":true,"RestrictPublicBuckets":true}`)
}

// grants is each role's permissions, as "action resource" pairs. Nothing
// else may be granted: a change here is a change to least privilege.
var grants = map[string]struct {
	principal string
	allow     []string
}{
	"PlannerRole": {"lambda.amazonaws.com", []string{
		"logs:CreateLogStream PlannerLogGroup.Arn", "logs:PutLogEvents PlannerLogGroup.Arn",
		"sqs:SendMessage TargetsQueue.Arn",
		"sqs:SendMessage PlannerFailuresQueue.Arn", // its on-failure destination
		"dynamodb:UpdateItem TableV2.Arn",          // PutRun's upserts, PutPlanPart
		"dynamodb:GetItem TableV2.Arn",             // PutPlanPart re-reads a part recorded before
		"dynamodb:Query TableV2.Arn",               // a shard's stored targets, the layouts
		"dynamodb:Query TableV2.Arn/index/GSI1",    // Previous, ShardPrevious: recent runs, their results' validators
		// a tick's shards, asynchronously: its own ARN, built (Fn::Sub)
		"lambda:InvokeFunction arn:AWS::Partition:lambda:AWS::Region:AWS::AccountId:function:cronless-<stage>-planner",
	}},
	"WorkerRole": {"lambda.amazonaws.com", []string{
		"logs:CreateLogStream WorkerLogGroup.Arn", "logs:PutLogEvents WorkerLogGroup.Arn",
		"sqs:ReceiveMessage TargetsQueue.Arn", "sqs:DeleteMessage TargetsQueue.Arn",
		"sqs:GetQueueAttributes TargetsQueue.Arn", "sqs:ChangeMessageVisibility TargetsQueue.Arn",
		"sqs:SendMessage ResultsQueue.Arn", "sqs:SendMessage TargetsDLQ.Arn",
		"sqs:SendMessage TargetsQueue.Arn", // jobs handed back, delayed (worker.WithRequeue)
	}},
	"ResultsRole": {"lambda.amazonaws.com", []string{
		"logs:CreateLogStream ResultsLogGroup.Arn", "logs:PutLogEvents ResultsLogGroup.Arn",
		"sqs:ReceiveMessage ResultsQueue.Arn", "sqs:DeleteMessage ResultsQueue.Arn", "sqs:GetQueueAttributes ResultsQueue.Arn",
		"sqs:SendMessage ResultsDLQ.Arn",
		"dynamodb:PutItem TableV2.Arn", "dynamodb:UpdateItem TableV2.Arn", "dynamodb:GetItem TableV2.Arn",
		"dynamodb:Query TableV2.Arn", // a target's neighbouring results, in its own partition (no index)
	}},
	"SchedulerRole": {"scheduler.amazonaws.com", []string{
		"lambda:InvokeFunction PlannerLambdaFunction.Arn",
		"sqs:SendMessage PlannerFailuresQueue.Arn", // its dead-letter queue
	}},
}

// checkIAM compares each role's grants with the grants table, where
// <stage> stands for the stage (in resources named, not referenced).
func checkIAM(t *testing.T, tpl *template, stage string) {
	if got, w := tpl.ofType("AWS::IAM::Role"), slices.Sorted(maps.Keys(grants)); !slices.Equal(got, w) {
		t.Errorf("roles %v, want %v (no framework default role)", got, w)
	}
	if ps := tpl.ofType("AWS::IAM::Policy"); len(ps) > 0 {
		t.Errorf("policies outside the roles: %v", ps)
	}
	for id, g := range grants {
		p := tpl.res(t, id, "AWS::IAM::Role").Properties
		if p["ManagedPolicyArns"] != nil || p["PermissionsBoundary"] != nil {
			t.Errorf("%s has managed policies: %v", id, p["ManagedPolicyArns"])
		}
		trust, _ := dig(p, "AssumeRolePolicyDocument", "Statement").([]any)
		if len(trust) != 1 || ref(dig(trust[0], "Principal", "Service")) != g.principal || ref(dig(trust[0], "Action")) != "sts:AssumeRole" {
			t.Errorf("%s trust policy %v, want %s only", id, trust, g.principal)
		}
		var got []string
		policies, _ := p["Policies"].([]any)
		for _, pol := range policies {
			stmts, _ := dig(pol, "PolicyDocument", "Statement").([]any)
			for _, s := range stmts {
				if ref(dig(s, "Effect")) != "Allow" || dig(s, "Condition") != nil || dig(s, "NotAction") != nil || dig(s, "NotResource") != nil {
					t.Errorf("%s: unexpected statement %v", id, s)
				}
				for _, a := range list(dig(s, "Action")) {
					for _, r := range list(dig(s, "Resource")) {
						got = append(got, a+" "+r)
					}
				}
			}
		}
		allow := make([]string, len(g.allow))
		for i, a := range g.allow {
			allow[i] = strings.ReplaceAll(a, "<stage>", stage)
		}
		if extra := minus(got, allow); len(extra) > 0 {
			t.Errorf("%s grants more than it needs:\n  %s", id, strings.Join(extra, "\n  "))
		}
		if missing := minus(allow, got); len(missing) > 0 {
			t.Errorf("%s lacks:\n  %s", id, strings.Join(missing, "\n  "))
		}
	}
}

// minus returns what is in a and not in b, sorted.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out
}

func checkOutputs(t *testing.T, tpl *template, c deployCase) {
	// The v1 table (schema v1), which the stack no longer holds, by name
	// for `cronless migrate`: text, as no resource of the stack has it.
	if o, ok := tpl.Outputs["V1TableName"]; !ok {
		t.Errorf("no output V1TableName")
	} else if got, ok := o.Value.(string); !ok || got != "cronless-"+c.stage {
		t.Errorf("output V1TableName = %v, want the text cronless-%s", o.Value, c.stage)
	}
	for out, res := range map[string]string{
		"TargetsQueueUrl": "TargetsQueue", "TargetsDLQUrl": "TargetsDLQ",
		"ResultsQueueUrl": "ResultsQueue", "ResultsDLQUrl": "ResultsDLQ",
		"TableName": "TableV2", "AlarmTopicArn": "AlarmTopic",
		"PlannerFailuresQueueUrl": "PlannerFailuresQueue", "PlannerFunctionName": "PlannerLambdaFunction",
	} {
		o, ok := tpl.Outputs[out]
		if !ok {
			t.Errorf("no output %s", out)
			continue
		}
		if got, _ := dig(o.Value, "Ref").(string); got != res {
			t.Errorf("output %s = %v, want Ref %s", out, o.Value, res)
		}
	}
}

// nameProps are the properties that name a resource.
var nameProps = []string{"QueueName", "TableName", "TopicName", "AlarmName", "FunctionName", "LogGroupName", "RoleName"}

func checkNames(t *testing.T, tpl *template, c deployCase) {
	// docs/aws.md, Resources.
	p := "cronless-" + c.stage
	for id, name := range map[string]string{
		"TargetsQueue": p + "-targets", "TargetsDLQ": p + "-targets-dlq",
		"ResultsQueue": p + "-results", "ResultsDLQ": p + "-results-dlq",
		"PlannerFailuresQueue": p + "-planner-failures", "TableV2": p + "-v2", "AlarmTopic": p + "-alarms",
		"PlannerLambdaFunction": p + "-planner", "WorkerLambdaFunction": p + "-worker", "ResultsLambdaFunction": p + "-results",
		"SchedulerGroup": p, "PlannerRole": p + "-" + c.region + "-planner",
	} {
		r, ok := tpl.Resources[id]
		if !ok {
			t.Errorf("no resource %s", id)
			continue
		}
		var got []string
		for _, k := range append(nameProps, "Name") {
			if v, ok := r.Properties[k]; ok {
				got = append(got, ref(v))
			}
		}
		if len(got) != 1 || got[0] != name {
			t.Errorf("%s is named %v, want %s", id, got, name)
		}
	}
	// Every resource given a name carries the stage (a reference to another
	// resource, such as a mapping's FunctionName, is not a name); schedules
	// are named within the stage's group.
	for id, r := range tpl.Resources {
		for _, k := range nameProps {
			if v, ok := r.Properties[k].(string); ok && v != p && !strings.Contains(v, p+"-") {
				t.Errorf("%s %s %q does not carry the stage", id, k, v)
			}
		}
		if r.Type == "AWS::Scheduler::Schedule" && ref(r.Properties["GroupName"]) != "SchedulerGroup" {
			t.Errorf("schedule %s is outside the stage's group", id)
		}
	}
}

// make deploy refuses a stage other than dev whose alarms would notify
// nobody, unless told so (alertEmail=none); it says how to fix it.
func TestMakeDeployCheck(t *testing.T) {
	mk, err := exec.LookPath("make")
	if err != nil {
		t.Fatal("make is not on PATH")
	}
	for _, c := range []struct {
		stage, params string
		ok            bool
	}{
		{"dev", "", true},
		{"prod", "", false},
		{"prod", "--param alertEmail=", false},
		{"prod", "--param maxReceiveCount=3", false},
		{"prod", "--param alertEmail=ops@example.com", true},
		{"prod", "--param maxReceiveCount=3 --param=alertEmail=ops@example.com", true},
		{"staging", "--param alertEmail=none", true},
	} {
		t.Run(c.stage+" "+c.params, func(t *testing.T) {
			// deploy-check is deploy's first prerequisite: nothing is built
			// or sent before it passes.
			cmd := exec.Command(mk, "-s", "--no-print-directory", "deploy-check", "STAGE="+c.stage, "PARAMS="+c.params)
			cmd.Dir = standin.Root()
			out, err := cmd.CombinedOutput()
			if c.ok {
				if err != nil {
					t.Fatalf("refused: %v\n%s", err, out)
				}
				return
			}
			if err == nil {
				t.Fatalf("make deploy STAGE=%s PARAMS=%q was not refused", c.stage, c.params)
			}
			for _, w := range []string{"notify nobody", "--param alertEmail=you@example.com", "--param alertEmail=none"} {
				if !strings.Contains(string(out), w) {
					t.Errorf("the refusal does not say %q:\n%s", w, out)
				}
			}
		})
	}
	// And deploy runs the check before anything else (make -n prints the
	// commands it would run, in order, running none).
	out, err := exec.Command(mk, "-n", "-s", "--no-print-directory", "-C", standin.Root(), "deploy", "STAGE=prod").CombinedOutput()
	check, build := strings.Index(string(out), "notify nobody"), strings.Index(string(out), "go build")
	if err != nil || check < 0 || build < 0 || check > build {
		t.Errorf("make deploy does not run deploy-check first: %v\n%s", err, out)
	}
}
