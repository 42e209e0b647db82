// Package dynamo is the Amazon DynamoDB adapter of the store port
// (store.Store), over aws-sdk-go-v2. It keeps every semantic of the port
// (see the store package; storetest checks them against this adapter and
// localstore alike) and adds the CLI's queries History, Changed and Failed.
//
// The table is the one docs/aws.md describes (TableInput creates it). Every
// write is a single-item PutItem or UpdateItem, conditional where it has to
// be; there are no transactions (they double the cost of a write, and the
// stand-in, dynalite, has none). The port's semantics hold under duplicate
// and out-of-order delivery and concurrent writers because every write is
// idempotent or monotonic:
//
//   - A result is put with attribute_not_exists(PK): the first write wins,
//     a later one is a Duplicate. A duplicate put still runs the follow-up
//     steps below against the stored result, so a put that failed half-way
//     (a Lambda timeout, throttling after the SDK's retries) is completed by
//     its redelivery.
//   - A run's Succeeded, Failed, FirstResultAt and LastResultAt are not
//     stored: Run and Runs derive them from the run's result items (a Query
//     of GSI1 on RUN#<runID>), so no counter can be incremented twice or
//     missed. The run item holds what PutRun knows (planned, schedule,
//     scheduled time, created time); a result creates it when it overtakes
//     PutRun (if_not_exists on every attribute), and PutRun records the plan
//     with attribute_not_exists(planned), so exactly one PutRun reports
//     created.
//   - The latest item of a target is a copy of its latest result, moved by a
//     PutItem conditional on the stored (scheduled time, run ID) being
//     older.
//   - A result's Changed flag is written together with the order key of the
//     ok result it was computed against (prev_ok), by an UpdateItem
//     conditional on the stored prev_ok being older. A result's true
//     previous ok result is the latest of all the ok results before it, so
//     that write only ever moves towards the true value, whichever writer
//     gets there first. Each ok result's writer stores its item, then reads
//     (strongly consistent, LSI1) its previous and next ok results and
//     updates its own flag and the next one's; of two neighbours written at
//     the same time at least one sees the other, so the last word is always
//     the right one. A changed flag that is written is then copied to the
//     latest item if it holds that result (same condition), and a writer
//     that moves the latest item re-reads the result it copied.
//
// Reads of a result, a run item, a target's latest result, attempts and
// the neighbour lookups of a put are strongly consistent; the GSI1 queries
// (RunResults, Latest of every target, Runs, a run's counters) are
// eventually consistent on AWS, usually by well under a second.
//
// Throttling and 5xx errors are retried by the SDK client's retryer (the
// standard one: ProvisionedThroughputExceeded and ThrottlingException are
// throttle errors); the Store adds no retry loop of its own to single-item
// calls. What it does retry is BatchWriteItem's UnprocessedItems, which the
// SDK returns as a success (WithRetry).
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
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
	retry     retryPolicy
	// sleep waits between BatchWriteItem attempts (tests record it).
	sleep func(ctx context.Context, d time.Duration) error
}

// retryPolicy is how BatchWriteItem's unprocessed items are retried.
type retryPolicy struct {
	attempts  int           // calls per chunk, the first included
	base, max time.Duration // the first backoff, and the cap
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
			s.retry.attempts = attempts
		}
		if base > 0 {
			s.retry.base = base
		}
		if maxDelay > 0 {
			s.retry.max = maxDelay
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
		retry:     retryPolicy{attempts: 8, base: 50 * time.Millisecond, max: 5 * time.Second},
		sleep:     sleepCtx,
	}
	for _, o := range opts {
		o(s)
	}
	s.retry.max = max(s.retry.max, s.retry.base)
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
	if err := s.putTargets(ctx, run); err != nil {
		return false, fmt.Errorf("targets: %w", err)
	}
	createdAt := run.CreatedAt
	if createdAt.IsZero() {
		createdAt = s.now()
	}
	u := runUpdate(run.ID, run.Schedule, run.ScheduledAt, createdAt)
	u.set = append(u.set, "#pl = :pl")
	u.names["#pl"] = attrPlanned
	u.values[":pl"] = avN(int64(run.Planned))
	in := u.input(s.table, runKey(run.ID))
	in.ConditionExpression = aws.String("attribute_not_exists(#pl)")
	if _, err := s.db.UpdateItem(ctx, in); err != nil {
		if isConditionFailed(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

func runKey(runID string) item { return key(runPK(runID), skRun) }

func targetsKey(runID string) item { return key(runPK(runID), skTargets) }

// putTargets stores a run's target IDs, compressed (encodeTargets), in the
// run's targets item, unless it exists. It stores nothing for a run without
// targets or whose compressed list is over maxTargetsBytes (the run then
// reads without targets).
//
// The list is not an attribute of the run item: every result updates its
// run item, and an update costs write units for the item's whole size, and
// the run item is in GSI1, where Runs reads it (a Query costs read units
// for whole items, whatever its projection). The targets item is outside
// every index and only Run reads it. It is written with UpdateItem (an
// upsert), the one write the planner's role allows.
func (s *Store) putTargets(ctx context.Context, run store.Run) error {
	if len(run.Targets) == 0 {
		return nil
	}
	b, err := encodeTargets(run.Targets)
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
			":rid": avS(run.ID), ":tg": &types.AttributeValueMemberB{Value: b},
		},
	})
	if err != nil && !isConditionFailed(err) {
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
			":gpk": avS(gsiRuns), ":gsk": avS(runsKey(scheduledAt, runID)), ":rid": avS(runID),
			":at": avS(timeString(scheduledAt)), ":cr": avS(timeString(createdAt)),
		},
	}
	if schedule != "" {
		u.set = append(u.set, "#sch = if_not_exists(#sch, :sch)")
		u.names["#sch"] = attrSchedule
		u.values[":sch"] = avS(schedule)
	}
	return u
}

