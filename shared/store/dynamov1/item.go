package dynamov1

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
)

// item is one DynamoDB item. Empty strings and zero times are left out, so
// a missing attribute reads as the zero value.
type item map[string]types.AttributeValue

func avS(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func avN(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
func avB(v bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: v} }

func (it item) setS(name, v string) {
	if v != "" {
		it[name] = avS(v)
	}
}

func (it item) setN(name string, v int64) { it[name] = avN(v) }

func (it item) setTime(name string, t time.Time) {
	if !t.IsZero() {
		it[name] = avS(timeString(t))
	}
}

func (it item) str(name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func (it item) boolean(name string) bool {
	v, ok := it[name].(*types.AttributeValueMemberBOOL)
	return ok && v.Value
}

func (it item) num(name string) (int64, error) {
	switch v := it[name].(type) {
	case nil:
		return 0, nil
	case *types.AttributeValueMemberN:
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("attribute %s: %w", name, err)
		}
		return n, nil
	default:
		return 0, fmt.Errorf("attribute %s is %T, want a number", name, v)
	}
}

func (it item) time(name string) (time.Time, error) {
	s := it.str(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("attribute %s: %w", name, err)
	}
	return t.UTC(), nil
}

// key returns the item's primary key.
func (it item) key() item { return item{AttrPK: it[AttrPK], AttrSK: it[AttrSK]} }

// keyString names an item by its key, for messages.
func (it item) keyString() string { return it.str(AttrPK) + " " + it.str(AttrSK) }

func key(pk, sk string) item { return item{AttrPK: avS(pk), AttrSK: avS(sk)} }

// resultItem is the item of result r: its key, its index keys and its
// data. changed and prev are the Changed flag and the LSI1SK of the ok
// result it was computed against ("" for none); expiresAt 0 means none.
func resultItem(r job.Result, changed bool, prev string, storedAt time.Time, expiresAt int64) (item, error) {
	it := item{
		AttrPK:     avS(targetPK(r.TargetID)),
		AttrSK:     avS(resultSK(r.RunID)),
		AttrGSI1PK: avS(runPK(r.RunID)),
		AttrGSI1SK: avS(targetPK(r.TargetID)),
		AttrLSI1SK: avS(orderKey(r.ScheduledAt, r.RunID)),
	}
	it.setS(attrTargetID, r.TargetID)
	it.setS(attrRunID, r.RunID)
	it.setS(attrSchedule, r.Schedule)
	it.setS(attrURL, r.URL)
	it.setTime(attrScheduledAt, r.ScheduledAt)
	it.setS(attrStatus, string(r.Status))
	if r.HTTPStatus != 0 {
		it.setN(attrHTTPStatus, int64(r.HTTPStatus))
	}
	if r.Fields != nil {
		// Without HTML escaping, which would make a "<" six bytes: fields
		// of job.MaxFieldsBytes must leave the item under 400 KB.
		b, err := jsonText(r.Fields)
		if err != nil {
			return nil, fmt.Errorf("encode fields: %w", err)
		}
		it[attrFields] = avS(b)
	}
	if len(r.Truncated) > 0 {
		b, err := jsonText(r.Truncated)
		if err != nil {
			return nil, fmt.Errorf("encode truncated: %w", err)
		}
		it[attrTruncated] = avS(b)
	}
	it.setS(attrContentHash, r.ContentHash)
	it[attrChanged] = avB(changed)
	it.setS(attrETag, r.ETag)
	it.setS(attrBodyHash, r.BodyHash)
	it.setS(attrLastMod, r.LastModified)
	if r.NotModified {
		it[attrNotModified] = avB(true)
	}
	it.setS(attrRulesHash, r.RulesHash)
	it.setS(attrPrev, prev)
	it.setTime(attrFetchedAt, r.FetchedAt)
	it.setN(attrDurationMS, r.DurationMS)
	it.setN(attrAttempt, int64(r.Attempt))
	if r.Error != nil {
		// A failed result always has an error kind (job.Result.Validate);
		// the kind's presence is what marks an error. The message is
		// capped (job.MaxErrorMessageBytes) so that the item stays under
		// DynamoDB's 400 KB item limit.
		e := r.Error.Capped()
		it[attrErrorKind] = avS(e.Kind)
		it.setS(attrErrorMsg, e.Message)
	}
	it.setTime(attrStoredAt, storedAt)
	if expiresAt > 0 {
		it.setN(AttrExpiresAt, expiresAt)
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
	it[AttrSK] = avS(skLatest)
	it[AttrGSI1PK] = avS(gsiLatest)
	return it
}

// decodeResult reads a result or latest item.
func decodeResult(it item) (job.Result, error) {
	r := job.Result{
		V:            job.Version,
		RunID:        it.str(attrRunID),
		Schedule:     it.str(attrSchedule),
		TargetID:     it.str(attrTargetID),
		URL:          it.str(attrURL),
		Status:       job.Status(it.str(attrStatus)),
		ContentHash:  it.str(attrContentHash),
		Changed:      it.boolean(attrChanged),
		ETag:         it.str(attrETag),
		BodyHash:     it.str(attrBodyHash),
		LastModified: it.str(attrLastMod),
		NotModified:  it.boolean(attrNotModified),
		RulesHash:    it.str(attrRulesHash),
	}
	fail := func(err error) (job.Result, error) {
		return job.Result{}, fmt.Errorf("stored result %s: %w", it.keyString(), err)
	}
	var err error
	if r.ScheduledAt, err = it.time(attrScheduledAt); err != nil {
		return fail(err)
	}
	if r.FetchedAt, err = it.time(attrFetchedAt); err != nil {
		return fail(err)
	}
	n, err := it.num(attrHTTPStatus)
	if err != nil {
		return fail(err)
	}
	r.HTTPStatus = int(n)
	if r.DurationMS, err = it.num(attrDurationMS); err != nil {
		return fail(err)
	}
	if n, err = it.num(attrAttempt); err != nil {
		return fail(err)
	}
	r.Attempt = int(n)
	if f := it.str(attrFields); f != "" {
		if err := json.Unmarshal([]byte(f), &r.Fields); err != nil {
			return fail(fmt.Errorf("fields: %w", err))
		}
	}
	if t := it.str(attrTruncated); t != "" {
		if err := json.Unmarshal([]byte(t), &r.Truncated); err != nil {
			return fail(fmt.Errorf("truncated: %w", err))
		}
	}
	if _, ok := it[attrErrorKind]; ok {
		r.Error = &job.Error{Kind: it.str(attrErrorKind), Message: it.str(attrErrorMsg)}
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
		AttrPK:     avS(runPK(run.ID)),
		AttrSK:     avS(skRun),
		AttrGSI1PK: avS(gsiRuns),
		AttrGSI1SK: avS(runsKey(run.ScheduledAt, run.ID)),
	}
	it.setS(attrRunID, run.ID)
	it.setS(attrSchedule, run.Schedule)
	it.setTime(attrScheduledAt, run.ScheduledAt)
	it.setTime(attrCreatedAt, createdAt)
	if planned {
		it.setN(attrPlanned, int64(run.Planned))
	}
	return it
}

// decodeRun reads a run item; its counters are filled in from its results.
func decodeRun(it item) (store.Run, error) {
	run := store.Run{ID: it.str(attrRunID), Schedule: it.str(attrSchedule)}
	fail := func(err error) (store.Run, error) {
		return store.Run{}, fmt.Errorf("stored run %s: %w", it.keyString(), err)
	}
	var err error
	if run.ScheduledAt, err = it.time(attrScheduledAt); err != nil {
		return fail(err)
	}
	if run.CreatedAt, err = it.time(attrCreatedAt); err != nil {
		return fail(err)
	}
	n, err := it.num(attrPlanned)
	if err != nil {
		return fail(err)
	}
	run.Planned = int(n)
	return run, nil
}

// maxTargetsBytes is the largest compressed target list a targets item
// holds, well below DynamoDB's 400 KB per item; a larger one is not stored.
const maxTargetsBytes = 300 << 10

// encodeTargets is a run's target IDs as a targets item holds them: gzip
// of the IDs joined by "\n" (IDs hold no line break: store.CheckRun). It
// returns nil when the result is larger than maxTargetsBytes.
func encodeTargets(ids []string) ([]byte, error) {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		if i > 0 {
			if _, err := zw.Write([]byte{'\n'}); err != nil {
				return nil, err
			}
		}
		if _, err := io.WriteString(zw, id); err != nil {
			return nil, err
		}
		if b.Len() > maxTargetsBytes {
			return nil, nil
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if b.Len() > maxTargetsBytes {
		return nil, nil
	}
	return b.Bytes(), nil
}

// decodeTargets reads the target IDs of a targets item.
func decodeTargets(it item) ([]string, error) {
	v, ok := it[attrTargets].(*types.AttributeValueMemberB)
	if !ok {
		return nil, fmt.Errorf("stored targets %s: attribute %s is %T, want binary", it.keyString(), attrTargets, it[attrTargets])
	}
	zr, err := gzip.NewReader(bytes.NewReader(v.Value))
	if err != nil {
		return nil, fmt.Errorf("stored targets %s: %w", it.keyString(), err)
	}
	text, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("stored targets %s: %w", it.keyString(), err)
	}
	if len(text) == 0 {
		return nil, nil
	}
	return strings.Split(string(text), "\n"), nil
}

// attemptItem is the item of a failed attempt, its error message capped
// (job.MaxErrorMessageBytes) so that the item stays under DynamoDB's 400 KB
// item limit.
func attemptItem(a store.Attempt, expiresAt int64) item {
	e := a.Error.Capped()
	it := key(targetPK(a.TargetID), attemptSK(a.RunID, a.MessageID, a.Attempt))
	it.setS(attrRunID, a.RunID)
	it.setS(attrTargetID, a.TargetID)
	it.setN(attrAttempt, int64(a.Attempt))
	it.setS(attrMessageID, a.MessageID)
	it.setTime(attrAt, a.At)
	it.setS(attrErrorKind, e.Kind)
	it.setS(attrErrorMsg, e.Message)
	if expiresAt > 0 {
		it.setN(AttrExpiresAt, expiresAt)
	}
	return it
}

// decodeAttempt reads an attempt item, of either SK format (attemptSK).
func decodeAttempt(it item) (store.Attempt, error) {
	a := store.Attempt{
		V:         job.Version,
		RunID:     it.str(attrRunID),
		TargetID:  it.str(attrTargetID),
		MessageID: it.str(attrMessageID),
		Error:     job.Error{Kind: it.str(attrErrorKind), Message: it.str(attrErrorMsg)},
	}
	n, err := it.num(attrAttempt)
	if err != nil {
		return store.Attempt{}, fmt.Errorf("stored attempt %s: %w", it.keyString(), err)
	}
	a.Attempt = int(n)
	if a.At, err = it.time(attrAt); err != nil {
		return store.Attempt{}, fmt.Errorf("stored attempt %s: %w", it.keyString(), err)
	}
	return a, nil
}
