package main

import (
	"context"
	"os"
	"slices"
	"testing"
)

// TestMain lets the test binary play the children crawlbench starts (it
// starts os.Executable(), which is this binary in a test).
func TestMain(m *testing.M) {
	if slices.Contains(os.Args, "-serve") || slices.Contains(os.Args, "-loop") {
		i := slices.IndexFunc(os.Args, func(a string) bool { return a == "-serve" || a == "-loop" })
		if err := run(context.Background(), os.Args[i:]); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSmoke runs the whole benchmark, very briefly.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	err := run(context.Background(), []string{"-rounds", "1", "-duration", "300ms", "-warmup", "100ms", "-concurrency", "8", "-hosts", "4"})
	if err != nil {
		t.Fatal(err)
	}
}
