package dynamometer_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cronless/cronless/shared/standin"
	"github.com/cronless/cronless/shared/store/dynamo/dynamometer"
)

// table is a table with every kind of index the meter tells apart: GSIs
// projecting ALL, KEYS_ONLY and INCLUDE, and an LSI.
func table() *dynamodb.CreateTableInput {
	str := func(n string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	ks := func(hash, rng string) []types.KeySchemaElement {
		k := []types.KeySchemaElement{{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash}}
		if rng != "" {
			k = append(k, types.KeySchemaElement{AttributeName: aws.String(rng), KeyType: types.KeyTypeRange})
		}
		return k
	}
	gsi := func(name, hash, rng string, p types.Projection) types.GlobalSecondaryIndex {
		return types.GlobalSecondaryIndex{IndexName: aws.String(name), KeySchema: ks(hash, rng), Projection: &p}
	}
	return &dynamodb.CreateTableInput{
		TableName:            aws.String("metered"),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{str("PK"), str("SK"), str("GPK"), str("GSK"), str("IPK"), str("LSK")},
		KeySchema:            ks("PK", "SK"),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
			gsi("ALL", "GPK", "GSK", types.Projection{ProjectionType: types.ProjectionTypeAll}),
			gsi("KEYS", "GPK", "", types.Projection{ProjectionType: types.ProjectionTypeKeysOnly}),
			gsi("INC", "IPK", "", types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: []string{"small"}}),
		},
		LocalSecondaryIndexes: []types.LocalSecondaryIndex{{
			IndexName: aws.String("LSI"), KeySchema: ks("PK", "LSK"), Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// TestWriteUnits checks the units of each kind of write, by target, against
// the rules of the Amazon DynamoDB Developer Guide ("DynamoDB read/write
// capacity mode"; "Global secondary indexes", "Provisioned throughput
// considerations": a new index entry is one write, a changed one one, one
// whose key changes two (delete and put), an item outside an index none; a
// failed conditional write costs the item's size in the table, at least 1).
func TestWriteUnits(t *testing.T) {
	client := standin.Dynalite(t, "").DynamoDB(t)
	if _, err := client.CreateTable(t.Context(), table()); err != nil {
		t.Fatal(err)
	}
	m := dynamometer.New(client, []*dynamodb.CreateTableInput{table()})
	big := strings.Repeat("x", 1500) // with the rest, a 2 KB item
	k := map[string]types.AttributeValue{"PK": s("p"), "SK": s("s")}
	update := func(set string, vals map[string]types.AttributeValue, cond string) *dynamodb.UpdateItemInput {
		in := &dynamodb.UpdateItemInput{TableName: aws.String("metered"), Key: k, UpdateExpression: aws.String("SET " + set), ExpressionAttributeValues: vals}
		if cond != "" {
			in.ConditionExpression = aws.String(cond)
		}
		return in
	}
	tests := []struct {
		name string
		call func() error
		want map[string]float64 // WRU by target
	}{
		{"put: the table, ALL and the LSI the whole item, KEYS_ONLY its keys, INC not (no IPK)", func() error {
			_, err := m.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String("metered"), Item: map[string]types.AttributeValue{
				"PK": s("p"), "SK": s("s"), "GPK": s("g"), "GSK": s("1"), "LSK": s("l"), "big": s(big), "small": s("a"),
			}})
			return err
		}, map[string]float64{"table": 2, "ALL": 2, "KEYS": 1, "LSI": 2}},
		{"update of a non-key attribute: KEYS_ONLY's entry is unchanged", func() error {
			_, err := m.UpdateItem(t.Context(), update("big = :b", map[string]types.AttributeValue{":b": s(strings.Repeat("y", 1500))}, ""))
			return err
		}, map[string]float64{"table": 2, "ALL": 2, "LSI": 2}},
		{"update that adds IPK: a new INC entry of keys and small", func() error {
			_, err := m.UpdateItem(t.Context(), update("IPK = :i", map[string]types.AttributeValue{":i": s("i")}, ""))
			return err
		}, map[string]float64{"table": 2, "ALL": 2, "INC": 1, "LSI": 2}},
		{"update of an index key: a delete and a put in each GSI on it; INC, which does not project it, unchanged", func() error {
			_, err := m.UpdateItem(t.Context(), update("GPK = :g", map[string]types.AttributeValue{":g": s("h")}, ""))
			return err
		}, map[string]float64{"table": 2, "ALL": 4, "KEYS": 2, "LSI": 2}},
		{"update to the same values: the table only", func() error {
			_, err := m.UpdateItem(t.Context(), update("GPK = :g", map[string]types.AttributeValue{":g": s("h")}, ""))
			return err
		}, map[string]float64{"table": 2}},
		{"failed conditional put: the larger image, in the table only", func() error {
			_, err := m.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String("metered"),
				Item: map[string]types.AttributeValue{"PK": s("p"), "SK": s("s")}, ConditionExpression: aws.String("attribute_not_exists(PK)")})
			return ignoreConditionFailed(err)
		}, map[string]float64{"table": 2}},
		{"failed conditional update: the old image, in the table only", func() error {
			_, err := m.UpdateItem(t.Context(), update("small = :x", map[string]types.AttributeValue{":x": s("b")}, "attribute_not_exists(PK)"))
			return ignoreConditionFailed(err)
		}, map[string]float64{"table": 2}},
		{"failed conditional put of a new small item: at least 1", func() error {
			_, err := m.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String("metered"),
				Item: map[string]types.AttributeValue{"PK": s("q"), "SK": s("s")}, ConditionExpression: aws.String("attribute_exists(PK)")})
			return ignoreConditionFailed(err)
		}, map[string]float64{"table": 1}},
		{"batch write: each item as a put of its own", func() error {
			_, err := m.BatchWriteItem(t.Context(), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"metered": {
				{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{"PK": s("b1"), "SK": s("s"), "GPK": s("g"), "GSK": s("1")}}},
				{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{"PK": s("b2"), "SK": s("s")}}},
			}}})
			return err
		}, map[string]float64{"table": 2, "ALL": 1, "KEYS": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m.Reset()
			if err := tt.call(); err != nil {
				t.Fatal(err)
			}
			got := map[string]float64{}
			for target, u := range m.ByTarget() {
				if u.Write != 0 {
					got[target] = u.Write
				}
			}
			if !equal(got, tt.want) {
				t.Errorf("WRU by target %v, want %v", got, tt.want)
			}
		})
	}
}

