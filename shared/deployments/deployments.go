// Package deployments lists the deployments osls keeps for a stage, tells
// which one is live, and chooses and spells the `osls rollback` that goes
// back to one of them.
//
// What osls (node_modules/osls, the Serverless Framework v3 line) does, and
// this package relies on:
//
//   - Each deploy uploads to the stack's deployment bucket (stack output
//     ServerlessDeploymentBucketName), under
//     serverless/<service>/<stage>/<epoch ms>-<ISO time>/, the compiled
//     template (compiled-cloudformation-template.json), the service state
//     (serverless-state.json) and every function's zip. The directory is
//     named when the service is packaged: <epoch ms> and <ISO time> are the
//     same instant (JavaScript's Date.getTime and toISOString).
//   - The compiled template points each function's Code.S3Key into its own
//     directory, so the stack's current template says which deployment is
//     live, including after a rollback or a failed deploy (CloudFormation
//     rolled back to the previous template).
//   - After a successful deploy osls deletes all but the newest 5 directories
//     (provider.deploymentBucket.maxPreviousDeploymentArtifacts, default 5);
//     a deploy whose change set was empty deletes its own directory; a deploy
//     that found nothing changed uploads nothing.
//   - `osls rollback --timestamp T` turns T (epoch ms, or a date JavaScript
//     parses) into "<ms>-<ISO time>", requires that directory to hold the
//     compiled template, and updates the stack with that template. It builds
//     and uploads nothing: the functions get the zips of that deployment.
package deployments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Names osls uses (lib/plugins/aws/lib/naming.js, provider.js).
const (
	// DefaultPrefix is the bucket's top folder (provider.deploymentPrefix).
	DefaultPrefix = "serverless"
	// TemplateFile is the compiled template of a deployment: osls rolls
	// back only to a deployment that has it.
	TemplateFile = "compiled-cloudformation-template.json"
	// StateFile is the service state osls uploads beside it.
	StateFile = "serverless-state.json"
	// BucketOutput is the stack output naming the deployment bucket.
	BucketOutput = "ServerlessDeploymentBucketName"
	// Kept is how many deployments a deploy leaves in the bucket (osls's
	// default maxPreviousDeploymentArtifacts; serverless.yml keeps it).
	Kept = 5
)

