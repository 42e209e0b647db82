package dynamo

import (
	"bytes"
	"compress/gzip"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	_ "modernc.org/sqlite"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/standin"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo/ddb"
	"github.com/cronless/cronless/shared/store/localstore"
	"github.com/cronless/cronless/shared/store/storetest"
)

// dynalite starts a DynamoDB stand-in for the test and returns a client of it.
func dynalite(t *testing.T) *dynamodb.Client {
	t.Helper()
	return standin.Dynalite(t, "").DynamoDB(t)
}

var tables atomic.Int64

// newTable creates a table with a unique name and returns its name.
func newTable(t *testing.T, client TableAPI) string {
	t.Helper()
	name := fmt.Sprintf("cronless-test-%d", tables.Add(1))
	if err := CreateTable(t.Context(), client, name); err != nil {
		t.Fatal(err)
	}
	return name
}

// newStore returns a Store of a new table.
func newStore(t *testing.T, client *dynamodb.Client, opts ...Option) *Store {
	t.Helper()
	return New(client, newTable(t, client), opts...)
}

func TestContract(t *testing.T) {
	client := dynalite(t)
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t, client) })
}

func TestCreateTable(t *testing.T) {
	client := dynalite(t)
	name := newTable(t, client)
	out, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	tbl := out.Table
	if tbl.TableStatus != types.TableStatusActive {
		t.Errorf("status %s, want ACTIVE", tbl.TableStatus)
	}
	if tbl.BillingModeSummary == nil || tbl.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("billing mode %+v, want PAY_PER_REQUEST", tbl.BillingModeSummary)
	}
	keys := func(ks []types.KeySchemaElement) string {
		var s string
		for _, k := range ks {
			s += aws.ToString(k.AttributeName) + ":" + string(k.KeyType) + " "
		}
		return s
	}
	if got, want := keys(tbl.KeySchema), AttrPK+":HASH "+AttrSK+":RANGE "; got != want {
		t.Errorf("key %q, want %q", got, want)
	}
	if len(tbl.GlobalSecondaryIndexes) != 1 || aws.ToString(tbl.GlobalSecondaryIndexes[0].IndexName) != IndexGSI1 ||
		keys(tbl.GlobalSecondaryIndexes[0].KeySchema) != AttrGSI1PK+":HASH "+AttrGSI1SK+":RANGE " ||
		tbl.GlobalSecondaryIndexes[0].Projection.ProjectionType != types.ProjectionTypeInclude ||
		!slices.Equal(tbl.GlobalSecondaryIndexes[0].Projection.NonKeyAttributes, gsi1Include) {
		t.Errorf("global indexes %+v, want GSI1 on (GSI1PK, GSI1SK), projection INCLUDE %v", tbl.GlobalSecondaryIndexes, gsi1Include)
	}
	if len(tbl.LocalSecondaryIndexes) != 0 {
		t.Errorf("local indexes %+v, want none (a target's history is the table's own sort order)", tbl.LocalSecondaryIndexes)
	}
	if err := CreateTable(t.Context(), client, name); err == nil {
		t.Errorf("CreateTable of an existing table: no error")
	}
}

// rawItem reads one item as stored.
func rawItem(t *testing.T, client API, table string, k item) item {
	t.Helper()
	out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: k, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Item) == 0 {
		t.Fatalf("no item %s", k.KeyString())
	}
	return out.Item
}

var base = time.Date(2025, 3, 1, 10, 0, 0, 123456789, time.UTC)

func tick(i int) time.Time { return base.Add(time.Duration(i) * time.Hour) }

func okResult(target string, i int, hash string) job.Result {
	return job.Result{
		V: job.Version, RunID: job.RunID("hourly", tick(i)), Schedule: "hourly", TargetID: target,
		URL: "https://example.com/" + target, ScheduledAt: tick(i), Status: job.StatusOK, HTTPStatus: 200,
		Fields: map[string]any{"title": hash}, ContentHash: hash, FetchedAt: tick(i).Add(time.Second),
		DurationMS: 100, Attempt: 1,
	}
}

