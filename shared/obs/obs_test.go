package obs_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/cronless/cronless/shared/obs"
)

func TestJSONLinesCarryCorrelationFields(t *testing.T) {
	var buf bytes.Buffer
	log := obs.New(&buf, obs.JSON, zapcore.InfoLevel)
	log.With(obs.RunID("hourly-20261127T090000Z"), obs.TargetID("example")).Info("crawled", obs.MessageID("m-1"), zap.Int("http_status", 200))
	log.Debug("hidden below the level")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d lines, want 1: %q", len(lines), buf.String())
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatalf("not a JSON line: %v", err)
	}
	for k, want := range map[string]any{"msg": "crawled", "level": "info", "run_id": "hourly-20261127T090000Z", "target_id": "example", "message_id": "m-1", "http_status": 200.0} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	if _, ok := got["time"]; !ok {
		t.Error("no time field")
	}
}

func TestConsoleIsForPeople(t *testing.T) {
	var buf bytes.Buffer
	obs.New(&buf, obs.Console, zapcore.WarnLevel).Warn("retrying", obs.TargetID("example"))
	out := buf.String()
	if strings.HasPrefix(out, "{") || !strings.Contains(out, "retrying") || !strings.Contains(out, "example") {
		t.Errorf("console line %q", out)
	}
}
