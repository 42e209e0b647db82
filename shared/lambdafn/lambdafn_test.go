package lambdafn_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"go.uber.org/zap/zapcore"

	"github.com/cronless/cronless/shared/lambdafn"
	"github.com/cronless/cronless/shared/obs"
)

func TestEnvNamesEveryProblem(t *testing.T) {
	vars := map[string]string{
		"TABLE_NAME":    "cronless-dev",
		"BAD_QUEUE":     "not a url",
		"RETRY_DELAY":   "soon",
		"CONCURRENCY":   "1000",
		"ALLOW_PRIVATE": "maybe",
		"LOG_LEVEL":     "loud",
	}
	env := lambdafn.NewEnv(func(k string) string { return vars[k] })
	if got := env.Required("TABLE_NAME", "the table"); got != "cronless-dev" {
		t.Errorf("TABLE_NAME = %q", got)
	}
	env.Required("RESULTS_QUEUE_URL", "the results queue")
	env.QueueURL("BAD_QUEUE", "a queue")
	if d := env.Duration("RETRY_DELAY", time.Second, 0, time.Hour); d != time.Second {
		t.Errorf("a bad duration gives %s, want the default", d)
	}
	env.Int("CONCURRENCY", 10, 1, 100)
	env.Bool("ALLOW_PRIVATE", false)
	if l := env.Level(); l != zapcore.InfoLevel {
		t.Errorf("bad LOG_LEVEL gives %s, want info", l)
	}
	err := env.Err()
	if !errors.Is(err, lambdafn.ErrConfig) {
		t.Fatalf("Err = %v, want ErrConfig", err)
	}
	for _, want := range []string{"RESULTS_QUEUE_URL is not set (the results queue)", `BAD_QUEUE="not a url" is not a queue URL`,
		`RETRY_DELAY="soon"`, `CONCURRENCY="1000"`, `ALLOW_PRIVATE="maybe"`, `LOG_LEVEL="loud"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "TABLE_NAME") {
		t.Errorf("error names a good variable: %v", err)
	}
}

func TestEnvDefaultsAndGoodValues(t *testing.T) {
	vars := map[string]string{"Q": "https://sqs.us-east-1.amazonaws.com/123456789012/cronless-dev-targets", "D": "2m", "N": "7", "B": "true"}
	env := lambdafn.NewEnv(func(k string) string { return vars[k] })
	if env.QueueURL("Q", "") == "" || env.Duration("D", 0, 0, time.Hour) != 2*time.Minute || env.Int("N", 1, 1, 10) != 7 ||
		!env.Bool("B", false) || env.String("UNSET", "def") != "def" || env.Duration("UNSET", 3*time.Second, 0, time.Hour) != 3*time.Second {
		t.Error("good values or defaults not returned")
	}
	if err := env.Err(); err != nil {
		t.Errorf("Err = %v, want nil", err)
	}
}

func TestWrapLogsRequestIDAndColdStart(t *testing.T) {
	var buf bytes.Buffer
	log := obs.New(&buf, obs.JSON, zapcore.InfoLevel)
	h := lambdafn.Wrap(log, func(ctx context.Context, in string) (string, error) {
		obs.FromContext(ctx, nil).Info("handled")
		return in, nil
	})
	for _, id := range []string{"req-1", "req-2"} {
		ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: id})
		if _, err := h(ctx, "x"); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	for i, want := range []struct {
		id   string
		cold bool
	}{{"req-1", true}, {"req-2", false}} {
		var got map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
			t.Fatal(err)
		}
		if got["request_id"] != want.id || got["cold_start"] != want.cold {
			t.Errorf("line %d = %v, want request_id %s cold_start %v", i, got, want.id, want.cold)
		}
	}
}

func TestFunctionMemoryAndLimit(t *testing.T) {
	tests := []struct {
		name      string
		vars      map[string]string
		mb        int
		setLimit  int64
		wantLimit int64 // math.MaxInt64: none
		problem   bool
	}{
		{name: "not on Lambda", vars: nil, mb: 0, setLimit: 0, wantLimit: math.MaxInt64},
		{name: "512 MB", vars: map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512"}, mb: 512, setLimit: 300 << 20, wantLimit: 300 << 20},
		{name: "GOMEMLIMIT set wins", vars: map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512", "GOMEMLIMIT": "100MiB"}, mb: 512, setLimit: 300 << 20, wantLimit: math.MaxInt64},
		{name: "not a size", vars: map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "lots"}, mb: 0, wantLimit: math.MaxInt64, problem: true},
		{name: "below Lambda's least", vars: map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "64"}, mb: 0, wantLimit: math.MaxInt64, problem: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// This process's limit: none unless a test sets it; put back after.
			defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
			env := lambdafn.NewEnv(func(k string) string { return tc.vars[k] })
			if got := env.FunctionMemoryMB(); got != tc.mb {
				t.Errorf("FunctionMemoryMB() = %d, want %d", got, tc.mb)
			}
			if got := env.SetMemoryLimit(tc.setLimit); got != tc.wantLimit {
				t.Errorf("SetMemoryLimit(%d) = %d, want %d", tc.setLimit, got, tc.wantLimit)
			}
			if err := env.Err(); (err != nil) != tc.problem {
				t.Errorf("Err() = %v, want a problem: %v", err, tc.problem)
			} else if err != nil && !strings.Contains(err.Error(), "AWS_LAMBDA_FUNCTION_MEMORY_SIZE") {
				t.Errorf("Err() = %v, does not name the variable", err)
			}
		})
	}
}
