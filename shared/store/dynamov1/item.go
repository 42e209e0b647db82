package dynamov1

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

// resultItem is the item of result r: its key, its index keys and its
// data. changed and prev are the Changed flag and the LSI1SK of the ok
// result it was computed against ("" for none); expiresAt 0 means none.
func resultItem(r job.Result, changed bool, prev string, storedAt time.Time, expiresAt int64) (item, error) {
	it := item{
		AttrPK:     ddb.S(targetPK(r.TargetID)),
		AttrSK:     ddb.S(resultSK(r.RunID)),
		AttrGSI1PK: ddb.S(runPK(r.RunID)),
		AttrGSI1SK: ddb.S(targetPK(r.TargetID)),
		AttrLSI1SK: ddb.S(orderKey(r.ScheduledAt, r.RunID)),
	}
	it.SetS(attrTargetID, r.TargetID)
	it.SetS(attrRunID, r.RunID)
	it.SetS(attrSchedule, r.Schedule)
	it.SetS(attrURL, r.URL)
	it.SetTime(attrScheduledAt, r.ScheduledAt)
	it.SetS(attrStatus, string(r.Status))
	if r.HTTPStatus != 0 {
		it.SetN(attrHTTPStatus, int64(r.HTTPStatus))
	}
	if r.Fields != nil {
		// Without HTML escaping, which would make a "<" six bytes: fields
		// of job.MaxFieldsBytes must leave the item under 400 KB.
		b, err := jsonText(r.Fields)
		if err != nil {
			return nil, fmt.Errorf("encode fields: %w", err)
		}
		it[attrFields] = ddb.S(b)
	}
	if len(r.Truncated) > 0 {
		b, err := jsonText(r.Truncated)
		if err != nil {
			return nil, fmt.Errorf("encode truncated: %w", err)
		}
		it[attrTruncated] = ddb.S(b)
	}
	it.SetS(attrContentHash, r.ContentHash)
	it[attrChanged] = ddb.Bool(changed)
	it.SetS(attrETag, r.ETag)
	it.SetS(attrBodyHash, r.BodyHash)
	it.SetS(attrLastMod, r.LastModified)
	if r.NotModified {
		it[attrNotModified] = ddb.Bool(true)
	}
	it.SetS(attrRulesHash, r.RulesHash)
	it.SetS(attrPrev, prev)
	it.SetTime(attrFetchedAt, r.FetchedAt)
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
	it.SetTime(attrStoredAt, storedAt)
	if expiresAt > 0 {
		it.SetN(AttrExpiresAt, expiresAt)
	}
	return it, nil
}

// latestItem is the latest item of the result item res: a copy of the
// result's data under the target's LATEST key, outside LSI1 and without
// expiry (it stays while its target has no later result).
func latestItem(res item) item {
	it := make(item, len(res))
	for k, v := range res {
		it[k] = v
	}
	delete(it, AttrLSI1SK)
	delete(it, AttrExpiresAt)
	it[AttrSK] = ddb.S(skLatest)
	it[AttrGSI1PK] = ddb.S(gsiLatest)
	return it
}

// decodeResult reads a result or latest item.
func decodeResult(it item) (job.Result, error) {
	r := job.Result{
		V:            job.Version,
		RunID:        it.Str(attrRunID),
		Schedule:     it.Str(attrSchedule),
		TargetID:     it.Str(attrTargetID),
		URL:          it.Str(attrURL),
		Status:       job.Status(it.Str(attrStatus)),
		ContentHash:  it.Str(attrContentHash),
		Changed:      it.Boolean(attrChanged),
		ETag:         it.Str(attrETag),
		BodyHash:     it.Str(attrBodyHash),
		LastModified: it.Str(attrLastMod),
		NotModified:  it.Boolean(attrNotModified),
		RulesHash:    it.Str(attrRulesHash),
	}
	fail := func(err error) (job.Result, error) {
		return job.Result{}, fmt.Errorf("stored result %s: %w", it.KeyString(), err)
	}
	var err error
	if r.ScheduledAt, err = it.Time(attrScheduledAt); err != nil {
		return fail(err)
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
	if f := it.Str(attrFields); f != "" {
		if err := json.Unmarshal([]byte(f), &r.Fields); err != nil {
			return fail(fmt.Errorf("fields: %w", err))
		}
	}
	if t := it.Str(attrTruncated); t != "" {
		if err := json.Unmarshal([]byte(t), &r.Truncated); err != nil {
			return fail(fmt.Errorf("truncated: %w", err))
		}
	}
	if _, ok := it[attrErrorKind]; ok {
		r.Error = &job.Error{Kind: it.Str(attrErrorKind), Message: it.Str(attrErrorMsg)}
	}
	return r, nil
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

func decodeResults(items []map[string]types.AttributeValue, into []job.Result) ([]job.Result, error) {
	for _, it := range items {
		r, err := decodeResult(it)
		if err != nil {
			return nil, err
		}
		into = append(into, r)
	}
	return into, nil
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
