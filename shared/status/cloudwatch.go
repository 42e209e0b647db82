package status

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
)

// AlarmsAPI is the CloudWatch call Alarms makes.
type AlarmsAPI interface {
	DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, opts ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

// Alarms lists the metric alarms whose names start with prefix that are in
// state ALARM, by name. It follows the CloudWatch API Reference,
// DescribeAlarms (AlarmNamePrefix, StateValue ALARM, AlarmTypes
// MetricAlarm, paged by NextToken).
func Alarms(ctx context.Context, api AlarmsAPI, prefix string) ([]Alarm, error) {
	in := &cloudwatch.DescribeAlarmsInput{
		AlarmNamePrefix: aws.String(prefix),
		StateValue:      cwtypes.StateValueAlarm,
		AlarmTypes:      []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm},
	}
	as := []Alarm{}
	for page := 0; ; page++ {
		out, err := api.DescribeAlarms(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("describe the alarms %s* in ALARM: %w", prefix, err)
		}
		for _, m := range out.MetricAlarms {
			// CloudWatch applies both filters; moto 5.2.1 applies only the
			// prefix. Checking the state again costs nothing.
			if m.StateValue != cwtypes.StateValueAlarm {
				continue
			}
			as = append(as, Alarm{Name: aws.ToString(m.AlarmName), Description: aws.ToString(m.AlarmDescription),
				Reason: aws.ToString(m.StateReason), Since: aws.ToTime(m.StateUpdatedTimestamp).UTC()})
		}
		if aws.ToString(out.NextToken) == "" || page >= 100 {
			break
		}
		in.NextToken = out.NextToken
	}
	SortAlarms(as)
	return as, nil
}

// MetricDataAPI is the CloudWatch call OldestAges makes.
type MetricDataAPI interface {
	GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, opts ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
}

// ageWindow is how far back OldestAges looks for a datapoint: SQS sends
// its metrics to CloudWatch every minute, and a queue that has been empty
// a while sends none.
const ageWindow = 15 * time.Minute

// OldestAges is the latest Maximum of AWS/SQS ApproximateAgeOfOldestMessage
// of each queue (by queue name) over the last ageWindow; a queue without a
// datapoint is left out. It follows the CloudWatch API Reference,
// GetMetricData (one MetricDataQuery per queue, MetricStat with dimension
// QueueName, period 60 s, ScanBy TimestampDescending), and the SQS
// Developer Guide's "Available CloudWatch metrics for Amazon SQS".
func OldestAges(ctx context.Context, api MetricDataAPI, queueNames []string, now time.Time) (map[string]time.Duration, error) {
	if len(queueNames) == 0 {
		return map[string]time.Duration{}, nil
	}
	in := &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(now.Add(-ageWindow)), EndTime: aws.Time(now),
		ScanBy: cwtypes.ScanByTimestampDescending,
	}
	ids := map[string]string{}
	for i, name := range queueNames {
		id := fmt.Sprintf("q%d", i) // an ID starts with a lower-case letter
		ids[id] = name
		in.MetricDataQueries = append(in.MetricDataQueries, cwtypes.MetricDataQuery{
			Id: aws.String(id),
			MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{Namespace: aws.String("AWS/SQS"), MetricName: aws.String("ApproximateAgeOfOldestMessage"),
					Dimensions: []cwtypes.Dimension{{Name: aws.String("QueueName"), Value: aws.String(name)}}},
				Period: aws.Int32(60), Stat: aws.String("Maximum"), Unit: cwtypes.StandardUnitSeconds,
			},
		})
	}
	ages := map[string]time.Duration{}
	for page := 0; ; page++ {
		out, err := api.GetMetricData(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("get the queues' ApproximateAgeOfOldestMessage: %w", err)
		}
		for _, r := range out.MetricDataResults {
			name, ok := ids[aws.ToString(r.Id)]
			if _, seen := ages[name]; !ok || seen || len(r.Values) == 0 {
				continue
			}
			// Values are newest first (TimestampDescending).
			ages[name] = time.Duration(r.Values[0] * float64(time.Second))
		}
		if aws.ToString(out.NextToken) == "" || page >= 10 {
			break
		}
		in.NextToken = out.NextToken
	}
	return ages, nil
}

// NewCloudWatch is a CloudWatch client that speaks the AWS query protocol
// (CloudWatch API Reference, "Making query requests"), which CloudWatch
// has always taken and moto 5.2.1 speaks; the SDK's default since v1.53.0
// of service/cloudwatch, Smithy RPC v2 CBOR, moto does not.
func NewCloudWatch(cfg aws.Config, optFns ...func(*cloudwatch.Options)) *cloudwatch.Client {
	query := func(o *cloudwatch.Options) { o.Protocol = awsquery.New(schemas.GraniteServiceVersion20100801) }
	return cloudwatch.NewFromConfig(cfg, append([]func(*cloudwatch.Options){query}, optFns...)...)
}
