package standin

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// CloudFormation is a CloudFormation client for the server (moto).
func (s *Server) CloudFormation(t testing.TB) *cloudformation.Client {
	return cloudformation.NewFromConfig(AWSConfig(t), func(o *cloudformation.Options) { o.BaseEndpoint = aws.String(s.Endpoint) })
}

// S3 is an S3 client for the server (moto), with path-style addressing:
// the bucket in the path, so no bucket host name has to resolve.
func (s *Server) S3(t testing.TB) *s3.Client {
	return s3.NewFromConfig(AWSConfig(t), func(o *s3.Options) {
		o.BaseEndpoint = aws.String(s.Endpoint)
		o.UsePathStyle = true
	})
}

// WaitStack waits until the stack's operation ends, and fails the test with
// the stack's events unless it ends in status done, or ctx ends first.
func WaitStack(ctx context.Context, t testing.TB, cf *cloudformation.Client, stack string, done cftypes.StackStatus) {
	t.Helper()
	for {
		out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
		if err != nil || len(out.Stacks) != 1 {
			t.Fatalf("describe stack %s: %v\n%s", stack, err, StackEvents(ctx, cf, stack))
		}
		s := out.Stacks[0]
		switch {
		case s.StackStatus == done:
			return
		case !strings.HasSuffix(string(s.StackStatus), "_IN_PROGRESS"):
			t.Fatalf("stack %s is %s, want %s: %s\n%s", stack, s.StackStatus, done, aws.ToString(s.StackStatusReason), StackEvents(ctx, cf, stack))
		}
		select {
		case <-ctx.Done():
			t.Fatalf("stack %s: %v while %s", stack, ctx.Err(), s.StackStatus)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// StackEvents renders the stack's events, oldest first, for a failure.
func StackEvents(ctx context.Context, cf *cloudformation.Client, stack string) string {
	var lines []string
	p := cloudformation.NewDescribeStackEventsPaginator(cf, &cloudformation.DescribeStackEventsInput{StackName: aws.String(stack)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Sprintf("(no stack events: %v)", err)
		}
		for _, e := range page.StackEvents {
			lines = append(lines, fmt.Sprintf("  %s %s %s %s", aws.ToString(e.LogicalResourceId), aws.ToString(e.ResourceType),
				e.ResourceStatus, aws.ToString(e.ResourceStatusReason)))
		}
	}
	slices.Reverse(lines)
	return "stack events:\n" + strings.Join(lines, "\n")
}
