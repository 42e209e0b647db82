// Package job defines the wire contracts of cronless: the Job the planner
// sends to the targets queue and the Result a worker sends to the results
// queue. Everything that crosses a queue is defined here and nowhere else.
//
// Both carry a version field ("v":1). Decode functions reject unknown
// versions, unknown fields and missing required fields, so a malformed
// message is recognised before anything acts on it.
package job

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Version is the contract version this build writes and accepts.
const Version = 1

// DefaultUserAgent is sent for a target that sets none: targets.yaml's
// built-in default, which jobs carry, and the crawler's for a job without one.
const DefaultUserAgent = "cronless/0.1 (+https://github.com/cronless/cronless)"

// ErrInvalid is wrapped by every decode and validation error, so callers can
// tell a malformed message (never worth retrying) from other failures.
var ErrInvalid = errors.New("invalid message")

// Rule says how to extract one field from a page.
type Rule struct {
	// CSS is the selector of the element(s).
	CSS string `json:"css"`
	// Attr is what to take from the element: "text" (default), "html", or
	// the name of an attribute such as "href".
	Attr string `json:"attr,omitempty"`
	// All collects every match as a list instead of the first one.
	All bool `json:"all,omitempty"`
	// Required makes a page without a match a permanent failure.
	Required bool `json:"required,omitempty"`
	// Regex, when set, captures from the value (first group, or the whole match).
	Regex string `json:"regex,omitempty"`
}

// rulesHashDomain starts the hashed text of RulesHash, so that a change of
// its encoding can never give an old hash to other rules.
const rulesHashDomain = "cronless extract rules v1\n"

// RulesHash is the hash of extract rules that docs/aws.md (conditional
// requests) defines, so that a 304 never keeps fields extracted with other
// rules. No rules have one too, so "" always means "not known".
func RulesHash(extract map[string]Rule) string {
	if extract == nil {
		extract = map[string]Rule{}
	}
	// A map of strings to a struct of strings and bools always encodes
	// (invalid UTF-8 becomes U+FFFD, as it does on the wire).
	b, _ := json.Marshal(extract)
	h := sha256.New()
	h.Write([]byte(rulesHashDomain))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// Job is one target to crawl in one run. It carries everything the worker
// needs, so workers hold no configuration of their own beyond safety limits.
type Job struct {
	V           int             `json:"v"`
	RunID       string          `json:"run_id"`
	Schedule    string          `json:"schedule"`
	TargetID    string          `json:"target_id"`
	URL         string          `json:"url"`
	ScheduledAt time.Time       `json:"scheduled_at"`
	Extract     map[string]Rule `json:"extract,omitempty"`
	TimeoutMS   int64           `json:"timeout_ms,omitempty"`
	UserAgent   string          `json:"user_agent,omitempty"`
	// Robots is whether robots.txt is respected; nil means yes.
	Robots *bool `json:"robots,omitempty"`
	// Previous, when set, holds the validators of the target's latest ok
	// result, so the worker can make a conditional request (If-None-Match,
	// If-Modified-Since) and a 304 costs almost nothing.
	Previous *Previous `json:"previous,omitempty"`
	// HostRate is how many jobs a second the whole fleet starts to the
	// job's host (targets.yaml host_rate): the planner paces the tick's
	// jobs to it, and each worker also spaces its own starts by 1/HostRate.
	// 0: not paced.
	HostRate float64 `json:"host_rate,omitempty"`
	// HostConcurrency is how many of the host's jobs one worker crawls at
	// once (targets.yaml host_concurrency); 0: the worker's default.
	HostConcurrency int `json:"host_concurrency,omitempty"`
	// NotBefore, when set, is the earliest time the job may start: the
	// planner's pacing beyond SQS's 15-minute message delay. A worker that
	// receives it earlier sends it back, delayed, without crawling it.
	NotBefore time.Time `json:"not_before,omitzero"`
	// Deferrals is how many times a worker handed the job back because its
	// host had no free slot before the invocation's end (never a failed
	// attempt). At MaxDeferrals the job is dead-lettered instead.
	Deferrals int `json:"deferrals,omitempty"`
}

// Bounds of a job's pacing fields.
const (
	// MaxHostRate is the highest host_rate, in jobs a second.
	MaxHostRate = 1000
	// MaxHostConcurrency is the highest host_concurrency.
	MaxHostConcurrency = 100
	// MaxPacing is how far after its scheduled time a job's not_before may
	// be: a tick paced over more than a week is a mistake.
	MaxPacing = 7 * 24 * time.Hour
	// MaxDeferrals is how many times a job may be handed back for want of a
	// host slot before it is dead-lettered as a finding.
	MaxDeferrals = 20
)

// Previous is what a job knows of its target's latest ok result: the
// validators the server sent with it, and its content hash (which a 304
// result keeps).
type Previous struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	ContentHash  string `json:"content_hash,omitempty"`
}

