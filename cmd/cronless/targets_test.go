package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cronless/cronless/cmd/cronless/internal/cmd/targets"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/standin"
	"github.com/cronless/cronless/shared/store/dynamo"
)

// listYAML is the targets.yaml the stored lists of these tests are checked
// against: two schedules and a named extract (and one target of its own).
const listYAML = `schedules:
  hourly: { expression: "rate(1 hour)" }
  daily: { expression: "cron(0 9 * * ? *)" }
extracts:
  product: { price: { css: .price } }
targets:
  - { id: own, url: "https://own.example/", schedule: hourly }
`

// csvList is a CSV target list of the given rows (id,url,schedule,…).
func csvList(rows ...string) string {
	return "id,url,schedule,timeout,user_agent,robots,extract\n" + strings.Join(rows, "\n") + "\n"
}

// storedRows lists the stored targets through the CLI, by ID.
func storedRows(t *testing.T, args ...string) map[string]targets.Row {
	t.Helper()
	code, out, stderr := cli(t, append([]string{"targets", "list", "--limit", "0", "-o", "json"}, args...)...)
	if code != exitOK {
		t.Fatalf("targets list: exit %d, stderr %q", code, stderr)
	}
	rows := map[string]targets.Row{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r targets.Row
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("targets list: line %q: %v", line, err)
		}
		rows[r.ID] = r
	}
	return rows
}

// diffOf runs an import with -o json and returns its diff rows by change.
func diffOf(t *testing.T, args ...string) map[string]targets.DiffRow {
	t.Helper()
	code, out, stderr := cli(t, append(append([]string{"targets", "import"}, args...), "-o", "json")...)
	if code != exitOK {
		t.Fatalf("targets import %v: exit %d, stderr %q", args, code, stderr)
	}
	rows := map[string]targets.DiffRow{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r targets.DiffRow
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("targets import: line %q: %v", line, err)
		}
		rows[r.Change] = r
	}
	return rows
}

func checkDiff(t *testing.T, got map[string]targets.DiffRow, added, changed, removed []string) {
	t.Helper()
	for _, k := range []struct {
		change string
		want   []string
	}{{"added", added}, {"changed", changed}, {"removed", removed}} {
		r := got[k.change]
		if r.Targets != len(k.want) || !slices.Equal(r.IDs, k.want) || r.More != 0 {
			t.Errorf("%s: %d targets %v (%d more); want %v", k.change, r.Targets, r.IDs, r.More, k.want)
		}
	}
}

