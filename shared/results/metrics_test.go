package results_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/cronless/cronless/shared/emf"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/metrics"
	"github.com/cronless/cronless/shared/results"
	"github.com/cronless/cronless/shared/store"
)

// changingStore reports every new result as changed.
type changingStore struct{ fakeStore }

func (s *changingStore) PutResult(ctx context.Context, r job.Result) (store.Outcome, error) {
	out, err := s.fakeStore.PutResult(ctx, r)
	out.Changed = !out.Duplicate
	return out, err
}

func TestMetrics(t *testing.T) {
	var out bytes.Buffer
	m := metrics.New("results", metrics.WithEMF(&out, "dev"))
	h := results.New(&changingStore{}, results.WithMetrics(m))
	ev := event(resultRecord(t, "a"), resultRecord(t, "b"), attemptRecord(t, "c"))
	for range 2 { // the second delivery is all duplicates
		if _, err := h.Handle(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Errorf("%d EMF lines, want one per invocation:\n%s", len(lines), out.String())
	}
	for _, l := range lines {
		if err := emf.Validate([]byte(l)); err != nil {
			t.Errorf("%v\n%s", err, l)
		}
	}
	sched := testResult("a").Schedule
	c := m.Counts()
	for name, want := range map[metrics.Name]float64{metrics.ResultsStored: 2, metrics.Duplicates: 2, metrics.Changed: 2} {
		if got := c[metrics.Key{Name: name, Schedule: sched}]; got != want {
			t.Errorf("%s = %v, want %v (counts %v)", name, got, want, c)
		}
	}
}
