package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/cronless/cronless/shared/cost"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/local"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/standin"
)

// Functions are the Lambda functions, in the order of the tables.
var Functions = []string{"planner", "worker", "results"}

// Baseline is an empty Go handler (bench/lambdabase) started like the
// functions, to tell the emulator's and Go's share of a cold start.
const Baseline = "baseline"

// withBaseline is Functions and the baseline.
func withBaseline() []string { return append(append([]string(nil), Functions...), Baseline) }

func pkgOf(fn string) string {
	if fn == Baseline {
		return "./bench/lambdabase"
	}
	return "./functions/" + fn
}

// Lambda is the Lambda section of the report.
type Lambda struct {
	BuildErr string
	Sizes    map[string]Size   // make build (linux/arm64, stripped)
	HostSize map[string]int64  // the host-arch bootstraps run under the RIE
	Starts   map[string]Starts // by function
	Why      SizeWhy
	Batch    *Batch
	Prices   cost.Prices
}

// Size is a function's artifact sizes.
type Size struct{ Bootstrap, Zip int64 }

// Starts are the fresh starts of one function under the RIE.
type Starts struct {
	InitMs     []float64 // INIT REPORT durationMs
	FirstMs    []float64 // wall time of the first invoke, init included
	WarmMs     []float64 // the RIE's duration of later invokes
	WarmWallMs []float64 // wall time of later invokes
	Err        string
}

// SizeWhy is what is in the worker's bootstrap.
type SizeWhy struct {
	Modules     int
	Packages    []PkgSize // largest packages by symbol size
	Modules2    []PkgSize // symbol size by module ("std": the standard library and runtime)
	Total       int64     // sum of symbol sizes
	Appengine   int64     // google.golang.org/appengine and the protobuf runtime it needs
	Importers   []string  // who imports appengine, and protobuf
	Err         string
	HasAppengin bool
	// AppengineBy is the replacement of google.golang.org/appengine
	// (go.mod's replace directive), if any.
	AppengineBy string
}

// PkgSize is one package's share of a binary.
type PkgSize struct {
	Path string
	Size int64
}

// Batch is the worker's 10-message batch under the RIE.
type Batch struct {
	Latency   time.Duration
	ColdMs    float64   // first invoke (init excluded: the RIE's duration)
	WarmMs    []float64 // the RIE's duration of each later invoke
	WarmWall  []float64 // wall time of each later invoke
	CPUms     []float64 // bootstrap CPU time of each later invoke
	PeakRSS   int64     // bootstrap VmHWM, KiB
	Sent      int       // results on the results queue after the invokes
	Failures  int       // batch item failures
	Invokes   int
	FirstResp string
}

func runLambda(ctx context.Context, t testing.TB, c Config, bin string, r *Report, logf func(string, ...any)) {
	l := &Lambda{Sizes: map[string]Size{}, HostSize: map[string]int64{}, Starts: map[string]Starts{}}
	r.Lambda = l
	l.Prices, _ = cost.PricesFor("us-east-1")

	// Sizes: make build (linux/arm64, what is deployed).
	if c.NoMakeBuild {
		l.BuildErr = "not run (-no-make-build)"
		l.Why.Err = "not looked at (-no-make-build)"
	} else {
		l.sizes(ctx, c, bin, logf)
	}

	// Host builds for the RIE, with the deployed flags.
	hostBin := map[string]string{}
	dir := filepath.Join(bin, "lambda")
	args := []string{"build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", dir + string(filepath.Separator)}
	for _, fn := range withBaseline() {
		args = append(args, pkgOf(fn))
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = c.Root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		for _, fn := range withBaseline() {
			l.Starts[fn] = Starts{Err: fmt.Sprintf("build: %v %s", err, b)}
		}
	} else {
		for _, fn := range withBaseline() {
			out := filepath.Join(dir, filepath.Base(pkgOf(fn)))
			if st, err := os.Stat(out); err == nil {
				l.HostSize[fn] = st.Size()
				hostBin[fn] = out
			}
		}
	}

	rie := standin.RIE(t)
	st := newStack(ctx, t, c.Root)
	for _, fn := range withBaseline() {
		if hostBin[fn] == "" {
			continue
		}
		logf("lambda: %d fresh starts of %s under aws-lambda-rie", c.LambdaStarts, fn)
		l.Starts[fn] = freshStarts(ctx, rie, hostBin[fn], fn, st, c.LambdaStarts)
	}
	if hostBin["worker"] != "" {
		logf("lambda: the worker's 10-message batch at 50ms")
		l.Batch = workerBatch(ctx, rie, hostBin["worker"], st)
	}
}

