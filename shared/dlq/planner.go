package dlq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cronless/cronless/shared/invocationrecord"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/planner"
)

// The planner failures queue holds what the planner could not plan, in
// one of two shapes (docs/aws.md, "The planner failures queue"):
//
//   - an invocation record (shared/invocationrecord): Lambda's on-failure
//     destination after a tick or a shard event failed every attempt, and
//     what the local pipeline writes in its place;
//   - a bare tick with EventBridge Scheduler's message attributes: a tick
//     Scheduler could not deliver to the planner after its retries (its
//     dead-letter queue). The body is the schedule's input; the
//     attributes ERROR_CODE, ERROR_MESSAGE, EXECUTION_ID,
//     EXHAUSTED_RETRY_CONDITION, RETRY_ATTEMPTS, SCHEDULE_ARN and TARGET_ARN
//     say why (EventBridge Scheduler User Guide, "Configuring a schedule's
//     dead-letter queue", Retrieve the dead-letter event). That section
//     was not readable where this was written: the names are as remembered
//     from it and as two public emulators send them, unchecked against AWS,
//     so each is optional here and a message without them is still a tick.

// Scheduler's message attributes on a dead-letter event.
const (
	SchedulerErrorCode      = "ERROR_CODE"
	SchedulerErrorMessage   = "ERROR_MESSAGE"
	SchedulerExecutionID    = "EXECUTION_ID"
	SchedulerRetryCondition = "EXHAUSTED_RETRY_CONDITION"
	SchedulerRetryAttempts  = "RETRY_ATTEMPTS"
	SchedulerScheduleARN    = "SCHEDULE_ARN"
)

// Where a planner failure's reason comes from (PlannerFailure.Source, and
// ErrorInfo.Source of its letter).
const (
	// SourceInvocationRecord: Lambda's (or the local pipeline's)
	// invocation record; the reason is its responsePayload.
	SourceInvocationRecord = "invocation_record"
	// SourceScheduler: EventBridge Scheduler's dead-letter event; the
	// reason is its ERROR_CODE and ERROR_MESSAGE attributes.
	SourceScheduler = "scheduler"
	// SourceUnknown: a bare tick or shard event with no failure details,
	// or a message that is neither shape.
	SourceUnknown = "unknown"
)

// Events a planner failure is about (PlannerFailure.Event).
const (
	EventTick  = "tick"
	EventShard = "shard"
)

// PlannerFailure is one message of the planner failures queue, explained:
// what failed, why, when and after how many attempts, and the event a
// replay re-delivers to the planner.
type PlannerFailure struct {
	// Event is EventTick or EventShard ("" when the event is unreadable).
	Event       string    `json:"event,omitempty"`
	Schedule    string    `json:"schedule,omitempty"`
	ScheduledAt time.Time `json:"scheduled_at,omitzero"`
	RunID       string    `json:"run_id,omitempty"`
	// Shard is the shard's index, for a shard event.
	Shard *int `json:"shard,omitempty"`
	// Source is SourceInvocationRecord, SourceScheduler or SourceUnknown.
	Source string `json:"source"`
	// Condition is why Lambda gave up (RetriesExhausted, EventAgeExceeded)
	// or Scheduler's EXHAUSTED_RETRY_CONDITION.
	Condition string `json:"condition,omitempty"`
	// ErrorType is the error's type (the record's errorType) or
	// Scheduler's ERROR_CODE.
	ErrorType string `json:"error_type,omitempty"`
	// Reason is the error: the record's errorMessage or Scheduler's
	// ERROR_MESSAGE.
	Reason string `json:"reason,omitempty"`
	// Attempts is how often delivery or planning was tried (0: unknown).
	Attempts int `json:"attempts,omitempty"`
	// FailedAt is the record's timestamp (zero for Scheduler's: the
	// message's sent time says when).
	FailedAt time.Time `json:"failed_at,omitzero"`
	// Malformed, when set, is why the message cannot be replayed: it is
	// neither shape, or its event is neither a tick nor a shard event. It
	// is listed and left in the queue; purge it once read.
	Malformed string `json:"malformed,omitempty"`
	// Payload is the event a replay sends the planner: the tick or the
	// shard event (nil when Malformed).
	Payload json.RawMessage `json:"-"`
}

// Replayable reports whether a replay can re-deliver the failure.
func (f PlannerFailure) Replayable() bool { return f.Malformed == "" && len(f.Payload) > 0 }

// What says what failed, for people: "tick of hourly at
// 2026-11-27T09:00:00Z", "shard 3 of run hourly-20261127T090000Z", or
// "unreadable event".
func (f PlannerFailure) What() string {
	switch f.Event {
	case EventTick:
		return fmt.Sprintf("tick of %s at %s", f.Schedule, f.ScheduledAt.UTC().Format(time.RFC3339))
	case EventShard:
		if f.Shard != nil {
			return fmt.Sprintf("shard %d of run %s", *f.Shard, f.RunID)
		}
	}
	return "unreadable event"
}

