package sqsq

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/cronless/cronless/shared/queue"
)

// moveAPI returns the client of the move-task methods.
func (q *Queue) moveAPI(op string) (MoveAPI, error) {
	if q.moves == nil {
		return nil, fmt.Errorf("%s %s: %w (the client has no move-task API; see WithMoveAPI)", op, q.name, ErrMovesUnsupported)
	}
	return q.moves, nil
}

// StartMove starts a message move task that moves this queue's messages
// (it must be a dead-letter queue) to destinationARN, or back to each
// message's source queue when destinationARN is empty, at most
// maxPerSecond messages a second (0: as SQS sees fit; at most 500). It
// returns the task's handle.
func (q *Queue) StartMove(ctx context.Context, destinationARN string, maxPerSecond int) (string, error) {
	m, err := q.moveAPI("start move from")
	if err != nil {
		return "", err
	}
	if maxPerSecond < 0 || maxPerSecond > queue.MaxMovePerSecond {
		return "", fmt.Errorf("start move from %s: %d messages a second out of range 0 to %d", q.name, maxPerSecond, queue.MaxMovePerSecond)
	}
	src, err := q.ResolveARN(ctx)
	if err != nil {
		return "", fmt.Errorf("start move from %s: %w", q.name, err)
	}
	in := &sqs.StartMessageMoveTaskInput{SourceArn: aws.String(src)}
	if destinationARN != "" {
		in.DestinationArn = aws.String(destinationARN)
	}
	if maxPerSecond > 0 {
		in.MaxNumberOfMessagesPerSecond = aws.Int32(int32(maxPerSecond))
	}
	out, err := m.StartMessageMoveTask(ctx, in, safeBody)
	if err != nil {
		return "", fmt.Errorf("start move from %s: %w", q.name, mapErr(err))
	}
	if aws.ToString(out.TaskHandle) == "" {
		return "", fmt.Errorf("start move from %s: no task handle in the response", q.name)
	}
	return *out.TaskHandle, nil
}

// ListMoves lists the most recent move tasks of this queue (up to 10, as
// SQS keeps), the newest first.
func (q *Queue) ListMoves(ctx context.Context) ([]queue.MoveTask, error) {
	m, err := q.moveAPI("list moves of")
	if err != nil {
		return nil, err
	}
	src, err := q.ResolveARN(ctx)
	if err != nil {
		return nil, fmt.Errorf("list moves of %s: %w", q.name, err)
	}
	out, err := m.ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: aws.String(src), MaxResults: aws.Int32(10)}, safeBody)
	if err != nil {
		return nil, fmt.Errorf("list moves of %s: %w", q.name, mapErr(err))
	}
	tasks := make([]queue.MoveTask, 0, len(out.Results))
	for _, r := range out.Results {
		t := queue.MoveTask{
			Handle:         aws.ToString(r.TaskHandle),
			Status:         aws.ToString(r.Status),
			SourceARN:      aws.ToString(r.SourceArn),
			DestinationARN: aws.ToString(r.DestinationArn),
			MaxPerSecond:   int(aws.ToInt32(r.MaxNumberOfMessagesPerSecond)),
			Moved:          r.ApproximateNumberOfMessagesMoved,
			ToMove:         -1,
			FailureReason:  aws.ToString(r.FailureReason),
		}
		if r.ApproximateNumberOfMessagesToMove != nil {
			t.ToMove = *r.ApproximateNumberOfMessagesToMove
		}
		if r.StartedTimestamp > 0 {
			t.StartedAt = time.UnixMilli(r.StartedTimestamp)
		}
		tasks = append(tasks, t)
	}
	return tasks, nil
}

// CancelMove cancels a running move task by its handle and returns how
// many messages it had moved. Moved messages stay moved.
func (q *Queue) CancelMove(ctx context.Context, taskHandle string) (int64, error) {
	m, err := q.moveAPI("cancel move of")
	if err != nil {
		return 0, err
	}
	if taskHandle == "" {
		return 0, fmt.Errorf("cancel move of %s: empty task handle", q.name)
	}
	out, err := m.CancelMessageMoveTask(ctx, &sqs.CancelMessageMoveTaskInput{TaskHandle: aws.String(taskHandle)}, safeBody)
	if err != nil {
		return 0, fmt.Errorf("cancel move of %s: %w", q.name, mapErr(err))
	}
	return out.ApproximateNumberOfMessagesMoved, nil
}
