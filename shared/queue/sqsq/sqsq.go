// Package sqsq is the Amazon SQS adapter of the queue port. API and MoveAPI
// are narrow interfaces with the SDK's own signatures, which *sqs.Client and
// test fakes satisfy.
//
// The queue URL is only passed as QueueUrl, never dialled: the endpoint is the
// client's, so stand-ins whose queue URLs name hosts that do not resolve work.
//
// Sends retry transient failures (Backoff) on top of the SDK's retryer. Errors
// are told apart by SQS's code, never its text, except where one code covers
// two causes (receiptProblem). Queue size settings: docs/aws.md.
package sqsq

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/cronless/cronless/shared/queue"
)

// MaxBatchSize is the most bytes one SendMessageBatch request may carry,
// summed over its messages as queue.MessageSize counts them.
const MaxBatchSize = 1 << 20

// API is what a Queue needs of an SQS client; *sqs.Client satisfies it.
type API interface {
	SendMessageBatch(ctx context.Context, params *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	ReceiveMessage(ctx context.Context, params *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, params *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, params *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	GetQueueAttributes(ctx context.Context, params *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// MoveAPI is what the DLQ commands need to redrive a dead-letter queue
// with SQS's message move tasks; *sqs.Client satisfies it.
type MoveAPI interface {
	StartMessageMoveTask(ctx context.Context, params *sqs.StartMessageMoveTaskInput, optFns ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error)
	ListMessageMoveTasks(ctx context.Context, params *sqs.ListMessageMoveTasksInput, optFns ...func(*sqs.Options)) (*sqs.ListMessageMoveTasksOutput, error)
	CancelMessageMoveTask(ctx context.Context, params *sqs.CancelMessageMoveTaskInput, optFns ...func(*sqs.Options)) (*sqs.CancelMessageMoveTaskOutput, error)
}

var (
	_ queue.Queue = (*Queue)(nil)
	_ API         = (*sqs.Client)(nil)
	_ MoveAPI     = (*sqs.Client)(nil)
)

// Backoff paces the retries of entries that failed transiently. The n-th
// retry (n = 1, 2, ...) waits a random time between 0 and
// min(Max, Base·2^(n-1)) ("full jitter").
type Backoff struct {
	// Attempts is how many times an entry is tried in all, the first
	// included; 1 disables retries.
	Attempts int
	// Base is the longest wait before the first retry.
	Base time.Duration
	// Max caps any one wait.
	Max time.Duration
	// MaxElapsed bounds the time one call spends retrying: no retry is
	// started once it has passed since the call began.
	MaxElapsed time.Duration
}

// DefaultBackoff is the Backoff of a Queue made without WithBackoff.
var DefaultBackoff = Backoff{Attempts: 4, Base: 100 * time.Millisecond, Max: 2 * time.Second, MaxElapsed: 10 * time.Second}

// Option configures a Queue.
type Option func(*Queue)

// WithBackoff sets how transient failures are retried. Zero fields keep
// DefaultBackoff's values.
func WithBackoff(b Backoff) Option {
	return func(q *Queue) {
		if b.Attempts > 0 {
			q.backoff.Attempts = b.Attempts
		}
		if b.Base > 0 {
			q.backoff.Base = b.Base
		}
		if b.Max > 0 {
			q.backoff.Max = b.Max
		}
		if b.MaxElapsed > 0 {
			q.backoff.MaxElapsed = b.MaxElapsed
		}
	}
}

// WithMoveAPI sets the client of the move-task methods, when the API given
// to New does not implement MoveAPI itself.
func WithMoveAPI(m MoveAPI) Option { return func(q *Queue) { q.moves = m } }

// WithARN sets the queue's ARN, when the caller knows it (from a stack
// output, say) and it cannot be derived from the URL.
func WithARN(arn string) Option { return func(q *Queue) { q.arn = arn } }

// Queue is one SQS standard queue. It is safe for concurrent use.
type Queue struct {
	api     API
	moves   MoveAPI
	url     string
	name    string
	urlErr  error
	backoff Backoff

	arnMu sync.Mutex
	arn   string
}

// New returns the queue at queueURL, reached through client. The name is
// the URL's last path segment; the ARN is derived from a standard SQS URL
// or, failing that, fetched once with GetQueueAttributes when first needed.
// An unusable URL is reported by every call that reaches SQS.
func New(client API, queueURL string, opts ...Option) *Queue {
	q := &Queue{api: client, url: queueURL, backoff: DefaultBackoff}
	q.name, q.urlErr = nameFromURL(queueURL)
	if m, ok := client.(MoveAPI); ok {
		q.moves = m
	}
	if q.urlErr == nil {
		q.arn = arnFromURL(queueURL)
	}
	for _, o := range opts {
		o(q)
	}
	return q
}

// URL returns the queue's URL.
func (q *Queue) URL() string { return q.url }

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

// ARN returns the queue's ARN. When it cannot be derived from the URL it
// is fetched (QueueArn) with a 10 s timeout and cached; it is empty if that
// fails. ResolveARN reports the error.
func (q *Queue) ARN() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	arn, _ := q.ResolveARN(ctx)
	return arn
}

// ResolveARN returns the queue's ARN, fetching it once if it cannot be
// derived from the URL.
func (q *Queue) ResolveARN(ctx context.Context) (string, error) {
	q.arnMu.Lock()
	defer q.arnMu.Unlock()
	if q.arn != "" {
		return q.arn, nil
	}
	if q.urlErr != nil {
		return "", fmt.Errorf("get ARN of %s: %w", q.url, q.urlErr)
	}
	out, err := q.api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(q.url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	}, safeBody)
	if err != nil {
		return "", fmt.Errorf("get ARN of %s: %w", q.name, mapErr(err))
	}
	arn := out.Attributes[string(types.QueueAttributeNameQueueArn)]
	if arn == "" {
		return "", fmt.Errorf("get ARN of %s: no QueueArn in the response", q.name)
	}
	q.arn = arn
	return arn, nil
}

// nameFromURL returns the last path segment of an SQS queue URL.
func nameFromURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("invalid queue URL %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("invalid queue URL %q: want http(s)://host/<account>/<name>", raw)
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	name := segs[len(segs)-1]
	if name == "" {
		return "", fmt.Errorf("invalid queue URL %q: no queue name in the path", raw)
	}
	return name, nil
}

var (
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
)

// arnFromURL derives the ARN from a standard SQS queue URL
// (https://sqs.<region>.amazonaws.com/<account>/<name>, its FIPS, dual-stack
// (api.aws), China (amazonaws.com.cn) and VPC endpoint variants, and the
// legacy https://[<region>.]queue.amazonaws.com/<account>/<name>). It
// returns "" for any other URL.
func arnFromURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Port() != "" {
		return ""
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(segs) != 2 || !accountRE.MatchString(segs[0]) || segs[1] == "" {
		return ""
	}
	account, name := segs[0], segs[1]
	host := strings.ToLower(u.Hostname())
	var region string
	switch {
	case host == "queue.amazonaws.com":
		region = "us-east-1"
	case strings.HasSuffix(host, ".queue.amazonaws.com"):
		region = strings.TrimSuffix(host, ".queue.amazonaws.com")
	case strings.HasSuffix(host, ".amazonaws.com"), strings.HasSuffix(host, ".amazonaws.com.cn"), strings.HasSuffix(host, ".api.aws"):
		// sqs.<region>.amazonaws.com, sqs-fips.<region>.amazonaws.com,
		// sqs.<region>.api.aws, vpce-….sqs.<region>.vpce.amazonaws.com
		labels := strings.Split(host, ".")
		for i := 1; i < len(labels); i++ {
			if (labels[i-1] == "sqs" || labels[i-1] == "sqs-fips") && regionRE.MatchString(labels[i]) {
				region = labels[i]
				break
			}
		}
	}
	if !regionRE.MatchString(region) {
		return ""
	}
	partition := "aws"
	switch {
	case strings.HasPrefix(region, "cn-"):
		partition = "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		partition = "aws-us-gov"
	}
	return fmt.Sprintf("arn:%s:sqs:%s:%s:%s", partition, region, account, name)
}

// Receive returns up to opts.Max messages, with Wait and Visibility rounded
// up to whole seconds as SQS takes them (zero: the queue's own settings).
// String and Number attributes come back as strings; Binary ones are dropped.
func (q *Queue) Receive(ctx context.Context, opts queue.ReceiveOptions) ([]queue.Message, error) {
	maxN, err := opts.Check()
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", q.name, err)
	}
	if q.urlErr != nil {
		return nil, fmt.Errorf("receive from %s: %w", q.url, q.urlErr)
	}
	out, err := q.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:            aws.String(q.url),
		MaxNumberOfMessages: int32(maxN),
		WaitTimeSeconds:     seconds(opts.Wait),
		VisibilityTimeout:   seconds(opts.Visibility),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{
			types.MessageSystemAttributeNameApproximateReceiveCount,
			types.MessageSystemAttributeNameSentTimestamp,
			types.MessageSystemAttributeNameApproximateFirstReceiveTimestamp,
		},
		MessageAttributeNames: []string{"All"},
	}, safeBody)
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", q.name, mapErr(err))
	}
	msgs := make([]queue.Message, 0, len(out.Messages))
	for _, m := range out.Messages {
		msg, err := toMessage(m)
		if err != nil {
			// The message is received (and hidden) all the same; report
			// it rather than lose it silently.
			return nil, fmt.Errorf("receive from %s: message %s: %w", q.name, aws.ToString(m.MessageId), err)
		}
		msgs = append(msgs, msg)
	}
	return msgs, nil
}

