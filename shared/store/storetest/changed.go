package storetest

import (
	"testing"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
)

func testChanged(t *testing.T, newStore func(t *testing.T) store.Store) {
	type step struct {
		tick        int
		hash        string // "" puts a failed result
		wantChanged bool   // the put's Outcome.Changed
	}
	tests := []struct {
		name  string
		steps []step
		want  map[int]bool // tick -> final Changed flag
	}{
		{"first result is not changed",
			[]step{{0, "A", false}},
			map[int]bool{0: false}},
		{"same hash is not changed",
			[]step{{0, "A", false}, {1, "A", false}},
			map[int]bool{0: false, 1: false}},
		{"different hash is changed",
			[]step{{0, "A", false}, {1, "B", true}, {2, "A", true}},
			map[int]bool{0: false, 1: true, 2: true}},
		{"failed results are not changed and are skipped",
			[]step{{0, "A", false}, {1, "", false}, {2, "A", false}, {3, "", false}, {4, "B", true}},
			map[int]bool{0: false, 1: false, 2: false, 3: false, 4: true}},
		{"first ok result after a failure is not changed",
			[]step{{0, "", false}, {1, "A", false}},
			map[int]bool{0: false, 1: false}},
		{"late middle result recomputes the later one",
			[]step{{1, "A", false}, {3, "B", true}, {2, "B", true}},
			map[int]bool{1: false, 2: true, 3: false}},
		{"late middle result equal to the earlier one",
			[]step{{1, "A", false}, {3, "B", true}, {2, "A", false}},
			map[int]bool{1: false, 2: false, 3: true}},
		{"late oldest result recomputes the next",
			[]step{{1, "A", false}, {2, "A", false}, {0, "B", false}},
			map[int]bool{0: false, 1: true, 2: false}},
		{"late failed result recomputes nothing",
			[]step{{1, "A", false}, {3, "B", true}, {2, "", false}},
			map[int]bool{1: false, 2: false, 3: true}},
		{"reversed arrival",
			[]step{{3, "B", false}, {2, "B", false}, {1, "A", false}},
			map[int]bool{1: false, 2: true, 3: false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			results := map[int]job.Result{}
			newest := -1
			for _, st := range tt.steps {
				r := failedResult("a", st.tick)
				if st.hash != "" {
					r = okResult("a", st.tick, st.hash)
				}
				r.Changed = !st.wantChanged // the store sets it, not the caller
				results[st.tick] = r
				newest = max(newest, st.tick)
				if out := putResult(t, s, r); out.Changed != st.wantChanged {
					t.Errorf("put tick %d (%q): Outcome.Changed = %v, want %v", st.tick, st.hash, out.Changed, st.wantChanged)
				}
			}
			for i, want := range tt.want {
				if got := getResult(t, s, "a", runID(i)); got.Changed != want {
					t.Errorf("Result(tick %d).Changed = %v, want %v", i, got.Changed, want)
				}
				// A duplicate reports the stored flag.
				if out := putResult(t, s, results[i]); !out.Duplicate || out.Changed != want {
					t.Errorf("re-put tick %d: outcome %+v, want duplicate with Changed %v", i, out, want)
				}
			}
			if got := latest(t, s, "a"); len(got) != 1 || got[0].Changed != tt.want[newest] {
				t.Errorf("Latest(a) = %s, want tick %d with Changed %v", asJSON(got), newest, tt.want[newest])
			}
			if got := runResults(t, s, runID(newest)); len(got) != 1 || got[0].Changed != tt.want[newest] {
				t.Errorf("RunResults(tick %d) = %s, want Changed %v", newest, asJSON(got), tt.want[newest])
			}
		})
	}
	t.Run("targets are independent", func(t *testing.T) {
		s := newStore(t)
		putResult(t, s, okResult("a", 0, "A"))
		if out := putResult(t, s, okResult("b", 1, "B")); out.Changed {
			t.Errorf("first result of b after a's: Changed = true, want false")
		}
	})
}

