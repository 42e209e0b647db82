package dynamo

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cronless/cronless/shared/job"
)

// hookAPI calls hook before every call, with the operation's name and input.
type hookAPI struct {
	API
	hook func(op string, in any)
}

func (h hookAPI) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	h.hook("GetItem", in)
	return h.API.GetItem(ctx, in, o...)
}

func (h hookAPI) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	h.hook("PutItem", in)
	return h.API.PutItem(ctx, in, o...)
}

func (h hookAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	h.hook("UpdateItem", in)
	return h.API.UpdateItem(ctx, in, o...)
}

func (h hookAPI) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	h.hook("Query", in)
	return h.API.Query(ctx, in, o...)
}

func (h hookAPI) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	h.hook("BatchWriteItem", in)
	return h.API.BatchWriteItem(ctx, in, o...)
}

// sortKey is the SK of the item a PutItem or UpdateItem writes ("" for others).
func sortKey(in any) string {
	switch in := in.(type) {
	case *dynamodb.PutItemInput:
		return item(in.Item).Str(AttrSK)
	case *dynamodb.UpdateItemInput:
		return item(in.Key).Str(AttrSK)
	}
	return ""
}

// pauseWriter puts r through a Store whose first op call that writes the
// item with sort key sk waits until between has run.
func pauseWriter(t *testing.T, client API, table, op, sk string, r job.Result, between func()) {
	t.Helper()
	var (
		once    sync.Once
		paused  = make(chan struct{})
		release = make(chan struct{})
		done    = make(chan error, 1)
	)
	s := New(hookAPI{client, func(o string, in any) {
		if o == op && sortKey(in) == sk {
			once.Do(func() { close(paused); <-release })
		}
	}}, table)
	go func() {
		_, err := s.PutResult(context.WithoutCancel(t.Context()), r)
		done <- err
	}()
	select {
	case <-paused:
	case err := <-done:
		close(release)
		t.Fatalf("PutResult(%s) finished without reaching %s of %s: %v", r.RunID, op, sk, err)
	}
	between()
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("PutResult(%s): %v", r.RunID, err)
	}
}

func wantChanged(t *testing.T, s *Store, target string, ticks map[int]bool, latestTick int) {
	t.Helper()
	for i, want := range ticks {
		r, err := s.Result(t.Context(), target, job.RunID("hourly", tick(i)))
		if err != nil {
			t.Fatal(err)
		}
		if r.Changed != want {
			t.Errorf("Result(tick %d).Changed = %v, want %v", i, r.Changed, want)
		}
	}
	l, err := s.Latest(t.Context(), target)
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 1 || l[0].RunID != job.RunID("hourly", tick(latestTick)) || l[0].Changed != ticks[latestTick] {
		t.Errorf("Latest(%s) = %+v, want tick %d with Changed %v", target, l, latestTick, ticks[latestTick])
	}
}

// The interleavings below are the ones the design has to survive without
// transactions (see the package comment); each is forced by pausing one
// writer at the step that makes it dangerous.

// TestRaceNeighboursMissEachOther: X reads "no previous result", then P is
// stored and looks for its next result before X is stored. X's check after
// its own put must find P.
func TestRaceNeighboursMissEachOther(t *testing.T) {
	client := dynalite(t)
	table := newTable(t, client)
	plain := New(client, table)
	x, p := okResult("a", 2, "B"), okResult("a", 1, "A")
	pauseWriter(t, client, table, "PutItem", resultSK(x.ScheduledAt, x.RunID), x, func() {
		if _, err := plain.PutResult(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	})
	wantChanged(t, plain, "a", map[int]bool{1: false, 2: true}, 2)
}

// TestRaceStaleChangedLandsLast: P and Q arrive late, both before X; P's
// update of X (against P) is delayed until Q has updated X (against Q, the
// true previous). P's late write must not win.
func TestRaceStaleChangedLandsLast(t *testing.T) {
	client := dynalite(t)
	table := newTable(t, client)
	plain := New(client, table)
	x, p, q := okResult("a", 3, "B"), okResult("a", 1, "A"), okResult("a", 2, "B")
	if _, err := plain.PutResult(t.Context(), x); err != nil {
		t.Fatal(err)
	}
	pauseWriter(t, client, table, "UpdateItem", resultSK(x.ScheduledAt, x.RunID), p, func() {
		if _, err := plain.PutResult(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	})
	wantChanged(t, plain, "a", map[int]bool{1: false, 2: true, 3: false}, 3)
}

// TestRaceDuplicateCompletesPut: a put that failed after storing the result
// (here: before adding its target to the target list) is completed by its
// redelivery.
func TestRaceDuplicateCompletesPut(t *testing.T) {
	client := dynalite(t)
	table := newTable(t, client)
	p, x := okResult("a", 1, "A"), okResult("b", 2, "B")
	plain := New(client, table)
	if _, err := plain.PutResult(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	failing := New(&failAPI{API: client, fail: func(op string, in any) error {
		if op == "PutItem" && sortKey(in) == targetPK("b") {
			return &types.InternalServerError{Message: aws.String("injected")}
		}
		return nil
	}}, table)
	if _, err := failing.PutResult(t.Context(), x); err == nil {
		t.Fatal("PutResult with the target list write failing: no error")
	}
	if l, err := plain.Latest(t.Context(), ""); err != nil || len(l) != 1 {
		t.Fatalf("Latest(\"\") = %v, %v; want only a before the redelivery", ids(l), err)
	}
	out, err := plain.PutResult(t.Context(), x)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Duplicate || out.Changed {
		t.Errorf("redelivery: outcome %+v, want duplicate, not changed", out)
	}
	l, err := plain.Latest(t.Context(), "")
	if err != nil || !slices.Equal(ids(l), []string{"a/" + p.RunID, "b/" + x.RunID}) {
		t.Errorf("Latest(\"\") = %v, %v; want a and b", ids(l), err)
	}
}
