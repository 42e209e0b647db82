package migrate

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/cronless/cronless/cmd/cronless/internal/iostreams"
	"github.com/cronless/cronless/shared/migrate"
)

func TestProgressLinesWithoutATerminal(t *testing.T) {
	ios, _, _, errOut := iostreams.Test()
	p := newProgress(ios, 2)
	for done := 1; done <= 25; done++ { // runs: a line every 20, and the last
		p.update(migrate.Progress{Phase: migrate.PhaseRuns, Done: done, Total: 25})
	}
	for done := 1; done <= 5; done++ { // targets: a line every 2, and the last
		p.update(migrate.Progress{Phase: migrate.PhaseTargets, Done: done, Total: 5, Results: 10 * done})
	}
	p.finish()
	want := []string{
		"migrate: runs 20/25, 0 results", "migrate: runs 25/25, 0 results",
		"migrate: targets 2/5, 20 results", "migrate: targets 4/5, 40 results", "migrate: targets 5/5, 50 results",
	}
	if got := strings.Split(strings.TrimSpace(errOut.String()), "\n"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("progress lines:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDefaultCheckpointIsPerStage(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	got := DefaultCheckpoint("prod")
	if filepath.Base(got) != "migrate-prod.json" || filepath.Base(filepath.Dir(got)) != "cronless" {
		t.Errorf("DefaultCheckpoint(prod) = %s; want <cache dir>/cronless/migrate-prod.json", got)
	}
}
