package main

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary play the fixture child the suite starts
// (it starts os.Executable(), which is this binary in a test).
func TestMain(m *testing.M) {
	if i := slices.Index(os.Args, "-serve"); i >= 0 {
		if err := Main(context.Background(), os.Args[i:], os.Stdout); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSmoke runs every section of the suite with a tiny N: each contender
// once (the peers when installed), the pipeline, one start of each function
// under aws-lambda-rie and the request counts on the stand-ins (skipped
// when they are not installed, failed when CRONLESS_STANDINS=required). No
// figure is checked: this keeps the benchmarks compiling and honest.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts processes")
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	c := Config{
		Pages: 20, Rounds: 1, PeerRounds: 1, PipeRounds: 1, Latencies: []time.Duration{0}, PipeLatency: []time.Duration{0}, Concurrency: []int{4},
		LambdaStarts: 1, PlannerN: 50, ResultsN: 3, MemoryPageBytes: 256 << 10, MemoryRounds: 1, NoMakeBuild: true, Root: root, Bin: t.TempDir(),
	}
	var out bytes.Buffer
	if err := Run(context.Background(), t, c, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"## Side by side", "| cronless worker |", "| bare colly |", "| net/http bound |", "## The local pipeline", "## Memory", "| 512 MB, 10 crawls at once | 512 MB | 10 |", "## Lambda", "## AWS-side requests"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
