package planner_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/emf"
	"github.com/cronless/cronless/shared/metrics"
	"github.com/cronless/cronless/shared/planner"
)

func TestMetrics(t *testing.T) {
	var out bytes.Buffer
	m := metrics.New("planner", metrics.WithEMF(&out, "dev"))
	tf := targetsFile(t, 12, "")
	p := planner.New(tf, &fakeSender{}, &fakeRuns{}, planner.WithMetrics(m), planner.WithClock(func() time.Time { return tickAt }))
	if _, err := p.Handle(context.Background(), hourly()); err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSuffix(out.String(), "\n")
	if strings.Count(line, "\n") != 0 {
		t.Errorf("want one EMF line per tick, got:\n%s", out.String())
	}
	if err := emf.Validate([]byte(line)); err != nil {
		t.Errorf("%v\n%s", err, line)
	}
	if !strings.Contains(line, `"schedule":"hourly"`) || !strings.Contains(line, `"JobsPlanned":12`) {
		t.Errorf("line %s lacks the schedule or the jobs planned", line)
	}
	c := m.Counts()
	if got := c[metrics.Key{Name: metrics.JobsPlanned, Schedule: "hourly"}]; got != 12 {
		t.Errorf("JobsPlanned = %v, want 12", got)
	}
	if _, ok := c[metrics.Key{Name: metrics.PacedOverSeconds, Schedule: "hourly"}]; !ok {
		t.Errorf("PacedOverSeconds not counted: %v", c)
	}
}
