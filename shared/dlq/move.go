package dlq

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cronless/cronless/shared/queue"
)

// Mover runs SQS's message move tasks of one dead-letter queue; package
// sqsq's *Queue satisfies it.
type Mover interface {
	// StartMove starts moving every message to destinationARN ("" : back
	// to each message's source queue), at most maxPerSecond a second (0:
	// as SQS sees fit), and returns the task's handle.
	StartMove(ctx context.Context, destinationARN string, maxPerSecond int) (string, error)
	// ListMoves returns the queue's recent tasks, newest first.
	ListMoves(ctx context.Context) ([]queue.MoveTask, error)
	// CancelMove cancels a running task and returns how many it moved.
	CancelMove(ctx context.Context, handle string) (int64, error)
}

// ErrNoRunningMove: the queue has no running move task to cancel.
var ErrNoRunningMove = errors.New("no running move task")

// StartMove starts a move task of every message back to its source queue.
// It refuses when a task is already running (SQS allows one per queue) and
// names its handle.
func StartMove(ctx context.Context, m Mover, maxPerSecond int) (string, error) {
	if maxPerSecond < 0 || maxPerSecond > queue.MaxMovePerSecond {
		return "", fmt.Errorf("rate %d out of range 0 to %d", maxPerSecond, queue.MaxMovePerSecond)
	}
	tasks, err := m.ListMoves(ctx)
	if err != nil {
		return "", err
	}
	for _, t := range tasks {
		if t.Running() {
			return "", fmt.Errorf("a move task is already %s (handle %s, %d moved); wait for it or cancel it", t.Status, t.Handle, t.Moved)
		}
	}
	return m.StartMove(ctx, "", maxPerSecond)
}

// WatchMove polls the move task with the given handle every interval,
// telling progress (if set) each time, until the task finishes or ctx is
// done, and returns its last state. A finished task has no handle any
// more; it is then the queue's newest task (SQS runs one at a time).
func WatchMove(ctx context.Context, m Mover, handle string, interval time.Duration, progress func(queue.MoveTask)) (queue.MoveTask, error) {
	var last queue.MoveTask
	for {
		tasks, err := m.ListMoves(ctx)
		if err != nil {
			return last, err
		}
		found := false
		for _, t := range tasks {
			if t.Handle == handle {
				last, found = t, true
				break
			}
		}
		if !found && len(tasks) > 0 && !tasks[0].Running() {
			last, found = tasks[0], true
		}
		if !found {
			return last, fmt.Errorf("move task %s is not among the queue's tasks", handle)
		}
		if progress != nil {
			progress(last)
		}
		if !last.Running() {
			return last, nil
		}
		if err := sleep(ctx, interval); err != nil {
			return last, err
		}
	}
}

// CancelMove cancels the move task with the given handle, or the queue's
// running task when handle is empty (ErrNoRunningMove when there is none),
// and returns the handle and how many messages it had moved. Moved messages
// stay moved.
func CancelMove(ctx context.Context, m Mover, handle string) (string, int64, error) {
	if handle == "" {
		tasks, err := m.ListMoves(ctx)
		if err != nil {
			return "", 0, err
		}
		for _, t := range tasks {
			if t.Status == queue.MoveRunning && t.Handle != "" {
				handle = t.Handle
				break
			}
		}
		if handle == "" {
			return "", 0, ErrNoRunningMove
		}
	}
	n, err := m.CancelMove(ctx, handle)
	return handle, n, err
}
