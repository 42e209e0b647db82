package deployments

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const prefix = "serverless/cronless/prod/"

// Deployment directories as osls names them: <epoch ms>-<toISOString()>.
const (
	dirD = "1796605481586-2026-12-07T01:04:41.586Z" // newest
	dirC = "1796604000000-2026-12-07T00:40:00.000Z"
	dirB = "1796600000000-2026-12-06T23:33:20.000Z"
	dirA = "1796590000000-2026-12-06T20:46:40.000Z"
	// dirOld has 12 digits: it sorts after the others as a number, before
	// them as text.
	dirOld = "999999999999-2001-09-09T01:46:39.999Z"
)

// fakeS3 serves keys in pages of pageSize, as ListObjectsV2 does with a
// continuation token, and records the requests.
type fakeS3 struct {
	keys     []string
	pageSize int
	err      error
	calls    []s3.ListObjectsV2Input
}

func (f *fakeS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	f.calls = append(f.calls, *in)
	if f.err != nil {
		return nil, f.err
	}
	start := 0
	if in.ContinuationToken != nil {
		fmt.Sscan(*in.ContinuationToken, &start)
	}
	end := min(start+f.pageSize, len(f.keys))
	out := &s3.ListObjectsV2Output{}
	for _, k := range f.keys[start:end] {
		out.Contents = append(out.Contents, s3types.Object{Key: aws.String(k)})
	}
	if end < len(f.keys) {
		out.IsTruncated = aws.Bool(true)
		out.NextContinuationToken = aws.String(fmt.Sprint(end))
	}
	return out, nil
}

// oslsFiles are the keys one cronless deploy uploads into dir.
func oslsFiles(dir string) []string {
	var keys []string
	for _, f := range []string{TemplateFile, StateFile, "planner.zip", "results.zip", "worker.zip"} {
		keys = append(keys, prefix+dir+"/"+f)
	}
	return keys
}

func TestListParsesPagesIgnoresJunkAndSortsNewestFirst(t *testing.T) {
	keys := []string{
		prefix + "README.txt",                                  // not in a directory
		prefix + "notes/" + TemplateFile,                       // not a deployment directory
		prefix + dirC + "/",                                    // a folder marker: no file
		"serverless/cronless/dev/" + dirA + "/" + TemplateFile, // another stage
	}
	// S3 lists keys in text order: dirOld (12 digits) comes first.
	keys = append(keys, oslsFiles(dirOld)...)
	keys = append(keys, oslsFiles(dirA)...)
	keys = append(keys, prefix+dirB+"/"+TemplateFile, prefix+dirB+"/"+StateFile) // upload cut short
	keys = append(keys, oslsFiles(dirC)...)
	keys = append(keys, oslsFiles(dirD)...)
	keys = append(keys, prefix+dirD+"/sub/extra.json")
	s := &fakeS3{keys: keys, pageSize: 3}

	got, err := List(context.Background(), s, "bucket-1", prefix)
	if err != nil {
		t.Fatal(err)
	}
	if want := (len(keys) + 2) / 3; len(s.calls) != want {
		t.Errorf("%d ListObjectsV2 calls, want %d (one per page)", len(s.calls), want)
	}
	for _, c := range s.calls {
		if aws.ToString(c.Bucket) != "bucket-1" || aws.ToString(c.Prefix) != prefix {
			t.Errorf("listed s3://%s/%s, want s3://bucket-1/%s", aws.ToString(c.Bucket), aws.ToString(c.Prefix), prefix)
		}
	}
	var dirs []string
	for _, d := range got {
		dirs = append(dirs, d.Directory)
	}
	if want := []string{dirD, dirC, dirB, dirA, dirOld}; !slices.Equal(dirs, want) {
		t.Fatalf("directories %q, want newest first %q", dirs, want)
	}
	d := got[0]
	if d.Timestamp != "1796605481586" || !d.DeployedAt.Equal(time.UnixMilli(1796605481586)) || d.Problem != "" {
		t.Errorf("newest = %+v, want timestamp 1796605481586 at 2026-12-07T01:04:41.586Z, no problem", d)
	}
	if want := []string{TemplateFile, "planner.zip", "results.zip", StateFile, "sub/extra.json", "worker.zip"}; !slices.Equal(d.Files, want) {
		t.Errorf("files %q, want %q", d.Files, want)
	}
	if got[2].Problem == "" || !strings.Contains(got[2].Problem, ".zip") {
		t.Errorf("a deployment without zips: problem %q, want one about its function code", got[2].Problem)
	}
	for _, d := range got {
		if d.State != StateUnknown {
			t.Errorf("List set state %q on %s; only Load knows the live one", d.State, d.Directory)
		}
	}
}

