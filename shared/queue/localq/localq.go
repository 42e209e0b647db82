// Package localq is the queue port on SQLite, for local mode: named queues
// with the semantics and limits of SQS standard queues (batches, delays,
// receipts, long polling, redrive), shared by goroutines and processes.
//
// Every state change is one IMMEDIATE transaction: no message reaches two
// consumers within its visibility timeout, and it is on disk once sent.
// Unlike SQS: oldest visible first, and durations need not be whole seconds.
package localq

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/sqlite"
)

// MaxReceiveCountLimit is the largest MaxReceiveCount of a redrive policy
// (SQS's; the other limits are the port's, queue.Max*).
const MaxReceiveCountLimit = 1000

// Defaults of Config.
const (
	DefaultVisibilityTimeout = 30 * time.Second
	DefaultRegion            = "local"
)

// pollInterval is how often a long-polling receive looks again for messages
// that no send in this process announced: sends from other processes,
// expired visibility timeouts and elapsed delays.
const pollInterval = 25 * time.Millisecond

// accountID is the account in the ARNs of local queues.
const accountID = "000000000000"

// Config is a queue's configuration.
type Config struct {
	// VisibilityTimeout hides a received message for this long (default 30 s).
	VisibilityTimeout time.Duration
	// MaxReceiveCount is the redrive policy's maxReceiveCount: a message
	// already received this many times goes to DeadLetterQueue instead of
	// being delivered again. Zero means no redrive.
	MaxReceiveCount int
	// DeadLetterQueue names the dead-letter queue, which must exist. It is
	// required with MaxReceiveCount and forbidden without.
	DeadLetterQueue string
	// Region is the region in the queue's ARN (default "local").
	Region string
}

// Backend holds the queues of one SQLite database.
type Backend struct {
	db    *sql.DB
	stmts *sqlite.Stmts // the hot paths' statements, parsed once

	mu      sync.Mutex
	waiters map[string]chan struct{} // per queue, closed when messages may have become visible
}

// Queue is one named queue of a Backend. It implements queue.Queue.
type Queue struct {
	b    *Backend
	name string
	arn  string
}

var _ queue.Queue = (*Queue)(nil)

// schema is localq's first migration.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS localq_queues (
		name              TEXT PRIMARY KEY,
		region            TEXT NOT NULL,
		visibility_ns     INTEGER NOT NULL,
		max_receive_count INTEGER NOT NULL,
		dead_letter_queue TEXT REFERENCES localq_queues (name)
	) STRICT`,
	// seq is the order of arrival. visible_at is when the message may next
	// be received (unix ns); receipt is the handle of its last receive, NULL
	// before its first and after a move to the dead-letter queue. So a
	// message with visible_at in the future is in flight when it has a
	// receipt and delayed when it has none.
	`CREATE TABLE IF NOT EXISTS localq_messages (
		seq               INTEGER PRIMARY KEY,
		queue             TEXT NOT NULL REFERENCES localq_queues (name),
		id                TEXT NOT NULL,
		body              TEXT NOT NULL,
		attributes        TEXT NOT NULL,
		sent_at           INTEGER NOT NULL,
		visible_at        INTEGER NOT NULL,
		receive_count     INTEGER NOT NULL DEFAULT 0,
		first_received_at INTEGER,
		receipt           TEXT
	) STRICT`,
	// Receive reads this index in order from its start: O(batch).
	`CREATE INDEX IF NOT EXISTS localq_messages_ready ON localq_messages (queue, visible_at)`,
}

// New returns the Backend of the queues in db, creating its tables if
// missing. db should come from sqlite.Open.
func New(db *sql.DB) (*Backend, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*sqlite.BusyTimeout)
	defer cancel()
	if err := sqlite.Migrate(ctx, db, "localq/1", schema...); err != nil {
		return nil, fmt.Errorf("localq: %w", err)
	}
	return &Backend{db: db, stmts: sqlite.NewStmts(db), waiters: make(map[string]chan struct{})}, nil
}

// CreateQueue creates the queue called name, or updates its configuration if
// it exists, and returns it.
func (b *Backend) CreateQueue(ctx context.Context, name string, cfg Config) (*Queue, error) {
	if !queue.ValidQueueName(name) {
		return nil, fmt.Errorf("create queue %q: name must be 1 to 80 letters, digits, hyphens or underscores", name)
	}
	if cfg.VisibilityTimeout == 0 {
		cfg.VisibilityTimeout = DefaultVisibilityTimeout
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if err := cfg.check(name); err != nil {
		return nil, fmt.Errorf("create queue %s: %w", name, err)
	}
	err := sqlite.WriteTx(ctx, b.db, func(tx *sql.Tx) error {
		var dlq sql.NullString
		if cfg.DeadLetterQueue != "" {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM localq_queues WHERE name = ?`, cfg.DeadLetterQueue).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("dead-letter queue %s: %w", cfg.DeadLetterQueue, queue.ErrNoQueue)
			}
			dlq = sql.NullString{String: cfg.DeadLetterQueue, Valid: true}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO localq_queues (name, region, visibility_ns, max_receive_count, dead_letter_queue)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET region = excluded.region, visibility_ns = excluded.visibility_ns,
				max_receive_count = excluded.max_receive_count, dead_letter_queue = excluded.dead_letter_queue`,
			name, cfg.Region, int64(cfg.VisibilityTimeout), cfg.MaxReceiveCount, dlq)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create queue %s: %w", name, err)
	}
	return b.queue(name, cfg.Region), nil
}

// check validates a configuration with its defaults filled in.
func (c Config) check(name string) error {
	switch {
	case c.VisibilityTimeout < 0 || c.VisibilityTimeout > queue.MaxVisibility:
		return fmt.Errorf("visibility timeout %v out of range 0 to %v", c.VisibilityTimeout, queue.MaxVisibility)
	case c.MaxReceiveCount < 0 || c.MaxReceiveCount > MaxReceiveCountLimit:
		return fmt.Errorf("max receive count %d out of range 0 to %d", c.MaxReceiveCount, MaxReceiveCountLimit)
	case c.MaxReceiveCount > 0 && c.DeadLetterQueue == "":
		return errors.New("max receive count needs a dead-letter queue")
	case c.MaxReceiveCount == 0 && c.DeadLetterQueue != "":
		return errors.New("dead-letter queue needs a max receive count")
	case c.DeadLetterQueue == name:
		return errors.New("a queue cannot be its own dead-letter queue")
	}
	return nil
}

// Queue returns the queue called name, or an error wrapping queue.ErrNoQueue.
func (b *Backend) Queue(ctx context.Context, name string) (*Queue, error) {
	var region string
	err := b.db.QueryRowContext(ctx, `SELECT region FROM localq_queues WHERE name = ?`, name).Scan(&region)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("queue %s: %w", name, queue.ErrNoQueue)
	}
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", name, err)
	}
	return b.queue(name, region), nil
}

// ListQueues returns the names of all queues, sorted.
func (b *Backend) ListQueues(ctx context.Context) ([]string, error) {
	rows, err := b.db.QueryContext(ctx, `SELECT name FROM localq_queues ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("list queues: %w", err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	return names, nil
}