// S3 is the part of the S3 client the listing uses (the SDK's signature).
type S3 interface {
	ListObjectsV2(ctx context.Context, params *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// CloudFormation is the part of the CloudFormation client that reads the
// stack (the SDK's signatures).
type CloudFormation interface {
	DescribeStacks(ctx context.Context, params *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	GetTemplate(ctx context.Context, params *cloudformation.GetTemplateInput, optFns ...func(*cloudformation.Options)) (*cloudformation.GetTemplateOutput, error)
}

// States of a deployment relative to the live one.
const (
	StateLive     = "live"     // the stack runs it now
	StatePrevious = "previous" // what a rollback without a timestamp goes back to
	StateNewer    = "newer"    // newer than the live one: rolled back from, or its deploy failed
	StateOlder    = "older"    // older than the live one
	StateUnknown  = ""         // the live one is not in the bucket
)

// Deployment is one directory osls keeps in the deployment bucket.
type Deployment struct {
	// Timestamp is the directory's epoch milliseconds: what
	// `osls rollback --timestamp` takes and `osls deploy list` prints.
	Timestamp  string    `json:"timestamp"`
	DeployedAt time.Time `json:"deployed_at"`
	// Directory is the directory's name, "<Timestamp>-<ISO time>".
	Directory string   `json:"directory"`
	Files     []string `json:"files"`
	State     string   `json:"state"`
	// Problem, when set, is why osls cannot roll back to it.
	Problem string `json:"problem,omitempty"`
}

// Stack is what the listing needs to know of the stage's stack.
type Stack struct {
	Name        string
	Status      string
	LastUpdated time.Time // or its creation time, when never updated
	Bucket      string
	// LiveDirectory is the deployment directory the functions' code comes
	// from in the stack's current template; "" with LiveProblem when that
	// cannot be told.
	LiveDirectory string
	LiveProblem   string
}

// Listing is a stage's stack and the deployments in its bucket.
type Listing struct {
	Service, Stage string
	Stack          Stack
	// Prefix is the bucket folder of the stage's deployments.
	Prefix string
	// Deployments, newest first.
	Deployments []Deployment
}

// Errors a choice of deployment can match with errors.Is.
var (
	// ErrBadTimestamp: a timestamp that is none of the accepted forms.
	ErrBadTimestamp = errors.New("not a deployment timestamp")
	// ErrNotFound: no deployment has the timestamp.
	ErrNotFound = errors.New("no such deployment")
	// ErrNoPrevious: nothing older than the live deployment to go back to.
	ErrNoPrevious = errors.New("no deployment to roll back to")
	// ErrUnusable: the named deployment is live already, or osls cannot
	// roll back to it.
	ErrUnusable = errors.New("cannot roll back to this deployment")
	// ErrStackBusy: CloudFormation cannot update the stack now.
	ErrStackBusy = errors.New("the stack cannot be updated now")
)

// StackName is the stack osls deploys for service and stage.
func StackName(service, stage string) string { return service + "-" + stage }

// Prefix is the bucket folder osls keeps a stage's deployments in.
func Prefix(service, stage string) string {
	return DefaultPrefix + "/" + service + "/" + stage + "/"
}

// Load reads the stage's stack (its status, its deployment bucket, the
// live deployment) and lists the deployments in the bucket.
func Load(ctx context.Context, cf CloudFormation, client S3, service, stage string) (*Listing, error) {
	l := &Listing{Service: service, Stage: stage, Prefix: Prefix(service, stage)}
	st, err := ReadStack(ctx, cf, StackName(service, stage), l.Prefix)
	if err != nil {
		return nil, err
	}
	l.Stack = st
	deps, err := List(ctx, client, st.Bucket, l.Prefix)
	if err != nil {
		return nil, err
	}
	l.Deployments = deps
	l.setStates()
	return l, nil
}

// ReadStack reads the stack's status, the deployment bucket from its
// outputs and the live deployment from its current template.
func ReadStack(ctx context.Context, cf CloudFormation, name, prefix string) (Stack, error) {
	out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil {
		return Stack{}, fmt.Errorf("read stack %s (deployed with `make deploy STAGE=...`? check --region and --profile): %w", name, err)
	}
	if len(out.Stacks) == 0 {
		return Stack{}, fmt.Errorf("stack %s not found: deploy the stage first, or check --region and --profile", name)
	}
	s := out.Stacks[0]
	st := Stack{Name: name, Status: string(s.StackStatus), LastUpdated: aws.ToTime(s.LastUpdatedTime).UTC()}
	if s.LastUpdatedTime == nil {
		st.LastUpdated = aws.ToTime(s.CreationTime).UTC()
	}
	for _, o := range s.Outputs {
		if aws.ToString(o.OutputKey) == BucketOutput {
			st.Bucket = aws.ToString(o.OutputValue)
		}
	}
	if st.Bucket == "" {
		return Stack{}, fmt.Errorf("stack %s has no output %s, the deployment bucket osls creates: was it deployed with osls (make deploy)?", name, BucketOutput)
	}
	tpl, err := cf.GetTemplate(ctx, &cloudformation.GetTemplateInput{StackName: aws.String(name)})
	if err != nil {
		return Stack{}, fmt.Errorf("read the template of stack %s: %w", name, err)
	}
	st.LiveDirectory, err = LiveDirectory(aws.ToString(tpl.TemplateBody), prefix)
	if err != nil {
		st.LiveProblem = err.Error()
	}
	return st, nil
}

// LiveDirectory returns the deployment directory (under prefix) that the
// functions' code comes from in a compiled template.
func LiveDirectory(template, prefix string) (string, error) {
	var t struct {
		Resources map[string]struct {
			Type       string
			Properties struct {
				Code struct{ S3Key any }
			}
		}
	}
	if err := json.Unmarshal([]byte(template), &t); err != nil {
		return "", fmt.Errorf("the stack's template is not the JSON osls deploys: %w", err)
	}
	dirs := map[string][]string{} // directory -> functions
	for id, r := range t.Resources {
		if r.Type != "AWS::Lambda::Function" {
			continue
		}
		key, ok := r.Properties.Code.S3Key.(string)
		if !ok {
			continue
		}
		if dir, _, ok := parseKey(key, prefix); ok {
			dirs[dir] = append(dirs[dir], id)
		}
	}
	switch len(dirs) {
	case 0:
		return "", fmt.Errorf("no function of the stack's template has its code under %s", prefix)
	case 1:
		for d := range dirs {
			return d, nil
		}
	}
	var parts []string
	for d, ids := range dirs {
		slices.Sort(ids)
		parts = append(parts, fmt.Sprintf("%s (%s)", d, strings.Join(ids, ", ")))
	}
	slices.Sort(parts)
	return "", fmt.Errorf("the stack's functions come from different deployments: %s", strings.Join(parts, "; "))
}

// List lists the deployments under prefix in bucket, newest first, as osls
// sees them: keys outside a "<epoch ms>-<ISO time>/" directory are ignored.
func List(ctx context.Context, client S3, bucket, prefix string) ([]Deployment, error) {
	byDir := map[string]*Deployment{}
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s (does your role allow s3:ListBucket on the deployment bucket?): %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			dir, file, ok := parseKey(aws.ToString(o.Key), prefix)
			if !ok {
				continue
			}
			d := byDir[dir]
			if d == nil {
				d = newDeployment(dir)
				byDir[dir] = d
			}
			d.Files = append(d.Files, file)
		}
	}
	deps := make([]Deployment, 0, len(byDir))
	for _, d := range byDir {
		slices.Sort(d.Files)
		d.Problem = problem(*d)
		deps = append(deps, *d)
	}
	// Newest first, by the epoch milliseconds (as osls finds the latest),
	// then by name.
	slices.SortFunc(deps, func(a, b Deployment) int {
		if c := compareMillis(b.Timestamp, a.Timestamp); c != 0 {
			return c
		}
		return strings.Compare(b.Directory, a.Directory)
	})
	return deps, nil
}

// dirToken is osls's test of a deployment directory's name
// (utils/parse-deployment-object-key.js): it only checks the start.
var dirToken = regexp.MustCompile(`^[0-9]+-[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}`)

// parseKey splits an object key under prefix into its deployment
// directory and file, as osls does.
func parseKey(key, prefix string) (dir, file string, ok bool) {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return "", "", false
	}
	dir, file, ok = strings.Cut(rest, "/")
	if !ok || dir == "" || file == "" || !dirToken.MatchString(dir) {
		return "", "", false
	}
	return dir, file, true
}

