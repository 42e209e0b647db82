package sqsq

import (
	"context"
	"errors"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// fakeAPI is a scripted API: each operation calls its function, if set,
// and records the inputs it was given.
type fakeAPI struct {
	mu sync.Mutex

	send    func(call int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error)
	receive func(in *sqs.ReceiveMessageInput) (*sqs.ReceiveMessageOutput, error)
	del     func(call int, in *sqs.DeleteMessageBatchInput) (*sqs.DeleteMessageBatchOutput, error)
	change  func(in *sqs.ChangeMessageVisibilityInput) error
	attrs   func(in *sqs.GetQueueAttributesInput) (map[string]string, error)

	sends    []*sqs.SendMessageBatchInput
	receives []*sqs.ReceiveMessageInput
	deletes  []*sqs.DeleteMessageBatchInput
	changes  []*sqs.ChangeMessageVisibilityInput
	getAttrs []*sqs.GetQueueAttributesInput
}

var errNotScripted = errors.New("fake: operation not scripted")

func (f *fakeAPI) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	f.mu.Lock()
	f.sends = append(f.sends, in)
	call := len(f.sends)
	f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if f.send == nil {
		return acceptAll(in), nil
	}
	return f.send(call, in)
}

func (f *fakeAPI) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	f.mu.Lock()
	f.receives = append(f.receives, in)
	f.mu.Unlock()
	if f.receive == nil {
		return nil, errNotScripted
	}
	return f.receive(in)
}

func (f *fakeAPI) DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	f.mu.Lock()
	f.deletes = append(f.deletes, in)
	call := len(f.deletes)
	f.mu.Unlock()
	if f.del == nil {
		out := &sqs.DeleteMessageBatchOutput{}
		for _, e := range in.Entries {
			out.Successful = append(out.Successful, types.DeleteMessageBatchResultEntry{Id: e.Id})
		}
		return out, nil
	}
	return f.del(call, in)
}

func (f *fakeAPI) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	f.mu.Lock()
	f.changes = append(f.changes, in)
	f.mu.Unlock()
	if f.change != nil {
		if err := f.change(in); err != nil {
			return nil, err
		}
	}
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func (f *fakeAPI) GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	f.mu.Lock()
	f.getAttrs = append(f.getAttrs, in)
	f.mu.Unlock()
	if f.attrs == nil {
		return nil, errNotScripted
	}
	a, err := f.attrs(in)
	if err != nil {
		return nil, err
	}
	return &sqs.GetQueueAttributesOutput{Attributes: a}, nil
}

// sentIDs returns the entry IDs of every SendMessageBatch request, in order.
func (f *fakeAPI) sentIDs() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids [][]string
	for _, in := range f.sends {
		var req []string
		for _, e := range in.Entries {
			req = append(req, aws.ToString(e.Id))
		}
		ids = append(ids, req)
	}
	return ids
}

// acceptAll answers a send with every entry successful.
func acceptAll(in *sqs.SendMessageBatchInput) *sqs.SendMessageBatchOutput {
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("mid-" + aws.ToString(e.Id))})
	}
	return out
}

// failSome answers a send with the entries in fail failed as given, and
// the others successful.
func failSome(in *sqs.SendMessageBatchInput, fail map[string]types.BatchResultErrorEntry) *sqs.SendMessageBatchOutput {
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		id := aws.ToString(e.Id)
		if f, ok := fail[id]; ok {
			f.Id = aws.String(id)
			out.Failed = append(out.Failed, f)
			continue
		}
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("mid-" + id)})
	}
	return out
}

// fakeMoves is a MoveAPI recording its inputs.
type fakeMoves struct {
	starts  []*sqs.StartMessageMoveTaskInput
	lists   []*sqs.ListMessageMoveTasksInput
	cancels []*sqs.CancelMessageMoveTaskInput

	list []types.ListMessageMoveTasksResultEntry
	err  error
}

func (f *fakeMoves) StartMessageMoveTask(ctx context.Context, in *sqs.StartMessageMoveTaskInput, _ ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error) {
	f.starts = append(f.starts, in)
	if f.err != nil {
		return nil, f.err
	}
	return &sqs.StartMessageMoveTaskOutput{TaskHandle: aws.String("task-1")}, nil
}

func (f *fakeMoves) ListMessageMoveTasks(ctx context.Context, in *sqs.ListMessageMoveTasksInput, _ ...func(*sqs.Options)) (*sqs.ListMessageMoveTasksOutput, error) {
	f.lists = append(f.lists, in)
	if f.err != nil {
		return nil, f.err
	}
	return &sqs.ListMessageMoveTasksOutput{Results: f.list}, nil
}

func (f *fakeMoves) CancelMessageMoveTask(ctx context.Context, in *sqs.CancelMessageMoveTaskInput, _ ...func(*sqs.Options)) (*sqs.CancelMessageMoveTaskOutput, error) {
	f.cancels = append(f.cancels, in)
	if f.err != nil {
		return nil, f.err
	}
	return &sqs.CancelMessageMoveTaskOutput{ApproximateNumberOfMessagesMoved: 42}, nil
}
