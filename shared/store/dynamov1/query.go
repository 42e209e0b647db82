package dynamov1

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo/ddb"
)

// Run returns one run with its targets, or an error wrapping
// store.ErrNotFound. A run that only results have created so far has
// Planned 0.
//
// The run item and its targets item are read by one strongly consistent
// Query of the run's partition (RUN#<runID>, Plan); the targets are returned
// when they are as many as the planned count (see PutRun). Its counters and result times
// are derived from its results: a Query of GSI1 that reads all of the run's
// result items (DynamoDB charges for the items' full size, about 0.5 read
// units per 4 KB, e.g. some 125 units for a run of 1,000 results of 1 KB).
func (s *Store) Run(ctx context.Context, runID string) (store.Run, error) {
	run, err := s.plan(ctx, runID)
	if err == nil {
		err = s.count(ctx, &run)
	}
	if err != nil {
		return store.Run{}, fmt.Errorf("dynamo: run %q: %w", runID, err)
	}
	return run, nil
}

// Plan returns one run with its planned count and targets, as Run does,
// but without its counters and result times: it reads the run's partition
// (its run and targets items) and none of its results. Migrate copies runs
// with it.
func (s *Store) Plan(ctx context.Context, runID string) (store.Run, error) {
	run, err := s.plan(ctx, runID)
	if err != nil {
		return store.Run{}, fmt.Errorf("dynamo: plan of run %q: %w", runID, err)
	}
	return run, nil
}

func (s *Store) plan(ctx context.Context, runID string) (store.Run, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ddb.S(runPK(runID))},
		ConsistentRead:            aws.Bool(true),
	}
	items, err := query(ctx, s, in, 0, func(it item) (item, error) { return it, nil })
	if err != nil {
		return store.Run{}, err
	}
	var summary, targets item
	for _, it := range items {
		switch it.Str(AttrSK) {
		case skRun:
			summary = it
		case skTargets:
			targets = it
		}
	}
	if summary == nil {
		return store.Run{}, store.ErrNotFound
	}
	run, err := decodeRun(summary)
	if err == nil && targets != nil {
		run.Targets, err = decodeTargets(targets)
		if len(run.Targets) != run.Planned {
			// Another plan's, stored by a PutRun that found the run
			// planned (without targets, or by an older cronless).
			run.Targets = nil
		}
	}
	if err != nil {
		return store.Run{}, err
	}
	return run, nil
}

// Plans returns every run, oldest scheduled first, with its planned count
// but without its counters, result times or targets: one Query of GSI1
// that reads run items only (Runs also reads every run's results). Migrate
// lists the runs to copy with it.
func (s *Store) Plans(ctx context.Context) ([]store.Run, error) {
	in := gsi1(gsiRuns)
	in.TableName = aws.String(s.table)
	runs, err := query(ctx, s, in, 0, decodeRun)
	if err != nil {
		return nil, fmt.Errorf("dynamo: plans: %w", err)
	}
	return runs, nil
}

// Runs returns up to limit runs, newest scheduled first (all when limit <=
// 0), each with its counters (see Run for their cost) and without its
// targets: the Query of GSI1 reads run items only (targets items are in no
// index).
func (s *Store) Runs(ctx context.Context, limit int) ([]store.Run, error) {
	in := gsi1(gsiRuns)
	in.TableName = aws.String(s.table)
	in.ScanIndexForward = aws.Bool(false)
	if limit > 0 {
		in.Limit = aws.Int32(int32(min(limit, 1000)))
	}
	runs, err := query(ctx, s, in, limit, decodeRun)
	if err != nil {
		return nil, fmt.Errorf("dynamo: runs: %w", err)
	}
	for i := range runs {
		if err := s.count(ctx, &runs[i]); err != nil {
			return nil, fmt.Errorf("dynamo: runs: run %q: %w", runs[i].ID, err)
		}
	}
	return runs, nil
}

// count fills in a run's counters and result times from its results.
func (s *Store) count(ctx context.Context, run *store.Run) error {
	in := gsi1(runPK(run.ID))
	in.TableName = aws.String(s.table)
	in.ProjectionExpression = aws.String("#st, #sa")
	in.ExpressionAttributeNames["#st"], in.ExpressionAttributeNames["#sa"] = attrStatus, attrStoredAt
	run.Succeeded, run.Failed = 0, 0
	run.FirstResultAt, run.LastResultAt = time.Time{}, time.Time{}
	return s.each(ctx, in, func(it item) (bool, error) {
		if it.Str(attrStatus) == string(job.StatusOK) {
			run.Succeeded++
		} else {
			run.Failed++
		}
		at, err := it.Time(attrStoredAt)
		if err != nil {
			return false, err
		}
		if !at.IsZero() {
			if run.FirstResultAt.IsZero() || at.Before(run.FirstResultAt) {
				run.FirstResultAt = at
			}
			if at.After(run.LastResultAt) {
				run.LastResultAt = at
			}
		}
		return true, nil
	})
}

