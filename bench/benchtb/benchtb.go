// Package benchtb lets a benchmark command use the project's stand-in
// harness (shared/standin), which takes a testing.TB, outside a test.
package benchtb

import (
	"fmt"
	"os"
	"testing"
)

// TB is a testing.TB outside a test: a failure or a skip becomes a panic
// that Section turns into a note, or that ends the command.
type TB struct {
	testing.TB // nil: only the methods below are called
	cleanups   []func()
	dirs       []string
}

// Stop is what a failure or a skip panics with.
type Stop struct{ Msg string }

func (s Stop) Error() string { return s.Msg }

// New returns a TB; call Close when done.
func New() *TB { return &TB{} }

func (t *TB) Helper()                           {}
func (t *TB) Cleanup(f func())                  { t.cleanups = append(t.cleanups, f) }
func (t *TB) Logf(format string, args ...any)   { fmt.Fprintf(os.Stderr, format+"\n", args...) }
func (t *TB) Fatal(args ...any)                 { panic(Stop{fmt.Sprint(args...)}) }
func (t *TB) Fatalf(format string, args ...any) { panic(Stop{fmt.Sprintf(format, args...)}) }
func (t *TB) Skip(args ...any)                  { panic(Stop{fmt.Sprint(args...)}) }
func (t *TB) Skipf(format string, args ...any)  { panic(Stop{fmt.Sprintf(format, args...)}) }
func (t *TB) Errorf(format string, args ...any) { panic(Stop{fmt.Sprintf(format, args...)}) }
func (t *TB) Name() string                      { return "bench" }

func (t *TB) TempDir() string {
	d, err := os.MkdirTemp("", "cronless-bench-")
	if err != nil {
		panic(Stop{err.Error()})
	}
	t.dirs = append(t.dirs, d)
	return d
}

// Close runs the cleanups registered (stopping the stand-ins) and removes
// the temporary directories.
func (t *TB) Close() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	t.cleanups = nil
	for _, d := range t.dirs {
		os.RemoveAll(d)
	}
}

// Section runs f; when the stand-in harness stops it (a tool is missing, a
// stand-in failed), the reason goes to *skipped instead. Under a real
// *testing.T the harness skips or fails the test itself.
func Section(t testing.TB, skipped *string, f func()) {
	if _, ok := t.(*TB); !ok {
		f()
		return
	}
	defer func() {
		if p := recover(); p != nil {
			s, ok := p.(Stop)
			if !ok {
				panic(p)
			}
			*skipped = s.Msg
		}
	}()
	f()
}
