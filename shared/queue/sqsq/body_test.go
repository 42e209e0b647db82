package sqsq

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/cronless/cronless/shared/queue"
)

// httpFunc is an HTTP client made of a function.
type httpFunc func(*http.Request) (*http.Response, error)

func (f httpFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// TestRequestBodySurvivesTheSDKClosingIt replays what net/http does after
// the response of a call has arrived: it reads the request body once more,
// to check that nothing is left beyond Content-Length, and the SDK has
// closed the body by then. The read must report a clean end; an error
// (the SDK's body reports io.EOF from WriteTo) makes net/http close the
// connection under the response the SDK is still reading, and the SDK
// retries the call: for ReceiveMessage, that hides a batch held by no one.
func TestRequestBodySurvivesTheSDKClosingIt(t *testing.T) {
	var bodies []io.ReadCloser
	client := sqs.New(sqs.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String("http://127.0.0.1:1"),
		HTTPClient: httpFunc(func(r *http.Request) (*http.Response, error) {
			bodies = append(bodies, r.Body)
			return &http.Response{
				StatusCode: 200, ProtoMajor: 1, ProtoMinor: 1,
				Header:        http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
				Body:          io.NopCloser(strings.NewReader(`{}`)),
				ContentLength: 2,
			}, nil
		}),
	})
	q := New(client, "http://127.0.0.1:1/000000000000/dlq")
	ctx := context.Background()
	if _, err := q.Receive(ctx, queue.ReceiveOptions{Max: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Depth(ctx); err != nil {
		t.Fatal(err)
	}
	if err := q.ChangeVisibility(ctx, "rh", 0); err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 3 {
		t.Fatalf("%d requests, want 3", len(bodies))
	}
	for i, b := range bodies {
		if _, ok := b.(io.WriterTo); ok {
			t.Errorf("request %d: the body handed to net/http has WriteTo", i)
		}
		// The SDK closed it when the response came; net/http's last look.
		if n, err := io.Copy(io.Discard, b); n != 0 || err != nil {
			t.Errorf("request %d: reading the closed body: %d bytes, %v; want 0 and a clean end", i, n, err)
		}
	}

	// Without the adapter's guard, the SDK's own body fails that read (if
	// a release of the SDK changes that, the guard can go).
	bodies = nil
	if _, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.URL())}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, bodies[0]); err == nil {
		t.Logf("the SDK's closed request body now reads cleanly: safeBody may no longer be needed")
	} else {
		t.Logf("the SDK's closed request body fails net/http's last read: %v", err)
	}
}