// ids are the keys of rows, sorted.
func ids(rows map[string]targets.Row) []string {
	out := make([]string, 0, len(rows))
	for id := range rows {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// TestTargetsLocal walks a stored list's life on the local backend: a dry
// run, the import, the same import again, a changed file, show, remove,
// and an export imported back.
func TestTargetsLocal(t *testing.T) {
	tf := writeFile(t, "targets.yaml", listYAML)
	db := filepath.Join(t.TempDir(), "local.db")
	on := func(args ...string) []string { return append(args, "--db", db, "--targets", tf) }
	first := writeFile(t, "list.csv", csvList(
		"a,https://shop.example/a,hourly,,,,product",
		"b,https://shop.example/b,hourly,20s,,false,",
		"c,https://other.example/c,daily,,,,",
	))

	// A dry run on no backend yet: everything added, no file made.
	checkDiff(t, diffOf(t, on(first, "--dry-run")...), []string{"a", "b", "c"}, nil, nil)
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatalf("the dry run made %s (%v); it must write nothing", db, err)
	}

	code, out, stderr := cli(t, on("targets", "import", first, "-o", "table")...)
	if code != exitOK || !strings.Contains(out, "imported "+first) || !strings.Contains(out, "3 added, 0 changed, 0 removed") {
		t.Fatalf("import: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	rows := storedRows(t, "--db", db)
	if got := ids(rows); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("stored after the import: %v, want a b c", got)
	}
	if a := rows["a"]; a.Schedule != "hourly" || a.URL != "https://shop.example/a" || a.Extract != "product" {
		t.Errorf("a = %+v; want hourly, its URL, extract product", a)
	}
	if b := rows["b"]; b.Timeout != "20s" || b.Robots == nil || *b.Robots || b.Rank != 1 {
		t.Errorf("b = %+v; want timeout 20s, robots false, rank 1 (the second target of shop.example)", b)
	}

	// The same file again: nothing to write, and it says so.
	code, out, _ = cli(t, on("targets", "import", first, "-o", "table")...)
	if code != exitOK || !strings.Contains(out, "nothing to change") || !strings.Contains(out, "nothing written") {
		t.Errorf("re-import: exit %d, stdout %q; want nothing to change", code, out)
	}

	// b changed, c gone, d new: the dry run says so and writes nothing.
	second := writeFile(t, "list.csv", csvList(
		"a,https://shop.example/a,hourly,,,,product",
		"b,https://shop.example/b2,hourly,20s,,false,",
		"d,https://other.example/d,daily,,,,",
	))
	checkDiff(t, diffOf(t, on(second, "--dry-run")...), []string{"d"}, []string{"b"}, []string{"c"})
	if got := ids(storedRows(t, "--db", db)); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("after the dry run: %v, want a b c still", got)
	}
	checkDiff(t, diffOf(t, on(second)...), []string{"d"}, []string{"b"}, []string{"c"})
	rows = storedRows(t, "--db", db)
	if got := ids(rows); !slices.Equal(got, []string{"a", "b", "d"}) || rows["b"].URL != "https://shop.example/b2" {
		t.Errorf("after the second import: %v, b %+v; want a b d, b at /b2", got, rows["b"])
	}
	if got := storedRows(t, "--db", db, "--schedule", "daily"); !slices.Equal(ids(got), []string{"d"}) {
		t.Errorf("list --schedule daily: %v, want d", ids(got))
	}

	code, out, _ = cli(t, "targets", "show", "b", "--db", db, "-o", "json")
	var b targets.Row
	if err := json.Unmarshal([]byte(out), &b); code != exitOK || err != nil || b.ID != "b" || b.URL != "https://shop.example/b2" {
		t.Errorf("show b: exit %d, %q (%v)", code, out, err)
	}
	code, _, stderr = cli(t, "targets", "show", "zz", "--db", db)
	if code != exitError || !strings.Contains(stderr, "zz is not in the stored list") {
		t.Errorf("show zz: exit %d, stderr %q; want 1 saying zz is not stored", code, stderr)
	}

	// An unknown ID removes nothing, and is named.
	code, _, stderr = cli(t, "targets", "remove", "a", "zz", "yy", "--db", db)
	if code != exitError || !strings.Contains(stderr, "yy, zz") || !strings.Contains(stderr, "nothing removed") {
		t.Errorf("remove a zz yy: exit %d, stderr %q; want 1 naming yy, zz", code, stderr)
	}
	if got := ids(storedRows(t, "--db", db)); !slices.Equal(got, []string{"a", "b", "d"}) {
		t.Errorf("after a failed remove: %v, want a b d still", got)
	}
	code, out, stderr = cli(t, "targets", "remove", "a", "--db", db)
	if code != exitOK || !strings.Contains(out, "removed 1 target (a)") {
		t.Errorf("remove a: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	rows = storedRows(t, "--db", db)
	if got := ids(rows); !slices.Equal(got, []string{"b", "d"}) {
		t.Errorf("after remove a: %v, want b d", got)
	}

	// Exported, the list imports back as it is: into the same store it
	// changes nothing, into a new one it makes the same list.
	for _, format := range []string{"csv", "jsonl", "yaml"} {
		t.Run("export "+format, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "export."+format)
			code, _, stderr := cli(t, "targets", "export", "--db", db, "-o", file)
			if code != exitOK {
				t.Fatalf("export: exit %d, stderr %q", code, stderr)
			}
			checkDiff(t, diffOf(t, on(file)...), nil, nil, nil)
			other := filepath.Join(t.TempDir(), "other.db")
			if code, _, stderr := cli(t, "targets", "import", file, "--db", other, "--targets", tf); code != exitOK {
				t.Fatalf("import the export into a new store: exit %d, stderr %q", code, stderr)
			}
			if got := storedRows(t, "--db", other); !reflect.DeepEqual(got, rows) {
				t.Errorf("imported back: %+v\nwant %+v", got, rows)
			}
		})
	}
	code, out, _ = cli(t, "targets", "export", "--db", db, "--format", "csv")
	if code != exitOK || !strings.HasPrefix(out, "id,url,schedule") || !strings.Contains(out, "https://shop.example/b2") {
		t.Errorf("export --format csv to stdout: exit %d, %q", code, out)
	}

	// Every target removed: the list is empty, and there is nothing to
	// export (an empty file would not import).
	if code, out, stderr := cli(t, "targets", "remove", "d", "b", "--db", db); code != exitOK || !strings.Contains(out, "removed 2 targets (b, d)") {
		t.Errorf("remove d b: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	code, out, stderr = cli(t, "targets", "list", "--db", db, "-o", "table")
	if code != exitOK || out != "" || !strings.Contains(stderr, "no targets stored") {
		t.Errorf("list of an empty list: exit %d, stdout %q, stderr %q; want 0 saying none is stored", code, out, stderr)
	}
	code, out, stderr = cli(t, "targets", "export", "--db", db)
	if code != exitError || out != "" || !strings.Contains(stderr, "nothing to export") {
		t.Errorf("export of an empty list: exit %d, stdout %q, stderr %q; want 1, nothing to export", code, out, stderr)
	}
}

// A stored list is what the next tick plans: imported into a database
// the import makes, the list is crawled by the next run; changed, the run
// after crawls the new list, without the removed target.
func TestTargetsImportTakesEffectAtTheNextTick(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, "<title>t%s</title><p class=price>%s</p>", r.URL.Path, r.URL.Path)
	}))
	defer srv.Close()
	tf := writeFile(t, "targets.yaml", `schedules:
  hourly: { expression: "rate(1 hour)" }
defaults: { host_rate: 1000/s } # not a pacing test
extracts:
  product: { price: { css: .price } }
targets: []
`)
	db := filepath.Join(t.TempDir(), "local.db")
	tick := func(list string) map[string]job.Result {
		t.Helper()
		if code, _, stderr := cli(t, "targets", "import", list, "--targets", tf, "--db", db); code != exitOK {
			t.Fatalf("import: exit %d, %s", code, stderr)
		}
		// Each run in a second of its own: a run's ID is its tick's second,
		// and a second run --once in the same second is the same run.
		now := time.Now()
		time.Sleep(now.Truncate(time.Second).Add(time.Second + 10*time.Millisecond).Sub(now))
		code, out, stderr := cli(t, "run", "--once", "--targets", tf, "--db", db, "--allow-private", "--log-level", "error")
		if code != exitOK {
			t.Fatalf("run --once: exit %d\n%s\n%s", code, out, stderr)
		}
		code, out, stderr = cli(t, "runs", "list", "--db", db, "--limit", "1", "-o", "json")
		var run struct {
			ID      string `json:"run_id"`
			Planned int    `json:"planned"`
		}
		if err := json.Unmarshal([]byte(out), &run); code != exitOK || err != nil || run.Planned != 2 {
			t.Fatalf("runs list: exit %d, %q (%v), %s; want the run, 2 planned", code, out, err, stderr)
		}
		code, out, stderr = cli(t, "results", "run", run.ID, "--db", db, "-o", "json")
		if code != exitOK {
			t.Fatalf("results run %s: exit %d, %s", run.ID, code, stderr)
		}
		return decodeLines(t, out)
	}
	got := tick(writeFile(t, "first.csv", csvList(
		fmt.Sprintf("a,%s/a,hourly,,,,product", srv.URL),
		fmt.Sprintf("b,%s/b,hourly,,,,", srv.URL),
	)))
	if len(got) != 2 || got["a"].Status != job.StatusOK || got["a"].Fields["price"] != "/a" || got["b"].Status != job.StatusOK {
		t.Errorf("the first run's results %+v; want a (its price extracted by the named rules) and b, ok", got)
	}
	got = tick(writeFile(t, "second.csv", csvList(
		fmt.Sprintf("a,%s/a2,hourly,,,,product", srv.URL),
		fmt.Sprintf("c,%s/c,hourly,,,,", srv.URL),
	)))
	if len(got) != 2 || got["a"].Fields["price"] != "/a2" || got["c"].Status != job.StatusOK {
		t.Errorf("the second run's results %+v; want a at its new URL and c, and not b", got)
	}
}