// toMessage maps a received SQS message to a queue.Message.
func toMessage(m types.Message) (queue.Message, error) {
	msg := queue.Message{
		ID:            aws.ToString(m.MessageId),
		ReceiptHandle: aws.ToString(m.ReceiptHandle),
		Body:          aws.ToString(m.Body),
	}
	if len(m.MessageAttributes) > 0 {
		msg.Attributes = make(map[string]string, len(m.MessageAttributes))
		for k, v := range m.MessageAttributes {
			dt := aws.ToString(v.DataType)
			if v.StringValue != nil && (isType(dt, "String") || isType(dt, "Number")) {
				msg.Attributes[k] = *v.StringValue
			}
		}
	}
	sys := m.Attributes
	if s, ok := sys[string(types.MessageSystemAttributeNameApproximateReceiveCount)]; ok {
		n, err := strconv.Atoi(s)
		if err != nil {
			return msg, fmt.Errorf("ApproximateReceiveCount %q: %w", s, err)
		}
		msg.ReceiveCount = n
	}
	var err error
	if msg.SentAt, err = millis(sys, types.MessageSystemAttributeNameSentTimestamp); err != nil {
		return msg, err
	}
	if msg.FirstReceivedAt, err = millis(sys, types.MessageSystemAttributeNameApproximateFirstReceiveTimestamp); err != nil {
		return msg, err
	}
	return msg, nil
}

