package dynamo

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/storetest"
)

// jitterAPI delays every call by a random 0–2 ms before and after it, so
// that concurrent writers interleave in many more ways than a fast local
// stand-in lets them.
type jitterAPI struct{ API }

func jitter() { time.Sleep(time.Duration(rand.N(2000)) * time.Microsecond) }

func (j jitterAPI) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	jitter()
	defer jitter()
	return j.API.GetItem(ctx, in, o...)
}

func (j jitterAPI) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	jitter()
	defer jitter()
	return j.API.PutItem(ctx, in, o...)
}

func (j jitterAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	jitter()
	defer jitter()
	return j.API.UpdateItem(ctx, in, o...)
}

func (j jitterAPI) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	jitter()
	defer jitter()
	return j.API.Query(ctx, in, o...)
}

// TestContractInterleaved runs the contract suite with every call delayed
// at random, which is what catches a write that is not monotonic.
func TestContractInterleaved(t *testing.T) {
	client := dynalite(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return New(jitterAPI{client}, newTable(t, client))
	})
}
