package dynamo

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cronless/cronless/shared/store/dynamo/ddb"
)

// The table's key, index and TTL names (docs/aws.md, "Table").
// serverless.yml declares the same table; its test compares against these.
const (
	// AttrPK and AttrSK are the table's partition and sort key (both S).
	AttrPK = ddb.AttrPK
	AttrSK = ddb.AttrSK
	// IndexGSI1 is the global secondary index on (AttrGSI1PK, AttrGSI1SK)
	// that lists one run's results (in RunShards partitions) and the runs
	// by scheduled time. It projects only gsi1Include: what run counters,
	// the planner's validators and the CLI's filters read. A result's
	// data is read from the table by its key.
	IndexGSI1  = "GSI1"
	AttrGSI1PK = "GSI1PK"
	AttrGSI1SK = "GSI1SK"
	// AttrExpiresAt is the TTL attribute (N, epoch seconds) of result and
	// attempt items.
	AttrExpiresAt = "expires_at"
)

// RunShards is how many GSI1 partition keys one run's results are spread
// over (RUN#<runID>#<shard>, by a hash of the target ID), and TargetShards
// how many partition keys the target list is spread over. A partition key
// takes about 1,000 write units a second: a run of a million results stored
// in ten minutes (1,667 a second) puts some 210 on each of 8.
const (
	RunShards    = 8
	TargetShards = 8
)

// Key prefixes and fixed key values of the item shapes.
const (
	prefixTarget  = "T#"       // PK of result and attempt items; SK of target items; GSI1SK of result items
	prefixResult  = "R#"       // SK of a result item: R#<scheduled_at>#<runID>
	prefixAttempt = "A#"       // SK of an attempt item
	prefixRun     = "RUN#"     // PK of run items; GSI1PK of result items (with "#<shard>")
	prefixTargets = "TARGETS#" // PK of target items (with the shard)
	skRun         = "SUMMARY"
	skTargets     = "TARGETS" // SK of a run's targets item
	gsiRuns       = "RUNS"    // GSI1PK of run items

	// The stored target list (cronless targets import) and the plan parts
	// of the runs planned from it (targetlist.go, planpart.go).
	prefixTargetList = "TL#"       // PK of a stored target: TL#<schedule>#<shard index>; its SK is T#<targetID>
	pkLayouts        = "TLAYOUT"   // PK of the layout items; SK: the schedule
	pkPending        = "TLPENDING" // PK of the shards an apply has yet to sweep (targetsweep.go); SK: the schedule
	prefixPart       = "PART#"     // PK of a plan part: PART#<runID>#<shard, 6 digits>
	skPart           = "P"         // SK of a plan part
	prefixPartChunk  = "P#"        // SK of a chunk of a large part's IDs: P#<nonce>#<chunk, 3 digits>
)

// Data attributes of the items. The names are short because every byte of
// an item, names included, is paid for in write units and storage, once per
// result: 10,000 targets crawled hourly and kept 90 days are 21.6 million
// items (docs/aws.md, "Table", has the long names).
const (
	attrTargetID    = "tid" // target ID (target items; attempts)
	attrRunID       = "rid" // run ID (run and attempt items)
	attrSchedule    = "sch" // schedule name
	attrURL         = "url" // the page's URL
	attrScheduledAt = "sat" // scheduled time (run items; results have it in their SK)
	attrStatus      = "st"  // "ok" or "failed"
	attrHTTPStatus  = "hs"  // N: the HTTP status
	attrFields      = "f"   // B: gzip of the fields' JSON text (without HTML escaping)
	attrFieldsIn    = "fi"  // SK of the result of the same target that holds these fields
	attrFieldsTTL   = "ft"  // N: that result's expiry as its writer knew it
	attrTruncated   = "tr"  // JSON text of job.Result.Truncated, absent when nothing was cut
	attrContentHash = "ch"  // the content hash (B when sha256:<hex>)
	attrChanged     = "c"   // BOOL, present when true (or once recomputed)
	attrETag        = "et"  // the response's ETag
	attrBodyHash    = "bh"  // the body's hash (B when sha256:<hex>)
	attrLastMod     = "lm"  // the response's Last-Modified
	attrNotModified = "nm"  // BOOL, present only when true
	attrRulesHash   = "rh"  // job.RulesHash of the rules the fields were extracted with
	attrPrev        = "pv"  // SK of the ok result that changed was computed against
	attrFetchedAt   = "fa"  // N: fetched at, Unix nanoseconds
	attrDurationMS  = "ms"  // N: the crawl's duration in milliseconds
	attrAttempt     = "n"   // N: the attempt number
	attrErrorKind   = "ek"  // the error kind (a failed result's, an attempt's)
	attrErrorMsg    = "em"  // the error message
	attrStoredAt    = "sa"  // N: stored at, Unix nanoseconds
	attrPlanned     = "pl"  // N: a run's planned count
	attrCreatedAt   = "ca"  // a run's creation time
	attrMessageID   = "mid" // an attempt's message ID
	attrAt          = "t"   // an attempt's time
	attrTargets     = "tg"  // B: gzip of a run's target IDs joined by "\n" (run targets, plan part or its chunk)
	attrRank        = "rk"  // N: a stored target's rank among its schedule's targets of its host (absent when 0)
	attrTimeout     = "to"  // N: a stored target's own timeout, nanoseconds (absent: the file's default)
	attrUserAgent   = "ua"  // a stored target's own user agent
	attrRobots      = "rb"  // BOOL: a stored target's own robots setting (absent: the file's default)
	attrExtract     = "ex"  // a stored target's extract: the name of an extracts: entry of targets.yaml
	attrRules       = "ru"  // JSON text of a stored target's own extract rules
	attrLayout      = "ly"  // JSON text of a schedule's shards (layout items)
	attrPending     = "pd"  // JSON text of the shard indexes an apply has yet to sweep (TLPENDING items)
	attrShards      = "sh"  // N: the shards a run is planned in (set by every PutRun, 0 too)
	attrPartShards  = "ps"  // NS: the shards whose plan part a run's planned count includes
	attrChunks      = "nc"  // N: how many chunks hold a large plan part's IDs
	attrNonce       = "nn"  // the key of a large plan part's chunks (its writer's)
)