// Why is the failure's reason for people: the error type and message, the
// condition, or why it is malformed.
func (f PlannerFailure) Why() string {
	why := f.Reason
	if f.ErrorType != "" {
		why = f.ErrorType + ": " + why
	}
	if why == "" {
		why = f.Condition
	}
	if f.Malformed != "" {
		if why != "" {
			return "malformed: " + f.Malformed + " (failed with " + why + ")"
		}
		return "malformed: " + f.Malformed
	}
	if why == "" {
		return "no reason recorded"
	}
	return why
}

// ParsePlannerFailure explains a message of the planner failures queue
// from its body and message attributes. It never fails: a message of
// neither shape comes back with Malformed saying what is wrong.
func ParsePlannerFailure(body string, attrs map[string]string) PlannerFailure {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &probe); err != nil {
		return PlannerFailure{Source: SourceUnknown, Malformed: fmt.Sprintf("the body is not a JSON object (%v): neither an invocation record nor a tick", err)}
	}
	_, hasContext := probe["requestContext"]
	_, hasPayload := probe["requestPayload"]
	if hasContext || hasPayload {
		return parseRecord(body)
	}
	f := PlannerFailure{Source: SourceUnknown}
	if attrs[SchedulerErrorCode] != "" || attrs[SchedulerExecutionID] != "" {
		f.Source = SourceScheduler
		f.ErrorType, f.Reason = attrs[SchedulerErrorCode], attrs[SchedulerErrorMessage]
		f.Condition = attrs[SchedulerRetryCondition]
		if n, err := strconv.Atoi(attrs[SchedulerRetryAttempts]); err == nil && n >= 0 {
			f.Attempts = n + 1 // the first delivery and its retries
		}
	}
	if err := f.setEvent([]byte(body)); err != nil {
		f.Malformed = "neither an invocation record (requestContext, requestPayload) nor a tick or shard event: " + err.Error()
	}
	return f
}

// parseRecord explains an invocation record.
func parseRecord(body string) PlannerFailure {
	f := PlannerFailure{Source: SourceInvocationRecord}
	var r invocationrecord.Record
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		f.Malformed = fmt.Sprintf("an invocation record that does not decode: %v", err)
		return f
	}
	f.Condition, f.Attempts, f.FailedAt = r.RequestContext.Condition, r.RequestContext.ApproximateInvokeCount, r.Timestamp
	if p := r.ResponsePayload; p != nil {
		f.ErrorType, f.Reason = p.ErrorType, p.ErrorMessage
	}
	if len(bytes.TrimSpace(r.RequestPayload)) == 0 {
		f.Malformed = "an invocation record without requestPayload: there is no event to replay"
		return f
	}
	if err := f.setEvent(r.RequestPayload); err != nil {
		f.Malformed = "the record's requestPayload is neither a tick nor a shard event: " + err.Error()
	}
	return f
}

// setEvent reads event as the planner does (planner.HandleEvent: a shard
// event has a shard field, a tick is strict), fills in what it is about
// and keeps it as the payload to replay.
func (f *PlannerFailure) setEvent(event []byte) error {
	var probe struct {
		Shard json.RawMessage `json:"shard"`
	}
	if err := json.Unmarshal(event, &probe); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	if probe.Shard != nil {
		m, err := planner.DecodeShardMessage(event)
		if err != nil {
			return err
		}
		idx := m.Shard.Index
		f.Event, f.Schedule, f.ScheduledAt, f.RunID, f.Shard = EventShard, m.Schedule, m.ScheduledAt.UTC(), m.RunID, &idx
	} else {
		var t planner.Tick
		if err := json.Unmarshal(event, &t); err != nil {
			return err
		}
		at, err := t.Time()
		if err != nil {
			return err
		}
		if t.Schedule == "" {
			return fmt.Errorf("%w: the tick names no schedule", planner.ErrBadTick)
		}
		f.Event, f.Schedule, f.ScheduledAt, f.RunID = EventTick, t.Schedule, at, job.RunID(t.Schedule, at)
	}
	f.Payload = json.RawMessage(bytes.Clone(event))
	return nil
}

// ErrNotReplayable is wrapped by the error a replay reports for a
// malformed planner failure, which it leaves in the queue.
var ErrNotReplayable = errors.New("not replayable")

// explainPlanner fills in a planner failure's letter: its run, its reason
// and the failure itself.
func explainPlanner(l *Letter) {
	f := ParsePlannerFailure(l.Body, l.Attributes)
	l.Planner = &f
	l.RunID, l.TargetID, l.URL = f.RunID, "", ""
	if f.Reason != "" || f.ErrorType != "" || f.Condition != "" || f.Malformed != "" {
		kind := f.ErrorType
		if kind == "" {
			kind = f.Condition
		}
		msg := f.Reason
		if f.Malformed != "" {
			msg = "malformed: " + f.Malformed
		}
		l.LastError = &ErrorInfo{Kind: kind, Message: msg, Attempt: f.Attempts, At: f.FailedAt, Source: f.Source}
	}
}
