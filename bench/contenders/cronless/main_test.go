package main

import (
	"testing"

	"github.com/cronless/cronless/bench/contend/contendtest"
)

// TestSmoke runs the contender over a few fixture pages (no timing).
func TestSmoke(t *testing.T) {
	contendtest.Smoke(t, run, 25, 4)
}
