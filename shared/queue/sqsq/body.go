package sqsq

import (
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// safeBody hides a request body's WriteTo from net/http: smithy-go closes the
// body once the response arrives, net/http's final WriteTo then failed and
// dropped the connection, and a retried ReceiveMessage lost the first's messages.
func safeBody(o *sqs.Options) {
	if o.HTTPClient != nil {
		o.HTTPClient = bodyGuard{o.HTTPClient}
	}
}

// bodyGuard is an HTTP client that gives net/http a request body without
// WriteTo.
type bodyGuard struct{ next sqs.HTTPClient }

func (c bodyGuard) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		if _, ok := r.Body.(io.WriterTo); ok {
			// r is the SDK's own request, built for this attempt: setting
			// its body is building it, and the SDK's Close reaches the
			// original body through readOnly.
			r.Body = readOnly{r.Body}
		}
	}
	return c.next.Do(r)
}

// readOnly exposes only Read and Close of a body.
type readOnly struct{ io.ReadCloser }