// PutResult stores r once per (target ID, run ID). The first put counts in
// its run (creating the run if no PutRun came first), sets r's Changed flag
// against the target's previous ok result, recomputes the Changed flag of
// the target's next ok result, and moves the target's latest result forward
// if r is later. A later put of the same key reports Duplicate and stores
// nothing new, but completes those steps if an earlier put failed before
// it finished them. r.Changed is ignored: the store sets it.
//
// Cost of a first put, in order (results arriving in time order): one
// UpdateItem of the run item, one PutItem of the result (also written to
// GSI1 and LSI1), three strongly consistent LSI1 queries of a few items
// (previous result before and after the put, next result), one PutItem of
// the latest item (also written to GSI1) and one GetItem; a result that
// arrives out of order adds an UpdateItem or two.
//
// A put whose response is lost and whose retry (by the SDK) then finds the
// stored item reports Duplicate, though it was the one that stored it; the
// table is right either way.
func (s *Store) PutResult(ctx context.Context, r job.Result) (store.Outcome, error) {
	if err := r.Validate(); err != nil {
		return store.Outcome{}, fmt.Errorf("dynamo: put result %s/%s: %w", r.TargetID, r.RunID, err)
	}
	out, err := s.putResult(ctx, r)
	if err != nil {
		return store.Outcome{}, fmt.Errorf("dynamo: put result %s/%s: %w", r.TargetID, r.RunID, err)
	}
	return out, nil
}

func (s *Store) putResult(ctx context.Context, r job.Result) (store.Outcome, error) {
	now := s.now()
	// The run item first: a result never exists without its run.
	if _, err := s.db.UpdateItem(ctx, runUpdate(r.RunID, r.Schedule, r.ScheduledAt, now).input(s.table, runKey(r.RunID))); err != nil {
		return store.Outcome{}, fmt.Errorf("create run: %w", err)
	}
	// Compute Changed before the put, so that in the usual case the item is
	// right when it is written; link checks it again after the put.
	// A not-modified result without fields gets the previous ok result's
	// (and its content hash, if it has none) when both were extracted with
	// the same rules; otherwise it keeps none, and no rules hash, so that
	// the next plan fetches the page unconditionally (see package store).
	var (
		changed bool
		prev    neighbour
		found   bool
		fill    = r.NotModified && len(r.Fields) == 0
	)
	if r.Status == job.StatusOK {
		var err error
		prev, found, err = s.neighbourOK(ctx, r.TargetID, orderKey(r.ScheduledAt, r.RunID), true, fill)
		if err != nil {
			return store.Outcome{}, fmt.Errorf("read previous result: %w", err)
		}
		changed = found && prev.hash != r.ContentHash && !r.NotModified
	}
	it, err := resultItem(r, changed, prev.key, now, s.expiresAt(now))
	if err != nil {
		return store.Outcome{}, err
	}
	switch {
	case fill && found && prev.rules == r.RulesHash:
		delete(it, attrFields)
		it.setS(attrFields, prev.fields)
		if r.ContentHash == "" {
			it.setS(attrContentHash, prev.hash)
		}
	case fill:
		delete(it, attrRulesHash)
	}
	var out store.Outcome
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     it,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK},
	})
	switch {
	case isConditionFailed(err):
		out.Duplicate = true
		stored, found, err := s.getItem(ctx, it.key())
		if err != nil {
			return store.Outcome{}, fmt.Errorf("read stored duplicate: %w", err)
		}
		if !found {
			return store.Outcome{}, errors.New("read stored duplicate: the put found an item that is gone")
		}
		it = stored
	case err != nil:
		return store.Outcome{}, fmt.Errorf("put: %w", err)
	}
	if err := s.link(ctx, it, &out); err != nil {
		return store.Outcome{}, err
	}
	return out, nil
}