func failedResult(target string, i int) job.Result {
	return job.Result{
		V: job.Version, RunID: job.RunID("hourly", tick(i)), Schedule: "hourly", TargetID: target,
		URL: "https://example.com/" + target, ScheduledAt: tick(i), Status: job.StatusFailed, HTTPStatus: 500,
		FetchedAt: tick(i).Add(time.Second), DurationMS: 100, Attempt: 3,
		Error: &job.Error{Kind: "http_5xx", Message: "500 Internal Server Error"},
	}
}

func TestTTL(t *testing.T) {
	client := dynalite(t)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	// A result that holds its fields lives HolderSlack longer (at most its
	// retention again): results of the next week may name its fields.
	tests := []struct {
		name         string
		opts         []Option
		want, holder int64 // 0: no expires_at
	}{
		{"default 90 days", nil, now.Add(90 * 24 * time.Hour).Unix(), now.Add(97 * 24 * time.Hour).Unix()},
		{"retention", []Option{WithRetention(48 * time.Hour)}, now.Add(48 * time.Hour).Unix(), now.Add(96 * time.Hour).Unix()},
		{"no expiry", []Option{WithRetention(0)}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, client, append([]Option{WithClock(clock)}, tt.opts...)...)
			r := okResult("a", 0, "h")
			if _, err := s.PutResult(t.Context(), r); err != nil {
				t.Fatal(err)
			}
			same := okResult("a", 1, "h") // names the first one's fields
			if _, err := s.PutResult(t.Context(), same); err != nil {
				t.Fatal(err)
			}
			a := store.Attempt{RunID: r.RunID, TargetID: "a", Attempt: 1, At: now, Error: job.Error{Kind: "timeout", Message: "slow"}}
			if err := s.RecordAttempt(t.Context(), a); err != nil {
				t.Fatal(err)
			}
			check := func(what string, k item, want int64) {
				t.Helper()
				it := rawItem(t, client, s.table, k)
				v, ok := it[AttrExpiresAt]
				switch {
				case want == 0 && ok:
					t.Errorf("%s: %s = %v, want none", what, AttrExpiresAt, v)
				case want != 0 && !ok:
					t.Errorf("%s: no %s, want %d", what, AttrExpiresAt, want)
				case want != 0:
					n, isN := v.(*types.AttributeValueMemberN)
					if !isN || n.Value != strconv.FormatInt(want, 10) {
						t.Errorf("%s: %s = %#v, want N %d (epoch seconds)", what, AttrExpiresAt, v, want)
					}
				}
			}
			check("result holding its fields", ddb.Key(targetPK("a"), resultSK(r.ScheduledAt, r.RunID)), tt.holder)
			check("result naming them", ddb.Key(targetPK("a"), resultSK(same.ScheduledAt, same.RunID)), tt.want)
			check("attempt", ddb.Key(targetPK("a"), attemptSK(r.RunID, "", 1)), tt.want)
			check("target", ddb.Key(targetsPK("a"), targetPK("a")), 0)
			check("run", runKey(r.RunID), 0)
			if got, err := rawItem(t, client, s.table, ddb.Key(targetPK("a"), resultSK(r.ScheduledAt, r.RunID))).Time(attrStoredAt); err != nil || !got.Equal(now) {
				t.Errorf("stored_at = %v (%v), want %v (the clock's)", got, err, now)
			}
		})
	}
}

