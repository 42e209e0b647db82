// Command scale plans one tick of a large stored target list and reports
// what it took: `make bench-scale` runs it for 10,000, 100,000 and
// 1,000,000 targets on the local backend, and for 100,000 on the stand-ins
// (fauxqs and dynalite) for correctness.
//
//	go run ./bench/scale -targets N [-hosts H] [-standins]
//
// It writes a targets.yaml and a CSV list of N targets over H hosts,
// imports the list in a child process (so that the import's memory is not
// the planner's), then plans one tick in this process exactly as the
// planner function does: the tick's invocation, then one invocation per
// shard, at most -parallel at once. It checks that every job was enqueued
// once and the run recorded, and ends with the lines
//
//	planned in <seconds> s
//	peak RSS <n> MiB
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cronless/cronless/shared/targets"
)

type config struct {
	Targets   int
	Hosts     int
	Parallel  int
	ShardSize int
	Standins  bool
	Dir       string
	// Previous is how many earlier ticks stored a result of every target
	// (local only): the shards then read their validators.
	Previous int
	// The child's phase: import the list at List into the database at DB.
	Phase, DB, List, TargetsFile string
}

func main() {
	var c config
	flag.IntVar(&c.Targets, "targets", 10_000, "how many targets to plan")
	flag.IntVar(&c.Hosts, "hosts", 0, "over how many hosts (default: one per 100 targets)")
	flag.IntVar(&c.Parallel, "parallel", 2, "shards planned at once (the local planner mapping's concurrency)")
	flag.IntVar(&c.ShardSize, "shard-size", targets.ShardSize, "the most targets a shard holds")
	flag.BoolVar(&c.Standins, "standins", false, "plan on fauxqs and dynalite instead of the local backend")
	flag.IntVar(&c.Previous, "previous", 0, "earlier ticks with a result of every target, whose validators the shards read (local)")
	flag.StringVar(&c.Dir, "dir", "", "work directory (default: a new temporary one, removed at the end)")
	flag.StringVar(&c.Phase, "phase", "", "internal: import (the child process)")
	flag.StringVar(&c.DB, "db", "", "internal: the database the child imports into")
	flag.StringVar(&c.List, "list", "", "internal: the list the child imports")
	flag.StringVar(&c.TargetsFile, "targets-file", "", "internal: the targets.yaml the child validates with")
	flag.Parse()
	if c.Hosts <= 0 {
		c.Hosts = max(1, c.Targets/100)
	}
	var err error
	switch {
	case c.Phase == "import":
		err = importList(context.Background(), c)
	case c.Targets < 1 || c.Parallel < 1 || c.ShardSize < 1:
		err = errors.New("-targets, -parallel and -shard-size must be at least 1")
	case c.Standins:
		err = runStandins(context.Background(), c)
	default:
		err = runLocal(context.Background(), c)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

const schedule = "hourly"

var tickAt = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

// writeInputs writes targets.yaml and the CSV list of c.Targets targets
// into dir.
func writeInputs(dir string, c config, extraYAML string) (tfPath, listPath string, err error) {
	tfPath, listPath = filepath.Join(dir, "targets.yaml"), filepath.Join(dir, "targets.csv")
	yaml := "schedules:\n  " + schedule + ": { expression: \"rate(1 hour)\" }\n" + extraYAML + "targets: []\n"
	if err := os.WriteFile(tfPath, []byte(yaml), 0o644); err != nil {
		return "", "", err
	}
	f, err := os.Create(listPath)
	if err != nil {
		return "", "", err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "id,url,schedule")
	for i := range c.Targets {
		fmt.Fprintf(w, "t-%07d,https://h%05d.example.com/p/%d,%s\n", i, i%c.Hosts, i, schedule)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return "", "", err
	}
	return tfPath, listPath, f.Close()
}

func workDir(c config) (string, func(), error) {
	if c.Dir != "" {
		return c.Dir, func() {}, os.MkdirAll(c.Dir, 0o755)
	}
	d, err := os.MkdirTemp("", "cronless-scale-")
	return d, func() { os.RemoveAll(d) }, err
}

// peakRSSMiB is this process's peak resident set (VmHWM), in MiB.
func peakRSSMiB() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return kb / 1024
		}
	}
	return -1
}
