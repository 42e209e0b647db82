package dynamo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo/ddb"
)

// item is one DynamoDB item (ddb's, with its attribute helpers).
type item = ddb.Item

// resultItem is the item of result r: its key, its GSI1 keys and its data.
// changed and prev are the Changed flag and the SK of the ok result it was
// computed against ("" for none); expiresAt 0 means none. The fields are
// stored compressed (packFields); link.holder, when set, says that a result
// of the same target with the same content holds them, and r's are not
// stored again.
func resultItem(r job.Result, changed bool, prev string, l fieldsLink, storedAt time.Time, expiresAt int64) (item, error) {
	it := item{
		AttrPK:     ddb.S(targetPK(r.TargetID)),
		AttrSK:     ddb.S(resultSK(r.ScheduledAt, r.RunID)),
		AttrGSI1PK: ddb.S(runShardPK(r.RunID, shard(r.TargetID, RunShards))),
		AttrGSI1SK: ddb.S(targetPK(r.TargetID)),
	}
	it.SetS(attrSchedule, r.Schedule)
	it.SetS(attrURL, r.URL)
	it.SetS(attrStatus, string(r.Status))
	if r.HTTPStatus != 0 {
		it.SetN(attrHTTPStatus, int64(r.HTTPStatus))
	}
	switch {
	case l.holder != "":
		it.SetS(attrFieldsIn, l.holder)
		if l.expires > 0 {
			it.SetN(attrFieldsTTL, l.expires)
		}
	case r.Fields != nil:
		b, err := packFields(r.Fields)
		if err != nil {
			return nil, fmt.Errorf("encode fields: %w", err)
		}
		it[attrFields] = &types.AttributeValueMemberB{Value: b}
		if len(r.Truncated) > 0 {
			t, err := jsonText(r.Truncated)
			if err != nil {
				return nil, fmt.Errorf("encode truncated: %w", err)
			}
			it[attrTruncated] = ddb.S(t)
		}
	}
	it.SetHash(attrContentHash, r.ContentHash)
	if changed {
		it[attrChanged] = ddb.Bool(true)
	}
	it.SetS(attrETag, r.ETag)
	it.SetHash(attrBodyHash, r.BodyHash)
	it.SetS(attrLastMod, r.LastModified)
	if r.NotModified {
		it[attrNotModified] = ddb.Bool(true)
	}
	it.SetHash(attrRulesHash, r.RulesHash)
	it.SetS(attrPrev, prev)
	it.SetStamp(attrFetchedAt, r.FetchedAt)
	it.SetN(attrDurationMS, r.DurationMS)
	it.SetN(attrAttempt, int64(r.Attempt))
	if r.Error != nil {
		// A failed result always has an error kind (job.Result.Validate);
		// the kind's presence is what marks an error. The message is
		// capped (job.MaxErrorMessageBytes) so that the item stays under
		// DynamoDB's 400 KB item limit.
		e := r.Error.Capped()
		it[attrErrorKind] = ddb.S(e.Kind)
		it.SetS(attrErrorMsg, e.Message)
	}
	it.SetStamp(attrStoredAt, storedAt)
	if expiresAt > 0 {
		it.SetN(AttrExpiresAt, expiresAt)
	}
	return it, nil
}

// decodeResult reads a result item. The fields of one that refers to
// another result's (fields_in) are not read: resolve fills them in.
func decodeResult(it item) (job.Result, error) {
	fail := func(err error) (job.Result, error) {
		return job.Result{}, fmt.Errorf("stored result %s: %w", it.KeyString(), err)
	}
	at, runID, err := parseResultSK(it.Str(AttrSK))
	if err != nil {
		return fail(err)
	}
	r := job.Result{
		V:            job.Version,
		RunID:        runID,
		Schedule:     it.Str(attrSchedule),
		TargetID:     strings.TrimPrefix(it.Str(AttrPK), prefixTarget),
		URL:          it.Str(attrURL),
		ScheduledAt:  at,
		Status:       job.Status(it.Str(attrStatus)),
		ContentHash:  it.Hash(attrContentHash),
		Changed:      it.Boolean(attrChanged),
		ETag:         it.Str(attrETag),
		BodyHash:     it.Hash(attrBodyHash),
		LastModified: it.Str(attrLastMod),
		NotModified:  it.Boolean(attrNotModified),
		RulesHash:    it.Hash(attrRulesHash),
	}
	if r.FetchedAt, err = it.Time(attrFetchedAt); err != nil {
		return fail(err)
	}
	n, err := it.Num(attrHTTPStatus)
	if err != nil {
		return fail(err)
	}
	r.HTTPStatus = int(n)
	if r.DurationMS, err = it.Num(attrDurationMS); err != nil {
		return fail(err)
	}
	if n, err = it.Num(attrAttempt); err != nil {
		return fail(err)
	}
	r.Attempt = int(n)
	if err := decodeFields(it, &r); err != nil {
		return fail(err)
	}
	if _, ok := it[attrErrorKind]; ok {
		r.Error = &job.Error{Kind: it.Str(attrErrorKind), Message: it.Str(attrErrorMsg)}
	}
	return r, nil
}

