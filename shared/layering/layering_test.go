// Package layering holds only a test: it checks the dependency rules of
// docs/code.md, so a change that breaks them fails `make test`.
package layering_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/cronless/cronless/"

// forbidden lists, for each group of packages, the imports (prefixes) that
// must not appear among their dependencies, direct or indirect.
var rules = []struct {
	why       string
	packages  []string
	forbidden []string
}{
	{
		why:      "handler cores import ports and contracts, never the AWS SDK or SQLite",
		packages: []string{"shared/planner", "shared/worker", "shared/results", "shared/job", "shared/crawl"},
		forbidden: []string{
			"github.com/aws/aws-sdk-go-v2", "modernc.org/sqlite", "database/sql",
			module + "shared/sqlite", module + "shared/queue/localq", module + "shared/store/localstore", module + "shared/local",
		},
	},
	{
		why:      "the Lambda binaries stay small: they never link SQLite, the local runtime or the CLI",
		packages: []string{"functions/planner", "functions/worker", "functions/results"},
		forbidden: []string{
			"modernc.org/sqlite", "database/sql", "github.com/spf13/cobra",
			module + "shared/sqlite", module + "shared/queue/localq", module + "shared/store/localstore",
			module + "shared/local", module + "shared/demosite", module + "cmd",
		},
	},
	{
		why:       "the local runtime works over the ports, so it can run on any backend",
		packages:  []string{"shared/local"},
		forbidden: []string{"modernc.org/sqlite", "github.com/aws/aws-sdk-go-v2", module + "shared/sqlite"},
	},
}

func TestDependencyRules(t *testing.T) {
	for _, r := range rules {
		for _, pkg := range r.packages {
			out, err := exec.Command("go", "list", "-deps", module+pkg).CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
			}
			for _, dep := range strings.Fields(string(out)) {
				for _, bad := range r.forbidden {
					if dep == bad || strings.HasPrefix(dep, bad+"/") {
						t.Errorf("%s depends on %s: %s", pkg, dep, r.why)
					}
				}
			}
		}
	}
}
