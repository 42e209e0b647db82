package dynamometer

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TableTarget is the name under which the meter tallies the base table (an
// index is tallied under its own name).
const TableTarget = "table"

// schema is what the meter needs of a table's definition: its key and its
// indexes' keys and projections.
type schema struct {
	pk, sk  string // the table's key attributes (sk "" when none)
	indexes []index
}

// index is one secondary index.
type index struct {
	name   string
	local  bool
	pk, sk string
	// all: projection ALL; otherwise the index holds the keys and include
	// (INCLUDE's NonKeyAttributes; none for KEYS_ONLY).
	all     bool
	include []string
}

// schemaOf reads a table's definition from its CreateTable request, the one
// the store creates the table with (dynamo.TableInput), so that the meter
// and the schema cannot drift apart.
func schemaOf(in *dynamodb.CreateTableInput) schema {
	var s schema
	s.pk, s.sk = keyNames(in.KeySchema)
	for _, g := range in.GlobalSecondaryIndexes {
		s.indexes = append(s.indexes, newIndex(aws.ToString(g.IndexName), false, g.KeySchema, g.Projection))
	}
	for _, l := range in.LocalSecondaryIndexes {
		s.indexes = append(s.indexes, newIndex(aws.ToString(l.IndexName), true, l.KeySchema, l.Projection))
	}
	return s
}

func newIndex(name string, local bool, ks []types.KeySchemaElement, p *types.Projection) index {
	ix := index{name: name, local: local}
	ix.pk, ix.sk = keyNames(ks)
	if p != nil {
		ix.all = p.ProjectionType == types.ProjectionTypeAll
		if p.ProjectionType == types.ProjectionTypeInclude {
			ix.include = p.NonKeyAttributes
		}
	}
	return ix
}

func keyNames(ks []types.KeySchemaElement) (hash, rng string) {
	for _, k := range ks {
		switch k.KeyType {
		case types.KeyTypeHash:
			hash = aws.ToString(k.AttributeName)
		case types.KeyTypeRange:
			rng = aws.ToString(k.AttributeName)
		}
	}
	return hash, rng
}

// key returns the table key of it.
func (s schema) key(it Item) Item {
	k := Item{s.pk: it[s.pk]}
	if s.sk != "" {
		k[s.sk] = it[s.sk]
	}
	return k
}

// entry is it's entry in index ix, and whether it has one: an item is in an
// index only when it has the index's key attributes (a sparse index). The
// entry holds the projected attributes: the whole item for ALL, else the
// table's and the index's keys and the included attributes.
func (s schema) entry(ix index, it Item) (Item, bool) {
	if it == nil || it[ix.pk] == nil || (ix.sk != "" && it[ix.sk] == nil) {
		return nil, false
	}
	if ix.all {
		return it, true
	}
	e := s.key(it)
	for _, name := range append([]string{ix.pk, ix.sk}, ix.include...) {
		if v, ok := it[name]; ok && name != "" {
			e[name] = v
		}
	}
	return e, true
}

// index returns the index named name.
func (s schema) index(name string) (index, bool) {
	for _, ix := range s.indexes {
		if ix.name == name {
			return ix, true
		}
	}
	return index{}, false
}