// payload is the event a function is invoked with in the start-up runs.
func payload(fn string, i int) []byte {
	switch fn {
	case "planner":
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)
		b, _ := json.Marshal(map[string]string{"schedule": "hourly", "scheduled_time": at.Format(time.RFC3339)})
		return b
	default:
		return []byte(`{"Records":[]}`)
	}
}

// freshStarts starts fn n times under a fresh RIE; each time it invokes
// once (the cold start) and then 3 more times (warm).
func freshStarts(ctx context.Context, rie, bootstrap, fn string, st *stack, n int) Starts {
	var s Starts
	for i := range n {
		p, err := startRIE(ctx, rie, bootstrap, fn, st.env)
		if err != nil {
			s.Err = err.Error()
			return s
		}
		for k := range 4 {
			body, d, err := p.call(payload(fn, i*4+k))
			if err != nil || bytes.Contains(body, []byte("errorMessage")) {
				s.Err = fmt.Sprintf("invoke: %v %s\n%s", err, body, tail(p.logs(), 1500))
				p.stop()
				return s
			}
			if k == 0 {
				s.FirstMs = append(s.FirstMs, ms(d))
			} else {
				s.WarmWallMs = append(s.WarmWallMs, ms(d))
			}
		}
		p.stop()
		logs := p.logs()
		s.InitMs = append(s.InitMs, floats(initReport, logs)...)
		if d := floats(rtDone, logs); len(d) > 1 {
			s.WarmMs = append(s.WarmMs, d[1:]...)
		}
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// workerBatch invokes the worker under the RIE with 10-message batches of
// jobs on the fixture at 50 ms, the results going to fauxqs.
func workerBatch(ctx context.Context, rie, bootstrap string, st *stack) *Batch {
	const latency = 50 * time.Millisecond
	b := &Batch{Latency: latency, Invokes: 11}
	fx, err := startFixture(ctx, latency)
	if err != nil {
		b.FirstResp = err.Error()
		return b
	}
	defer fx.stop()
	p, err := startRIE(ctx, rie, bootstrap, "worker", st.env)
	if err != nil {
		b.FirstResp = err.Error()
		return b
	}
	defer p.stop()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var cpuPrev time.Duration
	for inv := range b.Invokes {
		var msgs []queue.Message
		for i := range 10 {
			n := inv*10 + i
			j := job.Job{V: job.Version, RunID: "bench@2026-01-01T00:00:00Z", Schedule: "bench", TargetID: fmt.Sprintf("t%d", n),
				URL: fmt.Sprintf("%s/page/%d", fx.Base, n), ScheduledAt: at,
				Extract: map[string]job.Rule{"h1": {CSS: "h1"}, "links": {CSS: "a[href]", Attr: "href", All: true}}}
			body, _ := job.Encode(j)
			msgs = append(msgs, queue.Message{ID: fmt.Sprintf("m%d", n), ReceiptHandle: fmt.Sprintf("rh%d", n), Body: body,
				Attributes: job.Attributes(j.RunID, j.TargetID), ReceiveCount: 1, SentAt: at, FirstReceivedAt: at})
		}
		ev := local.Event("arn:aws:sqs:us-east-1:000000000000:bench-targets", standin.Region, msgs)
		payload, _ := json.Marshal(ev)
		body, d, err := p.call(payload)
		if err != nil {
			b.FirstResp = fmt.Sprintf("invoke: %v\n%s", err, tail(p.logs(), 1500))
			return b
		}
		var resp events.SQSEventResponse
		if err := json.Unmarshal(body, &resp); err != nil || bytes.Contains(body, []byte("errorMessage")) {
			b.FirstResp = fmt.Sprintf("%s\n%s", body, tail(p.logs(), 1500))
			return b
		}
		b.Failures += len(resp.BatchItemFailures)
		cpu := procCPU(bootstrapPID(p.cmd.Process.Pid))
		if inv > 0 {
			b.WarmWall = append(b.WarmWall, ms(d))
			b.CPUms = append(b.CPUms, ms(cpu-cpuPrev))
		}
		cpuPrev = cpu
	}
	b.PeakRSS = vmHWM(bootstrapPID(p.cmd.Process.Pid))
	if d := floats(rtDone, p.logs()); len(d) > 0 {
		b.ColdMs = d[0]
		b.WarmMs = d[1:]
	}
	if out, err := st.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &st.res,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}}); err == nil {
		b.Sent, _ = strconv.Atoi(out.Attributes["ApproximateNumberOfMessages"])
	}
	return b
}

// bootstrapPID is the RIE's child process (the function), 0 if none.
func bootstrapPID(rie int) int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", rie))
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				return pid
			}
		}
	}
	return 0
}

// vmHWM is a process's peak resident set, KiB.
func vmHWM(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// procCPU is a process's user+system time so far.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stt, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+stt) * time.Second / 100 // USER_HZ is 100 on Linux
}
