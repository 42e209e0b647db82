package dlq

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronless/cronless/cmd/cronless/internal/iostreams"
	deadletter "github.com/cronless/cronless/shared/dlq"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/queue"
)

func TestConfirm(t *testing.T) {
	for in, want := range map[string]bool{"y\n": true, "YES\n": true, " yes ": true, "\n": false, "n\n": false, "": false, "maybe\n": false} {
		var out strings.Builder
		if got := confirm(strings.NewReader(in), &out, "Delete?"); got != want || !strings.Contains(out.String(), "Delete? [y/N]") {
			t.Errorf("confirm(%q) = %v, want %v (prompt %q)", in, got, want, out.String())
		}
	}
}

// dlq show marks the attempts made on an earlier message of the job (before
// a replay: the replayed message has a new ID and counts from 1 again).
func TestPrintLetterMarksEarlierAttempts(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	attempt := func(msgID string, n int) job.Attempt {
		return job.Attempt{V: 1, RunID: "r", TargetID: "t", MessageID: msgID, Attempt: n, At: at.Add(time.Duration(n) * time.Minute),
			Error: job.Error{Kind: "http_5xx", Message: "503"}}
	}
	l := deadletter.Letter{ID: "m-now", Queue: "q-dlq", TargetID: "t", RunID: "r", Body: "{}"}
	tests := []struct {
		name     string
		history  []job.Attempt
		table    []string // lines the table must hold
		notTable string
		csv      string // a CSV line it must hold
	}{
		{"same message", []job.Attempt{attempt("m-now", 1), attempt("m-now", 2)},
			[]string{"  1        ", "  2        "}, "earlier message", "m-now,m-now,2,"},
		{"after a replay", []job.Attempt{attempt("m-old", 1), attempt("m-old", 2), attempt("m-now", 1)},
			[]string{"  1*", "  2*", "* made on an earlier message"}, "", "m-now,m-old,2,"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var table, csv strings.Builder
			if err := printLetter(&table, "table", l, tt.history, at); err != nil {
				t.Fatal(err)
			}
			if err := printLetter(&csv, "csv", l, tt.history, at); err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.table {
				if !strings.Contains(table.String(), want) {
					t.Errorf("table lacks %q:\n%s", want, table.String())
				}
			}
			if tt.notTable != "" && strings.Contains(table.String(), tt.notTable) {
				t.Errorf("table has %q:\n%s", tt.notTable, table.String())
			}
			if !strings.Contains(csv.String(), tt.csv) {
				t.Errorf("CSV lacks %q:\n%s", tt.csv, csv.String())
			}
		})
	}
}

// fakeMover is a message move task that moves moved[i] messages by the
// i-th look; toMove is what SQS reports as its total.
type fakeMover struct {
	mu     sync.Mutex
	looks  int
	moved  []int64
	toMove int64
}

func (m *fakeMover) StartMove(ctx context.Context, dst string, perSecond int) (string, error) {
	return "task-1", nil
}

func (m *fakeMover) CancelMove(ctx context.Context, handle string) (int64, error) { return 0, nil }

func (m *fakeMover) ListMoves(ctx context.Context) ([]queue.MoveTask, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := min(m.looks, len(m.moved)-1)
	m.looks++
	t := queue.MoveTask{Handle: "task-1", Status: queue.MoveRunning, Moved: m.moved[i], ToMove: m.toMove}
	if i == len(m.moved)-1 {
		t.Handle, t.Status = "", queue.MoveCompleted
	}
	return []queue.MoveTask{t}, nil
}

// TestWatchMoveProgress watches a move task (dlq replay --all --native,
// which fauxqs cannot run) on a terminal and piped: with a known total and
// with none, the terminal shows the count moved; piped shows nothing.
func TestWatchMoveProgress(t *testing.T) {
	for _, tt := range []struct {
		name   string
		toMove int64
		want   []string // on the terminal
	}{
		{"known total", 50, []string{"moving cronless-targets-dlq", "20/50", "\r"}},
		{"unknown total", -1, []string{"moving cronless-targets-dlq", "20", "\r"}},
		{"total reported as zero", 0, []string{"moving cronless-targets-dlq", "20", "\r"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, terminal := range []bool{true, false} {
				m := &fakeMover{moved: []int64{0, 20, 35, 50}, toMove: tt.toMove}
				ios, _, stdout, errb := iostreams.Test()
				ios.SetStderrTTY(terminal)
				task, err := watchMove(context.Background(), ios, m, "task-1", "moving cronless-targets-dlq", 1)
				stderr := errb.String()
				if err != nil || task.Status != queue.MoveCompleted || task.Moved != 50 {
					t.Fatalf("watchMove = %+v, %v; want completed with 50 moved", task, err)
				}
				if stdout.Len() != 0 {
					t.Errorf("stdout %q; want nothing", stdout.String())
				}
				if !terminal {
					if stderr != "" {
						t.Errorf("piped: stderr %q; want nothing", stderr)
					}
					continue
				}
				for _, want := range tt.want {
					if !strings.Contains(stderr, want) {
						t.Errorf("on a terminal: stderr lacks %q: %q", want, stderr)
					}
				}
			}
		})
	}
}