// Conditional reports whether p holds a validator to send.
func (p *Previous) Conditional() bool { return p != nil && (p.ETag != "" || p.LastModified != "") }

// Validate checks that p has a validator and that its validators can be
// sent as header values.
func (p Previous) Validate() error { return problemsErr("previous", p.problems()) }

func (p Previous) problems() []string {
	var problems []string
	if p.ETag == "" && p.LastModified == "" {
		problems = append(problems, "previous has neither etag nor last_modified")
	}
	if !headerValue(p.ETag) {
		problems = append(problems, fmt.Sprintf("previous.etag %q is not a valid header value", p.ETag))
	}
	if !headerValue(p.LastModified) {
		problems = append(problems, fmt.Sprintf("previous.last_modified %q is not a valid header value", p.LastModified))
	}
	return problems
}

// RespectsRobots reports whether robots.txt applies to this job (the default).
func (j Job) RespectsRobots() bool { return j.Robots == nil || *j.Robots }

// Timeout is the job's total fetch timeout, or def when the job sets none.
func (j Job) Timeout(def time.Duration) time.Duration {
	if j.TimeoutMS <= 0 {
		return def
	}
	return time.Duration(j.TimeoutMS) * time.Millisecond
}

// Validate checks a job's required fields.
func (j Job) Validate() error {
	problems := keyProblems(j.V, j.RunID, j.TargetID)
	if j.ScheduledAt.IsZero() {
		problems = append(problems, "scheduled_at is missing")
	}
	if err := checkURL(j.URL); err != nil {
		problems = append(problems, err.Error())
	}
	for name, r := range j.Extract {
		if strings.TrimSpace(r.CSS) == "" {
			problems = append(problems, fmt.Sprintf("extract.%s.css is missing", name))
		}
	}
	if j.TimeoutMS < 0 {
		problems = append(problems, "timeout_ms is negative")
	}
	if j.Previous != nil {
		problems = append(problems, j.Previous.problems()...)
	}
	if j.HostRate < 0 || j.HostRate > MaxHostRate || j.HostRate != j.HostRate {
		problems = append(problems, fmt.Sprintf("host_rate %v is not between 0 and %d", j.HostRate, MaxHostRate))
	}
	if j.HostConcurrency < 0 || j.HostConcurrency > MaxHostConcurrency {
		problems = append(problems, fmt.Sprintf("host_concurrency %d is not between 0 and %d", j.HostConcurrency, MaxHostConcurrency))
	}
	if !j.NotBefore.IsZero() && !j.ScheduledAt.IsZero() && j.NotBefore.Sub(j.ScheduledAt) > MaxPacing {
		problems = append(problems, fmt.Sprintf("not_before %s is more than %s after scheduled_at", j.NotBefore.Format(time.RFC3339), MaxPacing))
	}
	if j.Deferrals < 0 {
		problems = append(problems, "deferrals is negative")
	}
	return problemsErr("job", problems)
}

