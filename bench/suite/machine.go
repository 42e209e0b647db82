package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Machine is where and with what the suite ran.
type Machine struct {
	CPU, Kernel, Mem, Go, Commit string
	NumCPU                       int
	Versions                     [][2]string // tool, version
}

// Summary is one line about the machine.
func (m Machine) Summary() string {
	return fmt.Sprintf("%s, %d CPUs, %s RAM, %s, kernel %s", m.CPU, m.NumCPU, m.Mem, m.Go, m.Kernel)
}

func machine(ctx context.Context, root string) Machine {
	m := Machine{CPU: cpuModel(), NumCPU: runtime.NumCPU(), Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				var kb int64
				fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
				m.Mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	run := func(dir string, name string, args ...string) string {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		b, err := cmd.Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	if c := run(root, "git", "rev-parse", "--short", "HEAD"); c != "" {
		m.Commit = c
		if run(root, "git", "status", "--porcelain") != "" {
			m.Commit += " (with uncommitted changes)"
		}
	}
	add := func(tool, v string) {
		if v == "" {
			v = "not installed"
		}
		m.Versions = append(m.Versions, [2]string{tool, v})
	}
	add("colly", run(root, "go", "list", "-m", "-f", "{{.Version}}", "github.com/gocolly/colly/v2"))
	add("golang.org/x/net (html tokenizer)", run(root, "go", "list", "-m", "-f", "{{.Version}}", "golang.org/x/net"))
	py, ok := scrapyPython()
	if ok {
		add("Scrapy (Debian python3-scrapy)", run(root, py, "-c", "import scrapy, twisted, sys; print(scrapy.__version__, '(Twisted', twisted.__version__+', Python', sys.version.split()[0]+')')"))
	} else {
		add("Scrapy (Debian python3-scrapy)", "")
	}
	add("Crawlee (npm, bench/peers)", pkgVersion(filepath.Join(root, "bench/peers/node_modules/crawlee/package.json")))
	add("Node (Crawlee)", run(root, "node", "--version"))
	add("aws-lambda-rie", rieVersion(root))
	add("fauxqs (SQS stand-in)", pkgVersion(filepath.Join(root, "node_modules/fauxqs/package.json")))
	add("dynalite (DynamoDB stand-in)", pkgVersion(filepath.Join(root, "node_modules/dynalite/package.json")))
	return m
}

func pkgVersion(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var p struct{ Version string }
	if json.Unmarshal(b, &p) != nil {
		return ""
	}
	return p.Version
}

func rieVersion(root string) string {
	target, err := os.Readlink(filepath.Join(root, "bin", "aws-lambda-rie"))
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(filepath.Base(target), "aws-lambda-rie-")
}

// cpuModel is the CPU's model name from /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
