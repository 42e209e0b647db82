package dynamo

import (
	"testing"

	"github.com/cronless/cronless/shared/standin"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/storetest"
)

// TestMotoContract runs the store contract against moto, a second DynamoDB
// emulator that does not know this code, beside dynalite (TestContract).
// moto enforces DynamoDB's 400 KB item limit as DynamoDB documents it
// (Service, account, and table quotas in Amazon DynamoDB: "Item size"), so
// ErrorMessagesCapped reproduces the attempt that was never stored.
func TestMotoContract(t *testing.T) {
	client := standin.Moto(t).DynamoDB(t)
	const slow = "moto serves one request at a time in Python: these load tests take some 20 s there, and dynalite runs them (TestContract, TestContractInterleaved)"
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t, client) },
		storetest.LeaveOut("ConcurrentRuns", slow), storetest.LeaveOut("ConcurrentOneTarget", slow),
		// Seen once under load: two of eight concurrent conditional puts of
		// one item both succeeded. moto's server checks a condition and
		// writes without a lock between requests (its SQS receive is not
		// thread-safe either); DynamoDB's conditional write is atomic, and
		// dynalite runs this test.
		storetest.LeaveOut("DuplicateResultConcurrent", "moto does not make a conditional put atomic across concurrent requests"))
}