// TestItemShapes checks the keys of every item against docs/aws.md.
func TestItemShapes(t *testing.T) {
	client := dynalite(t)
	s := newStore(t, client)
	r := okResult("shop", 0, "h")
	if _, err := s.PutResult(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAttempt(t.Context(), store.Attempt{RunID: r.RunID, TargetID: "shop", MessageID: "m-7", Attempt: 2, Error: job.Error{Kind: "timeout"}}); err != nil {
		t.Fatal(err)
	}
	at := "2025-03-01T10:00:00.123456789Z"
	tests := []struct {
		name string
		k    item
		want map[string]string // attribute -> value; "" = absent
	}{
		// FNV-1a of "shop" is 0xa847e0a9: shard 1 of 8.
		{"result", ddb.Key("T#shop", "R#"+at+"#"+r.RunID), map[string]string{
			AttrGSI1PK: "RUN#" + r.RunID + "#1", AttrGSI1SK: "T#shop", attrTargetID: "", attrRunID: "", attrScheduledAt: "",
		}},
		{"target", ddb.Key("TARGETS#1", "T#shop"), map[string]string{
			AttrGSI1PK: "", AttrGSI1SK: "", attrTargetID: "shop",
		}},
		{"run", ddb.Key("RUN#"+r.RunID, "SUMMARY"), map[string]string{
			AttrGSI1PK: "RUNS", AttrGSI1SK: at + "#" + r.RunID,
		}},
		{"attempt", ddb.Key("T#shop", "A#"+r.RunID+"#m-7#000002"), map[string]string{
			AttrGSI1PK: "", AttrGSI1SK: "",
		}},
	}
	for _, tt := range tests {
		it := rawItem(t, client, s.table, tt.k)
		for attr, want := range tt.want {
			if got := it.Str(attr); got != want {
				t.Errorf("%s item %s = %q, want %q", tt.name, attr, got, want)
			}
		}
	}
}

// TestCLIQueries checks History, Changed and Failed against localstore's
// on the same history.
func TestCLIQueries(t *testing.T) {
	client := dynalite(t)
	s := newStore(t, client)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "ref.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ref, err := localstore.New(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var rs []job.Result
	for ti, target := range []string{"a", "b", "c", "d"} {
		for i := range 8 {
			switch {
			case ti == 3: // d never fails
				rs = append(rs, okResult(target, i, "same"))
			case rng.IntN(4) == 0:
				rs = append(rs, failedResult(target, i))
			default:
				rs = append(rs, okResult(target, i, fmt.Sprint("h", rng.IntN(2))))
			}
		}
	}
	// Two runs at the same instant, to check the tie-break by run ID.
	tie := okResult("a", 3, "tie")
	tie.RunID, tie.Schedule = job.RunID("other", tick(3)), "other"
	rs = append(rs, tie)
	rng.Shuffle(len(rs), func(i, j int) { rs[i], rs[j] = rs[j], rs[i] })
	for _, r := range rs {
		if _, err := s.PutResult(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		if _, err := ref.PutResult(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	same := func(what string, got, want []job.Result, err1, err2 error) {
		t.Helper()
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %v / %v", what, err1, err2)
		}
		if len(got) != len(want) {
			t.Errorf("%s: dynamo %v,\n localstore %v", what, ids(got), ids(want))
			return
		}
		for i := range got {
			if !got[i].ScheduledAt.Equal(want[i].ScheduledAt) || !got[i].FetchedAt.Equal(want[i].FetchedAt) {
				t.Errorf("%s[%d]: times differ", what, i)
			}
			g, w := got[i], want[i]
			g.ScheduledAt, w.ScheduledAt, g.FetchedAt, w.FetchedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%s[%d]:\n dynamo     %+v\n localstore %+v", what, i, g, w)
			}
		}
	}
	ctx := t.Context()
	for _, target := range []string{"a", "b", "d", "zzz"} {
		for _, c := range []struct {
			since, until time.Time
			limit        int
		}{
			{}, {tick(2), time.Time{}, 0}, {time.Time{}, tick(5), 0}, {tick(2), tick(5), 0},
			{tick(3), tick(4), 0}, {time.Time{}, time.Time{}, 3}, {tick(1), tick(7), 2}, {tick(5), tick(2), 0},
		} {
			got, err1 := s.History(ctx, target, c.since, c.until, c.limit)
			want, err2 := ref.History(ctx, target, c.since, c.until, c.limit)
			same(fmt.Sprintf("History(%s, %v, %v, %d)", target, c.since, c.until, c.limit), got, want, err1, err2)
		}
	}
	for _, since := range []time.Time{{}, tick(4), tick(7), tick(9)} {
		got, err1 := s.Changed(ctx, since)
		want, err2 := ref.Changed(ctx, since)
		same(fmt.Sprintf("Changed(%v)", since), got, want, err1, err2)
	}
	for _, run := range []string{"", job.RunID("hourly", tick(2)), job.RunID("hourly", tick(9))} {
		got, err1 := s.Failed(ctx, run)
		want, err2 := ref.Failed(ctx, run)
		same(fmt.Sprintf("Failed(%q)", run), got, want, err1, err2)
	}
	for _, run := range []string{job.RunID("hourly", tick(3)), tie.RunID} {
		got, err1 := s.RunResults(ctx, run)
		want, err2 := ref.RunResults(ctx, run)
		same("RunResults("+run+")", got, want, err1, err2)
	}
	got, err1 := s.Latest(ctx, "")
	want, err2 := ref.Latest(ctx, "")
	same("Latest", got, want, err1, err2)
}

func ids(rs []job.Result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.TargetID + "/" + r.RunID
	}
	return out
}

// TestImport checks that a bulk import leaves the table as PutResult does.
func TestImport(t *testing.T) {
	client := dynalite(t)
	imported, put := newStore(t, client), newStore(t, client)
	rng := rand.New(rand.NewPCG(3, 4))
	var (
		runs []store.Run
		rs   []job.Result
	)
	for i := range 4 {
		if i != 2 { // run 2 only exists through its results
			runs = append(runs, store.Run{ID: job.RunID("hourly", tick(i)), Schedule: "hourly", ScheduledAt: tick(i), Planned: 20})
		}
		for ti := range 20 {
			if rng.IntN(5) == 0 {
				rs = append(rs, failedResult(fmt.Sprintf("t%02d", ti), i))
			} else {
				rs = append(rs, okResult(fmt.Sprintf("t%02d", ti), i, fmt.Sprint("h", rng.IntN(2))))
			}
		}
	}
	rs = append(rs, rs[5]) // a duplicate
	if err := imported.Import(t.Context(), runs, rs); err != nil {
		t.Fatal(err)
	}
	rng.Shuffle(len(rs), func(i, j int) { rs[i], rs[j] = rs[j], rs[i] })
	for _, run := range runs {
		if _, err := put.PutRun(t.Context(), run); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range rs {
		if _, err := put.PutResult(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	compareStores(t, imported, put)
}

// TestHolderOutlivesItsReferrers: a result that holds fields others name
// expires no earlier than any of them, at the cost of one UpdateItem per
// HolderSlack of a content that does not change, and one never expiring
// when a result that never expires names it.
func TestHolderOutlivesItsReferrers(t *testing.T) {
	client := dynalite(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	var updates atomic.Int64
	s := New(hookAPI{client, func(op string, in any) {
		if op == "UpdateItem" && sortKey(in) == resultSK(tick(0), job.RunID("hourly", tick(0))) {
			updates.Add(1)
		}
	}}, newTable(t, client), WithClock(func() time.Time { return now }), WithRetention(30*24*time.Hour))
	holderKey := ddb.Key(targetPK("a"), resultSK(tick(0), job.RunID("hourly", tick(0))))
	expiry := func(k item) int64 {
		t.Helper()
		return rawItem(t, client, s.table, k).NumOr0(AttrExpiresAt)
	}
	// An unchanged page every day for 20 days (the ticks' times are their
	// own; the clock is when each is stored).
	for day := range 21 {
		now = start.Add(time.Duration(day) * 24 * time.Hour)
		r := okResult("a", day, "same")
		if _, err := s.PutResult(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		if day == 0 {
			continue
		}
		k := ddb.Key(targetPK("a"), resultSK(r.ScheduledAt, r.RunID))
		if got := rawItem(t, client, s.table, k).Str(attrFieldsIn); got != holderKey.Str(AttrSK) {
			t.Fatalf("day %d: fields in %q, want the first result's", day, got)
		}
		if h, own := expiry(holderKey), expiry(k); h < own {
			t.Errorf("day %d: the holder expires at %d, before the result naming it (%d)", day, h, own)
		}
	}
	// Retention 30 days and a slack of 7: the holder of day 0 expires on
	// day 37, enough for the results of days 1-7; moved on day 8 (to 38 +
	// 7) and on day 16 (to 46 + 7).
	if n := updates.Load(); n != 2 {
		t.Errorf("the holder's expiry was moved %d times in 20 days, want 2 (once per %s)", n, HolderSlack)
	}
	// A result that never expires (retention 0 now) names it: it never
	// expires either.
	forever := New(client, s.table, WithClock(func() time.Time { return now }), WithRetention(0))
	if _, err := forever.PutResult(t.Context(), okResult("a", 30, "same")); err != nil {
		t.Fatal(err)
	}
	if _, has := rawItem(t, client, s.table, holderKey)[AttrExpiresAt]; has {
		t.Errorf("the holder still expires, though a result that never does names it")
	}
}

// TestImportRelinksLaterResult: history imported behind a result stored
// live before it (a migration after the stage's first tick on v2) sets that
// result's Changed flag against the imported history.
func TestImportRelinksLaterResult(t *testing.T) {
	client := dynalite(t)
	for _, tt := range []struct {
		name, imported string
		want           bool
	}{
		{"other content", "A", true},
		{"the same content", "B", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, client)
			live := okResult("a", 5, "B")
			if out, err := s.PutResult(t.Context(), live); err != nil || out.Changed {
				t.Fatalf("live put: %+v, %v; want not changed (no history yet)", out, err)
			}
			history := []job.Result{okResult("a", 1, "A"), failedResult("a", 2), okResult("a", 3, tt.imported), failedResult("a", 4)}
			if err := s.Import(t.Context(), nil, history); err != nil {
				t.Fatal(err)
			}
			got, err := s.Result(t.Context(), "a", live.RunID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Changed != tt.want {
				t.Errorf("live result after the import: Changed = %v, want %v (against tick 3's %s)", got.Changed, tt.want, tt.imported)
			}
		})
	}
}

// compareStores fails unless a and b hold the same runs and results.
func compareStores(t *testing.T, a, b *Store) {
	t.Helper()
	ctx := t.Context()
	ra, err := a.Runs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := b.Runs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ra) != len(rb) {
		t.Fatalf("runs: %d and %d", len(ra), len(rb))
	}
	for i := range ra {
		x, y := ra[i], rb[i]
		if x.ID != y.ID || x.Schedule != y.Schedule || !x.ScheduledAt.Equal(y.ScheduledAt) ||
			x.Planned != y.Planned || x.Succeeded != y.Succeeded || x.Failed != y.Failed {
			t.Errorf("run %d:\n %+v\n %+v", i, x, y)
		}
		xa, err := a.RunResults(ctx, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		xb, err := b.RunResults(ctx, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !sameResults(xa, xb) {
			t.Errorf("results of run %s differ:\n %+v\n %+v", x.ID, xa, xb)
		}
	}
	la, err := a.Latest(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	lb, err := b.Latest(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if !sameResults(la, lb) {
		t.Errorf("latest differs:\n %+v\n %+v", la, lb)
	}
}

func sameResults(a, b []job.Result) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if !x.ScheduledAt.Equal(y.ScheduledAt) || !x.FetchedAt.Equal(y.FetchedAt) {
			return false
		}
		x.ScheduledAt, y.ScheduledAt, x.FetchedAt, y.FetchedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

// storedFields describes where an item's fields are: their JSON text, or
// "in <SK>" of the result that holds them, or "" for none.
func storedFields(t *testing.T, it item) string {
	t.Helper()
	if in := it.Str(attrFieldsIn); in != "" {
		if _, both := it[attrFields]; both {
			t.Errorf("item %s has both fields and fields_in", it.KeyString())
		}
		return "in " + in
	}
	v, ok := it[attrFields].(*types.AttributeValueMemberB)
	if !ok {
		return ""
	}
	zr, err := gzip.NewReader(bytes.NewReader(v.Value))
	if err != nil {
		t.Fatalf("item %s: fields are not gzip: %v", it.KeyString(), err)
	}
	text, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}

// TestNotModifiedItems checks the attributes of a 304's result item: it
// refers to the previous result's fields rather than storing them again;
// and that Import stores the same.
func TestNotModifiedItems(t *testing.T) {
	client := dynalite(t)
	s := newStore(t, client)
	first := okResult("shop", 0, "h")
	first.ETag = `"v1"`
	nm := okResult("shop", 1, "h")
	nm.HTTPStatus, nm.NotModified, nm.Fields, nm.ETag = 304, true, nil, `"v1"`
	for _, r := range []job.Result{first, nm} {
		if _, err := s.PutResult(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	firstSK := resultSK(first.ScheduledAt, first.RunID)
	it := rawItem(t, client, s.table, ddb.Key("T#shop", resultSK(nm.ScheduledAt, nm.RunID)))
	if !it.Boolean(attrNotModified) || it.Str(attrETag) != `"v1"` || storedFields(t, it) != "in "+firstSK || it.Boolean(attrChanged) {
		t.Errorf("item %s = %v, want not_modified, the etag, fields in %s and not changed", it.KeyString(), it, firstSK)
	}
	if it := rawItem(t, client, s.table, ddb.Key("T#shop", firstSK)); it[attrNotModified] != nil || it.Str(attrLastMod) != "" ||
		storedFields(t, it) != `{"title":"h"}` {
		t.Errorf("the 200's item = %v, want its fields and no not_modified or last_modified", it)
	}

	imported := newStore(t, client)
	if err := imported.Import(t.Context(), nil, []job.Result{nm, first}); err != nil {
		t.Fatal(err)
	}
	compareStores(t, imported, s)
}

// TestRulesHashItems checks the rules_hash attribute of a 304's result
// item: kept when the 304 was completed with fields of the same rules,
// absent (with the fields) when not; and that Import does the same.
func TestRulesHashItems(t *testing.T) {
	client := dynalite(t)
	tests := []struct {
		name       string
		prevRules  string
		rules      string
		wantRules  string
		wantFields bool // in the first result
	}{
		{"same rules", "rules-a", "rules-a", "rules-a", true},
		{"other rules", "rules-a", "rules-b", "", false},
		{"previous of unknown rules", "", "rules-a", "", false},
		{"both of unknown rules", "", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, client)
			first := okResult("shop", 0, "h")
			first.ETag, first.RulesHash = `"v1"`, tt.prevRules
			nm := okResult("shop", 1, "h")
			nm.HTTPStatus, nm.NotModified, nm.Fields, nm.ETag, nm.RulesHash = 304, true, nil, `"v1"`, tt.rules
			for _, r := range []job.Result{first, nm} {
				if _, err := s.PutResult(t.Context(), r); err != nil {
					t.Fatal(err)
				}
			}
			firstSK := resultSK(first.ScheduledAt, first.RunID)
			if it := rawItem(t, client, s.table, ddb.Key("T#shop", firstSK)); it.Str(attrRulesHash) != tt.prevRules {
				t.Errorf("first result's rules_hash = %q, want %q", it.Str(attrRulesHash), tt.prevRules)
			}
			it := rawItem(t, client, s.table, ddb.Key("T#shop", resultSK(nm.ScheduledAt, nm.RunID)))
			want := ""
			if tt.wantFields {
				want = "in " + firstSK
			}
			if _, present := it[attrRulesHash]; present != (tt.wantRules != "") || it.Str(attrRulesHash) != tt.wantRules ||
				storedFields(t, it) != want {
				t.Errorf("item %s = %v, want rules_hash %q and fields %q", it.KeyString(), it, tt.wantRules, want)
			}
			imported := newStore(t, client)
			if err := imported.Import(t.Context(), nil, []job.Result{nm, first}); err != nil {
				t.Fatal(err)
			}
			compareStores(t, imported, s)
		})
	}
}

// TestRunTargetsItem checks where and how a run's targets are stored: a
// gzip'd list in an item of its own (RUN#<runID>, TARGETS) outside every
// index and without expiry, none on the run item; a list that compresses
// below ddb.MaxIDsBytes is kept however long, a larger one is not stored.
func TestRunTargetsItem(t *testing.T) {
	client := dynalite(t)
	rng := rand.New(rand.NewPCG(3, 4))
	ids := func(n int, id func(i int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = id(i)
		}
		return out
	}
	random := func(int) string { // 128 characters that gzip cannot shrink much
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		b := make([]byte, 128)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	tests := []struct {
		name    string
		targets []string
		stored  bool
	}{
		{"a few", []string{"shop", "news", "blog"}, true},
		// About 560 KB of IDs, more than an item holds, in far fewer bytes.
		{"40,000 that compress well", ids(40_000, func(i int) string { return fmt.Sprintf("target-%07d", i) }), true},
		// 4,000 × 129 bytes of 6 bits each: some 390 KB gzip'd.
		{"too many to store", ids(4_000, random), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, client)
			run := store.Run{ID: "hourly-20250301T100000Z", Schedule: "hourly", ScheduledAt: tick(0), Planned: len(tt.targets), Targets: tt.targets}
			if created, err := s.PutRun(t.Context(), run); err != nil || !created {
				t.Fatalf("PutRun: %v, %v", created, err)
			}
			got, err := s.Run(t.Context(), run.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Planned != len(tt.targets) {
				t.Errorf("planned %d, want %d", got.Planned, len(tt.targets))
			}
			if tt.stored && !slices.Equal(got.Targets, tt.targets) || !tt.stored && got.Targets != nil {
				t.Errorf("Run returned %d targets, want %d (stored: %v)", len(got.Targets), len(tt.targets), tt.stored)
			}
			// Import stores them as PutRun does.
			imported := newStore(t, client)
			if err := imported.Import(t.Context(), []store.Run{run}, nil); err != nil {
				t.Fatal(err)
			}
			if got2, err := imported.Run(t.Context(), run.ID); err != nil || !slices.Equal(got2.Targets, got.Targets) {
				t.Errorf("imported run: %d targets (%v), want %d as PutRun stored", len(got2.Targets), err, len(got.Targets))
			}
			if _, ok := rawItem(t, client, s.table, runKey(run.ID))[attrTargets]; ok {
				t.Errorf("the run item has %s, want it only on the targets item", attrTargets)
			}
			out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: targetsKey(run.ID), ConsistentRead: aws.Bool(true)})
			if err != nil {
				t.Fatal(err)
			}
			if !tt.stored {
				if len(out.Item) != 0 {
					t.Errorf("a targets item was stored for a list over %d bytes gzip'd", ddb.MaxIDsBytes)
				}
				return
			}
			it := item(out.Item)
			for _, attr := range []string{AttrGSI1PK, AttrGSI1SK, AttrExpiresAt} {
				if _, ok := it[attr]; ok {
					t.Errorf("targets item has %s, want none (outside every index, no expiry)", attr)
				}
			}
			b, ok := it[attrTargets].(*types.AttributeValueMemberB)
			if !ok || len(b.Value) > ddb.MaxIDsBytes {
				t.Fatalf("targets item %s = %T, want binary of at most %d bytes", attrTargets, it[attrTargets], ddb.MaxIDsBytes)
			}
			zr, err := gzip.NewReader(bytes.NewReader(b.Value))
			if err != nil {
				t.Fatal(err)
			}
			text, err := io.ReadAll(zr)
			if err != nil || string(text) != strings.Join(tt.targets, "\n") {
				t.Errorf("targets item holds %d bytes (%v), want gzip of the IDs joined by newlines", len(text), err)
			}
		})
	}
}

// TestPutRunCompletesTargets: a PutRun whose targets write failed stored
// nothing, and its retry stores the run and its targets; the targets of a
// PutRun that finds the run planned with another count are not returned.
func TestPutRunCompletesTargets(t *testing.T) {
	client := dynalite(t)
	table := newTable(t, client)
	var failTargets atomic.Bool
	failTargets.Store(true)
	f := &failAPI{API: client, fail: func(op string, in any) error {
		if u, ok := in.(*dynamodb.UpdateItemInput); ok && item(u.Key).Str(AttrSK) == skTargets && failTargets.Load() {
			return &types.ProvisionedThroughputExceededException{Message: aws.String("throttled")}
		}
		return nil
	}}
	s := New(f, table)
	run := store.Run{ID: "hourly-20250301T100000Z", Schedule: "hourly", ScheduledAt: tick(0), Planned: 2, Targets: []string{"a", "b"}}
	if _, err := s.PutRun(t.Context(), run); err == nil {
		t.Fatal("PutRun with its targets write failing: no error")
	}
	if _, err := s.Run(t.Context(), run.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Run after the failed PutRun: %v, want ErrNotFound", err)
	}
	failTargets.Store(false)
	if created, err := s.PutRun(t.Context(), run); err != nil || !created {
		t.Fatalf("PutRun again: %v, %v; want created", created, err)
	}
	if got, err := s.Run(t.Context(), run.ID); err != nil || got.Planned != 2 || !slices.Equal(got.Targets, run.Targets) {
		t.Errorf("Run = %+v, %v; want planned 2, targets %q", got, err, run.Targets)
	}

	// A run planned without targets, then a PutRun of a plan of three.
	bare := store.Run{ID: "hourly-20250301T110000Z", Schedule: "hourly", ScheduledAt: tick(1), Planned: 2}
	other := bare
	other.Planned, other.Targets = 3, []string{"x", "y", "z"}
	for _, r := range []store.Run{bare, other} {
		if _, err := s.PutRun(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.Run(t.Context(), bare.ID); err != nil || got.Planned != 2 || got.Targets != nil {
		t.Errorf("Run = %+v, %v; want planned 2 and no targets", got, err)
	}
}
