package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/store"
)

// runEntries is RunEntries of run id, every entry.
func runEntries(t *testing.T, s store.Store, id string) []store.RunEntry {
	t.Helper()
	var es []store.RunEntry
	if err := s.RunEntries(t.Context(), id, func(e store.RunEntry) error {
		es = append(es, e)
		return nil
	}); err != nil {
		t.Fatalf("RunEntries(%s): %v", id, err)
	}
	return es
}

// testRunEntries stores the results of 40 targets in tick 1 (some failed,
// some changed since tick 0, IDs that sort differently with and without
// case) beside other runs' results, and reads tick 1's entries: one per
// result, in target ID order (byte order, as Go compares strings), each
// saying what Result says of its status, Changed flag and URL, stored
// between the run's first and last result; none of other runs and none
// for an unknown run; a stop asked by fn ends the read with fn's error.
func testRunEntries(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	var ids []string
	for i := range 36 {
		ids = append(ids, fmt.Sprintf("t-%02d", (i*7)%36)) // not in order
	}
	ids = append(ids, "a", "B", "b/1", "Z")
	for i, id := range ids {
		putResult(t, s, okResult(id, 0, "h0"))
		r := okResult(id, 1, "h0")
		switch i % 3 {
		case 1:
			r = okResult(id, 1, "h1") // changed since tick 0
		case 2:
			r = failedResult(id, 1)
		}
		putResult(t, s, r)
		if i%5 == 0 {
			putResult(t, s, r) // stored once, listed once
		}
	}
	putResult(t, s, okResult("only-in-tick-2", 2, "h"))

	got := runEntries(t, s, runID(1))
	want := slices.Sorted(slices.Values(ids))
	var gotIDs []string
	for _, e := range got {
		gotIDs = append(gotIDs, e.TargetID)
	}
	if !slices.Equal(gotIDs, want) {
		t.Fatalf("RunEntries(tick 1) lists %v,\nwant %v (that run's, by target ID)", gotIDs, want)
	}
	run := getRun(t, s, runID(1))
	var first, last time.Time
	changed := 0
	for _, e := range got {
		r := getResult(t, s, e.TargetID, runID(1))
		if e.Status != r.Status || e.Changed != r.Changed || e.URL != r.URL {
			t.Errorf("entry %+v; want status %s, changed %v, URL %s as Result says", e, r.Status, r.Changed, r.URL)
		}
		if e.Changed {
			changed++
		}
		if first.IsZero() || e.StoredAt.Before(first) {
			first = e.StoredAt
		}
		if e.StoredAt.After(last) {
			last = e.StoredAt
		}
	}
	if changed != 13 {
		t.Errorf("%d entries changed, want 13", changed)
	}
	if !first.Equal(run.FirstResultAt) || !last.Equal(run.LastResultAt) {
		t.Errorf("entries stored from %s to %s; want from the run's first result (%s) to its last (%s)",
			first, last, run.FirstResultAt, run.LastResultAt)
	}
	if got := runEntries(t, s, runID(9)); len(got) != 0 {
		t.Errorf("RunEntries(unknown run) = %+v, want none", got)
	}

	stop := errors.New("enough")
	calls := 0
	err := s.RunEntries(t.Context(), runID(1), func(store.RunEntry) error {
		if calls++; calls == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 3 {
		t.Errorf("RunEntries stopped by fn at the 3rd entry: %d calls, error %v; want 3 and fn's error", calls, err)
	}
}