func TestListProblems(t *testing.T) {
	tests := []struct {
		name, dir string
		files     []string
		want      string // in Problem; "" for none
	}{
		{"complete", dirA, []string{TemplateFile, StateFile, "worker.zip"}, ""},
		{"no template", dirA, []string{StateFile, "worker.zip"}, "no " + TemplateFile},
		{"no zip", dirA, []string{TemplateFile, StateFile}, "no function code"},
		{"time and millis disagree", "1796590000000-2026-12-06T20:46:41.000Z", []string{TemplateFile, "worker.zip"}, "not <epoch ms>-<ISO time>"},
		{"time without millis", "1796590000000-2026-12-06T20:46:40Z", []string{TemplateFile, "worker.zip"}, "not <epoch ms>-<ISO time>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var keys []string
			for _, f := range tt.files {
				keys = append(keys, prefix+tt.dir+"/"+f)
			}
			got, err := List(context.Background(), &fakeS3{keys: keys, pageSize: 1000}, "b", prefix)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("%d deployments, want 1", len(got))
			}
			if p := got[0].Problem; (tt.want == "") != (p == "") || !strings.Contains(p, tt.want) {
				t.Errorf("problem %q, want %q", p, tt.want)
			}
		})
	}
}

func TestListErrorSaysWhere(t *testing.T) {
	_, err := List(context.Background(), &fakeS3{err: errors.New("AccessDenied")}, "bucket-1", prefix)
	if err == nil || !strings.Contains(err.Error(), "s3://bucket-1/"+prefix) || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("error %v, want the bucket, the prefix and the cause", err)
	}
}

// template is a compiled template whose functions' code comes from dirs.
func template(dirs ...string) string {
	var res []string
	for i, d := range dirs {
		res = append(res, fmt.Sprintf(`"Fn%dLambdaFunction": {"Type": "AWS::Lambda::Function", "Properties": {"Code": {"S3Bucket": {"Ref": "ServerlessDeploymentBucket"}, "S3Key": %q}}}`, i, prefix+d+"/fn.zip"))
	}
	res = append(res, `"ServerlessDeploymentBucket": {"Type": "AWS::S3::Bucket"}`)
	return `{"Resources": {` + strings.Join(res, ",") + `}}`
}

func TestLiveDirectory(t *testing.T) {
	tests := []struct {
		name, template string
		want, err      string
	}{
		{"one deployment", template(dirC, dirC, dirC), dirC, ""},
		{"no function", `{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}`, "", "no function"},
		{"code elsewhere", template("notadeployment"), "", "no function"},
		{"code as an intrinsic", `{"Resources": {"F": {"Type": "AWS::Lambda::Function", "Properties": {"Code": {"S3Key": {"Fn::Join": ["", []]}}}}}}`, "", "no function"},
		{"two deployments", template(dirC, dirD), "", "different deployments"},
		{"not JSON", "Resources:\n  F: {}\n", "", "not the JSON osls deploys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LiveDirectory(tt.template, prefix)
			if got != tt.want || (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("LiveDirectory = %q, %v; want %q, error with %q", got, err, tt.want, tt.err)
			}
		})
	}
}

// fakeCF is a stack with outputs and a template.
type fakeCF struct {
	status   cftypes.StackStatus
	outputs  map[string]string
	template string
	err      error
}

func (f *fakeCF) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	s := cftypes.Stack{StackName: in.StackName, StackStatus: f.status,
		CreationTime: aws.Time(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)), LastUpdatedTime: aws.Time(time.Date(2026, 12, 7, 1, 5, 0, 0, time.UTC))}
	for k, v := range f.outputs {
		s.Outputs = append(s.Outputs, cftypes.Output{OutputKey: aws.String(k), OutputValue: aws.String(v)})
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cftypes.Stack{s}}, nil
}

