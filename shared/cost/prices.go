package cost

import (
	"fmt"
	"slices"
	"strings"
)

// PricesAsOf is the date the prices below were recorded.
const PricesAsOf = "2026-11-27"

// Prices are the public on-demand list prices (USD) that the model uses, for
// one region, at the first (lowest-volume) tier of each price.
type Prices struct {
	// LambdaRequest is one Lambda request (invocation).
	LambdaRequest float64 `json:"lambda_request"`
	// LambdaGBSecond is one GB-second of duration on arm64 (Graviton), the
	// architecture serverless.yml deploys; the first 7.5 billion GB-s a month.
	LambdaGBSecond float64 `json:"lambda_gb_second"`
	// SchedulerInvocation is one EventBridge Scheduler invocation.
	SchedulerInvocation float64 `json:"scheduler_invocation"`
	// SQSRequest is one request to a standard queue (each 64 KiB chunk of a
	// payload is one request); the first 100 billion a month.
	SQSRequest float64 `json:"sqs_request"`
	// DynamoWRU and DynamoRRU are one on-demand write and read request unit.
	DynamoWRU float64 `json:"dynamodb_wru"`
	DynamoRRU float64 `json:"dynamodb_rru"`
	// DynamoStorageGBMonth is a GB-month of table storage (Standard class),
	// indexes included; DynamoPITRGBMonth a GB-month of point-in-time
	// recovery (continuous backups), billed on the table and its local
	// secondary indexes.
	DynamoStorageGBMonth float64 `json:"dynamodb_storage_gb_month"`
	DynamoPITRGBMonth    float64 `json:"dynamodb_pitr_gb_month"`
	// LogsIngestGB is a GB of CloudWatch Logs ingested (Standard class; the
	// first 10 TB of Lambda's vended logs); LogsStorageGBMonth a GB-month
	// archived.
	LogsIngestGB       float64 `json:"logs_ingest_gb"`
	LogsStorageGBMonth float64 `json:"logs_storage_gb_month"`
	// AlarmMonth is one standard-resolution CloudWatch metric alarm for a month.
	AlarmMonth float64 `json:"alarm_month"`

	// For --compare-ec2: EC2Hourly is the on-demand Linux price of an instance
	// type per hour, EBSgp3GBMonth a GB-month of gp3 storage (baseline IOPS
	// and throughput are included), PublicIPv4Hour one public IPv4 address
	// per hour (the server needs one, or a NAT gateway, to reach the sites).
	EC2Hourly      map[string]float64 `json:"ec2_hourly"`
	EBSgp3GBMonth  float64            `json:"ebs_gp3_gb_month"`
	PublicIPv4Hour float64            `json:"public_ipv4_hour"`
}

// priceTable holds the public list prices of every supported region, in one
// place. They were written down on PricesAsOf from AWS's public pricing
// pages (they could not be fetched when this was written: the build has no
// internet), so they MUST be checked against those pages whenever this table
// is updated:
//
//	Lambda               https://aws.amazon.com/lambda/pricing/
//	EventBridge          https://aws.amazon.com/eventbridge/pricing/  (Scheduler)
//	SQS                  https://aws.amazon.com/sqs/pricing/
//	DynamoDB on-demand   https://aws.amazon.com/dynamodb/pricing/on-demand/
//	CloudWatch           https://aws.amazon.com/cloudwatch/pricing/   (Logs, alarms)
//	EC2 on-demand        https://aws.amazon.com/ec2/pricing/on-demand/
//	EBS                  https://aws.amazon.com/ebs/pricing/
//	public IPv4          https://aws.amazon.com/vpc/pricing/          (Public IPv4 address)
//
// DynamoDB's on-demand prices are those after the November 2024 reduction.
// us-west-2 has the same list prices as us-east-1 for everything here; add a
// region only with prices read from the pages above.
var priceTable = map[string]Prices{
	"us-east-1": usEast1,
	"us-west-2": usEast1,
}

var usEast1 = Prices{
	LambdaRequest:        0.20 / 1e6,
	LambdaGBSecond:       0.0000133334,
	SchedulerInvocation:  1.00 / 1e6,
	SQSRequest:           0.40 / 1e6,
	DynamoWRU:            0.625 / 1e6,
	DynamoRRU:            0.125 / 1e6,
	DynamoStorageGBMonth: 0.25,
	DynamoPITRGBMonth:    0.20,
	LogsIngestGB:         0.50,
	LogsStorageGBMonth:   0.03,
	AlarmMonth:           0.10,
	EC2Hourly: map[string]float64{
		"t3.micro":   0.0104,
		"t3.small":   0.0208,
		"t3.medium":  0.0416,
		"t4g.micro":  0.0084,
		"t4g.small":  0.0168,
		"t4g.medium": 0.0336,
	},
	EBSgp3GBMonth:  0.08,
	PublicIPv4Hour: 0.005,
}

// The always-free monthly allowances (per account, shared with everything
// else in it), from the same pages.
const (
	FreeLambdaRequests   = 1_000_000
	FreeLambdaGBSeconds  = 400_000
	FreeSQSRequests      = 1_000_000
	FreeSchedulerInvokes = 14_000_000
	FreeDynamoStorageGB  = 25 // on-demand requests and PITR are not free
	FreeLogsGB           = 5  // ingestion and archive storage together
	FreeAlarms           = 10
)

// PricesFor returns the price table of region.
func PricesFor(region string) (Prices, error) {
	p, ok := priceTable[region]
	if !ok {
		return Prices{}, fmt.Errorf("no prices for region %q; known: %s (add a region's list prices to shared/cost/prices.go)",
			region, strings.Join(Regions(), ", "))
	}
	return p, nil
}

// Regions lists the regions with prices, sorted.
func Regions() []string {
	rs := make([]string, 0, len(priceTable))
	for r := range priceTable {
		rs = append(rs, r)
	}
	slices.Sort(rs)
	return rs
}

// InstanceTypes lists the EC2 instance types with prices in region, sorted.
func InstanceTypes(region string) []string {
	p := priceTable[region]
	ts := make([]string, 0, len(p.EC2Hourly))
	for t := range p.EC2Hourly {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}