// decodeFields reads the fields an item holds (none when it refers to
// another's) and their truncation into r.
func decodeFields(it item, r *job.Result) error {
	if v, ok := it[attrFields].(*types.AttributeValueMemberB); ok {
		f, err := unpackFields(v.Value)
		if err != nil {
			return fmt.Errorf("fields: %w", err)
		}
		r.Fields = f
	}
	if t := it.Str(attrTruncated); t != "" {
		if err := json.Unmarshal([]byte(t), &r.Truncated); err != nil {
			return fmt.Errorf("truncated: %w", err)
		}
	}
	return nil
}

// jsonText is v as JSON text without HTML escaping or a trailing newline.
func jsonText(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// runItem is the item of a run as PutRun or Import writes it.
func runItem(run store.Run, createdAt time.Time, planned bool) item {
	it := item{
		AttrPK:     ddb.S(runPK(run.ID)),
		AttrSK:     ddb.S(skRun),
		AttrGSI1PK: ddb.S(gsiRuns),
		AttrGSI1SK: ddb.S(runsKey(run.ScheduledAt, run.ID)),
	}
	it.SetS(attrRunID, run.ID)
	it.SetS(attrSchedule, run.Schedule)
	it.SetTime(attrScheduledAt, run.ScheduledAt)
	it.SetTime(attrCreatedAt, createdAt)
	if planned {
		it.SetN(attrPlanned, int64(run.Planned))
		it.SetN(attrShards, int64(run.Shards))
	}
	return it
}

// decodeRun reads a run item; its counters are filled in from its results.
func decodeRun(it item) (store.Run, error) {
	run := store.Run{ID: it.Str(attrRunID), Schedule: it.Str(attrSchedule)}
	fail := func(err error) (store.Run, error) {
		return store.Run{}, fmt.Errorf("stored run %s: %w", it.KeyString(), err)
	}
	var err error
	if run.ScheduledAt, err = it.Time(attrScheduledAt); err != nil {
		return fail(err)
	}
	if run.CreatedAt, err = it.Time(attrCreatedAt); err != nil {
		return fail(err)
	}
	n, err := it.Num(attrPlanned)
	if err != nil {
		return fail(err)
	}
	run.Planned = int(n)
	if n, err = it.Num(attrShards); err != nil {
		return fail(err)
	}
	run.Shards = int(n)
	shards, err := partShards(it)
	if err != nil {
		return fail(err)
	}
	run.PlannedShards = len(shards)
	return run, nil
}

// decodeTargets reads the target IDs of a targets item.
func decodeTargets(it item) ([]string, error) {
	v, ok := it[attrTargets].(*types.AttributeValueMemberB)
	if !ok {
		return nil, fmt.Errorf("stored targets %s: attribute %s is %T, want binary", it.KeyString(), attrTargets, it[attrTargets])
	}
	ids, err := ddb.DecodeIDs(v.Value)
	if err != nil {
		return nil, fmt.Errorf("stored targets %s: %w", it.KeyString(), err)
	}
	return ids, nil
}

// attemptItem is the item of a failed attempt, its error message capped
// (job.MaxErrorMessageBytes) so that the item stays under DynamoDB's 400 KB
// item limit.
func attemptItem(a store.Attempt, expiresAt int64) item {
	e := a.Error.Capped()
	it := ddb.Key(targetPK(a.TargetID), attemptSK(a.RunID, a.MessageID, a.Attempt))
	it.SetS(attrRunID, a.RunID)
	it.SetS(attrTargetID, a.TargetID)
	it.SetN(attrAttempt, int64(a.Attempt))
	it.SetS(attrMessageID, a.MessageID)
	it.SetTime(attrAt, a.At)
	it.SetS(attrErrorKind, e.Kind)
	it.SetS(attrErrorMsg, e.Message)
	if expiresAt > 0 {
		it.SetN(AttrExpiresAt, expiresAt)
	}
	return it
}

// decodeAttempt reads an attempt item, of either SK format (attemptSK).
func decodeAttempt(it item) (store.Attempt, error) {
	a := store.Attempt{
		V:         job.Version,
		RunID:     it.Str(attrRunID),
		TargetID:  it.Str(attrTargetID),
		MessageID: it.Str(attrMessageID),
		Error:     job.Error{Kind: it.Str(attrErrorKind), Message: it.Str(attrErrorMsg)},
	}
	n, err := it.Num(attrAttempt)
	if err != nil {
		return store.Attempt{}, fmt.Errorf("stored attempt %s: %w", it.KeyString(), err)
	}
	a.Attempt = int(n)
	if a.At, err = it.Time(attrAt); err != nil {
		return store.Attempt{}, fmt.Errorf("stored attempt %s: %w", it.KeyString(), err)
	}
	return a, nil
}