// A large import shows its progress on stderr: a bar on a terminal, lines
// in a log; stdout has the diff and the summary either way.
func TestTargetsImportShowsProgress(t *testing.T) {
	tf := writeFile(t, "targets.yaml", listYAML)
	var rows []string
	for i := range 2000 {
		rows = append(rows, fmt.Sprintf("p%04d,https://shop%d.example/p/%d,hourly,,,,", i, i%10, i))
	}
	list := writeFile(t, "list.csv", csvList(rows...))
	for _, terminal := range []bool{false, true} {
		db := filepath.Join(t.TempDir(), "local.db")
		stdout, stderr := runWithStderr(t, []string{"targets", "import", list, "--targets", tf, "--db", db, "-o", "table"}, terminal, false)
		if !strings.Contains(stdout, "2000 added") || strings.ContainsAny(stdout, "\r\x1b") {
			t.Errorf("terminal %v: stdout %q; want the diff and the summary, no control characters", terminal, stdout)
		}
		if terminal {
			if !strings.Contains(stderr, "\r") || !strings.Contains(stderr, "writing") {
				t.Errorf("on a terminal: stderr %q; want a bar", stderr)
			}
			continue
		}
		// How often lines come depends on how the store counts its
		// writes (the local one per transaction); the last says done.
		lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
		for _, l := range lines {
			if !strings.HasPrefix(l, "targets: writing ") {
				t.Errorf("piped: stderr line %q is not a progress line", l)
			}
		}
		if last := lines[len(lines)-1]; last != "targets: writing 2001/2001" {
			t.Errorf("piped: last line %q; want targets: writing 2001/2001 (2000 targets and the layout)", last)
		}
	}
}

