package dynamo

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo/ddb"
)

// History returns a target's results scheduled in [since, until), newest
// first, at most limit of them, by a strongly consistent Query of the
// target's partition. A zero since or until leaves that end open; limit <=
// 0 means no limit.
func (s *Store) History(ctx context.Context, targetID string, since, until time.Time, limit int) ([]job.Result, error) {
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		return []job.Result{}, nil
	}
	in := targetResults(s.table, targetID)
	in.ScanIndexForward = aws.Bool(false)
	lo, hi := prefixResult, prefixResult+"~" // "~" sorts after every time
	if !since.IsZero() {
		lo = prefixResult + ddb.TimeString(since)
	}
	if !until.IsZero() {
		// Every SK at until is "R#<until>#<run>", above hi, so BETWEEN
		// (inclusive) leaves them out.
		hi = prefixResult + ddb.TimeString(until)
	}
	in.KeyConditionExpression = aws.String("#pk = :pk AND #sk BETWEEN :lo AND :hi")
	delete(in.ExpressionAttributeValues, ":r")
	in.ExpressionAttributeValues[":lo"], in.ExpressionAttributeValues[":hi"] = ddb.S(lo), ddb.S(hi)
	if limit > 0 {
		in.Limit = aws.Int32(int32(min(limit, 1000)))
	}
	its, err := query(ctx, s, in, limit, func(it item) (item, error) { return it, nil })
	if err == nil {
		var rs []job.Result
		if rs, err = s.decodeResolved(ctx, its); err == nil {
			return rs, nil
		}
	}
	return nil, fmt.Errorf("dynamo: history of %q: %w", targetID, err)
}

// Changed returns the results whose Changed flag is set and that were
// scheduled at or after since (all when since is zero), newest first, then
// by target ID. It queries GSI1 for the runs scheduled since then and each
// of those runs' entries filtered on changed, then reads those results.
func (s *Store) Changed(ctx context.Context, since time.Time) ([]job.Result, error) {
	runIDs, err := s.runsSince(ctx, since)
	if err != nil {
		return nil, fmt.Errorf("dynamo: changed since %s: %w", since.Format(time.RFC3339), err)
	}
	rs := []job.Result{}
	for _, id := range runIDs {
		more, err := s.runResults(ctx, id, attrChanged, ddb.Bool(true))
		if err != nil {
			return nil, fmt.Errorf("dynamo: changed since %s: run %q: %w", since.Format(time.RFC3339), id, err)
		}
		rs = append(rs, more...)
	}
	slices.SortFunc(rs, func(a, b job.Result) int {
		return cmp.Or(b.ScheduledAt.Compare(a.ScheduledAt), strings.Compare(a.TargetID, b.TargetID), strings.Compare(b.RunID, a.RunID))
	})
	return rs, nil
}

// runsSince returns the IDs of the runs scheduled at or after since.
func (s *Store) runsSince(ctx context.Context, since time.Time) ([]string, error) {
	in := gsi1(gsiRuns)
	in.TableName = aws.String(s.table)
	in.KeyConditionExpression = aws.String("#gpk = :gpk AND #gsk >= :since")
	in.ProjectionExpression = aws.String("#rid")
	in.ExpressionAttributeNames["#gsk"], in.ExpressionAttributeNames["#rid"] = AttrGSI1SK, attrRunID
	in.ExpressionAttributeValues[":since"] = ddb.S(ddb.TimeString(since))
	in.ScanIndexForward = aws.Bool(false)
	return query(ctx, s, in, 0, func(it item) (string, error) { return it.Str(attrRunID), nil })
}

// Failed returns the failed results of run runID ordered by target ID or,
// when runID is empty, the most recent failed result of every target that
// has one (whether or not a later run succeeded), ordered by target ID: for
// each target of the target list, its results newest first up to its last
// failure.
func (s *Store) Failed(ctx context.Context, runID string) ([]job.Result, error) {
	failed := ddb.S(string(job.StatusFailed))
	if runID != "" {
		rs, err := s.runResults(ctx, runID, attrStatus, failed)
		if err != nil {
			return nil, fmt.Errorf("dynamo: failed results of run %q: %w", runID, err)
		}
		return rs, nil
	}
	ids, err := s.targets(ctx)
	if err != nil {
		return nil, fmt.Errorf("dynamo: failed results: %w", err)
	}
	rs := []job.Result{}
	for _, id := range ids {
		in := filtered(targetResults(s.table, id), attrStatus, failed)
		in.ScanIndexForward = aws.Bool(false)
		in.Limit = aws.Int32(25)
		its, err := query(ctx, s, in, 1, func(it item) (item, error) { return it, nil })
		if err != nil {
			return nil, fmt.Errorf("dynamo: failed results: target %q: %w", id, err)
		}
		last, err := s.decodeResolved(ctx, its)
		if err != nil {
			return nil, fmt.Errorf("dynamo: failed results: target %q: %w", id, err)
		}
		rs = append(rs, last...)
	}
	return rs, nil
}