// isType reports whether the attribute data type dt is base or a custom
// subtype of it ("String.json").
func isType(dt, base string) bool { return dt == base || strings.HasPrefix(dt, base+".") }

// millis parses a system attribute holding epoch milliseconds; absent is
// the zero time.
func millis(sys map[string]string, name types.MessageSystemAttributeName) (time.Time, error) {
	s, ok := sys[string(name)]
	if !ok || s == "" {
		return time.Time{}, nil
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: %w", name, s, err)
	}
	return time.UnixMilli(ms), nil
}

// seconds rounds d up to whole seconds.
func seconds(d time.Duration) int32 {
	if d <= 0 {
		return 0
	}
	return int32(min(math.Ceil(d.Seconds()), math.MaxInt32))
}

// ChangeVisibility hides an in-flight message for d from now, rounded up to
// whole seconds (zero: makes it visible at once). It returns an error
// matching queue.ErrReceiptInvalid when SQS finds the handle malformed,
// expired or no longer current, or the message not in flight.
func (q *Queue) ChangeVisibility(ctx context.Context, receiptHandle string, d time.Duration) error {
	switch {
	case d < 0 || d > queue.MaxVisibility:
		return fmt.Errorf("change visibility in %s: %v out of range 0 to %v", q.name, d, queue.MaxVisibility)
	case receiptHandle == "":
		return fmt.Errorf("change visibility in %s: empty receipt handle: %w", q.name, queue.ErrReceiptInvalid)
	case q.urlErr != nil:
		return fmt.Errorf("change visibility in %s: %w", q.url, q.urlErr)
	}
	_, err := q.api.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl:          aws.String(q.url),
		ReceiptHandle:     aws.String(receiptHandle),
		VisibilityTimeout: seconds(d),
	}, safeBody)
	if err != nil {
		if code, msg, ok := apiError(err); ok && receiptProblem(code, msg) {
			return fmt.Errorf("change visibility in %s: %w: %w", q.name, queue.ErrReceiptInvalid, err)
		}
		return fmt.Errorf("change visibility in %s: %w", q.name, mapErr(err))
	}
	return nil
}

// Depth counts the queue's messages (SQS's approximate attributes).
func (q *Queue) Depth(ctx context.Context) (queue.Depth, error) {
	if q.urlErr != nil {
		return queue.Depth{}, fmt.Errorf("depth of %s: %w", q.url, q.urlErr)
	}
	names := []types.QueueAttributeName{
		types.QueueAttributeNameApproximateNumberOfMessages,
		types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
	}
	out, err := q.api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.url), AttributeNames: names}, safeBody)
	if err != nil {
		return queue.Depth{}, fmt.Errorf("depth of %s: %w", q.name, mapErr(err))
	}
	var counts [3]int
	for i, n := range names {
		s := out.Attributes[string(n)]
		if s == "" {
			continue
		}
		v, err := strconv.Atoi(s)
		if err != nil {
			return queue.Depth{}, fmt.Errorf("depth of %s: %s %q: %w", q.name, n, s, err)
		}
		counts[i] = v
	}
	return queue.Depth{Visible: counts[0], InFlight: counts[1], Delayed: counts[2]}, nil
}
