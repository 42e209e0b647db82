package logs_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/cronless/cronless/shared/logs"
	"github.com/cronless/cronless/shared/obs"
)

func TestParseAndMarshalRoundTrip(t *testing.T) {
	line := `{"level":"warn","time":"2026-12-07T05:00:00.123456789Z","msg":"crawl failed, will retry","function":"worker","run_id":"r","target_id":"t","message_id":"m","attempt":2,"kind":"http_5xx"}`
	r, err := logs.Parse([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if r.Function != "worker" || r.RunID != "r" || r.TargetID != "t" || r.MessageID != "m" || r.LevelOf() != zapcore.WarnLevel || r.Time.Nanosecond() != 123456789 {
		t.Errorf("parsed %+v", r)
	}
	if got := r.CompactFields(); got != "attempt=2 kind=http_5xx" {
		t.Errorf("fields %q", got)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var a, want map[string]any
	_ = json.Unmarshal(b, &a)
	_ = json.Unmarshal([]byte(line), &want)
	if len(a) != len(want) {
		t.Errorf("round trip %s, want %s", b, line)
	}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("%s = %v, want %v", k, a[k], v)
		}
	}
	if _, err := logs.Parse([]byte("START RequestId: 1 Version: $LATEST")); err == nil {
		t.Error("a platform line parsed as a record")
	}
}

func TestFilter(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	planned := logs.Record{Function: "planner", Level: "info", RunID: "r1", Time: t0}
	a := logs.Record{Function: "worker", Level: "warn", RunID: "r1", TargetID: "a", Time: t0.Add(time.Second)}
	b := logs.Record{Function: "results", Level: "info", RunID: "r1", TargetID: "b", Time: t0.Add(2 * time.Second)}
	other := logs.Record{Function: "planner", Level: "info", RunID: "r2", Time: t0.Add(3 * time.Second)}
	all := []logs.Record{planned, a, b, other}
	tests := []struct {
		name string
		f    logs.Filter
		want []logs.Record
	}{
		{"all", logs.Filter{MinLevel: zapcore.DebugLevel}, all},
		{"run", logs.Filter{RunID: "r1"}, []logs.Record{planned, a, b}},
		{"run and target: the target's lines and the run's own", logs.Filter{RunID: "r1", TargetID: "a"}, []logs.Record{planned, a}},
		{"target alone", logs.Filter{TargetID: "a"}, []logs.Record{a}},
		{"function", logs.Filter{Function: "planner"}, []logs.Record{planned, other}},
		{"level", logs.Filter{MinLevel: zapcore.WarnLevel}, []logs.Record{a}},
		{"since", logs.Filter{Since: t0.Add(2 * time.Second)}, []logs.Record{b, other}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []logs.Record
			for _, r := range all {
				if tt.f.Match(r) {
					got = append(got, r)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d records, want %d: %+v", len(got), len(tt.want), got)
			}
			for i := range got {
				if got[i].Time != tt.want[i].Time {
					t.Errorf("record %d: %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// The file keeps the newest records within its bound, across rotations,
// and a Tail reads each record once.
func TestFileIsBoundedAndTailed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "local.db.logs")
	w := logs.NewFile(dir, logs.FileOptions{MaxMiB: 1, Backups: 1})
	defer w.Close()
	log := logs.Tee(zap.NewNop(), w, zapcore.InfoLevel)
	tail := &logs.Tail{Dir: dir}
	pad := strings.Repeat("x", 1000)
	seen := map[int]bool{}
	n := 0
	for round := 0; round < 4; round++ {
		for i := 0; i < 1000; i++ { // ~1 MiB a round
			log.Info("line", zap.Int("n", n), zap.String("pad", pad), obs.RunID("r"))
			log.Debug("below the file's level")
			n++
		}
		rs, err := tail.Poll(logs.Filter{RunID: "r"})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			k, _ := r.Fields["n"].(json.Number).Int64()
			if seen[int(k)] {
				t.Fatalf("round %d: record %d read twice", round, k)
			}
			seen[int(k)] = true
		}
	}
	if len(seen) != n {
		t.Errorf("tail read %d records of %d", len(seen), n)
	}
	var total int64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fi, _ := e.Info()
		total += fi.Size()
	}
	if total > 2<<20 || len(entries) != 2 {
		t.Errorf("%d files of %d bytes in all, want 2 of at most 2 MiB", len(entries), total)
	}
	rs, err := (&logs.Tail{Dir: dir}).Poll(logs.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	last, _ := rs[len(rs)-1].Fields["n"].(json.Number).Int64()
	if int(last) != n-1 || len(rs) < 1000 {
		t.Errorf("kept %d records ending with %d; want the newest, ending with %d", len(rs), last, n-1)
	}
}