// Previous returns the validators of each target's newest result in the
// schedule's store.PreviousRuns most recent runs scheduled before before: the
// run items (GSI1 RUNS, newest first, filtered on the schedule), then those
// runs' GSI1 entries, which hold the validators (GSI1's projection), read
// eventually consistent. The second run is read only when the first lacks
// some of its planned targets (a run still in progress, or with lost jobs).
//
// An entry is some 400 bytes, so the planner reads about 0.05 read units
// a target a tick (docs/aws.md has the measured figure).
func (s *Store) Previous(ctx context.Context, schedule string, before time.Time) ([]store.Validators, error) {
	vs, err := s.previous(ctx, schedule, before)
	if err != nil {
		return nil, fmt.Errorf("dynamo: previous results of schedule %q: %w", schedule, err)
	}
	return vs, nil
}

func (s *Store) previous(ctx context.Context, schedule string, before time.Time) ([]store.Validators, error) {
	in := filtered(gsi1(gsiRuns), attrSchedule, ddb.S(schedule))
	in.TableName = aws.String(s.table)
	in.KeyConditionExpression = aws.String("#gpk = :gpk AND #gsk < :before")
	in.ExpressionAttributeNames["#gsk"] = AttrGSI1SK
	in.ExpressionAttributeValues[":before"] = ddb.S(ddb.TimeString(before))
	in.ScanIndexForward = aws.Bool(false)
	runs, err := query(ctx, s, in, store.PreviousRuns, decodeRun)
	if err != nil {
		return nil, fmt.Errorf("runs: %w", err)
	}
	byTarget := map[string]store.Validators{}
	for i, run := range runs {
		var (
			mu sync.Mutex
			n  int
		)
		err := s.eachOfRun(ctx, run.ID, "", nil, func(it item) error {
			v, err := decodeValidators(it)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			n++
			if _, newer := byTarget[v.TargetID]; !newer {
				byTarget[v.TargetID] = v
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("run %q: %w", run.ID, err)
		}
		if i == 0 && run.Planned > 0 && n >= run.Planned {
			break // the newest run has every planned target's result
		}
	}
	out := make([]store.Validators, 0, len(byTarget))
	for _, v := range byTarget {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b store.Validators) int { return strings.Compare(a.TargetID, b.TargetID) })
	return out, nil
}

// decodeValidators reads the validators of a result's GSI1 entry.
func decodeValidators(it item) (store.Validators, error) {
	at, runID, err := parseResultSK(it.Str(AttrSK))
	if err != nil {
		return store.Validators{}, err
	}
	return store.Validators{
		TargetID:     strings.TrimPrefix(it.Str(AttrPK), prefixTarget),
		RunID:        runID,
		ScheduledAt:  at,
		URL:          it.Str(attrURL),
		Status:       job.Status(it.Str(attrStatus)),
		ETag:         it.Str(attrETag),
		LastModified: it.Str(attrLastMod),
		ContentHash:  it.Hash(attrContentHash),
		RulesHash:    it.Hash(attrRulesHash),
	}, nil
}

// Attempts returns the recorded failed attempts of a (run, target) in time
// order (then by attempt number and message ID), by a strongly consistent
// Query of the target's attempt items of the run.
func (s *Store) Attempts(ctx context.Context, runID, targetID string) ([]store.Attempt, error) {
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("#pk = :pk AND begins_with(#sk, :sk)"),
		// The run ID is part of the sort key prefix; the filter keeps out
		// a run whose ID extends this one's with "#".
		FilterExpression:         aws.String("#rid = :rid"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#sk": AttrSK, "#rid": attrRunID},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": ddb.S(targetPK(targetID)), ":sk": ddb.S(prefixAttempt + runID + "#"), ":rid": ddb.S(runID),
		},
		ConsistentRead: aws.Bool(true),
	}
	as, err := query(ctx, s, in, 0, decodeAttempt)
	if err != nil {
		return nil, fmt.Errorf("dynamo: attempts of %s/%s: %w", targetID, runID, err)
	}
	slices.SortStableFunc(as, func(a, b store.Attempt) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Attempt, b.Attempt), strings.Compare(a.MessageID, b.MessageID))
	})
	return as, nil
}