// DecodeAttempt parses and validates an Attempt from a message body.
func DecodeAttempt(body []byte) (Attempt, error) {
	var a Attempt
	if err := decodeStrict(body, &a); err != nil {
		return Attempt{}, fmt.Errorf("%w: attempt: %v", ErrInvalid, err)
	}
	return a, a.Validate()
}

// DecodeJob parses and validates a Job from a message body.
func DecodeJob(body []byte) (Job, error) {
	var j Job
	if err := decodeStrict(body, &j); err != nil {
		return Job{}, fmt.Errorf("%w: job: %v", ErrInvalid, err)
	}
	return j, j.Validate()
}

// DecodeResult parses and validates a Result from a message body.
func DecodeResult(body []byte) (Result, error) {
	var r Result
	if err := decodeStrict(body, &r); err != nil {
		return Result{}, fmt.Errorf("%w: result: %v", ErrInvalid, err)
	}
	return r, r.Validate()
}

// Encode marshals a Job or Result for a message body. It does not escape
// HTML: a result's fields of MaxFieldsBytes (their canonical JSON) would
// take up to six times as many bytes escaped ("<" as \u003c), more than a
// message holds (1 MiB).
func Encode(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("encode message: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

func checkURL(raw string) error {
	if raw == "" {
		return errors.New("url is missing")
	}
	if problem := URLProblem(raw); problem != "" {
		return fmt.Errorf("url %q %s", raw, problem)
	}
	return nil
}

// Host is the host a URL's requests count against for politeness: its
// name (or address) without the port, in lower case. The planner paces by
// it and the crawler limits by it, so both count a host the same way.
func Host(u *url.URL) string { return strings.ToLower(u.Hostname()) }

// URLProblem says what keeps raw from being a URL cronless crawls (an
// absolute http or https URL with a host), as words to follow `url "<raw>"`
// in a message, or "" when nothing does. targets.yaml and jobs share it.
func URLProblem(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Sprintf("does not parse (%v)", err)
	case u.Scheme == "":
		return "is not absolute (it has no http:// or https://)"
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("has scheme %q; only http and https can be crawled", u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return "has no host"
	}
	return ""
}

// headerValue reports whether v can be sent as an HTTP header value: no
// control characters but tab (RFC 9110, field-value).
func headerValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// keyProblems are the problems of what every message carries: the contract
// version and the (run, target) key.
func keyProblems(v int, runID, targetID string) []string {
	var problems []string
	if v != Version {
		problems = append(problems, fmt.Sprintf("version %d is not supported (want \"v\":%d)", v, Version))
	}
	if runID == "" {
		problems = append(problems, "run_id is missing")
	}
	if targetID == "" {
		problems = append(problems, "target_id is missing")
	}
	return problems
}

func problemsErr(what string, problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s: %s", ErrInvalid, what, strings.Join(problems, "; "))
}

// RunID is the deterministic ID of a schedule's tick: the schedule's name and
// the scheduled time in UTC, so a repeated delivery of the same tick yields
// the same run.
func RunID(schedule string, scheduledAt time.Time) string {
	return schedule + "-" + scheduledAt.UTC().Format("20060102T150405Z")
}

// Names of the message attributes that jobs and results carry beside their
// body, so a message can be explained (in a DLQ listing, say) even when its
// body does not decode.
const (
	AttrRunID    = "run_id"
	AttrTargetID = "target_id"
	// AttrType says what a results-queue message holds: TypeResult (the
	// default when absent) or TypeAttempt.
	AttrType    = "type"
	TypeResult  = "result"
	TypeAttempt = "attempt"
)

// Attributes returns the message attributes of a job's or result's message.
func Attributes(runID, targetID string) map[string]string {
	return map[string]string{AttrRunID: runID, AttrTargetID: targetID}
}
