package storetest

import (
	"cmp"
	"reflect"
	"slices"
	"testing"

	"github.com/cronless/cronless/shared/targets"
)

func apply(t *testing.T, s ListStore, ch targets.Change) {
	t.Helper()
	if err := s.ApplyTargets(t.Context(), ch, nil); err != nil {
		t.Fatalf("ApplyTargets(%d puts, %d deletes): %v", len(ch.Put), len(ch.Delete), err)
	}
}

func layoutsOf(t *testing.T, s ListStore) map[string]targets.Layout {
	t.Helper()
	ls, err := s.TargetLayouts(t.Context())
	if err != nil {
		t.Fatalf("TargetLayouts: %v", err)
	}
	return ls
}

func shardTargets(t *testing.T, s ListStore, sh targets.Shard) []targets.Stored {
	t.Helper()
	got, err := s.ShardTargets(t.Context(), sh)
	if err != nil {
		t.Fatalf("ShardTargets(%s/%d): %v", sh.Schedule, sh.Index, err)
	}
	return got
}

func eachTarget(t *testing.T, s ListStore) []targets.Stored {
	t.Helper()
	var all []targets.Stored
	if err := s.EachTarget(t.Context(), func(st targets.Stored) error {
		all = append(all, st)
		return nil
	}); err != nil {
		t.Fatalf("EachTarget: %v", err)
	}
	return all
}

// inShard are the targets of ss in sh, in ID order.
func inShard(ss []targets.Stored, sh targets.Shard) []targets.Stored {
	var out []targets.Stored
	for _, s := range ss {
		if s.Schedule == sh.Schedule && s.Shard == sh.Index {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b targets.Stored) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// exportOrder is ss in EachTarget's order.
func exportOrder(ss []targets.Stored) []targets.Stored {
	out := slices.Clone(ss)
	slices.SortFunc(out, exportCmp)
	return out
}

// exportCmp orders targets as EachTarget does: schedule, shard, ID.
func exportCmp(a, b targets.Stored) int {
	return cmp.Or(cmp.Compare(a.Schedule, b.Schedule), cmp.Compare(a.Shard, b.Shard), cmp.Compare(a.ID, b.ID))
}

// sameStored reports whether two stored targets say the same: every field,
// no rules and empty rules alike.
func sameStored(a, b targets.Stored) bool {
	if len(a.Rules) == 0 {
		a.Rules = nil
	}
	if len(b.Rules) == 0 {
		b.Rules = nil
	}
	return reflect.DeepEqual(a, b)
}

// checkStoredList fails unless got are want, in order.
func checkStoredList(t *testing.T, what string, got, want []targets.Stored) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d targets %s, want %d %s", what, len(got), asJSON(short(got)), len(want), asJSON(short(want)))
		return
	}
	for i := range got {
		if !sameStored(got[i], want[i]) {
			t.Errorf("%s[%d]:\n got %s\nwant %s", what, i, asJSON(got[i]), asJSON(want[i]))
		}
	}
}

// short is at most the first 20 of s, for a readable failure.
func short[T any](s []T) []T {
	return s[:min(len(s), 20)]
}
