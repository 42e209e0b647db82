// Package lambdafn is what the three Lambda functions share beyond their
// handler cores: reading configuration from the environment once at cold
// start (reporting every problem at once), the AWS SDK configuration, and
// a handler wrapper that logs with the Lambda request ID, the function name
// and the cold-start flag.
//
// It must not link SQLite or the local runtime: the Lambda binaries stay
// small.
package lambdafn

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/cronless/cronless/shared/obs"
)

// Env reads configuration variables and collects every problem, so one
// init error can name them all.
type Env struct {
	getenv   func(string) string
	problems []string
}

// NewEnv reads variables with getenv (os.Getenv in a function).
func NewEnv(getenv func(string) string) *Env { return &Env{getenv: getenv} }

// Required returns a variable that must be set; what says what it is.
func (e *Env) Required(name, what string) string {
	v := strings.TrimSpace(e.getenv(name))
	if v == "" {
		e.problems = append(e.problems, fmt.Sprintf("%s is not set (%s)", name, what))
	}
	return v
}

// QueueURL returns a required variable that must be an SQS queue URL.
func (e *Env) QueueURL(name, what string) string {
	v := e.Required(name, what)
	if v == "" {
		return ""
	}
	if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.Trim(u.Path, "/") == "" {
		e.problems = append(e.problems, fmt.Sprintf("%s=%q is not a queue URL (want https://sqs.<region>.amazonaws.com/<account>/<queue>)", name, v))
	}
	return v
}

// String returns a variable, or def when it is not set.
func (e *Env) String(name, def string) string {
	if v := strings.TrimSpace(e.getenv(name)); v != "" {
		return v
	}
	return def
}

// Duration returns a Go duration variable within [lo, hi], or def.
func (e *Env) Duration(name string, def, lo, hi time.Duration) time.Duration {
	return bounded(e, name, def, lo, hi, time.ParseDuration,
		fmt.Sprintf("a duration between %s and %s (e.g. 30s, 2m)", lo, hi))
}

// Int returns an integer variable within [lo, hi], or def.
func (e *Env) Int(name string, def, lo, hi int) int {
	return bounded(e, name, def, lo, hi, strconv.Atoi, fmt.Sprintf("a whole number between %d and %d", lo, hi))
}

// bounded returns variable name parsed by parse when it is within [lo, hi],
// or def; want says what it should be, for the problem of one that is not.
func bounded[T cmp.Ordered](e *Env, name string, def, lo, hi T, parse func(string) (T, error), want string) T {
	v := strings.TrimSpace(e.getenv(name))
	if v == "" {
		return def
	}
	n, err := parse(v)
	if err != nil || n < lo || n > hi {
		e.problems = append(e.problems, fmt.Sprintf("%s=%q is not %s", name, v, want))
		return def
	}
	return n
}

// Bool returns a boolean variable (true/false, 1/0), or def.
func (e *Env) Bool(name string, def bool) bool {
	v := strings.TrimSpace(e.getenv(name))
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.problems = append(e.problems, fmt.Sprintf("%s=%q is not true or false", name, v))
		return def
	}
	return b
}

// Level returns the LOG_LEVEL variable (default info).
func (e *Env) Level() zapcore.Level {
	v := e.String("LOG_LEVEL", "info")
	var l zapcore.Level
	if err := l.Set(v); err != nil {
		e.problems = append(e.problems, fmt.Sprintf("LOG_LEVEL=%q is not one of debug, info, warn, error", v))
		return zapcore.InfoLevel
	}
	return l
}

// FunctionMemoryMB is the function's memory, AWS_LAMBDA_FUNCTION_MEMORY_SIZE
// (MB, set by Lambda: 128 to 10240); 0 when it is not set (a test).
func (e *Env) FunctionMemoryMB() int {
	return e.Int("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 0, 128, 10240)
}

// SetMemoryLimit sets the Go runtime's soft memory limit to limit bytes
// (runtime/debug.SetMemoryLimit), unless the GOMEMLIMIT variable is set,
// which the runtime has read and which wins, or limit is not positive. It
// returns the limit in effect (math.MaxInt64: none).
func (e *Env) SetMemoryLimit(limit int64) int64 {
	if strings.TrimSpace(e.getenv("GOMEMLIMIT")) == "" && limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	return debug.SetMemoryLimit(-1)
}

// ErrConfig is wrapped by the error of a bad configuration.
var ErrConfig = errors.New("bad configuration")

// Err returns one error naming every problem found, or nil.
func (e *Env) Err() error {
	if len(e.problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrConfig, strings.Join(e.problems, "; "))
}

// Logger is the function's JSON logger at the given level, with its name.
func Logger(function string, level zapcore.Level) *zap.Logger {
	return obs.New(os.Stdout, obs.JSON, level).With(zap.String("function", function))
}

// Fail reports an init error to the Lambda runtime API, so the function's
// init fails with msg (and every invocation says why), and exits. It is
// called before lambda.Start, never on the request path.
func Fail(function string, err error) {
	msg := fmt.Sprintf("%s: %v", function, err)
	fmt.Fprintln(os.Stderr, msg)
	if api := os.Getenv("AWS_LAMBDA_RUNTIME_API"); api != "" {
		body, _ := json.Marshal(map[string]any{"errorMessage": msg, "errorType": "Runtime.InitError"})
		req, rerr := http.NewRequest(http.MethodPost, "http://"+api+"/2018-06-01/runtime/init/error", bytes.NewReader(body))
		if rerr == nil {
			req.Header.Set("Lambda-Runtime-Function-Error-Type", "Runtime.InitError")
			req.Header.Set("Content-Type", "application/json")
			client := &http.Client{Timeout: 2 * time.Second}
			if resp, perr := client.Do(req); perr == nil {
				resp.Body.Close()
			}
		}
	}
	os.Exit(1)
}

// cold is true until the first invocation of this process has started.
var cold atomic.Bool

func init() { cold.Store(true) }

// Start runs handler as the function's handler (lambda.Start), with a
// logger carrying the request ID, the function name and the cold-start flag
// in its context (obs.FromContext).
func Start[In, Out any](log *zap.Logger, handler func(context.Context, In) (Out, error)) {
	lambda.Start(Wrap(log, handler))
}

// Wrap adds the per-invocation logger to handler's context.
func Wrap[In, Out any](log *zap.Logger, handler func(context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		fields := []zap.Field{zap.Bool("cold_start", cold.Swap(false))}
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			fields = append(fields, zap.String("request_id", lc.AwsRequestID))
		}
		return handler(obs.WithLogger(ctx, log.With(fields...)), in)
	}
}
