package queue_test

import (
	"strings"
	"testing"

	"github.com/cronless/cronless/shared/queue"
)

func TestValidNames(t *testing.T) {
	cases := []struct {
		name  string
		check func(string) bool
		in    string
		want  bool
	}{
		{"entry ID", queue.ValidEntryID, "job-1_a", true},
		{"entry ID 80", queue.ValidEntryID, strings.Repeat("a", 80), true},
		{"entry ID 81", queue.ValidEntryID, strings.Repeat("a", 81), false},
		{"entry ID empty", queue.ValidEntryID, "", false},
		{"entry ID period", queue.ValidEntryID, "a.b", false},
		{"entry ID non-ASCII", queue.ValidEntryID, "é", false},
		{"queue name", queue.ValidQueueName, "cronless-prod-targets_dlq", true},
		{"queue name 81", queue.ValidQueueName, strings.Repeat("q", 81), false},
		{"queue name period", queue.ValidQueueName, "q.fifo", false},
		{"attribute", queue.ValidAttributeName, "run_id", true},
		{"attribute with periods", queue.ValidAttributeName, "a.b-c_d", true},
		{"attribute 256", queue.ValidAttributeName, strings.Repeat("a", 256), true},
		{"attribute 257", queue.ValidAttributeName, strings.Repeat("a", 257), false},
		{"attribute empty", queue.ValidAttributeName, "", false},
		{"attribute leading period", queue.ValidAttributeName, ".a", false},
		{"attribute trailing period", queue.ValidAttributeName, "a.", false},
		{"attribute double period", queue.ValidAttributeName, "a..b", false},
		{"attribute AWS. prefix", queue.ValidAttributeName, "AWS.TraceHeader", false},
		{"attribute amazon. prefix", queue.ValidAttributeName, "amazon.x", false},
		{"attribute space", queue.ValidAttributeName, "a b", false},
		{"text", queue.ValidText, "tab\there\nπ 😀", true},
		{"text NUL", queue.ValidText, "a\x00b", false},
		{"text invalid UTF-8", queue.ValidText, "a\xffb", false},
		{"text U+FFFE", queue.ValidText, "\uFFFE", false},
	}
	for _, c := range cases {
		if got := c.check(c.in); got != c.want {
			t.Errorf("%s: %q = %v, want %v", c.name, c.in, got, c.want)
		}
	}
}
