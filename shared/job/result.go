package job

import (
	"fmt"
	"sort"
	"time"
	"unicode/utf8"
)

// Status is the outcome of one crawl.
type Status string

// The statuses a Result can have.
const (
	StatusOK     Status = "ok"
	StatusFailed Status = "failed"
)

// Error says why a crawl failed: a kind callers switch on and a message a
// person can act on.
type Error struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Kind + ": " + e.Message }

// MaxErrorMessageBytes caps the error message of a result or an attempt:
// a whole response body in one once made an attempt's DynamoDB item exceed
// 400 KB, so the attempt was never stored.
const MaxErrorMessageBytes = 8 << 10

// Capped returns e with its message cut to MaxErrorMessageBytes. The worker
// and every store adapter cap with it, so a message is cut one way.
func (e Error) Capped() Error {
	e.Message = CutText(e.Message, MaxErrorMessageBytes)
	return e
}

// CutText returns s, or, when it is over limit bytes, its start cut on a
// character boundary and a marker " … [cut: N bytes in all]", all within
// limit (which must leave room for the marker). Cutting again changes nothing.
func CutText(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	marker := fmt.Sprintf(" … [cut: %d bytes in all]", len(s))
	n := limit - len(marker)
	if n < 0 {
		n = 0
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + marker
}

// MaxFieldsBytes caps a result's fields as JSON: a result is stored as a
// DynamoDB item (400 KB at most). The worker cuts the largest fields of a
// page whose fields are larger until they fit, and marks them (Truncated).
const MaxFieldsBytes = 256 << 10

// Truncation says how a field was cut so that a result's fields fit
// MaxFieldsBytes: its size before and after the cut. A list is cut to its
// first whole items, an object (og) to its first whole keys in key order,
// a string on a character boundary (Items and KeptItems are 0). Sizes are
// of the field's value as canonical JSON (keys sorted, no HTML escaping).
type Truncation struct {
	Bytes     int `json:"bytes"`
	Items     int `json:"items,omitempty"`
	KeptBytes int `json:"kept_bytes"`
	KeptItems int `json:"kept_items,omitempty"`
}

// problems are what is wrong with the truncation of field name, whose kept
// value is v (nil when the result has no such field).
func (t Truncation) problems(name string, v any, present bool) []string {
	var problems []string
	p := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf("truncated.%s: ", name)+fmt.Sprintf(format, args...))
	}
	if !present {
		p("names no field of the result")
	}
	if t.KeptBytes < 2 || t.KeptBytes >= t.Bytes {
		p("kept_bytes %d is not between 2 and bytes %d", t.KeptBytes, t.Bytes)
	}
	if t.KeptBytes > MaxFieldsBytes {
		p("kept_bytes %d is over %d", t.KeptBytes, MaxFieldsBytes)
	}
	if t.KeptItems < 0 || t.KeptItems > t.Items {
		p("kept_items %d is not between 0 and items %d", t.KeptItems, t.Items)
	}
	var n int
	switch x := v.(type) {
	case []any:
		n = len(x)
	case []string:
		n = len(x)
	case map[string]any:
		n = len(x)
	case map[string]string:
		n = len(x)
	default:
		if t.Items != 0 || t.KeptItems != 0 {
			p("a field that is not a list or an object has no items")
		}
		return problems
	}
	if present && n != t.KeptItems {
		p("kept_items %d, but the field holds %d", t.KeptItems, n)
	}
	return problems
}

// TruncatedFields is the names of the result's truncated fields, sorted.
func (r Result) TruncatedFields() []string {
	names := make([]string, 0, len(r.Truncated))
	for name := range r.Truncated {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Result is the outcome of one Job. It is keyed by (TargetID, RunID):
// storing it twice is the same as storing it once.
type Result struct {
	V           int            `json:"v"`
	RunID       string         `json:"run_id"`
	Schedule    string         `json:"schedule,omitempty"`
	TargetID    string         `json:"target_id"`
	URL         string         `json:"url"`
	ScheduledAt time.Time      `json:"scheduled_at"`
	Status      Status         `json:"status"`
	HTTPStatus  int            `json:"http_status,omitempty"`
	Fields      map[string]any `json:"fields,omitempty"`
	// Truncated names the fields that were cut to fit MaxFieldsBytes, and
	// how. Fields keeps what was cut, and ContentHash is of the fields
	// before the cut, so a change past the cut is still a change.
	Truncated   map[string]Truncation `json:"truncated,omitempty"`
	ContentHash string                `json:"content_hash,omitempty"`
	// BodyHash is the SHA-256 of the page's body (decompressed): it
	// changes with every byte, where ContentHash follows only the fields.
	BodyHash string `json:"body_hash,omitempty"`
	// Changed is set by the store: the content hash differs from the
	// previous run's result of the same target.
	Changed bool `json:"changed"`
	// ETag and LastModified are the page's validators (its ETag and
	// Last-Modified response headers), sent back in the next run's
	// conditional request.
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	// NotModified: the server answered the conditional request with 304; the
	// store completes its fields (docs/aws.md), and it is never Changed.
	NotModified bool `json:"not_modified,omitempty"`
	// RulesHash is RulesHash of the rules the fields were extracted with
	// ("" is not known: the next request is unconditional).
	RulesHash  string    `json:"rules_hash,omitempty"`
	FetchedAt  time.Time `json:"fetched_at"`
	DurationMS int64     `json:"duration_ms"`
	Attempt    int       `json:"attempt"`
	Error      *Error    `json:"error,omitempty"`
}

// Validate checks a result's required fields.
func (r Result) Validate() error {
	problems := keyProblems(r.V, r.RunID, r.TargetID)
	if r.ScheduledAt.IsZero() {
		problems = append(problems, "scheduled_at is missing")
	}
	if r.FetchedAt.IsZero() {
		problems = append(problems, "fetched_at is missing")
	}
	switch r.Status {
	case StatusOK:
		if r.Error != nil {
			problems = append(problems, "status \"ok\" must not carry an error")
		}
	case StatusFailed:
		if r.Error == nil || r.Error.Kind == "" {
			problems = append(problems, "status \"failed\" needs an error with a kind")
		}
		if r.NotModified {
			problems = append(problems, "not_modified needs status \"ok\"")
		}
		if len(r.Truncated) > 0 {
			problems = append(problems, "truncated needs status \"ok\"")
		}
	default:
		problems = append(problems, fmt.Sprintf("status %q is not \"ok\" or \"failed\"", r.Status))
	}
	for _, name := range r.TruncatedFields() {
		v, present := r.Fields[name]
		problems = append(problems, r.Truncated[name].problems(name, v, present)...)
	}
	return problemsErr("result", problems)
}

// Attempt is one failed, retryable attempt at a job. The worker, which has
// no access to the store, sends it on the results queue, so that a dead
// letter can be explained by its last error.
type Attempt struct {
	V         int       `json:"v"`
	RunID     string    `json:"run_id"`
	TargetID  string    `json:"target_id"`
	MessageID string    `json:"message_id"`
	Attempt   int       `json:"attempt"`
	At        time.Time `json:"at"`
	Error     Error     `json:"error"`
}

// Validate checks an attempt's required fields.
func (a Attempt) Validate() error {
	problems := keyProblems(a.V, a.RunID, a.TargetID)
	if a.Attempt < 1 {
		problems = append(problems, "attempt must be 1 or more")
	}
	if a.Error.Kind == "" {
		problems = append(problems, "error.kind is missing")
	}
	return problemsErr("attempt", problems)
}
