package ddb

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TableAPI is the part of the DynamoDB API that CreateTable uses;
// *dynamodb.Client satisfies it.
type TableAPI interface {
	CreateTable(ctx context.Context, params *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, params *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

var _ TableAPI = (*dynamodb.Client)(nil)

// CreateTable creates a table and waits until it and its global indexes are
// ACTIVE, where no CloudFormation stack does: emulators (dynalite, moto) in
// tests, the reliability suite and bench/suite.
func CreateTable(ctx context.Context, client TableAPI, in *dynamodb.CreateTableInput) error {
	name := aws.ToString(in.TableName)
	if _, err := client.CreateTable(ctx, in); err != nil {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	delay := 50 * time.Millisecond
	for {
		out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			var nf *types.ResourceNotFoundException
			if !errors.As(err, &nf) { // just created: AWS may not list it yet
				return fmt.Errorf("create table %s: describe: %w", name, err)
			}
		} else if tableActive(out.Table) {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("create table %s: wait until active: %w", name, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 5*time.Second)
	}
}

func tableActive(t *types.TableDescription) bool {
	if t == nil || t.TableStatus != types.TableStatusActive {
		return false
	}
	for _, g := range t.GlobalSecondaryIndexes {
		if g.IndexStatus != types.IndexStatusActive {
			return false
		}
	}
	return true
}

// MaxIDsBytes is the largest compressed list of IDs EncodeIDs makes, well
// below DynamoDB's 400 KB per item.
const MaxIDsBytes = 300 << 10

// EncodeIDs is a list of IDs (none holding a line break) as one binary
// attribute holds it: gzip of the IDs joined by "\n". It returns nil when
// that is larger than MaxIDsBytes.
func EncodeIDs(ids []string) ([]byte, error) {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		if i > 0 {
			if _, err := zw.Write([]byte{'\n'}); err != nil {
				return nil, err
			}
		}
		if _, err := io.WriteString(zw, id); err != nil {
			return nil, err
		}
		if b.Len() > MaxIDsBytes {
			return nil, nil
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if b.Len() > MaxIDsBytes {
		return nil, nil
	}
	return b.Bytes(), nil
}

// DecodeIDs reads the IDs EncodeIDs encoded.
func DecodeIDs(b []byte) ([]string, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	text, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	if len(text) == 0 {
		return nil, nil
	}
	return strings.Split(string(text), "\n"), nil
}