// notModified is a 304 result of target in the i-th tick, as the worker
// sends it: ok, no fields, the previous content hash and the validators.
func notModified(target string, i int, hash string) job.Result {
	r := okResult(target, i, hash)
	r.HTTPStatus, r.NotModified, r.Fields = 304, true, nil
	r.ETag, r.LastModified = `"v1"`, "Sat, 01 Mar 2025 09:00:00 GMT"
	return r
}

func testNotModified(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("fields carried over, not changed, latest moves", func(t *testing.T) {
		s := newStore(t)
		first := okResult("a", 0, "A")
		first.Fields = map[string]any{"title": "Widget", "prices": []any{"1", "2"}, "og": map[string]any{"og:title": "W"}}
		first.ETag, first.LastModified = `"v1"`, "Sat, 01 Mar 2025 09:00:00 GMT"
		putResult(t, s, first)

		nm := notModified("a", 1, "A")
		if out := putResult(t, s, nm); out.Duplicate || out.Changed || !out.Latest {
			t.Errorf("put of the 304: outcome %+v, want stored, not changed, latest", out)
		}
		want := nm
		want.Fields = first.Fields
		checkResult(t, "Result of the 304", getResult(t, s, "a", runID(1)), want)
		if got := latest(t, s, "a"); len(got) != 1 {
			t.Errorf("Latest(a) = %v, want the 304's result", targetsOf(got))
		} else {
			checkResult(t, "Latest after the 304", got[0], want)
		}
		if got := runResults(t, s, runID(1)); len(got) != 1 {
			t.Errorf("RunResults = %v, want the 304's result", targetsOf(got))
		} else {
			checkResult(t, "RunResults of the 304", got[0], want)
		}
		if out := putResult(t, s, nm); !out.Duplicate || out.Changed {
			t.Errorf("re-put of the 304: outcome %+v, want duplicate, not changed", out)
		}

		// A 304 after a 304 carries the same fields on; one without a
		// content hash takes the previous one's.
		nm2 := notModified("a", 2, "")
		putResult(t, s, nm2)
		want2 := nm2
		want2.Fields, want2.ContentHash = first.Fields, "A"
		checkResult(t, "Result of the second 304", getResult(t, s, "a", runID(2)), want2)

		// The next full fetch compares against the 304's hash as usual.
		if out := putResult(t, s, okResult("a", 3, "A")); out.Changed {
			t.Errorf("same content after 304s: Changed = true, want false")
		}
		if out := putResult(t, s, okResult("a", 4, "B")); !out.Changed {
			t.Errorf("new content after 304s: Changed = false, want true")
		}
		checkRun(t, getRun(t, s, runID(1)), store.Run{ID: runID(1), Schedule: "hourly", ScheduledAt: tick(1), Succeeded: 1})
	})
	t.Run("never changed", func(t *testing.T) {
		s := newStore(t)
		putResult(t, s, okResult("a", 0, "A"))
		// The worker's previous hash was of another result (say, one that
		// arrived late): a 304 still means unchanged.
		nmZ := notModified("a", 2, "Z")
		if out := putResult(t, s, nmZ); out.Changed {
			t.Errorf("304 with another hash: Changed = true, want false")
		}
		// It is not completed with fields of other content: stored without
		// fields and rules hash, so that the next fetch is unconditional.
		wantZ := nmZ
		wantZ.RulesHash = ""
		checkResult(t, "Result of a 304 of another content", getResult(t, s, "a", runID(2)), wantZ)
		// An older result with other content arrives late: it is changed
		// against tick 0, and the 304 after it stays unchanged.
		if out := putResult(t, s, okResult("a", 1, "B")); !out.Changed {
			t.Errorf("late tick 1 (B after A): Changed = false, want true")
		}
		if got := getResult(t, s, "a", runID(2)); got.Changed || !got.NotModified {
			t.Errorf("304 after a late result: changed %v, not_modified %v; want false, true", got.Changed, got.NotModified)
		}
		if got := latest(t, s, "a"); len(got) != 1 || got[0].Changed || got[0].RunID != runID(2) {
			t.Errorf("Latest(a) = %s, want the 304, not changed", asJSON(got))
		}
	})
	t.Run("own fields kept", func(t *testing.T) {
		s := newStore(t)
		putResult(t, s, okResult("a", 0, "A"))
		nm := notModified("a", 1, "A")
		nm.Fields = map[string]any{"title": "sent by the worker"}
		putResult(t, s, nm)
		checkResult(t, "Result of a 304 with fields", getResult(t, s, "a", runID(1)), nm)
	})
	t.Run("no previous ok result", func(t *testing.T) {
		s := newStore(t)
		putResult(t, s, failedResult("a", 0))
		nm := notModified("a", 1, "A")
		if out := putResult(t, s, nm); out.Changed || !out.Latest {
			t.Errorf("304 with no previous ok result: outcome %+v, want not changed, latest", out)
		}
		// Stored without fields, and so without rules: the next plan
		// fetches the page unconditionally.
		want := nm
		want.RulesHash = ""
		checkResult(t, "Result of a 304 with nothing to carry over", getResult(t, s, "a", runID(1)), want)
	})
	testNotModifiedRules(t, newStore)
}

