// The choice of the deployment a rollback goes back to.

package deployments

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Choice is the deployment a rollback goes back to, and why.
type Choice struct {
	To Deployment
	// From is the live deployment (zero when not known).
	From Deployment
	// Named: To was named; otherwise it is the one before the live one.
	Named bool
	// Skipped are deployments between From and To that osls cannot roll
	// back to (with their Problem).
	Skipped []Deployment
}

// Choose picks the deployment to roll back to: the one named by to (see
// ParseTimestamp), or, when to is empty, the newest deployment older than
// the live one that osls can roll back to.
func (l *Listing) Choose(to string) (Choice, error) {
	live, hasLive := l.Live()
	c := Choice{From: live, Named: to != ""}
	if to != "" {
		d, err := l.Find(to)
		if err != nil {
			return Choice{}, err
		}
		if d.State == StateLive {
			return Choice{}, fmt.Errorf("%w: %s (%s) is the live deployment already; the others:\n%s", ErrUnusable, d.Timestamp, stamp(d), l.table(d.Directory))
		}
		if d.Problem != "" {
			return Choice{}, fmt.Errorf("%w: %s (%s): %s", ErrUnusable, d.Timestamp, stamp(d), d.Problem)
		}
		c.To = d
		return c, nil
	}
	if !hasLive {
		why := l.Stack.LiveProblem
		if why == "" {
			why = fmt.Sprintf("its functions' code comes from %s, which is no longer in s3://%s/%s", l.Stack.LiveDirectory, l.Stack.Bucket, l.Prefix)
		}
		return Choice{}, fmt.Errorf("%w: cannot tell which deployment is live (%s), so none is \"the previous\"; name one by its TIMESTAMP (make rollback TO=..., cronless rollback --to ...):\n%s", ErrNoPrevious, why, l.table(""))
	}
	for _, d := range l.Deployments {
		switch {
		case d.State == StatePrevious:
			c.To = d
			return c, nil
		case d.State == StateOlder && d.Problem != "":
			c.Skipped = append(c.Skipped, d)
		}
	}
	msg := fmt.Sprintf("nothing older than the live deployment %s (%s) in s3://%s/%s", live.Timestamp, stamp(live), l.Stack.Bucket, l.Prefix)
	if len(c.Skipped) > 0 {
		msg += " that osls can roll back to:\n" + l.table(live.Directory)
	} else if len(l.Deployments) > 1 {
		msg += "; the newer ones:\n" + l.table(live.Directory)
	}
	return Choice{}, fmt.Errorf("%w: %s", ErrNoPrevious, msg)
}

// Find returns the deployment to names: its epoch milliseconds (the
// TIMESTAMP osls and `cronless deployments` print), its directory name, or
// its time in RFC 3339 (to the second or to the millisecond).
func (l *Listing) Find(to string) (Deployment, error) {
	match, err := ParseTimestamp(to)
	if err != nil {
		return Deployment{}, err
	}
	var found []Deployment
	for _, d := range l.Deployments {
		if match(d) {
			found = append(found, d)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		if len(l.Deployments) == 0 {
			return Deployment{}, fmt.Errorf("%w: %s: s3://%s/%s holds no deployment", ErrNotFound, to, l.Stack.Bucket, l.Prefix)
		}
		return Deployment{}, fmt.Errorf("%w: %s is not one of the deployments osls keeps for stage %s (newest first):\n%s", ErrNotFound, to, l.Stage, l.table(""))
	}
	return Deployment{}, fmt.Errorf("%w: %s matches %d deployments; name one by its TIMESTAMP:\n%s", ErrNotFound, to, len(found), l.table(""))
}

var (
	millisRe = regexp.MustCompile(`^[0-9]{1,15}$`)
	dirRe    = regexp.MustCompile(`^[0-9]{1,15}-[0-9]{4}-`)
)

// ParseTimestamp parses a deployment's name as Find takes it, and returns
// what matches it.
func ParseTimestamp(to string) (func(Deployment) bool, error) {
	to = strings.TrimSpace(to)
	switch {
	case millisRe.MatchString(to):
		return func(d Deployment) bool { return compareMillis(d.Timestamp, to) == 0 }, nil
	case dirRe.MatchString(to):
		return func(d Deployment) bool { return d.Directory == to }, nil
	}
	t, err := time.Parse(time.RFC3339Nano, to)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: give the TIMESTAMP column of `make deployments` (epoch milliseconds, such as 1796605481586), a directory name, or its time in RFC 3339", ErrBadTimestamp, to)
	}
	if !strings.Contains(to, ".") {
		return func(d Deployment) bool { return d.DeployedAt.Truncate(time.Second).Equal(t) }, nil
	}
	return func(d Deployment) bool { return d.DeployedAt.Equal(t.Truncate(time.Millisecond)) }, nil
}

// table is the deployments for an error message, one a line, marking
// the live one and leaving out skip (a directory).
func (l *Listing) table(skip string) string {
	var b strings.Builder
	for _, d := range l.Deployments {
		if d.Directory == skip {
			continue
		}
		note := d.State
		if d.Problem != "" {
			note = strings.TrimSpace(note + " (" + d.Problem + ")")
		}
		fmt.Fprintf(&b, "  %s  %s  %s\n", d.Timestamp, stamp(d), note)
	}
	return strings.TrimRight(b.String(), "\n")
}

func stamp(d Deployment) string { return d.DeployedAt.Format(time.RFC3339) }