// A file with a bad row is rejected whole: every problem is printed with
// its place, the exit code is 2 and nothing is written.
func TestTargetsImportRejectsABadFileWhole(t *testing.T) {
	tf := writeFile(t, "targets.yaml", listYAML)
	db := filepath.Join(t.TempDir(), "local.db")
	good := writeFile(t, "good.csv", csvList("a,https://shop.example/a,hourly,,,,"))
	if code, _, stderr := cli(t, "targets", "import", good, "--db", db, "--targets", tf); code != exitOK {
		t.Fatalf("import: exit %d, %s", code, stderr)
	}
	for _, tt := range []struct {
		name, file, content string
		says                []string
		lacks               []string
	}{
		{"csv", "bad.csv", csvList(
			"a,https://shop.example/a,hourly,,,,",
			"b,https://shop.example/b,weekly,,,,",
			"c,not a url,hourly,,,,",
			"d,https://shop.example/d,hourly,,,,nosuch",
		), []string{"bad.csv:3:", `"weekly"`, "bad.csv:4:", "bad.csv:5:", `"nosuch"`}, nil},
		{"jsonl", "bad.jsonl", `{"id": "a", "url": "https://shop.example/a", "schedule": "hourly"}
{"id": "b", "url": "https://shop.example/b", "shedule": "hourly"}
`, []string{"bad.jsonl:2:", "shedule"}, nil},
		{"yaml", "bad.yaml", "targets:\n  - { id: a, url: \"https://shop.example/a\", schedule: hourly }\n  - { id: a, url: \"https://shop.example/b\", schedule: hourly }\n",
			[]string{"bad.yaml:3:", `"a"`}, nil},
		{"an ID of targets.yaml's own", "own.csv", csvList("own,https://shop.example/own,hourly,,,,"), []string{"own.csv:2:", `"own"`}, nil},
		{"no target", "empty.csv", csvList(), []string{"empty.csv:1:", "remove every stored target"}, nil},
		// A thousand bad rows print the first hundred problems, then a sum
		// of the rest, not a thousand lines.
		{"a thousand bad rows", "many.csv", csvList(manyRows(1000, "shop.example/%d,hourly,,,,")...),
			[]string{"many.csv:2:", "many.csv:101:", "… and 900 more problems not listed, of the kinds above"}, []string{"many.csv:102:", "many.csv:1001:"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bad := writeFile(t, tt.file, tt.content)
			fresh := filepath.Join(t.TempDir(), "new.db")
			for _, args := range [][]string{{bad, "--db", db}, {bad, "--db", fresh}} {
				code, out, stderr := cli(t, append([]string{"targets", "import", "--targets", tf}, args...)...)
				if code != exitUsage || out != "" {
					t.Errorf("import %s: exit %d, stdout %q; want %d and nothing printed but the problems", tt.file, code, out, exitUsage)
				}
				for _, want := range tt.says {
					if !strings.Contains(stderr, want) {
						t.Errorf("import %s: stderr lacks %q:\n%s", tt.file, want, stderr)
					}
				}
				for _, not := range tt.lacks {
					if strings.Contains(stderr, not) {
						t.Errorf("import %s: stderr says %q, past the problems it lists", tt.file, not)
					}
				}
			}
			if got := ids(storedRows(t, "--db", db)); !slices.Equal(got, []string{"a"}) {
				t.Errorf("after the rejected import: %v, want a alone", got)
			}
			if _, err := os.Stat(fresh); !os.IsNotExist(err) {
				t.Errorf("the rejected import made %s (%v)", fresh, err)
			}
		})
	}
}

