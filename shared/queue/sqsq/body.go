package sqsq

import (
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// A request body race in the SDK, and what the adapter does about it.
//
// smithy-go hands net/http the request body wrapped in a "safe" closer and
// closes it as soon as the HTTP client returns the response. net/http's
// writer goroutine, after writing the Content-Length bytes of the body,
// reads the body once more to make sure nothing is left; when the server
// (fauxqs on loopback, most easily under CPU load) answered in between,
// that read finds the body closed, and the wrapper's WriteTo reports
// io.EOF as an error (a plain Read would have reported a clean end). The
// transport takes that for a failed write and closes the connection while
// the SDK is still reading the 200 response, which then fails with "use of
// closed network connection". The SDK retries that error. For
// ReceiveMessage the first attempt had already been served: its messages
// were hidden for the visibility timeout and handed to no one, and the
// retry returned others. That is how a DLQ scan on fauxqs ended with a
// batch of 10 in flight and missing from the listing.
//
// safeBody closes the race: it hides the body's WriteTo from net/http, so
// the final read goes through Read, which reports a closed body as a clean
// io.EOF. Every call the adapter makes passes it.
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
