package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/cronless/cronless/shared/standin"
	"github.com/cronless/cronless/shared/store/dynamo"
)

// stack is fauxqs and dynalite with the queues and table the functions need.
type stack struct {
	sqs  *sqs.Client
	env  map[string]string
	jobs string
	res  string
}

func newStack(ctx context.Context, t testing.TB, root string) *stack {
	fq, dl := standin.Fauxqs(t), standin.Dynalite(t, "")
	s := &stack{sqs: fq.SQS(t)}
	mk := func(name string) string {
		out, err := s.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: map[string]string{"VisibilityTimeout": "30"}})
		if err != nil {
			t.Fatalf("create queue %s: %v", name, err)
		}
		return *out.QueueUrl
	}
	s.jobs, s.res = mk("bench-targets"), mk("bench-results")
	dlq, rdlq := mk("bench-targets-dlq"), mk("bench-results-dlq")
	if err := dynamo.CreateTable(ctx, dl.DynamoDB(t), "bench"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	s.env = map[string]string{
		"AWS_ENDPOINT_URL_SQS": fq.Endpoint, "AWS_ENDPOINT_URL_DYNAMODB": dl.Endpoint,
		"TARGETS_QUEUE_URL": s.jobs, "TARGETS_DLQ_URL": dlq, "RESULTS_QUEUE_URL": s.res, "RESULTS_DLQ_URL": rdlq,
		"TABLE_NAME": "bench", "TARGETS_FILE": filepath.Join(root, "targets.yaml"),
		"ALLOW_PRIVATE": "true", "HOST_CONCURRENCY": "10",
		// No LOG_LEVEL: the emulator reads it too, and its INFO lines are what is parsed.
	}
	return s
}

// rieProc is one bootstrap under its own aws-lambda-rie.
type rieProc struct {
	cmd    *exec.Cmd
	invoke string
	mu     sync.Mutex
	log    bytes.Buffer
}

func (p *rieProc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.Write(b)
}

func (p *rieProc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startRIE(ctx context.Context, rie, bootstrap, fn string, env map[string]string) (*rieProc, error) {
	api, err := freePort()
	if err != nil {
		return nil, err
	}
	rapid, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &rieProc{invoke: fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", api)}
	p.cmd = exec.CommandContext(ctx, rie, "--runtime-interface-emulator-address", "127.0.0.1:"+strconv.Itoa(api),
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(rapid), bootstrap)
	p.cmd.Dir = filepath.Dir(bootstrap)
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Dir(bootstrap), "AWS_REGION=" + standin.Region,
		"AWS_LAMBDA_FUNCTION_NAME=cronless-bench-" + fn, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128"}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	// Wait until the emulator listens (not counted: it is not the function).
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(api), 100*time.Millisecond)
		if err == nil {
			c.Close()
			return p, nil
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("aws-lambda-rie did not listen: %s", p.logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *rieProc) stop() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
	}
	_ = p.cmd.Wait()
}

// call invokes once and returns the body and the wall time.
func (p *rieProc) call(payload []byte) ([]byte, time.Duration, error) {
	t0 := time.Now()
	resp, err := http.Post(p.invoke, "application/json", bytes.NewReader(payload))
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return b, time.Since(t0), err
}

var (
	initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	rtDone     = regexp.MustCompile(`INVOKE RTDONE\(status: [a-z]+, produced bytes: [0-9]+, duration: ([0-9.]+)ms\)`)
)

func floats(re *regexp.Regexp, s string) []float64 {
	var out []float64
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		if f, err := strconv.ParseFloat(m[1], 64); err == nil {
			out = append(out, f)
		}
	}
	return out
}
