package migrate

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cronless/cronless/shared/store/dynamo"
	"github.com/cronless/cronless/shared/store/dynamov1"
)

// DescribeAPI is the part of the DynamoDB API CheckTables uses.
type DescribeAPI interface {
	DescribeTable(ctx context.Context, params *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// Errors CheckTables wraps.
var (
	// ErrNoSource: the v1 table does not exist, so there is nothing to
	// migrate.
	ErrNoSource = errors.New("nothing to migrate")
	// ErrNoDest: the v2 table does not exist (the stage is not deployed
	// with schema v2 yet).
	ErrNoDest = errors.New("no v2 table")
	// ErrWrongTable: a table is not of the schema its role needs.
	ErrWrongTable = errors.New("wrong table")
)

// Schema is a table's schema version, as its indexes tell it.
type Schema int

const (
	SchemaUnknown Schema = iota
	SchemaV1             // GSI1 and LSI1 (dynamov1)
	SchemaV2             // GSI1, no local index (dynamo)
)

func (s Schema) String() string {
	switch s {
	case SchemaV1:
		return "schema v1"
	case SchemaV2:
		return "schema v2"
	}
	return "not a cronless table"
}

// SchemaOf tells a table's schema by its key and indexes: both have the
// key (PK, SK) and GSI1 on (GSI1PK, GSI1SK); v1 also has LSI1 (an LSI
// cannot be dropped, which is why v2 is a new table).
func SchemaOf(t *types.TableDescription) Schema {
	if t == nil || !hasKey(t.KeySchema, dynamo.AttrPK, dynamo.AttrSK) {
		return SchemaUnknown
	}
	gsi := false
	for _, g := range t.GlobalSecondaryIndexes {
		if aws.ToString(g.IndexName) == dynamo.IndexGSI1 && hasKey(g.KeySchema, dynamo.AttrGSI1PK, dynamo.AttrGSI1SK) {
			gsi = true
		}
	}
	if !gsi {
		return SchemaUnknown
	}
	switch {
	case len(t.LocalSecondaryIndexes) == 0:
		return SchemaV2
	case len(t.LocalSecondaryIndexes) == 1 && aws.ToString(t.LocalSecondaryIndexes[0].IndexName) == dynamov1.IndexLSI1:
		return SchemaV1
	}
	return SchemaUnknown
}

func hasKey(ks []types.KeySchemaElement, hash, rng string) bool {
	var h, r string
	for _, k := range ks {
		switch k.KeyType {
		case types.KeyTypeHash:
			h = aws.ToString(k.AttributeName)
		case types.KeyTypeRange:
			r = aws.ToString(k.AttributeName)
		}
	}
	return h == hash && r == rng
}

// CheckTables checks that from is a v1 table and to a v2 table, both
// existing, so that a migration never reads or writes a table of the other
// schema.
func CheckTables(ctx context.Context, api DescribeAPI, from, to string) error {
	if from == to {
		return fmt.Errorf("%w: the v1 and v2 tables are both %s", ErrWrongTable, from)
	}
	fromSchema, err := schemaOf(ctx, api, from)
	if errors.Is(err, errNoTable) {
		return fmt.Errorf("%w: there is no v1 table %s (a stage deployed with schema v2 from the start has none; --from-table names another)", ErrNoSource, from)
	}
	if err != nil {
		return err
	}
	if fromSchema != SchemaV1 {
		return fmt.Errorf("%w: %s is %s, not a v1 table (it has no index %s): --from-table names the old table, cronless-<stage>",
			ErrWrongTable, from, fromSchema, dynamov1.IndexLSI1)
	}
	toSchema, err := schemaOf(ctx, api, to)
	if errors.Is(err, errNoTable) {
		return fmt.Errorf("%w %s: deploy the stage with this version of cronless first (make deploy STAGE=...), which creates it", ErrNoDest, to)
	}
	if err != nil {
		return err
	}
	if toSchema != SchemaV2 {
		return fmt.Errorf("%w: %s is %s, not a v2 table: --to-table names the new table, cronless-<stage>-v2 (the stack output TableName)",
			ErrWrongTable, to, toSchema)
	}
	return nil
}

var errNoTable = errors.New("no such table")

func schemaOf(ctx context.Context, api DescribeAPI, name string) (Schema, error) {
	out, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return SchemaUnknown, errNoTable
	}
	if err != nil {
		return SchemaUnknown, fmt.Errorf("describe table %s: %w", name, err)
	}
	return SchemaOf(out.Table), nil
}