// neighbour is the part of a result item that its neighbours need.
type neighbour struct {
	key    string // LSI1SK
	run    string
	hash   string
	prev   string
	nm     bool   // a not-modified result: never changed
	fields string // JSON text, only when asked for
	rules  string // rules hash, only when asked for
}

// link does what follows the put of the stored result item it (or finds a
// duplicate): relinks the target's chain of ok results and moves its
// latest item, and sets out's Changed and Latest.
func (s *Store) link(ctx context.Context, it item, out *store.Outcome) error {
	var (
		target = it.str(attrTargetID)
		run    = it.str(attrRunID)
		self   = it.str(AttrLSI1SK)
		ok     = it.str(attrStatus) == string(job.StatusOK)
		nm     = it.boolean(attrNotModified)
		stale  bool // another writer set its Changed flag after it was read
	)
	if ok {
		hash := it.str(attrContentHash)
		p, found, err := s.neighbourOK(ctx, target, self, true, false)
		if err != nil {
			return fmt.Errorf("read previous result: %w", err)
		}
		if found && p.key > it.str(attrPrev) {
			c := p.hash != hash && !nm
			applied, err := s.setChanged(ctx, target, run, c, p.key)
			if err != nil {
				return fmt.Errorf("set changed: %w", err)
			}
			if applied {
				it[attrChanged], it[attrPrev] = avB(c), avS(p.key)
			} else {
				stale = true
			}
		}
		// The next ok result's previous is now this one (unless it already
		// knows this one or a later one).
		n, found, err := s.neighbourOK(ctx, target, self, false, false)
		if err != nil {
			return fmt.Errorf("read next result: %w", err)
		}
		if found && n.prev < self {
			if _, err := s.setChanged(ctx, target, n.run, n.hash != hash && !n.nm, self); err != nil {
				return fmt.Errorf("recompute next result's changed: %w", err)
			}
		}
	}
	moved, err := s.moveLatest(ctx, it)
	if err != nil {
		return fmt.Errorf("move latest: %w", err)
	}
	out.Latest = moved
	if ok && (moved || stale) {
		// Another writer may have set the flag since we copied it.
		cur, found, err := s.getItem(ctx, it.key())
		if err != nil {
			return fmt.Errorf("read result: %w", err)
		}
		if found {
			if moved && cur.str(attrPrev) > it.str(attrPrev) {
				if err := s.syncLatest(ctx, target, run, cur.boolean(attrChanged), cur.str(attrPrev)); err != nil {
					return fmt.Errorf("copy changed to latest: %w", err)
				}
			}
			it = cur
		}
	}
	out.Changed = it.boolean(attrChanged)
	return nil
}

// neighbourOK returns the target's ok result just before key (before) or
// just after it, by a strongly consistent query of LSI1; with its fields
// and rules hash when withFields (the read costs the same: DynamoDB
// charges for whole items whatever the projection).
func (s *Store) neighbourOK(ctx context.Context, targetID, key string, before, withFields bool) (neighbour, bool, error) {
	cmp := ">"
	if before {
		cmp = "<"
	}
	projection := "#lsk, #rid, #hash, #prev, #st, #nm"
	names := map[string]string{
		"#pk": AttrPK, "#lsk": AttrLSI1SK, "#st": attrStatus, "#rid": attrRunID,
		"#hash": attrContentHash, "#prev": attrPrev, "#nm": attrNotModified,
	}
	if withFields {
		projection += ", #f, #rh"
		names["#f"], names["#rh"] = attrFields, attrRulesHash
	}
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		IndexName:                aws.String(IndexLSI1),
		KeyConditionExpression:   aws.String("#pk = :pk AND #lsk " + cmp + " :k"),
		FilterExpression:         aws.String("#st = :ok"),
		ProjectionExpression:     aws.String(projection),
		ExpressionAttributeNames: names,
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(targetPK(targetID)), ":k": avS(key), ":ok": avS(string(job.StatusOK)),
		},
		ScanIndexForward: aws.Bool(!before),
		ConsistentRead:   aws.Bool(true),
		// Usually the nearest result is ok; a small page keeps the read
		// cost of the filter low when it is.
		Limit: aws.Int32(4),
	}
	ns, err := query(ctx, s, in, 1, func(it item) (neighbour, error) {
		return neighbour{key: it.str(AttrLSI1SK), run: it.str(attrRunID), hash: it.str(attrContentHash), prev: it.str(attrPrev),
			nm: it.boolean(attrNotModified), fields: it.str(attrFields), rules: it.str(attrRulesHash)}, nil
	})
	if err != nil || len(ns) == 0 {
		return neighbour{}, false, err
	}
	return ns[0], true, nil
}

