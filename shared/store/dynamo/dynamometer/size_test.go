package dynamometer

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The sizes follow Amazon DynamoDB Developer Guide, "DynamoDB item sizes and
// formats" (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html),
// and for numbers dynalite's exact count (db/index.js, valSize).
func TestValueSize(t *testing.T) {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
	tests := []struct {
		name string
		v    types.AttributeValue
		want int
	}{
		{"string: UTF-8 length", s("hello"), 5},
		{"string: multi-byte UTF-8", s("é€"), 5},
		{"empty string", s(""), 0},
		{"binary: its bytes", &types.AttributeValueMemberB{Value: []byte{1, 2, 3}}, 3},
		{"boolean", &types.AttributeValueMemberBOOL{Value: true}, 1},
		{"null", &types.AttributeValueMemberNULL{Value: true}, 1},
		{"number zero", n("0"), 1},
		{"number 1 digit", n("7"), 2},
		{"number 3 digits", n("123"), 3},                   // 1 + ceil(3/2)
		{"number 4 digits, odd exponent", n("1234"), 3},    // 1 + 2
		{"number 2 digits, odd exponent", n("0.12"), 2},    // 1.2e-1
		{"number trailing zeros trimmed", n("1000"), 2},    // one significant digit
		{"number leading zeros trimmed", n("0.005"), 2},    // one significant digit
		{"number negative", n("-7"), 3},                    // a byte for the sign
		{"number epoch seconds", n("1767323045"), 6},       // 10 digits, exponent 9
		{"number even digits, even exponent", n("12"), 2},  // 1.2e1: exponent 1
		{"number even digits, even exponent", n("120"), 3}, // 1.2e2: a byte more
		{"number with exponent", n("1.5e10"), 3},
		{"number negative fraction", n("-0.00120"), 3},
		{"list: 3 + 1 per element", &types.AttributeValueMemberL{Value: []types.AttributeValue{s("ab"), s("c")}}, 3 + 1 + 2 + 1 + 1},
		{"empty list", &types.AttributeValueMemberL{}, 3},
		{"map: 3 + 1 per element + key", &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": s("vv")}}, 3 + 1 + 1 + 2},
		{"string set: sum of elements", &types.AttributeValueMemberSS{Value: []string{"ab", "cde"}}, 5},
		{"number set", &types.AttributeValueMemberNS{Value: []string{"7", "123"}}, 2 + 3},
		{"binary set", &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValueSize(tt.v); got != tt.want {
				t.Errorf("ValueSize(%#v) = %d, want %d", tt.v, got, tt.want)
			}
		})
	}
}

func TestItemSize(t *testing.T) {
	// The names count: "id" (2) + "abc" (3), "n" (1) + 123 (3), "ok" (2) + true (1).
	it := Item{
		"id": &types.AttributeValueMemberS{Value: "abc"},
		"n":  &types.AttributeValueMemberN{Value: "123"},
		"ok": &types.AttributeValueMemberBOOL{Value: true},
	}
	if got, want := ItemSize(it), 5+4+3; got != want {
		t.Errorf("ItemSize = %d, want %d", got, want)
	}
	if got := ItemSize(nil); got != 0 {
		t.Errorf("ItemSize(nil) = %d, want 0", got)
	}
}

// Units: "DynamoDB read/write capacity mode" (Amazon DynamoDB Developer
// Guide): 1 WRU per KB written, 1 RRU per 4 KB read strongly consistent,
// half that eventually consistent; every request at least one unit.
func TestUnits(t *testing.T) {
	tests := []struct {
		size       int
		write      float64
		consistent float64
		eventual   float64
	}{
		{0, 1, 1, 0.5},
		{500, 1, 1, 0.5},
		{1024, 1, 1, 0.5},
		{1025, 2, 1, 0.5},
		{2300, 3, 1, 0.5},
		{4096, 4, 1, 0.5},
		{4097, 5, 2, 1},
		{len(strings.Repeat("x", 10000)), 10, 3, 1.5},
	}
	for _, tt := range tests {
		if got := WriteUnits(tt.size); got != tt.write {
			t.Errorf("WriteUnits(%d) = %v, want %v", tt.size, got, tt.write)
		}
		if got := ReadUnits(tt.size, true); got != tt.consistent {
			t.Errorf("ReadUnits(%d, consistent) = %v, want %v", tt.size, got, tt.consistent)
		}
		if got := ReadUnits(tt.size, false); got != tt.eventual {
			t.Errorf("ReadUnits(%d, eventual) = %v, want %v", tt.size, got, tt.eventual)
		}
	}
}