// Result returns one result, or an error wrapping store.ErrNotFound.
func (s *Store) Result(ctx context.Context, targetID, runID string) (job.Result, error) {
	it, found, err := s.getItem(ctx, ddb.Key(targetPK(targetID), resultSK(runID)))
	if err != nil {
		return job.Result{}, fmt.Errorf("dynamo: result %s/%s: %w", targetID, runID, err)
	}
	if !found {
		return job.Result{}, fmt.Errorf("dynamo: result %s/%s: %w", targetID, runID, store.ErrNotFound)
	}
	r, err := decodeResult(it)
	if err != nil {
		return job.Result{}, fmt.Errorf("dynamo: result %s/%s: %w", targetID, runID, err)
	}
	return r, nil
}

// Latest returns the latest result of every target (a Query of GSI1 on
// LATEST), or of targetID when it is not empty (a GetItem; none for an
// unknown target), ordered by target ID.
func (s *Store) Latest(ctx context.Context, targetID string) ([]job.Result, error) {
	rs := []job.Result{}
	if targetID != "" {
		it, found, err := s.getItem(ctx, ddb.Key(targetPK(targetID), skLatest))
		if err == nil && found {
			rs, err = decodeResults([]map[string]types.AttributeValue{it}, rs)
		}
		if err != nil {
			return nil, fmt.Errorf("dynamo: latest %q: %w", targetID, err)
		}
		return rs, nil
	}
	return s.LatestAll(ctx)
}

// LatestAll returns the latest result of every target, ordered by target
// ID: a Query of GSI1 on LATEST and nothing else, so the planner's role
// needs no GetItem (docs/aws.md, IAM).
func (s *Store) LatestAll(ctx context.Context) ([]job.Result, error) {
	rs, err := s.queryResults(ctx, gsi1(gsiLatest))
	if err != nil {
		return nil, fmt.Errorf("dynamo: latest of every target: %w", err)
	}
	return rs, nil
}

// RunResults returns one run's results ordered by target ID (none for an
// unknown run), by a Query of GSI1.
func (s *Store) RunResults(ctx context.Context, runID string) ([]job.Result, error) {
	rs, err := s.queryResults(ctx, gsi1(runPK(runID)))
	if err != nil {
		return nil, fmt.Errorf("dynamo: results of run %q: %w", runID, err)
	}
	return rs, nil
}

// gsi1 queries GSI1 for one partition, in GSI1SK order.
func gsi1(pk string) *dynamodb.QueryInput {
	return &dynamodb.QueryInput{
		IndexName:                 aws.String(IndexGSI1),
		KeyConditionExpression:    aws.String("#gpk = :gpk"),
		ExpressionAttributeNames:  map[string]string{"#gpk": AttrGSI1PK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":gpk": ddb.S(pk)},
	}
}

// filtered adds a filter on one attribute to a query.
func filtered(in *dynamodb.QueryInput, attr string, v types.AttributeValue) *dynamodb.QueryInput {
	in.FilterExpression = aws.String("#f = :f")
	in.ExpressionAttributeNames["#f"] = attr
	in.ExpressionAttributeValues[":f"] = v
	return in
}

// queryResults runs a query of result (or latest) items and decodes them all.
func (s *Store) queryResults(ctx context.Context, in *dynamodb.QueryInput) ([]job.Result, error) {
	in.TableName = aws.String(s.table)
	return query(ctx, s, in, 0, decodeResult)
}

// History returns a target's results scheduled in [since, until), newest
// first, at most limit of them, by a strongly consistent Query of LSI1. A
// zero since or until leaves that end open; limit <= 0 means no limit.
func (s *Store) History(ctx context.Context, targetID string, since, until time.Time, limit int) ([]job.Result, error) {
	in := s.historyInput(targetID, since, until, limit)
	if in == nil {
		return []job.Result{}, nil
	}
	rs, err := query(ctx, s, in, limit, decodeResult)
	if err != nil {
		return nil, fmt.Errorf("dynamo: history of %q: %w", targetID, err)
	}
	return rs, nil
}