// testNotModifiedRules: a 304 is completed only with fields extracted with
// the same rules (its rules hash is the previous ok result's). One that
// cannot be is stored without fields and without a rules hash, so that the
// planner sends no validators for it.
func testNotModifiedRules(t *testing.T, newStore func(t *testing.T) store.Store) {
	withRules := func(r job.Result, rules string) job.Result { r.RulesHash = rules; return r }
	tests := []struct {
		name       string
		prevRules  string // the previous ok result's rules hash
		rules      string // the 304's
		carried    bool   // the previous fields are carried over
		wantRules  string // the stored 304's rules hash
		wantFields bool
	}{
		{"same rules", rulesA, rulesA, true, rulesA, true},
		{"other rules", rulesA, rulesB, false, "", false},
		{"previous of unknown rules (an older version)", "", rulesA, false, "", false},
		{"304 of unknown rules (an older worker)", rulesA, "", false, "", false},
		{"both of unknown rules (as before rules hashes)", "", "", true, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			first := withRules(okResult("a", 0, "A"), tt.prevRules)
			first.Fields = map[string]any{"title": "old rules' title"}
			putResult(t, s, first)
			nm := withRules(notModified("a", 1, "A"), tt.rules)
			if out := putResult(t, s, nm); out.Duplicate || out.Changed || !out.Latest {
				t.Errorf("put of the 304: outcome %+v, want stored, not changed, latest", out)
			}
			want := nm
			want.RulesHash = tt.wantRules
			if tt.carried {
				want.Fields = first.Fields
			}
			got := getResult(t, s, "a", runID(1))
			checkResult(t, "Result of the 304", got, want)
			if (len(got.Fields) > 0) != tt.wantFields {
				t.Errorf("304's fields = %v, want fields: %v", got.Fields, tt.wantFields)
			}
			if l := latest(t, s, "a"); len(l) != 1 {
				t.Errorf("Latest(a) = %v, want the 304's result", targetsOf(l))
			} else {
				checkResult(t, "Latest after the 304", l[0], want)
			}
			// A 304 after one that could not be completed has nothing to
			// take either, whatever its rules.
			if !tt.carried {
				nm2 := withRules(notModified("a", 2, "A"), tt.rules)
				putResult(t, s, nm2)
				want2 := nm2
				want2.RulesHash = ""
				checkResult(t, "Result of a 304 after an incomplete one", getResult(t, s, "a", runID(2)), want2)
			}
			// A full fetch with the new rules is stored as sent.
			full := withRules(okResult("a", 3, "B"), rulesB)
			full.Fields = map[string]any{"title": "new rules' title", "price": "12"}
			if out := putResult(t, s, full); !out.Changed || !out.Latest {
				t.Errorf("full fetch after the 304: outcome %+v, want changed, latest", out)
			}
			full.Changed = true
			checkResult(t, "Result of the full fetch", getResult(t, s, "a", runID(3)), full)
		})
	}
}
