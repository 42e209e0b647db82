package dynamometer

import (
	"math"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Item is one DynamoDB item, as the SDK holds it.
type Item = map[string]types.AttributeValue

// Unit sizes (Amazon DynamoDB Developer Guide, "DynamoDB read/write capacity
// mode": "Read request units and write request units"): a write request unit
// writes up to 1 KB of item, a strongly consistent read request unit reads
// up to 4 KB, an eventually consistent read half that cost.
const (
	writeUnitBytes = 1024
	readUnitBytes  = 4096
)

// ItemSize is the size of an item as DynamoDB counts it for capacity (Amazon
// DynamoDB Developer Guide, "DynamoDB item sizes and formats"): the sum, over
// its attributes, of the name's UTF-8 length and the value's size.
func ItemSize(it Item) int {
	n := 0
	for name, v := range it {
		n += len(name) + ValueSize(v)
	}
	return n
}

// ValueSize is the size of one attribute value by the rules of "DynamoDB
// item sizes and formats" (Amazon DynamoDB Developer Guide):
//   - a string: its UTF-8 length; a binary: its length in bytes;
//   - a number: 1 byte per two significant digits, plus 1 (leading and
//     trailing zeros trimmed; a negative number 1 byte more);
//   - a boolean or a null: 1 byte;
//   - a list or a map: 3 bytes, plus for each element 1 byte and its size
//     (a map's element with its key's UTF-8 length);
//   - a set: the sum of its elements' sizes.
//
// dynalite (db/index.js, valSize) counts the same way, but a number's
// size exactly (an even count of digits at an even exponent, as big.js writes
// the number, costs a byte more), which this keeps, so that the table figures agree.
func ValueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return numberSize(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + ValueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range v.Value {
			n += 1 + len(k) + ValueSize(e)
		}
		return n
	case *types.AttributeValueMemberSS:
		n := 0
		for _, e := range v.Value {
			n += len(e)
		}
		return n
	case *types.AttributeValueMemberNS:
		n := 0
		for _, e := range v.Value {
			n += numberSize(e)
		}
		return n
	case *types.AttributeValueMemberBS:
		n := 0
		for _, e := range v.Value {
			n += len(e)
		}
		return n
	}
	return 0
}

// numberSize is the size of a number given as DynamoDB's text: its
// significant digits (leading and trailing zeros trimmed) in pairs, plus 1.
func numberSize(s string) int {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		for _, c := range strings.TrimLeft(s[i+1:], "+-") {
			exp = exp*10 + int(c-'0')
		}
		if strings.HasPrefix(s[i+1:], "-") {
			exp = -exp
		}
	}
	// The decimal exponent of the first significant digit, as big.js's e.
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(intPart+frac, "0")
	e := len(intPart) - 1 + exp - (len(intPart+frac) - len(digits))
	digits = strings.TrimRight(digits, "0")
	if digits == "" {
		return 1 // zero
	}
	n := 1 + (len(digits)+1)/2
	if len(digits)%2 == 0 && e%2 == 0 {
		n++
	}
	if neg {
		n++
	}
	return n
}

// WriteUnits is the write request units of writing size bytes of item: one
// per KB, rounded up, and at least one.
func WriteUnits(size int) float64 {
	return math.Max(1, math.Ceil(float64(size)/writeUnitBytes))
}

// ReadUnits is the read request units of reading size bytes: one per 4 KB,
// rounded up, at least one, and half that when eventually consistent.
func ReadUnits(size int, consistent bool) float64 {
	u := math.Max(1, math.Ceil(float64(size)/readUnitBytes))
	if !consistent {
		u /= 2
	}
	return u
}