// HistoryStored is History, without a limit, with the times the results
// were stored: what a migration copies.
func (s *Store) HistoryStored(ctx context.Context, targetID string, since, until time.Time) ([]store.StoredResult, error) {
	in := s.historyInput(targetID, since, until, 0)
	if in == nil {
		return []store.StoredResult{}, nil
	}
	rs, err := query(ctx, s, in, 0, func(it item) (store.StoredResult, error) {
		r, err := decodeResult(it)
		if err != nil {
			return store.StoredResult{}, err
		}
		at, err := it.Time(attrStoredAt)
		if err != nil {
			return store.StoredResult{}, fmt.Errorf("stored result %s: %w", it.KeyString(), err)
		}
		return store.StoredResult{Result: r, StoredAt: at}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("dynamo: history of %q: %w", targetID, err)
	}
	return rs, nil
}

// historyInput is the Query of History (nil: the range is empty).
func (s *Store) historyInput(targetID string, since, until time.Time, limit int) *dynamodb.QueryInput {
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		IndexName:                aws.String(IndexLSI1),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#lsk": AttrLSI1SK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": ddb.S(targetPK(targetID)), ":lo": ddb.S(prefixAt),
		},
		ScanIndexForward: aws.Bool(false),
		ConsistentRead:   aws.Bool(true),
	}
	if !since.IsZero() {
		in.ExpressionAttributeValues[":lo"] = ddb.S(prefixAt + ddb.TimeString(since))
	}
	if until.IsZero() {
		in.KeyConditionExpression = aws.String("#pk = :pk AND #lsk >= :lo")
	} else {
		// Every order key at until is "AT#<until>#<run>", above :hi, so
		// BETWEEN (inclusive) leaves them out.
		in.KeyConditionExpression = aws.String("#pk = :pk AND #lsk BETWEEN :lo AND :hi")
		in.ExpressionAttributeValues[":hi"] = ddb.S(prefixAt + ddb.TimeString(until))
		if !since.IsZero() && !since.Before(until) {
			return nil
		}
	}
	if limit > 0 {
		in.Limit = aws.Int32(int32(min(limit, 1000)))
	}
	return in
}

// Changed returns the results whose Changed flag is set and that were
// scheduled at or after since (all when since is zero), newest first, then
// by target ID. It queries GSI1 for the runs scheduled since then and each
// of those runs' results (filtered on changed; the filtered-out items are
// read and paid for too).
func (s *Store) Changed(ctx context.Context, since time.Time) ([]job.Result, error) {
	runIDs, err := s.runsSince(ctx, since)
	if err != nil {
		return nil, fmt.Errorf("dynamo: changed since %s: %w", since.Format(time.RFC3339), err)
	}
	rs := []job.Result{}
	for _, id := range runIDs {
		more, err := s.queryResults(ctx, filtered(gsi1(runPK(id)), attrChanged, ddb.Bool(true)))
		if err != nil {
			return nil, fmt.Errorf("dynamo: changed since %s: run %q: %w", since.Format(time.RFC3339), id, err)
		}
		rs = append(rs, more...)
	}
	slices.SortFunc(rs, func(a, b job.Result) int {
		if c := b.ScheduledAt.Compare(a.ScheduledAt); c != 0 {
			return c
		}
		if c := strings.Compare(a.TargetID, b.TargetID); c != 0 {
			return c
		}
		return strings.Compare(b.RunID, a.RunID)
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
// has one (whether or not a later run succeeded), ordered by target ID. The
// latter reads the latest item of every target and, for each whose latest
// result is ok, queries its results newest first up to its last failure.
func (s *Store) Failed(ctx context.Context, runID string) ([]job.Result, error) {
	failed := ddb.S(string(job.StatusFailed))
	if runID != "" {
		rs, err := s.queryResults(ctx, filtered(gsi1(runPK(runID)), attrStatus, failed))
		if err != nil {
			return nil, fmt.Errorf("dynamo: failed results of run %q: %w", runID, err)
		}
		return rs, nil
	}
	latest, err := s.Latest(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("dynamo: failed results: %w", err)
	}
	rs := []job.Result{}
	for _, l := range latest {
		if l.Status == job.StatusFailed {
			rs = append(rs, l)
			continue
		}
		in := &dynamodb.QueryInput{
			TableName:                aws.String(s.table),
			IndexName:                aws.String(IndexLSI1),
			KeyConditionExpression:   aws.String("#pk = :pk AND begins_with(#lsk, :at)"),
			ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#lsk": AttrLSI1SK},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": ddb.S(targetPK(l.TargetID)), ":at": ddb.S(prefixAt),
			},
			ScanIndexForward: aws.Bool(false),
			Limit:            aws.Int32(25),
		}
		last, err := query(ctx, s, filtered(in, attrStatus, failed), 1, decodeResult)
		if err != nil {
			return nil, fmt.Errorf("dynamo: failed results: target %q: %w", l.TargetID, err)
		}
		rs = append(rs, last...)
	}
	return rs, nil
}

// Attempts returns the recorded failed attempts of a (run, target) in time
// order (then by attempt number and message ID), by a strongly consistent
// Query of the target's attempt items of the run. It reads the items of
// both SK formats (attemptSK); an attempt stored in both (a redelivery
// across the change of format) is returned once.
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
	all, err := query(ctx, s, in, 0, decodeAttempt)
	if err != nil {
		return nil, fmt.Errorf("dynamo: attempts of %s/%s: %w", targetID, runID, err)
	}
	as := all[:0]
	seen := map[attemptKey]bool{}
	for _, a := range all {
		if k := (attemptKey{a.MessageID, a.Attempt}); !seen[k] {
			seen[k] = true
			as = append(as, a)
		}
	}
	slices.SortStableFunc(as, func(a, b store.Attempt) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Attempt, b.Attempt), strings.Compare(a.MessageID, b.MessageID))
	})
	return as, nil
}

// attemptKey identifies an attempt within its (run, target).
type attemptKey struct {
	messageID string
	attempt   int
}
