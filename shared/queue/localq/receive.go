package localq

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/sqlite"
)

// Receive returns up to opts.Max visible messages, oldest first, and hides
// them for the visibility timeout. With opts.Wait it long-polls: it returns
// as soon as a message is available, or with none when Wait has passed. A
// message already received MaxReceiveCount times is moved to the
// dead-letter queue instead of being delivered.
func (q *Queue) Receive(ctx context.Context, opts queue.ReceiveOptions) ([]queue.Message, error) {
	limit, err := opts.Check()
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", q.name, err)
	}
	deadline := time.Now().Add(opts.Wait)
	for {
		// Take the signal before looking, so that a send committed after
		// the look still wakes the wait below.
		sig := q.b.signal(q.name)
		msgs, err := q.receiveOnce(ctx, limit, opts.Visibility)
		if err != nil {
			if ctx.Err() != nil {
				// The driver reports an interrupted statement in its own words.
				err = ctx.Err()
			}
			return nil, fmt.Errorf("receive from %s: %w", q.name, err)
		}
		left := time.Until(deadline)
		if len(msgs) > 0 || left <= 0 {
			return msgs, nil
		}
		t := time.NewTimer(min(left, pollInterval))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("receive from %s: %w", q.name, ctx.Err())
		case <-sig:
		case <-t.C:
		}
		t.Stop()
	}
}

// receiveOnce is one receive without waiting.
func (q *Queue) receiveOnce(ctx context.Context, limit int, visibility time.Duration) ([]queue.Message, error) {
	// Look first without the write lock: idle long polls then cost a read.
	var ready bool
	err := q.b.stmts.QueryRow(ctx, nil, `SELECT EXISTS (SELECT 1 FROM localq_messages WHERE queue = ? AND visible_at <= ?)`,
		q.name, time.Now().UnixNano()).Scan(&ready)
	if err != nil {
		return nil, err
	}
	if !ready {
		return nil, nil
	}
	var (
		msgs []queue.Message
		dlq  string
	)
	err = sqlite.WriteTx(ctx, q.b.db, func(tx *sql.Tx) error {
		msgs, dlq = nil, ""
		var (
			visNS      int64
			maxReceive int
			dlqName    sql.NullString
		)
		err := q.b.stmts.QueryRow(ctx, tx, `SELECT visibility_ns, max_receive_count, dead_letter_queue FROM localq_queues WHERE name = ?`,
			q.name).Scan(&visNS, &maxReceive, &dlqName)
		if errors.Is(err, sql.ErrNoRows) {
			return queue.ErrNoQueue
		}
		if err != nil {
			return err
		}
		if visibility > 0 {
			visNS = int64(visibility)
		}
		now := time.Now().UnixNano()
		for len(msgs) < limit {
			cands, err := q.b.candidates(ctx, tx, q.name, now, limit-len(msgs))
			if err != nil {
				return err
			}
			moved := 0
			for _, c := range cands {
				if maxReceive > 0 && c.ReceiveCount >= maxReceive && dlqName.Valid {
					if _, err := q.b.stmts.Exec(ctx, tx, `UPDATE localq_messages SET queue = ?, visible_at = ?, receipt = NULL WHERE seq = ?`,
						dlqName.String, now, c.seq); err != nil {
						return fmt.Errorf("move to dead-letter queue %s: %w", dlqName.String, err)
					}
					dlq = dlqName.String
					moved++
					continue
				}
				m, err := q.b.deliver(ctx, tx, c, now, visNS)
				if err != nil {
					return err
				}
				msgs = append(msgs, m)
			}
			if moved == 0 {
				// Either the batch is full or the queue has no more
				// visible messages.
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if dlq != "" {
		q.b.notify(dlq)
	}
	return msgs, nil
}

// candidate is a visible message about to be delivered or dead-lettered.
type candidate struct {
	queue.Message
	seq int64
}

// candidates returns up to n visible messages of queue name, oldest first.
func (b *Backend) candidates(ctx context.Context, tx *sql.Tx, name string, now int64, n int) ([]candidate, error) {
	rows, err := b.stmts.Query(ctx, tx, `SELECT seq, id, body, attributes, sent_at, receive_count, first_received_at
		FROM localq_messages WHERE queue = ? AND visible_at <= ? ORDER BY visible_at, seq LIMIT ?`, name, now, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cs []candidate
	for rows.Next() {
		var (
			c      candidate
			attrs  string
			sentAt int64
			first  sql.NullInt64
		)
		if err := rows.Scan(&c.seq, &c.ID, &c.Body, &attrs, &sentAt, &c.ReceiveCount, &first); err != nil {
			return nil, err
		}
		if attrs != "" {
			if err := json.Unmarshal([]byte(attrs), &c.Attributes); err != nil {
				return nil, fmt.Errorf("decode attributes of message %s: %w", c.ID, err)
			}
		}
		c.SentAt = time.Unix(0, sentAt)
		if first.Valid {
			c.FirstReceivedAt = time.Unix(0, first.Int64)
		}
		cs = append(cs, c)
	}
	return cs, rows.Err()
}

// deliver marks c received now, hidden for visNS, under a new receipt handle.
func (b *Backend) deliver(ctx context.Context, tx *sql.Tx, c candidate, now, visNS int64) (queue.Message, error) {
	token, err := randomHex(16)
	if err != nil {
		return queue.Message{}, err
	}
	m := c.Message
	m.ReceiptHandle = formatReceipt(c.seq, token)
	m.ReceiveCount++
	if m.FirstReceivedAt.IsZero() {
		m.FirstReceivedAt = time.Unix(0, now)
	}
	_, err = b.stmts.Exec(ctx, tx, `UPDATE localq_messages SET receipt = ?, receive_count = ?, first_received_at = ?, visible_at = ?
		WHERE seq = ?`, token, m.ReceiveCount, m.FirstReceivedAt.UnixNano(), now+visNS, c.seq)
	if err != nil {
		return queue.Message{}, fmt.Errorf("deliver message %s: %w", m.ID, err)
	}
	return m, nil
}

// Receipt handles are "<seq>.<token>": the message's row and the random
// token of the receive that made the handle.
const receiptTokenLen = 32

func formatReceipt(seq int64, token string) string {
	return strconv.FormatInt(seq, 10) + "." + token
}

func parseReceipt(rh string) (seq int64, token string, err error) {
	s, token, ok := strings.Cut(rh, ".")
	if ok {
		seq, err = strconv.ParseInt(s, 10, 64)
	}
	if !ok || err != nil || seq <= 0 || len(token) != receiptTokenLen {
		return 0, "", fmt.Errorf("malformed receipt handle %q: %w", rh, queue.ErrReceiptInvalid)
	}
	if _, err := hex.DecodeString(token); err != nil {
		return 0, "", fmt.Errorf("malformed receipt handle %q: %w", rh, queue.ErrReceiptInvalid)
	}
	return seq, token, nil
}

// newMessageID returns a random (version 4) UUID.
func newMessageID() (string, error) {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", fmt.Errorf("message ID: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("receipt handle: %w", err)
	}
	return hex.EncodeToString(b), nil
}
