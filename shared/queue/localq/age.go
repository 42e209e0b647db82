package localq

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// OldestAge is the age of the queue's oldest message, in flight and
// delayed ones included, and false when the queue is empty: SQS's
// ApproximateAgeOfOldestMessage, which `cronless status` shows. A message
// moved to the dead-letter queue keeps its sent time, so a DLQ's age is how
// long its oldest dead letter has waited since it was first sent, as on SQS.
func (q *Queue) OldestAge(ctx context.Context) (time.Duration, bool, error) {
	var sent sql.NullInt64
	err := q.b.db.QueryRowContext(ctx, `SELECT min(sent_at) FROM localq_messages WHERE queue = ?`, q.name).Scan(&sent)
	if err != nil {
		return 0, false, fmt.Errorf("age of the oldest message of %s: %w", q.name, err)
	}
	if !sent.Valid {
		return 0, false, nil
	}
	return max(0, time.Since(time.Unix(0, sent.Int64))), true, nil
}