func (f *fakeCF) GetTemplate(context.Context, *cloudformation.GetTemplateInput, ...func(*cloudformation.Options)) (*cloudformation.GetTemplateOutput, error) {
	return &cloudformation.GetTemplateOutput{TemplateBody: aws.String(f.template)}, nil
}

// load is a Listing of the stage prod whose stack runs live, with
// complete deployments in dirs and the incomplete ones in partial.
func load(t *testing.T, live string, dirs []string, partial ...string) *Listing {
	t.Helper()
	var keys []string
	for _, d := range dirs {
		keys = append(keys, oslsFiles(d)...)
	}
	for _, d := range partial {
		keys = append(keys, prefix+d+"/"+TemplateFile)
	}
	cf := &fakeCF{status: cftypes.StackStatusUpdateComplete, outputs: map[string]string{BucketOutput: "bucket-1", "TableName": "cronless-prod"}, template: template(live, live)}
	l, err := Load(context.Background(), cf, &fakeS3{keys: keys, pageSize: 1000}, "cronless", "prod")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLoadMarksLivePreviousAndNewer(t *testing.T) {
	// Rolled back from D to C once; B's upload did not finish.
	l := load(t, dirC, []string{dirA, dirC, dirD}, dirB)
	if l.Stack.Name != "cronless-prod" || l.Stack.Bucket != "bucket-1" || l.Stack.Status != "UPDATE_COMPLETE" || l.Stack.LiveDirectory != dirC {
		t.Errorf("stack %+v", l.Stack)
	}
	var states []string
	for _, d := range l.Deployments {
		states = append(states, d.Directory[:13]+":"+d.State)
	}
	want := []string{"1796605481586:newer", "1796604000000:live", "1796600000000:older", "1796590000000:previous"}
	if !slices.Equal(states, want) {
		t.Errorf("states %q, want %q", states, want)
	}
	if d, ok := l.Live(); !ok || d.Directory != dirC {
		t.Errorf("Live() = %v, %v; want %s", d.Directory, ok, dirC)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		cf   *fakeCF
		want string
	}{
		{"no stack", &fakeCF{err: errors.New("ValidationError: Stack with id cronless-prod does not exist")}, "read stack cronless-prod (deployed with `make deploy STAGE=...`? check --region and --profile): ValidationError"},
		{"no bucket output", &fakeCF{status: cftypes.StackStatusUpdateComplete, outputs: map[string]string{"TableName": "t"}, template: template(dirA)}, "has no output ServerlessDeploymentBucketName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(context.Background(), tt.cf, &fakeS3{pageSize: 10}, "cronless", "prod")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestChoose(t *testing.T) {
	all := []string{dirA, dirB, dirC, dirD}
	tests := []struct {
		name    string
		l       *Listing
		to      string
		want    string // the directory chosen
		skipped []string
		err     error
		errHas  []string // in the error message
	}{
		{name: "previous", l: load(t, dirD, all), want: dirC},
		{name: "previous of a rolled back stage is older than the live one", l: load(t, dirB, all), want: dirA},
		{name: "previous skips an upload cut short", l: load(t, dirD, []string{dirA, dirD}, dirC), want: dirA, skipped: []string{dirC}},
		{name: "by epoch ms", l: load(t, dirD, all), to: "1796600000000", want: dirB},
		{name: "by directory", l: load(t, dirD, all), to: dirA, want: dirA},
		{name: "by time to the second", l: load(t, dirB, all), to: "2026-12-07T01:04:41Z", want: dirD},
		{name: "by time to the millisecond", l: load(t, dirD, all), to: "2026-12-07T00:40:00.000Z", want: dirC},
		{name: "by time in another zone", l: load(t, dirD, all), to: "2026-12-07T09:40:00+09:00", want: dirC},
		{name: "forward to a newer one", l: load(t, dirA, all), to: "1796605481586", want: dirD},
		{name: "unknown timestamp lists the ones there are", l: load(t, dirD, all), to: "1796604000001", err: ErrNotFound,
			errHas: []string{"1796604000001 is not one of the deployments osls keeps for stage prod", "1796605481586  2026-12-07T01:04:41Z  live", "1796604000000  2026-12-07T00:40:00Z  previous", "1796590000000"}},
		{name: "not a timestamp", l: load(t, dirD, all), to: "yesterday", err: ErrBadTimestamp, errHas: []string{`"yesterday"`, "TIMESTAMP column"}},
		{name: "the live one", l: load(t, dirD, all), to: "1796605481586", err: ErrUnusable, errHas: []string{"live deployment already"}},
		{name: "one osls cannot use", l: load(t, dirD, []string{dirD}, dirC), to: "1796604000000", err: ErrUnusable, errHas: []string{"no function code"}},
		{name: "only the live one", l: load(t, dirD, []string{dirD}), err: ErrNoPrevious, errHas: []string{"nothing older than the live deployment 1796605481586"}},
		{name: "only newer ones", l: load(t, dirA, all), err: ErrNoPrevious, errHas: []string{"the newer ones", "1796605481586  2026-12-07T01:04:41Z  newer"}},
		{name: "live pruned from the bucket", l: load(t, dirOld, all), err: ErrNoPrevious, errHas: []string{"cannot tell which deployment is live", dirOld + ", which is no longer in s3://bucket-1/" + prefix}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.l.Choose(tt.to)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("error %v, want %v", err, tt.err)
				}
				for _, s := range tt.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error does not say %q:\n%v", s, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.To.Directory != tt.want || c.Named != (tt.to != "") {
				t.Errorf("chose %s (named %v), want %s", c.To.Directory, c.Named, tt.want)
			}
			var skipped []string
			for _, d := range c.Skipped {
				skipped = append(skipped, d.Directory)
			}
			if !slices.Equal(skipped, tt.skipped) {
				t.Errorf("skipped %q, want %q", skipped, tt.skipped)
			}
		})
	}
}