// setChanged sets a stored result's Changed flag, computed against the ok
// result whose order key is prev, unless the stored flag was computed
// against that one or a later one (or the result is missing). When it
// writes the flag it copies it to the target's latest item too, if that
// holds this result.
func (s *Store) setChanged(ctx context.Context, targetID, runID string, changed bool, prev string) (bool, error) {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(targetPK(targetID), resultSK(runID)),
		UpdateExpression:          aws.String("SET #chg = :chg, #prev = :prev"),
		ConditionExpression:       aws.String("attribute_exists(#pk) AND (attribute_not_exists(#prev) OR #prev < :prev)"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#chg": attrChanged, "#prev": attrPrev},
		ExpressionAttributeValues: map[string]types.AttributeValue{":chg": avB(changed), ":prev": avS(prev)},
	})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, s.syncLatest(ctx, targetID, runID, changed, prev)
}

// syncLatest copies a result's Changed flag to its target's latest item,
// if that holds the result with a flag computed against an older one.
func (s *Store) syncLatest(ctx context.Context, targetID, runID string, changed bool, prev string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      key(targetPK(targetID), skLatest),
		UpdateExpression:         aws.String("SET #chg = :chg, #prev = :prev"),
		ConditionExpression:      aws.String("#rid = :rid AND (attribute_not_exists(#prev) OR #prev < :prev)"),
		ExpressionAttributeNames: map[string]string{"#rid": attrRunID, "#chg": attrChanged, "#prev": attrPrev},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":rid": avS(runID), ":chg": avB(changed), ":prev": avS(prev),
		},
	})
	if err != nil && !isConditionFailed(err) {
		return err
	}
	return nil
}

// moveLatest makes the result item res its target's latest, unless the
// latest is of a later (scheduled time, run ID) or is this result already.
func (s *Store) moveLatest(ctx context.Context, res item) (bool, error) {
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.table),
		Item:                latestItem(res),
		ConditionExpression: aws.String("attribute_not_exists(#pk) OR #at < :at OR (#at = :at AND #rid < :rid)"),
		ExpressionAttributeNames: map[string]string{
			"#pk": AttrPK, "#at": attrScheduledAt, "#rid": attrRunID,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":at": res[attrScheduledAt], ":rid": res[attrRunID],
		},
	})
	if isConditionFailed(err) {
		return false, nil
	}
	return err == nil, err
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
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("dynamo: record attempt %s/%s #%d: %w", a.TargetID, a.RunID, a.Attempt, err)
	}
	return nil
}

// getItem reads one item, strongly consistent.
func (s *Store) getItem(ctx context.Context, k item) (item, bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            k,
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, false, err
	}
	if len(out.Item) == 0 {
		return nil, false, nil
	}
	return out.Item, true, nil
}

// query runs a query page by page (each) and returns its items decoded by
// decode, at most limit of them (all when limit <= 0): it reads no page
// after the one that completes them. It returns an empty slice, not nil,
// when there are none.
func query[T any](ctx context.Context, s *Store, in *dynamodb.QueryInput, limit int, decode func(item) (T, error)) ([]T, error) {
	out := []T{}
	err := s.each(ctx, in, func(it item) (bool, error) {
		v, err := decode(it)
		if err != nil {
			return false, err
		}
		out = append(out, v)
		return limit <= 0 || len(out) < limit, nil
	})
	return out, err
}

// each runs a query page by page (the SDK's paginator) and calls fn with
// every item until fn returns false or an error.
func (s *Store) each(ctx context.Context, in *dynamodb.QueryInput, fn func(item) (bool, error)) error {
	p := dynamodb.NewQueryPaginator(s.db, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, it := range page.Items {
			more, err := fn(it)
			if err != nil || !more {
				return err
			}
		}
	}
	return nil
}

func isConditionFailed(err error) bool {
	var c *types.ConditionalCheckFailedException
	return errors.As(err, &c)
}