// isoMillis is JavaScript's Date.toISOString.
const isoMillis = "2006-01-02T15:04:05.000Z"

func newDeployment(dir string) *Deployment {
	ms, _, _ := strings.Cut(dir, "-")
	d := &Deployment{Timestamp: ms, Directory: dir}
	if n, err := strconv.ParseInt(ms, 10, 64); err == nil {
		d.DeployedAt = time.UnixMilli(n).UTC()
	}
	return d
}

// problem says why osls cannot roll back to d, or "".
func problem(d Deployment) string {
	if d.DeployedAt.IsZero() || d.Directory != d.Timestamp+"-"+d.DeployedAt.Format(isoMillis) {
		return "its name is not <epoch ms>-<ISO time> of one instant: osls rollback cannot find it"
	}
	if !slices.Contains(d.Files, TemplateFile) {
		return "no " + TemplateFile + ": osls cannot roll back to it"
	}
	if !slices.ContainsFunc(d.Files, func(f string) bool { return path.Ext(f) == ".zip" }) {
		return "no function code (.zip): its upload did not finish"
	}
	return ""
}

// compareMillis compares two decimal epoch-millisecond strings as numbers.
func compareMillis(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// setStates marks the live deployment, those newer than it, and the one a
// rollback without a timestamp goes back to.
func (l *Listing) setStates() {
	live := slices.IndexFunc(l.Deployments, func(d Deployment) bool { return d.Directory == l.Stack.LiveDirectory })
	if live < 0 {
		return
	}
	prev := false
	for i := range l.Deployments {
		d := &l.Deployments[i]
		switch {
		case i < live:
			d.State = StateNewer
		case i == live:
			d.State = StateLive
		case !prev && d.Problem == "":
			d.State, prev = StatePrevious, true
		default:
			d.State = StateOlder
		}
	}
}

// Live returns the live deployment, if it is in the bucket.
func (l *Listing) Live() (Deployment, bool) {
	for _, d := range l.Deployments {
		if d.State == StateLive {
			return d, true
		}
	}
	return Deployment{}, false
}