func TestUpdatable(t *testing.T) {
	tests := []struct {
		status string
		want   string // in the error; "" for none
	}{
		{"UPDATE_COMPLETE", ""},
		{"CREATE_COMPLETE", ""},
		{"UPDATE_ROLLBACK_COMPLETE", ""},
		{"UPDATE_IN_PROGRESS", "wait until it ends"},
		{"UPDATE_ROLLBACK_IN_PROGRESS", "wait until it ends"},
		{"UPDATE_ROLLBACK_FAILED", "aws cloudformation continue-update-rollback --stack-name cronless-prod --region eu-west-1"},
		{"ROLLBACK_COMPLETE", "its first deploy failed"},
		{"DELETE_FAILED", "does not update"},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			err := Updatable("cronless-prod", "eu-west-1", tt.status)
			if tt.want == "" {
				if err != nil {
					t.Errorf("error %v, want none", err)
				}
				return
			}
			if !errors.Is(err, ErrStackBusy) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want ErrStackBusy saying %q", err, tt.want)
			}
		})
	}
}

func TestRollbackArgv(t *testing.T) {
	tests := []struct {
		name  string
		r     Rollback
		want  string
		quote string
	}{
		{"plain", Rollback{Timestamp: "1796604000000", Stage: "prod", Region: "eu-west-1"},
			"npx|--no-install|osls|rollback|--timestamp|1796604000000|--stage|prod|--region|eu-west-1",
			"npx --no-install osls rollback --timestamp 1796604000000 --stage prod --region eu-west-1"},
		{"profile and params", Rollback{Timestamp: "1796604000000", Stage: "prod", Region: "eu-west-1", Profile: "ops", Params: []string{"alertEmail=ops@example.com", "logLevel=a b"}},
			"npx|--no-install|osls|rollback|--timestamp|1796604000000|--stage|prod|--region|eu-west-1|--aws-profile|ops|--param|alertEmail=ops@example.com|--param|logLevel=a b",
			"npx --no-install osls rollback --timestamp 1796604000000 --stage prod --region eu-west-1 --aws-profile ops --param alertEmail=ops@example.com --param 'logLevel=a b'"},
		{"quote in a value", Rollback{Timestamp: "1", Stage: "s", Region: "r", Params: []string{"x=it's"}},
			"npx|--no-install|osls|rollback|--timestamp|1|--stage|s|--region|r|--param|x=it's",
			`npx --no-install osls rollback --timestamp 1 --stage s --region r --param 'x=it'\''s'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argv := tt.r.Argv()
			if got := strings.Join(argv, "|"); got != tt.want {
				t.Errorf("argv\n got %s\nwant %s", got, tt.want)
			}
			if got := ShellQuote(argv); got != tt.quote {
				t.Errorf("command line\n got %s\nwant %s", got, tt.quote)
			}
		})
	}
}
