package runs

import (
	"testing"

	"github.com/cronless/cronless/shared/store"
)

// A run planned in shards says how many have added their part while some
// have not; once all have, its planned count alone.
func TestPlannedCellOfAShardedRun(t *testing.T) {
	for _, tt := range []struct {
		run  store.Run
		want string
	}{
		{store.Run{Planned: 30_000, Shards: 4, PlannedShards: 3}, "30000 so far (3 of 4 shards planned)"},
		{store.Run{Planned: 40_000, Shards: 4, PlannedShards: 4}, "40000"},
		{store.Run{Planned: 0, Shards: 4, Succeeded: 2}, "0 so far (0 of 4 shards planned)"},
		{store.Run{Planned: 0, Succeeded: 2}, "?"},
	} {
		if got := newRunView(tt.run, 0).plannedCell(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.run, got, tt.want)
		}
	}
}
