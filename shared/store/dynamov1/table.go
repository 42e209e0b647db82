package dynamov1

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cronless/cronless/shared/store/dynamo/ddb"
)

// The table's key, index and TTL names (docs/aws.md, "Table"). serverless.yml
// declares the same table; its test compares against these.
const (
	// AttrPK and AttrSK are the table's partition and sort key (both S).
	AttrPK = ddb.AttrPK
	AttrSK = ddb.AttrSK
	// IndexGSI1 is the global secondary index on (AttrGSI1PK, AttrGSI1SK),
	// projection ALL: one run's results, the latest result of every target,
	// and the runs by scheduled time.
	IndexGSI1  = "GSI1"
	AttrGSI1PK = "GSI1PK"
	AttrGSI1SK = "GSI1SK"
	// IndexLSI1 is the local secondary index on (AttrPK, AttrLSI1SK),
	// projection ALL: a target's results in scheduled-time order. Only
	// result items carry AttrLSI1SK, so the index holds nothing else.
	IndexLSI1  = "LSI1"
	AttrLSI1SK = "LSI1SK"
	// AttrExpiresAt is the TTL attribute (N, epoch seconds) of result and
	// attempt items.
	AttrExpiresAt = "expires_at"
)

// Key prefixes and fixed key values of the item shapes.
const (
	prefixTarget  = "T#"   // PK of result, latest and attempt items; GSI1SK of result and latest items
	prefixResult  = "R#"   // SK of a result item
	prefixAttempt = "A#"   // SK of an attempt item
	prefixRun     = "RUN#" // PK of a run item; GSI1PK of result items
	prefixAt      = "AT#"  // LSI1SK of a result item
	skLatest      = "LATEST"
	skRun         = "SUMMARY"
	skTargets     = "TARGETS" // SK of a run's targets item
	gsiLatest     = "LATEST"  // GSI1PK of latest items
	gsiRuns       = "RUNS"    // GSI1PK of run items
)

// Data attributes of the items.
const (
	attrTargetID    = "target_id"
	attrRunID       = "run_id"
	attrSchedule    = "schedule"
	attrURL         = "url"
	attrScheduledAt = "scheduled_at"
	attrStatus      = "status"
	attrHTTPStatus  = "http_status"
	attrFields      = "fields"    // JSON text, without HTML escaping (its size is what job.MaxFieldsBytes bounds)
	attrTruncated   = "truncated" // JSON text of job.Result.Truncated, absent when nothing was cut
	attrContentHash = "content_hash"
	attrChanged     = "changed"
	attrETag        = "etag"
	attrBodyHash    = "body_hash"
	attrLastMod     = "last_modified"
	attrNotModified = "not_modified" // BOOL, present only when true
	attrRulesHash   = "rules_hash"   // job.RulesHash of the rules the fields were extracted with
	attrPrev        = "prev_ok"      // LSI1SK of the ok result that changed was computed against
	attrFetchedAt   = "fetched_at"
	attrDurationMS  = "duration_ms"
	attrAttempt     = "attempt"
	attrErrorKind   = "error_kind"
	attrErrorMsg    = "error_message"
	attrStoredAt    = "stored_at"
	attrPlanned     = "planned"
	attrCreatedAt   = "created_at"
	attrMessageID   = "message_id"
	attrAt          = "at"
	attrTargets     = "targets" // B: gzip of the target IDs joined by "\n"
)

func targetPK(targetID string) string { return prefixTarget + targetID }
func resultSK(runID string) string    { return prefixResult + runID }
func runPK(runID string) string       { return prefixRun + runID }

// orderKey is a result's LSI1SK: its place in its target's results, by
// scheduled time and then run ID (which only breaks ties), as localstore
// orders them.
func orderKey(scheduledAt time.Time, runID string) string {
	return prefixAt + ddb.TimeString(scheduledAt) + "#" + runID
}

// runsKey is a run item's GSI1SK: runs sort by scheduled time, then run ID.
func runsKey(scheduledAt time.Time, runID string) string {
	return ddb.TimeString(scheduledAt) + "#" + runID
}

// attemptSK is an attempt item's SK: one per (run, target, message ID,
// attempt), so that a message replayed from the DLQ (a new message ID, its
// receive count from 1 again) adds its attempts beside the old message's.
// Message IDs (UUIDs, on SQS and localq) hold no "#", and the attempt number
// has a fixed width, so the key is unambiguous.
//
// Items written before it have the SK A#<runID>#<attempt, 6 digits> (the
// message ID left out); Attempts reads both.
func attemptSK(runID, messageID string, attempt int) string {
	return fmt.Sprintf("%s%s#%s#%06d", prefixAttempt, runID, messageID, attempt)
}

// TableAPI is the part of the DynamoDB API that CreateTable uses.
type TableAPI = ddb.TableAPI

// TableInput is the CreateTable request of the table docs/aws.md describes:
// on-demand, key (PK, SK), GSI1 on (GSI1PK, GSI1SK) and LSI1 on (PK, LSI1SK),
// both projecting all attributes. TTL on expires_at, point-in-time recovery
// and encryption are not part of CreateTable; serverless.yml sets them.
func TableInput(name string) *dynamodb.CreateTableInput {
	str := func(name string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: types.ScalarAttributeTypeS}
	}
	keyElem := func(name string, kt types.KeyType) types.KeySchemaElement {
		return types.KeySchemaElement{AttributeName: aws.String(name), KeyType: kt}
	}
	all := &types.Projection{ProjectionType: types.ProjectionTypeAll}
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			str(AttrPK), str(AttrSK), str(AttrGSI1PK), str(AttrGSI1SK), str(AttrLSI1SK),
		},
		KeySchema: []types.KeySchemaElement{keyElem(AttrPK, types.KeyTypeHash), keyElem(AttrSK, types.KeyTypeRange)},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName:  aws.String(IndexGSI1),
			KeySchema:  []types.KeySchemaElement{keyElem(AttrGSI1PK, types.KeyTypeHash), keyElem(AttrGSI1SK, types.KeyTypeRange)},
			Projection: all,
		}},
		LocalSecondaryIndexes: []types.LocalSecondaryIndex{{
			IndexName:  aws.String(IndexLSI1),
			KeySchema:  []types.KeySchemaElement{keyElem(AttrPK, types.KeyTypeHash), keyElem(AttrLSI1SK, types.KeyTypeRange)},
			Projection: all,
		}},
	}
}

// CreateTable creates a v1 table (TableInput) and waits until it is
// ACTIVE: tests seed v1 tables to migrate, and measure v1's cost.
func CreateTable(ctx context.Context, client TableAPI, name string) error {
	if err := ddb.CreateTable(ctx, client, TableInput(name)); err != nil {
		return fmt.Errorf("dynamo: %w", err)
	}
	return nil
}