func (b *Backend) queue(name, region string) *Queue {
	return &Queue{b: b, name: name, arn: fmt.Sprintf("arn:aws:sqs:%s:%s:%s", region, accountID, name)}
}

// signal returns a channel that is closed the next time notify(name) runs.
func (b *Backend) signal(name string) <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch, ok := b.waiters[name]
	if !ok {
		ch = make(chan struct{})
		b.waiters[name] = ch
	}
	return ch
}

// notify wakes the long-polling receives of queue name in this Backend.
func (b *Backend) notify(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ch, ok := b.waiters[name]; ok {
		close(ch)
		delete(b.waiters, name)
	}
}

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

// ARN returns the queue's ARN, arn:aws:sqs:<region>:000000000000:<name>.
func (q *Queue) ARN() string { return q.arn }

// SendBatch sends 1 to 10 messages in one transaction. Entries SQS would
// refuse (queue.CheckOutgoing) fail alone, as sender faults of a
// *queue.BatchError; bad entry IDs fail the whole batch, as on SQS.
func (q *Queue) SendBatch(ctx context.Context, msgs []queue.Outgoing) error {
	if len(msgs) == 0 || len(msgs) > queue.MaxBatch {
		return fmt.Errorf("send batch to %s: %d entries: %w", q.name, len(msgs), queue.ErrBatchTooLarge)
	}
	if err := queue.CheckEntryIDs(msgs); err != nil {
		return fmt.Errorf("send batch to %s: %w", q.name, err)
	}
	var failed []queue.EntryError
	type row struct {
		id, body, attrs string
		delay           time.Duration
	}
	rows := make([]row, 0, len(msgs))
	for _, m := range msgs {
		if _, err := queue.CheckOutgoing(m); err != nil {
			failed = append(failed, queue.EntryError{ID: m.ID, Err: err, SenderFault: true})
			continue
		}
		attrs, err := encodeAttributes(m.Attributes)
		if err != nil {
			failed = append(failed, queue.EntryError{ID: m.ID, Err: err, SenderFault: true})
			continue
		}
		id, err := newMessageID()
		if err != nil {
			return fmt.Errorf("send batch to %s: %w", q.name, err)
		}
		rows = append(rows, row{id: id, body: m.Body, attrs: attrs, delay: m.Delay})
	}
	if len(rows) > 0 {
		err := sqlite.WriteTx(ctx, q.b.db, func(tx *sql.Tx) error {
			if err := q.b.queueExists(ctx, tx, q.name); err != nil {
				return err
			}
			st, err := q.b.stmts.Get(ctx, `INSERT INTO localq_messages (queue, id, body, attributes, sent_at, visible_at)
				VALUES (?, ?, ?, ?, ?, ?)`)
			if err != nil {
				return err
			}
			st = tx.StmtContext(ctx, st)
			now := time.Now().UnixNano()
			for _, r := range rows {
				if _, err := st.ExecContext(ctx, q.name, r.id, r.body, r.attrs, now, now+int64(r.delay)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("send batch to %s: %w", q.name, err)
		}
		q.b.notify(q.name)
	}
	if len(failed) > 0 {
		return fmt.Errorf("send batch to %s: %w", q.name, &queue.BatchError{Failed: failed})
	}
	return nil
}

// encodeAttributes is a message's attributes as stored ("" for none).
func encodeAttributes(attrs map[string]string) (string, error) {
	if len(attrs) == 0 {
		return "", nil
	}
	b, err := json.Marshal(attrs)
	if err != nil {
		return "", fmt.Errorf("encode attributes: %w", err)
	}
	return string(b), nil
}

// Delete deletes the messages whose current receipt handles are given (1 to
// 10). A handle that is no longer current deletes nothing, as on SQS; a
// handle this package did not make fails the whole call with
// queue.ErrReceiptInvalid before anything is deleted.
func (q *Queue) Delete(ctx context.Context, receiptHandles []string) error {
	if len(receiptHandles) == 0 || len(receiptHandles) > queue.MaxBatch {
		return fmt.Errorf("delete from %s: %d handles: %w", q.name, len(receiptHandles), queue.ErrBatchTooLarge)
	}
	type handle struct {
		seq   int64
		token string
	}
	hs := make([]handle, 0, len(receiptHandles))
	for _, rh := range receiptHandles {
		seq, token, err := parseReceipt(rh)
		if err != nil {
			return fmt.Errorf("delete from %s: %w", q.name, err)
		}
		hs = append(hs, handle{seq, token})
	}
	err := sqlite.WriteTx(ctx, q.b.db, func(tx *sql.Tx) error {
		st, err := q.b.stmts.Get(ctx, `DELETE FROM localq_messages WHERE seq = ? AND queue = ? AND receipt = ?`)
		if err != nil {
			return err
		}
		st = tx.StmtContext(ctx, st)
		for _, h := range hs {
			if _, err := st.ExecContext(ctx, h.seq, q.name, h.token); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete from %s: %w", q.name, err)
	}
	return nil
}

// ChangeVisibility hides an in-flight message for d from now (zero: makes
// it visible at once). It returns queue.ErrReceiptInvalid when the handle is
// not the message's current one or the message is not in flight (SQS's
// MessageNotInflight).
func (q *Queue) ChangeVisibility(ctx context.Context, receiptHandle string, d time.Duration) error {
	if d < 0 || d > queue.MaxVisibility {
		return fmt.Errorf("change visibility in %s: %v out of range 0 to %v", q.name, d, queue.MaxVisibility)
	}
	seq, token, err := parseReceipt(receiptHandle)
	if err != nil {
		return fmt.Errorf("change visibility in %s: %w", q.name, err)
	}
	err = sqlite.WriteTx(ctx, q.b.db, func(tx *sql.Tx) error {
		now := time.Now().UnixNano()
		res, err := tx.ExecContext(ctx, `UPDATE localq_messages SET visible_at = ?
			WHERE seq = ? AND queue = ? AND receipt = ? AND visible_at > ?`, now+int64(d), seq, q.name, token, now)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return queue.ErrReceiptInvalid
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("change visibility in %s: %w", q.name, err)
	}
	if d == 0 {
		q.b.notify(q.name)
	}
	return nil
}

// Depth counts the queue's visible, in-flight and delayed messages. The
// visible ones are counted in the ready index alone; only the hidden ones
// (in flight or delayed, usually few) are read from the table, for their
// receipt. (The local pipeline polls the depths of its queues every 50 ms
// while thousands of messages wait.)
func (q *Queue) Depth(ctx context.Context) (queue.Depth, error) {
	var d queue.Depth
	err := q.b.stmts.QueryRow(ctx, nil, `SELECT
			(SELECT count(*) FROM localq_messages WHERE queue = ?2 AND visible_at <= ?1),
			(SELECT count(*) FROM localq_messages WHERE queue = ?2 AND visible_at > ?1 AND receipt IS NOT NULL),
			(SELECT count(*) FROM localq_messages WHERE queue = ?2 AND visible_at > ?1 AND receipt IS NULL)`,
		time.Now().UnixNano(), q.name).Scan(&d.Visible, &d.InFlight, &d.Delayed)
	if err != nil {
		return queue.Depth{}, fmt.Errorf("depth of %s: %w", q.name, err)
	}
	return d, nil
}

// queueExists returns queue.ErrNoQueue unless queue name exists.
func (b *Backend) queueExists(ctx context.Context, tx *sql.Tx, name string) error {
	var n int
	if err := b.stmts.QueryRow(ctx, tx, `SELECT count(*) FROM localq_queues WHERE name = ?`, name).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return queue.ErrNoQueue
	}
	return nil
}
