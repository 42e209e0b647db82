// Package invocationrecord is the invocation record Lambda sends to an
// asynchronous invocation's on-failure destination once an event has
// failed every attempt (or waited too long): what the planner failures
// queue holds for a tick or a shard event the planner failed on. The
// local pipeline writes the same record to its own planner failures queue,
// so both backends hold one shape.
//
// The shape is the "Example invocation record" of the Lambda Developer
// Guide, "Capturing records of Lambda asynchronous invocations"
// (invocation-async-retain-records): version, timestamp, requestContext
// (requestId, functionArn, condition, approximateInvokeCount),
// requestPayload (the original event), responseContext (statusCode,
// executedVersion, functionError) and responsePayload (the function's
// error, as the runtime reports it: errorMessage and errorType).
package invocationrecord

import (
	"encoding/json"
	"time"
)

// Version is the record version Lambda writes.
const Version = "1.0"

// Conditions of RequestContext.Condition for a failure (Lambda Developer
// Guide, "Capturing records of Lambda asynchronous invocations").
const (
	// RetriesExhausted: every attempt failed.
	RetriesExhausted = "RetriesExhausted"
	// EventAgeExceeded: the event waited longer than the function's
	// maximum event age and was never (or not again) tried.
	EventAgeExceeded = "EventAgeExceeded"
)

// Record is one invocation record.
type Record struct {
	Version         string          `json:"version"`
	Timestamp       time.Time       `json:"timestamp"`
	RequestContext  RequestContext  `json:"requestContext"`
	RequestPayload  json.RawMessage `json:"requestPayload"`
	ResponseContext ResponseContext `json:"responseContext"`
	// ResponsePayload is the function's last error; absent when it never
	// ran (EventAgeExceeded).
	ResponsePayload *ErrorPayload `json:"responsePayload,omitempty"`
}

// RequestContext says which invocation failed, why, and after how many
// attempts.
type RequestContext struct {
	RequestID              string `json:"requestId"`
	FunctionARN            string `json:"functionArn"`
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// ResponseContext is the last invocation's response.
type ResponseContext struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError,omitempty"`
}

// ErrorPayload is the error a function returned, as the Go runtime
// (aws-lambda-go) reports it.
type ErrorPayload struct {
	ErrorMessage string   `json:"errorMessage"`
	ErrorType    string   `json:"errorType,omitempty"`
	StackTrace   []string `json:"stackTrace,omitempty"`
}
