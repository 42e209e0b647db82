// What a rollback runs, and when the stack can take it.

package deployments

import (
	"fmt"
	"regexp"
	"strings"
)

// Updatable returns an error matching ErrStackBusy, saying what to do,
// when CloudFormation cannot update a stack in this status.
func Updatable(stack, region, status string) error {
	switch status {
	case "CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE":
		return nil
	case "UPDATE_ROLLBACK_FAILED":
		return fmt.Errorf("%w: stack %s is %s: finish that rollback first (aws cloudformation continue-update-rollback --stack-name %s --region %s), then roll back again", ErrStackBusy, stack, status, stack, region)
	case "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED":
		return fmt.Errorf("%w: stack %s is %s: its first deploy failed, so there is no deployment to go back to; `make remove` it and deploy again", ErrStackBusy, stack, status)
	}
	if strings.HasSuffix(status, "_IN_PROGRESS") {
		return fmt.Errorf("%w: stack %s is %s: wait until it ends (`make deployments` shows its status), then roll back again", ErrStackBusy, stack, status)
	}
	return fmt.Errorf("%w: stack %s is %s, which CloudFormation does not update; see its events in the CloudFormation console", ErrStackBusy, stack, status)
}

// Rollback is how to run `osls rollback` for a stage.
type Rollback struct {
	Timestamp string // Deployment.Timestamp
	Stage     string
	Region    string
	Profile   string   // an AWS profile, or "" for the environment's
	Params    []string // "name=value" for osls's --param
}

// Argv is the command line of the rollback: osls from node_modules
// (npx --no-install never downloads it).
func (r Rollback) Argv() []string {
	argv := []string{"npx", "--no-install", "osls", "rollback", "--timestamp", r.Timestamp, "--stage", r.Stage, "--region", r.Region}
	if r.Profile != "" {
		argv = append(argv, "--aws-profile", r.Profile)
	}
	for _, p := range r.Params {
		argv = append(argv, "--param", p)
	}
	return argv
}

// shellSafe is an argument a shell reads as is.
var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// ShellQuote joins argv into one line a POSIX shell reads back as argv.
func ShellQuote(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if shellSafe.MatchString(a) {
			out[i] = a
		} else {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}