// manyRows are n CSV rows with IDs r-0… and the rest of each row from
// format, given the row's number.
func manyRows(n int, format string) []string {
	rows := make([]string, n)
	for i := range rows {
		rows[i] = fmt.Sprintf("r-%d,"+format, i, i)
	}
	return rows
}

func TestTargetsUsage(t *testing.T) {
	tf := writeFile(t, "targets.yaml", listYAML)
	db := filepath.Join(t.TempDir(), "none.db")
	for _, tt := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"targets", "list", "--db", db}, exitError, "targets import FILE"},
		{[]string{"targets", "import", filepath.Join(t.TempDir(), "nope.csv"), "--db", db, "--targets", tf}, exitUsage, "nope.csv"},
		{[]string{"targets", "import", "x.csv", "--db", db, "--targets", filepath.Join(t.TempDir(), "nope.yaml")}, exitUsage, "nope.yaml"},
		{[]string{"targets", "import", "list.txt", "--db", db, "--targets", tf}, exitUsage, ".csv"},
		{[]string{"targets", "export", "--format", "xml", "--db", db}, exitUsage, "--format \"xml\""},
		{[]string{"targets", "list", "-o", "xml", "--db", db}, exitUsage, "use table, json or csv"},
		{[]string{"targets", "remove", "--db", db}, exitUsage, "requires at least 1 arg"},
		{[]string{"targets", "frobnicate"}, exitUsage, "unknown command"},
	} {
		code, _, stderr := cli(t, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.says) {
			t.Errorf("cronless %v: exit %d, stderr %q; want %d saying %q", tt.args, code, stderr, tt.code, tt.says)
		}
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("reading commands made %s (%v)", db, err)
	}
}

// On a stage the list is in its DynamoDB table (dynalite here): the CLI
// finds the table through CRONLESS_TABLE and needs nothing else of the
// stack.
func TestTargetsOnStage(t *testing.T) {
	ctx := context.Background()
	dl := standin.Dynalite(t, "")
	if err := dynamo.CreateTable(ctx, dl.DynamoDB(t), "cronless-test"); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		envTable: "cronless-test", "AWS_ENDPOINT_URL_DYNAMODB": dl.Endpoint,
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": standin.Region,
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
	} {
		t.Setenv(k, v)
	}
	tf := writeFile(t, "targets.yaml", listYAML)
	var rows []string
	for i := range 30 {
		rows = append(rows, fmt.Sprintf("p%02d,https://shop%d.example/p/%d,hourly,,,,product", i, i%3, i))
	}
	list := writeFile(t, "list.csv", csvList(rows...))
	code, out, stderr := cli(t, "targets", "import", list, "--stage", "test", "--targets", tf, "-o", "table")
	if code != exitOK || !strings.Contains(out, "30 added") || !strings.Contains(out, "stage test") {
		t.Fatalf("import on the stage: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	got := storedRows(t, "--stage", "test")
	if len(got) != 30 || got["p07"].URL != "https://shop1.example/p/7" || got["p07"].Rank != 2 || got["p07"].Extract != "product" {
		t.Errorf("list on the stage: %d targets, p07 %+v; want 30, p07 of rank 2 (the third of shop1.example)", len(got), got["p07"])
	}
	checkDiff(t, diffOf(t, list, "--stage", "test", "--targets", tf), nil, nil, nil)
}