// TestReadUnits checks reads: a GetItem costs its item, halved when
// eventually consistent; a Query every item it evaluated, those its filter
// dropped included, whatever its projection, rounded up once.
func TestReadUnits(t *testing.T) {
	client := standin.Dynalite(t, "").DynamoDB(t)
	if _, err := client.CreateTable(t.Context(), table()); err != nil {
		t.Fatal(err)
	}
	m := dynamometer.New(client, []*dynamodb.CreateTableInput{table()})
	for _, sk := range []string{"1", "2", "3"} { // 3 items of 1.6 KB: 4.8 KB
		if _, err := client.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String("metered"), Item: map[string]types.AttributeValue{
			"PK": s("p"), "SK": s(sk), "LSK": s(sk), "big": s(strings.Repeat("x", 1600)),
		}}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		call   func() error
		target string
		want   float64
	}{
		{"GetItem strongly consistent", func() error {
			_, err := m.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String("metered"), Key: map[string]types.AttributeValue{"PK": s("p"), "SK": s("1")}, ConsistentRead: aws.Bool(true)})
			return err
		}, "table", 1},
		{"GetItem eventually consistent", func() error {
			_, err := m.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String("metered"), Key: map[string]types.AttributeValue{"PK": s("p"), "SK": s("1")}})
			return err
		}, "table", 0.5},
		{"GetItem of no item: the minimum", func() error {
			_, err := m.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String("metered"), Key: map[string]types.AttributeValue{"PK": s("none"), "SK": s("1")}, ConsistentRead: aws.Bool(true)})
			return err
		}, "table", 1},
		{"Query of the LSI whose filter drops every item, projecting one attribute", func() error {
			_, err := m.Query(t.Context(), &dynamodb.QueryInput{TableName: aws.String("metered"), IndexName: aws.String("LSI"),
				KeyConditionExpression: aws.String("#pk = :pk"), FilterExpression: aws.String("#big = :no"), ProjectionExpression: aws.String("#pk"),
				ExpressionAttributeNames:  map[string]string{"#pk": "PK", "#big": "big"},
				ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("p"), ":no": s("no")}, ConsistentRead: aws.Bool(true)})
			return err
		}, "LSI", 2},
		{"Query with a Limit, eventually consistent", func() error {
			_, err := m.Query(t.Context(), &dynamodb.QueryInput{TableName: aws.String("metered"),
				KeyConditionExpression: aws.String("PK = :pk"), ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("p")}, Limit: aws.Int32(2)})
			return err
		}, "table", 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m.Reset()
			if err := tt.call(); err != nil {
				t.Fatal(err)
			}
			by := m.ByTarget()
			if got := by[tt.target].Read; got != tt.want || len(by) != 1 {
				t.Errorf("RRU %v, want %v in %s only", by, tt.want, tt.target)
			}
			c := m.Calls()[0]
			if c.HasReported && c.Reported != tt.want {
				t.Errorf("dynalite reports %v units", c.Reported)
			}
		})
	}
}