// gsi1Include is what GSI1 projects besides the keys: of a result, what
// run counters (status, stored_at), Changed (changed) and the planner's
// validators read; of a run, all of its attributes.
var gsi1Include = []string{
	attrStatus, attrStoredAt, attrChanged, attrURL, attrETag, attrLastMod, attrContentHash, attrRulesHash,
	attrRunID, attrSchedule, attrScheduledAt, attrCreatedAt, attrPlanned,
}

func targetPK(targetID string) string { return prefixTarget + targetID }
func runPK(runID string) string       { return prefixRun + runID }

// resultSK is a result item's SK: its place in its target's results, by
// scheduled time and then run ID (which only breaks ties), as localstore
// orders them. The time has a fixed width, so the run ID is what follows
// it (runOfSK).
func resultSK(scheduledAt time.Time, runID string) string {
	return prefixResult + ddb.TimeString(scheduledAt) + "#" + runID
}

// skTimeEnd is where the run ID starts in a result SK.
const skTimeEnd = len(prefixResult) + len(ddb.TimeLayout)

// parseResultSK reads the scheduled time and run ID of a result SK.
func parseResultSK(sk string) (time.Time, string, error) {
	if len(sk) < skTimeEnd+2 || sk[:len(prefixResult)] != prefixResult || sk[skTimeEnd] != '#' {
		return time.Time{}, "", fmt.Errorf("sort key %q is not a result's", sk)
	}
	at, err := time.Parse(time.RFC3339Nano, sk[len(prefixResult):skTimeEnd])
	if err != nil {
		return time.Time{}, "", fmt.Errorf("sort key %q: %w", sk, err)
	}
	return at.UTC(), sk[skTimeEnd+1:], nil
}

// shard is the shard of a target ID among n: FNV-1a, so every writer and
// reader agrees without a lookup.
func shard(targetID string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(targetID))
	return int(h.Sum32() % uint32(n))
}

// runShardPK is the GSI1PK of a result of run runID and target targetID.
func runShardPK(runID string, s int) string { return fmt.Sprintf("%s%s#%d", prefixRun, runID, s) }

// targetsPK is the PK of the target item of targetID.
func targetsPK(targetID string) string {
	return fmt.Sprintf("%s%d", prefixTargets, shard(targetID, TargetShards))
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
func attemptSK(runID, messageID string, attempt int) string {
	return fmt.Sprintf("%s%s#%s#%06d", prefixAttempt, runID, messageID, attempt)
}

// TableAPI is the part of the DynamoDB API that CreateTable uses;
// *dynamodb.Client satisfies it.
type TableAPI = ddb.TableAPI

// TableInput is the CreateTable request of the table docs/aws.md describes:
// on-demand, key (PK, SK), and GSI1 on (GSI1PK, GSI1SK) projecting
// gsi1Include. TTL on expires_at, point-in-time recovery and encryption are
// not part of CreateTable; serverless.yml sets them.
func TableInput(name string) *dynamodb.CreateTableInput {
	str := func(name string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: types.ScalarAttributeTypeS}
	}
	keyElem := func(name string, kt types.KeyType) types.KeySchemaElement {
		return types.KeySchemaElement{AttributeName: aws.String(name), KeyType: kt}
	}
	return &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{str(AttrPK), str(AttrSK), str(AttrGSI1PK), str(AttrGSI1SK)},
		KeySchema:            []types.KeySchemaElement{keyElem(AttrPK, types.KeyTypeHash), keyElem(AttrSK, types.KeyTypeRange)},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(IndexGSI1),
			KeySchema: []types.KeySchemaElement{keyElem(AttrGSI1PK, types.KeyTypeHash), keyElem(AttrGSI1SK, types.KeyTypeRange)},
			Projection: &types.Projection{
				ProjectionType:   types.ProjectionTypeInclude,
				NonKeyAttributes: slices.Clone(gsi1Include),
			},
		}},
	}
}

// CreateTable creates the table (TableInput) and waits until it and its
// global index are ACTIVE, where no CloudFormation stack does: emulators
// (dynalite, moto) in tests, the reliability suite and bench/suite.
func CreateTable(ctx context.Context, client TableAPI, name string) error {
	if err := ddb.CreateTable(ctx, client, TableInput(name)); err != nil {
		return fmt.Errorf("dynamo: %w", err)
	}
	return nil
}
