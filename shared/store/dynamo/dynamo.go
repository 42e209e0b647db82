// Package dynamo is the Amazon DynamoDB adapter of the store port
// (store.Store), over aws-sdk-go-v2, with the CLI's queries History, Changed
// and Failed; storetest holds it to the same contract as localstore.
//
// This is the table's schema v2 (docs/aws.md, "Table": a
// result costs about a third of v1's write units, and no partition key
// takes every result of a run). Package dynamov1 reads tables of the
// schema before it, for `cronless migrate`.
//
// The table, its items and every write are described in docs/aws.md
// (TableInput creates the table). There are no transactions (they double a
// write's cost): every write is one single-item PutItem or UpdateItem,
// idempotent or monotonic, so duplicate, out-of-order and concurrent
// deliveries leave the table right (link says how for the Changed flags).
//
// The SDK's standard retryer retries throttling and 5xx errors; the Store
// retries only BatchWriteItem's UnprocessedItems (WithRetry), which the SDK
// returns as a success.
package dynamo

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo/ddb"
)

var _ store.Store = (*Store)(nil)

// API is the part of the DynamoDB API the Store uses, with the SDK's own
// signatures, so a *dynamodb.Client satisfies it.
type API interface {
	GetItem(ctx context.Context, params *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, params *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, params *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, params *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchWriteItem(ctx context.Context, params *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	BatchGetItem(ctx context.Context, params *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// DefaultRetention is how long result and attempt items live (DynamoDB TTL
// on expires_at) unless WithRetention says otherwise.
const DefaultRetention = 90 * 24 * time.Hour

// Store is the DynamoDB store. Create it with New. It is safe for
// concurrent use, and any number of Stores (Lambda instances) may write
// the same table at once.
type Store struct {
	db        API
	table     string
	retention time.Duration
	now       func() time.Time
	// retry is how batch writes and reads retry the items DynamoDB left
	// unprocessed (tests record its sleeps).
	retry ddb.Retry
	// runs are the IDs of runs this Store knows have their run item, so
	// that a result reads its run item once per Store, not per result.
	runs *knownRuns
}

// Option configures a Store.
type Option func(*Store)

// WithRetention sets how long result and attempt items live: they carry
// expires_at (epoch seconds) that far after they were stored, and DynamoDB's
// TTL deletes them after that. 0 or less stores them without expiry. The
// default is DefaultRetention.
func WithRetention(d time.Duration) Option {
	return func(s *Store) { s.retention = d }
}

// WithClock sets the clock of stored-at, created-at and expiry times.
func WithClock(now func() time.Time) Option {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}

// WithRetry sets how a batch write retries the items DynamoDB left
// unprocessed: up to attempts calls per chunk of 25 items, waiting between
// them an exponential backoff from base, capped at maxDelay, with jitter
// (the n-th wait is between half and all of min(base·2ⁿ⁻¹, maxDelay)). The
// default is 8 calls
// from 50ms to 5s. Values below 1 (attempts) or 0 (delays) keep the default.
func WithRetry(attempts int, base, maxDelay time.Duration) Option {
	return func(s *Store) {
		if attempts >= 1 {
			s.retry.Attempts = attempts
		}
		if base > 0 {
			s.retry.Base = base
		}
		if maxDelay > 0 {
			s.retry.Max = maxDelay
		}
	}
}

// New returns a Store of table on client.
func New(client API, table string, opts ...Option) *Store {
	s := &Store{
		db:        client,
		table:     table,
		retention: DefaultRetention,
		now:       time.Now,
		retry:     ddb.DefaultRetry(),
		runs:      newKnownRuns(),
	}
	for _, o := range opts {
		o(s)
	}
	s.retry.Max = max(s.retry.Max, s.retry.Base)
	return s
}

// expiresAt is the TTL of an item stored at now (0: none).
func (s *Store) expiresAt(now time.Time) int64 {
	if s.retention <= 0 {
		return 0
	}
	return now.Add(s.retention).Unix()
}

// PutRun records a run. The first PutRun of a run ID stores its schedule,
// scheduled time, planned count and targets and reports created. A run that
// a result created first (planned count unknown) gets its planned count and
// targets, and its schedule if it had none, and keeps its results; that
// PutRun reports created too, since it recorded the plan. Otherwise the
// stored run is kept and created is false.
//
// The targets are stored in an item of their own beside the run item (see
// putTargets), written first, and kept when they exist: the retry of a
// PutRun that failed between its two writes completes it. Run returns them
// only when they are as many as the stored planned count, so the targets of
// a PutRun that found the run planned with another count (by a PutRun
// without targets, or an older cronless) are not returned with it. (One of
// the same count is: the repeated delivery of a tick planned by an older
// cronless records its targets.)
//
// A run planned in shards (Shards > 0) stores Shards; its planned count
// then grows by each shard's part (PutPlanPart), put before or after.
func (s *Store) PutRun(ctx context.Context, run store.Run) (bool, error) {
	created, err := s.putRun(ctx, run)
	if err != nil {
		return false, fmt.Errorf("dynamo: put run %q: %w", run.ID, err)
	}
	return created, nil
}

func (s *Store) putRun(ctx context.Context, run store.Run) (bool, error) {
	if err := store.CheckRun(run); err != nil {
		return false, err
	}
	if run.Shards < 0 {
		return false, fmt.Errorf("shards %d is negative", run.Shards)
	}
	if err := s.putTargets(ctx, run); err != nil {
		return false, fmt.Errorf("targets: %w", err)
	}
	createdAt := run.CreatedAt
	if createdAt.IsZero() {
		createdAt = s.now()
	}
	// The planned count is added to the parts' a shard may have put first
	// (PutPlanPart). sh marks a run PutRun planned; a run item with a
	// planned count and neither sh nor parts was planned by an older
	// cronless.
	u := runUpdate(run.ID, run.Schedule, run.ScheduledAt, createdAt)
	u.set = append(u.set, "#pl = if_not_exists(#pl, :zero) + :pl", "#sh = :sh")
	u.names["#pl"], u.names["#sh"], u.names["#ps"] = attrPlanned, attrShards, attrPartShards
	u.values[":pl"], u.values[":zero"], u.values[":sh"] = ddb.N(int64(run.Planned)), ddb.N(0), ddb.N(int64(run.Shards))
	in := u.input(s.table, runKey(run.ID))
	in.ConditionExpression = aws.String("attribute_not_exists(#sh) AND (attribute_not_exists(#pl) OR attribute_exists(#ps))")
	if _, err := s.db.UpdateItem(ctx, in); err != nil {
		if ddb.IsConditionFailed(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

func runKey(runID string) item { return ddb.Key(runPK(runID), skRun) }

func targetsKey(runID string) item { return ddb.Key(runPK(runID), skTargets) }

// putTargets stores a run's target IDs, compressed (encodeTargets), in the
// run's targets item, unless it exists. It stores nothing for a run without
// targets or whose compressed list is over ddb.MaxIDsBytes (the run then
// reads without targets).
//
// The list is not an attribute of the run item: the run item is in GSI1,
// where Runs and the planner read it (an index entry of its size, and a
// Query costs read units for whole entries). The targets item is outside
// every index and only Run reads it. It is written with UpdateItem (an
// upsert), the one write the planner's role allows.
func (s *Store) putTargets(ctx context.Context, run store.Run) error {
	if len(run.Targets) == 0 {
		return nil
	}
	b, err := ddb.EncodeIDs(run.Targets)
	if err != nil || b == nil {
		return err
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      targetsKey(run.ID),
		UpdateExpression:         aws.String("SET #rid = :rid, #tg = :tg"),
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#rid": attrRunID, "#tg": attrTargets},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":rid": ddb.S(run.ID), ":tg": &types.AttributeValueMemberB{Value: b},
		},
	})
	if err != nil && !ddb.IsConditionFailed(err) {
		return err
	}
	return nil
}

// update is an UpdateItem's SET clauses and their names and values.
type update struct {
	set    []string
	names  map[string]string
	values map[string]types.AttributeValue
}

func (u update) input(table string, k item) *dynamodb.UpdateItemInput {
	expr := "SET "
	for i, c := range u.set {
		if i > 0 {
			expr += ", "
		}
		expr += c
	}
	return &dynamodb.UpdateItemInput{
		TableName:                 aws.String(table),
		Key:                       k,
		UpdateExpression:          aws.String(expr),
		ExpressionAttributeNames:  u.names,
		ExpressionAttributeValues: u.values,
	}
}

// runUpdate creates a run item if it is missing, keeping every attribute a
// run item already has (and its schedule when it has one).
func runUpdate(runID, schedule string, scheduledAt, createdAt time.Time) update {
	u := update{
		set: []string{
			"#gpk = :gpk", "#gsk = if_not_exists(#gsk, :gsk)", "#rid = :rid",
			"#at = if_not_exists(#at, :at)", "#cr = if_not_exists(#cr, :cr)",
		},
		names: map[string]string{
			"#gpk": AttrGSI1PK, "#gsk": AttrGSI1SK, "#rid": attrRunID, "#at": attrScheduledAt, "#cr": attrCreatedAt,
		},
		values: map[string]types.AttributeValue{
			":gpk": ddb.S(gsiRuns), ":gsk": ddb.S(runsKey(scheduledAt, runID)), ":rid": ddb.S(runID),
			":at": ddb.S(ddb.TimeString(scheduledAt)), ":cr": ddb.S(ddb.TimeString(createdAt)),
		},
	}
	if schedule != "" {
		u.set = append(u.set, "#sch = if_not_exists(#sch, :sch)")
		u.names["#sch"] = attrSchedule
		u.values[":sch"] = ddb.S(schedule)
	}
	return u
}

// RecordAttempt records a failed attempt once per (run, target, message ID,
// attempt); recording it again keeps the first. A message replayed from the
// DLQ has a new message ID, so its attempts are kept beside the old ones.
func (s *Store) RecordAttempt(ctx context.Context, a store.Attempt) error {
	if a.RunID == "" || a.TargetID == "" || a.Attempt < 0 {
		return fmt.Errorf("dynamo: record attempt %s/%s #%d: run ID and target ID are required, and the attempt number must not be negative",
			a.TargetID, a.RunID, a.Attempt)
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     attemptItem(a, s.expiresAt(s.now())),
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK},
	})
	if err != nil && !ddb.IsConditionFailed(err) {
		return fmt.Errorf("dynamo: record attempt %s/%s #%d: %w", a.TargetID, a.RunID, a.Attempt, err)
	}
	return nil
}

// ensureRun makes sure the run of result r has its run item: once per Store
// and run, a strongly consistent GetItem and, if it is missing (no PutRun
// came first), an upsert that keeps whatever a concurrent PutRun writes.
// Results never update the run item otherwise: its counters are derived.
// (An item of plan parts alone, which a shard's part may have created
// before PutRun, has no run ID: the upsert makes it a run.)
func (s *Store) ensureRun(ctx context.Context, r job.Result, now time.Time) error {
	if s.runs.has(r.RunID) {
		return nil
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(s.table),
		Key:                      runKey(r.RunID),
		ProjectionExpression:     aws.String("#rid"),
		ExpressionAttributeNames: map[string]string{"#rid": attrRunID},
		ConsistentRead:           aws.Bool(true),
	})
	if err != nil {
		return err
	}
	if item(out.Item).Str(attrRunID) == "" {
		if _, err := s.db.UpdateItem(ctx, runUpdate(r.RunID, r.Schedule, r.ScheduledAt, now).input(s.table, runKey(r.RunID))); err != nil {
			return err
		}
	}
	s.runs.add(r.RunID)
	return nil
}

// getItem reads one item, strongly consistent.
func (s *Store) getItem(ctx context.Context, k item) (item, bool, error) {
	return ddb.GetConsistent(ctx, s.db, s.table, k)
}

// query runs a query and returns its items decoded, at most limit of them
// (all when limit <= 0): ddb.Query on the Store's client.
func query[T any](ctx context.Context, s *Store, in *dynamodb.QueryInput, limit int, decode func(item) (T, error)) ([]T, error) {
	return ddb.Query(ctx, s.db, in, limit, decode)
}

// each calls fn with every item of a query until it returns false or an
// error.
func (s *Store) each(ctx context.Context, in *dynamodb.QueryInput, fn func(item) (bool, error)) error {
	return ddb.Each(ctx, s.db, in, fn)
}

// batchGet reads items by key (ddb.BatchGet), strongly consistent.
func (s *Store) batchGet(ctx context.Context, keys []item, projection string, names map[string]string) ([]item, error) {
	return ddb.BatchGet(ctx, s.db, s.table, s.retry, keys, projection, names)
}

// knownRuns is a bounded set of run IDs (the most recent maxKnownRuns
// added), safe for concurrent use.
type knownRuns struct {
	mu    sync.Mutex
	ids   map[string]bool
	order []string
}

// maxKnownRuns bounds knownRuns: a results function stores the results of
// a few runs at a time.
const maxKnownRuns = 256

func newKnownRuns() *knownRuns { return &knownRuns{ids: map[string]bool{}} }

func (k *knownRuns) has(id string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.ids[id]
}

func (k *knownRuns) add(id string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ids[id] {
		return
	}
	if len(k.order) >= maxKnownRuns {
		delete(k.ids, k.order[0])
		k.order = k.order[1:]
	}
	k.ids[id] = true
	k.order = append(k.order, id)
}
