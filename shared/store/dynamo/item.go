package dynamo

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
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

// setHash sets a hash: "sha256:<64 lowercase hex digits>" as the 32 bytes
// it spells (B), which is less than half its text; any other text as it is.
func (it item) setHash(name, v string) {
	if b, ok := hashBytes(v); ok {
		it[name] = &types.AttributeValueMemberB{Value: b}
		return
	}
	it.setS(name, v)
}

// hashPrefix is the form of hash setHash stores as bytes.
const hashPrefix = "sha256:"

func hashBytes(v string) ([]byte, bool) {
	h, ok := strings.CutPrefix(v, hashPrefix)
	if !ok || len(h) != 64 || strings.ToLower(h) != h {
		return nil, false
	}
	b, err := hex.DecodeString(h)
	return b, err == nil
}

// hash reads a hash setHash set.
func (it item) hash(name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberB); ok {
		return hashPrefix + hex.EncodeToString(v.Value)
	}
	return it.str(name)
}

// setStamp sets a time as a number, its Unix time in nanoseconds (some 11
// bytes, a third of the text), leaving a zero time out.
func (it item) setStamp(name string, t time.Time) {
	if !t.IsZero() {
		it.setN(name, t.UnixNano())
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

// time reads a time set as text (setTime) or as a number (setStamp).
func (it item) time(name string) (time.Time, error) {
	if n, ok := it[name].(*types.AttributeValueMemberN); ok {
		ns, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("attribute %s: %w", name, err)
		}
		return time.Unix(0, ns).UTC(), nil
	}
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

// resultItem is the item of result r: its key, its GSI1 keys and its data.
// changed and prev are the Changed flag and the SK of the ok result it was
// computed against ("" for none); expiresAt 0 means none. The fields are
// stored compressed (packFields); link.holder, when set, says that a result
// of the same target with the same content holds them, and r's are not
// stored again.
func resultItem(r job.Result, changed bool, prev string, l fieldsLink, storedAt time.Time, expiresAt int64) (item, error) {
	it := item{
		AttrPK:     avS(targetPK(r.TargetID)),
		AttrSK:     avS(resultSK(r.ScheduledAt, r.RunID)),
		AttrGSI1PK: avS(runShardPK(r.RunID, shard(r.TargetID, RunShards))),
		AttrGSI1SK: avS(targetPK(r.TargetID)),
	}
	it.setS(attrSchedule, r.Schedule)
	it.setS(attrURL, r.URL)
	it.setS(attrStatus, string(r.Status))
	if r.HTTPStatus != 0 {
		it.setN(attrHTTPStatus, int64(r.HTTPStatus))
	}
	switch {
	case l.holder != "":
		it.setS(attrFieldsIn, l.holder)
		if l.expires > 0 {
			it.setN(attrFieldsTTL, l.expires)
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
			it[attrTruncated] = avS(t)
		}
	}
	it.setHash(attrContentHash, r.ContentHash)
	if changed {
		it[attrChanged] = avB(true)
	}
	it.setS(attrETag, r.ETag)
	it.setHash(attrBodyHash, r.BodyHash)
	it.setS(attrLastMod, r.LastModified)
	if r.NotModified {
		it[attrNotModified] = avB(true)
	}
	it.setHash(attrRulesHash, r.RulesHash)
	it.setS(attrPrev, prev)
	it.setStamp(attrFetchedAt, r.FetchedAt)
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
	it.setStamp(attrStoredAt, storedAt)
	if expiresAt > 0 {
		it.setN(AttrExpiresAt, expiresAt)
	}
	return it, nil
}

// decodeResult reads a result item. The fields of one that refers to
// another result's (fields_in) are not read: resolve fills them in.
func decodeResult(it item) (job.Result, error) {
	fail := func(err error) (job.Result, error) {
		return job.Result{}, fmt.Errorf("stored result %s: %w", it.keyString(), err)
	}
	at, runID, err := parseResultSK(it.str(AttrSK))
	if err != nil {
		return fail(err)
	}
	r := job.Result{
		V:            job.Version,
		RunID:        runID,
		Schedule:     it.str(attrSchedule),
		TargetID:     strings.TrimPrefix(it.str(AttrPK), prefixTarget),
		URL:          it.str(attrURL),
		ScheduledAt:  at,
		Status:       job.Status(it.str(attrStatus)),
		ContentHash:  it.hash(attrContentHash),
		Changed:      it.boolean(attrChanged),
		ETag:         it.str(attrETag),
		BodyHash:     it.hash(attrBodyHash),
		LastModified: it.str(attrLastMod),
		NotModified:  it.boolean(attrNotModified),
		RulesHash:    it.hash(attrRulesHash),
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
	if err := decodeFields(it, &r); err != nil {
		return fail(err)
	}
	if _, ok := it[attrErrorKind]; ok {
		r.Error = &job.Error{Kind: it.str(attrErrorKind), Message: it.str(attrErrorMsg)}
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
	if t := it.str(attrTruncated); t != "" {
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
