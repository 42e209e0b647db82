package queue

import "time"

// MoveTask is one of SQS's message move tasks (StartMessageMoveTask), which
// redrive a dead-letter queue. sqsq runs them; package dlq drives them.
type MoveTask struct {
	// Handle identifies a running task; SQS gives none for a finished one.
	Handle string
	// Status is one of the Move* statuses.
	Status         string
	SourceARN      string
	DestinationARN string // empty: back to each message's source queue
	// MaxPerSecond is the task's rate limit (0: chosen by SQS).
	MaxPerSecond int
	Moved        int64
	// ToMove is -1 when SQS does not report it (yet).
	ToMove        int64
	FailureReason string
	StartedAt     time.Time
}

// MaxMovePerSecond is the highest rate SQS accepts for a move task.
const MaxMovePerSecond = 500

// Statuses of a MoveTask.
const (
	MoveRunning    = "RUNNING"
	MoveCompleted  = "COMPLETED"
	MoveCancelling = "CANCELLING"
	MoveCancelled  = "CANCELLED"
	MoveFailed     = "FAILED"
)

// Running reports whether the task has not finished.
func (t MoveTask) Running() bool { return t.Status == MoveRunning || t.Status == MoveCancelling }
