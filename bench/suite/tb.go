package main

import (
	"fmt"
	"os"
	"testing"
)

// tb lets the suite use the project's stand-in harness (shared/standin),
// which takes a testing.TB, outside a test: a failure or a skip becomes a
// panic that section turns into a note in the report.
type tb struct {
	testing.TB // nil: only the methods below are called
	cleanups   []func()
	dirs       []string
}

type tbStop struct{ msg string }

func newTB() *tb { return &tb{} }

func (t *tb) Helper()                           {}
func (t *tb) Cleanup(f func())                  { t.cleanups = append(t.cleanups, f) }
func (t *tb) Logf(format string, args ...any)   { fmt.Fprintf(os.Stderr, format+"\n", args...) }
func (t *tb) Fatal(args ...any)                 { panic(tbStop{fmt.Sprint(args...)}) }
func (t *tb) Fatalf(format string, args ...any) { panic(tbStop{fmt.Sprintf(format, args...)}) }
func (t *tb) Skip(args ...any)                  { panic(tbStop{fmt.Sprint(args...)}) }
func (t *tb) Skipf(format string, args ...any)  { panic(tbStop{fmt.Sprintf(format, args...)}) }
func (t *tb) Errorf(format string, args ...any) { panic(tbStop{fmt.Sprintf(format, args...)}) }
func (t *tb) Name() string                      { return "bench" }

func (t *tb) TempDir() string {
	d, err := os.MkdirTemp("", "cronless-bench-")
	if err != nil {
		panic(tbStop{err.Error()})
	}
	t.dirs = append(t.dirs, d)
	return d
}

func (t *tb) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	t.cleanups = nil
	for _, d := range t.dirs {
		os.RemoveAll(d)
	}
}

// section runs f; when the stand-in harness stops it (a tool is missing, a
// stand-in failed), the reason goes to *skipped instead. Under a real
// *testing.T the harness skips or fails the test itself.
func section(t testing.TB, skipped *string, f func()) {
	if _, ok := t.(*tb); !ok {
		f()
		return
	}
	defer func() {
		if p := recover(); p != nil {
			s, ok := p.(tbStop)
			if !ok {
				panic(p)
			}
			*skipped = s.msg
		}
	}()
	f()
}