// TestPerSecond checks the histogram: units by target, partition key and
// second of the meter's clock.
func TestPerSecond(t *testing.T) {
	client := standin.Dynalite(t, "").DynamoDB(t)
	if _, err := client.CreateTable(t.Context(), table()); err != nil {
		t.Fatal(err)
	}
	sec := int64(100)
	m := dynamometer.New(client, []*dynamodb.CreateTableInput{table()}, dynamometer.WithClock(func() time.Time { return time.Unix(sec, 0) }))
	for i, pk := range []string{"a", "b", "b", "b"} {
		if i == 3 {
			sec++
		}
		if _, err := m.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String("metered"), Item: map[string]types.AttributeValue{
			"PK": s(pk), "SK": s(strconv.Itoa(i)), "GPK": s("hot"), "GSK": s("x"),
		}}); err != nil {
			t.Fatal(err)
		}
	}
	ps := m.PerSecond()
	want := map[dynamometer.PartitionSecond]float64{
		{Target: "table", Key: "a", Second: 100}: 1, {Target: "table", Key: "b", Second: 100}: 2, {Target: "table", Key: "b", Second: 101}: 1,
		{Target: "ALL", Key: "hot", Second: 100}: 3, {Target: "ALL", Key: "hot", Second: 101}: 1,
		{Target: "KEYS", Key: "hot", Second: 100}: 3, {Target: "KEYS", Key: "hot", Second: 101}: 1,
	}
	got := map[dynamometer.PartitionSecond]float64{}
	for k, u := range ps {
		got[k] = u.Write
	}
	if len(got) != len(want) {
		t.Errorf("per second %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%+v: %v WRU, want %v", k, got[k], w)
		}
	}
	if w, _, u := m.Hottest(); w.Key != "hot" || w.Second != 100 || u.Write != 3 {
		t.Errorf("Hottest write %+v, %v WRU; want a hot key in second 100, 3 WRU", w, u.Write)
	}
}

func ignoreConditionFailed(err error) error {
	var c *types.ConditionalCheckFailedException
	if errors.As(err, &c) {
		return nil
	}
	if err == nil {
		return errors.New("the condition held")
	}
	return err
}

func equal(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
