// Command lambdabase is the baseline of the Lambda start-up figures
// (bench/suite): a Go function that does nothing, built with the same flags
// as the project's functions, so the emulator's and the Go runtime's share
// of a cold start can be told from the functions' own.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return json.RawMessage(`{}`), nil
	})
}
