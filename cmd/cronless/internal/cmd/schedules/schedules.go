package schedules

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/cmd/cronless/internal/iostreams"
	"github.com/cronless/cronless/shared/planner"
	"github.com/cronless/cronless/shared/targets"
)

// The schedules command writes the part of serverless.yml that comes from
// targets.yaml, so the deployed schedules cannot drift from the file the
// planner reads. `make build` writes it to build/schedules.json, and
// serverless.yml reads it with
//
//	functions.planner.events: ${file(./build/schedules.json):events}
//	resources.extensions:     ${file(./build/schedules.json):extensions}
//
// Each schedule becomes one osls `schedule` event with `method: scheduler`,
// which osls (4.3.1, the v3 line) compiles to an AWS::Scheduler::Schedule
// with the logical ID PlannerSchedulerSchedule<n>, n counting the planner's
// schedule events from 1. The event has no field for the schedule's retry
// policy and dead-letter queue, which AWS::Scheduler::Schedule takes as
// properties of its Target (CloudFormation resource reference, Target), so
// each resource's Target is replaced whole through `resources.extensions`:
// osls assigns an extension's properties shallowly, and fails the package if
// the resource is missing, so a renamed function cannot silently drop them.
//
// The schedules get no Name: CloudFormation names them (after the stack,
// so with the stage) in the stage's group, and the description and Input
// say which targets.yaml schedule each is. A Name cannot change without
// replacing the schedule, and the logical IDs go by position, so with names
// removing or reordering a schedule in targets.yaml would make a deploy
// create a schedule under a name another one still holds, and fail.
//
// What is not data-driven (the schedule group, the role Scheduler assumes,
// the retry policy, the dead-letter queue) is referenced as
// ${self:custom.scheduler.*} and defined in serverless.yml, where osls
// resolves it: keys under custom.scheduler are this command's contract with
// serverless.yml.

// plannerFunction is the planner's key under functions: in serverless.yml.
const plannerFunction = "Planner"

// scheduledTimeAttr is the context attribute Scheduler replaces with the
// time the schedule fired (RFC 3339, UTC) when it delivers the Input.
const scheduledTimeAttr = "<aws.scheduler.scheduled-time>"

// slsSchedules is what the command prints.
type slsSchedules struct {
	Events     []slsEvent              `json:"events"`
	Extensions map[string]slsExtension `json:"extensions"`
}

type slsEvent struct {
	Schedule slsSchedule `json:"schedule"`
}

type slsSchedule struct {
	Method string `json:"method"`
	// Rate holds one expression: a string, or for at() an Fn::Sub of it,
	// because osls's schema accepts only rate() and cron() strings.
	Rate        []any  `json:"rate"`
	Timezone    string `json:"timezone"`
	Description string `json:"description"`
	Group       string `json:"groupName"`
	RoleArn     string `json:"roleArn"`
}

type slsExtension struct {
	Properties slsExtensionProps `json:"Properties"`
}

type slsExtensionProps struct {
	// ScheduleExpression is set only for an at() expression, which the
	// event had to wrap in Fn::Sub: the plain text, as the resource takes it
	// (an Fn::Sub with nothing to substitute is cfn-lint's W1020).
	ScheduleExpression string    `json:"ScheduleExpression,omitempty"`
	Target             slsTarget `json:"Target"`
}

// slsTarget is an AWS::Scheduler::Schedule Target: the planner, the role
// Scheduler assumes, the tick, and what Scheduler does when it cannot
// deliver it.
type slsTarget struct {
	Arn              any    `json:"Arn"`
	RoleArn          string `json:"RoleArn"`
	Input            string `json:"Input"`
	RetryPolicy      string `json:"RetryPolicy"`
	DeadLetterConfig string `json:"DeadLetterConfig"`
}

// SchedulesOptions are the options of `schedules`.
type SchedulesOptions struct {
	IO          *iostreams.IOStreams
	TargetsFile string
}

// NewCmdSchedules is `schedules`; runF, when set, runs instead of schedulesRun (tests).
func NewCmdSchedules(f *cmdutil.Factory, runF func(*SchedulesOptions) error) *cobra.Command {
	opts := &SchedulesOptions{IO: f.IOStreams}
	return cmdutil.NewCmdTargets(&cobra.Command{
		Use:   "schedules",
		Short: "Print the schedules of a targets file for serverless.yml (JSON)",
		Long: `Print the EventBridge Scheduler schedules of a targets file as JSON for
serverless.yml: the planner's events, one per schedule, and the retry policy
and dead-letter queue of each. make build writes it to build/schedules.json,
which serverless.yml reads, so the deployed schedules always match the file.

Each schedule is in the stage's schedule group (cronless-<stage>), says which
targets.yaml schedule it is in its description, and delivers to the planner:
  {"schedule": "<name>", "scheduled_time": "<aws.scheduler.scheduled-time>"}`,
		Example: "  cronless schedules --targets targets.yaml > build/schedules.json",
	}, opts, &opts.TargetsFile, runF, schedulesRun)
}

func schedulesRun(opts *SchedulesOptions, tf *targets.File) error {
	out := slsSchedules{Events: []slsEvent{}, Extensions: map[string]slsExtension{}}
	for i, name := range tf.ScheduleNames {
		sc := tf.Schedules[name]
		var rate any = sc.Expression
		var props slsExtensionProps
		if sc.Expr.IsOneTime() {
			rate = map[string]string{"Fn::Sub": sc.Expression}
			props.ScheduleExpression = sc.Expression
		}
		input := planner.Tick{Schedule: name, ScheduledTime: scheduledTimeAttr}
		out.Events = append(out.Events, slsEvent{Schedule: slsSchedule{
			Method:   "scheduler",
			Rate:     []any{rate},
			Timezone: sc.Timezone,
			// Only the name: osls would read "${" in free text as a variable.
			Description: "cronless: targets.yaml schedule " + name,
			Group:       "${self:custom.scheduler.groupName}",
			RoleArn:     "${self:custom.scheduler.roleArn}",
		}})
		// The tick, as the text CloudFormation takes: only in the Target,
		// which replaces the event's whole.
		inputJSON, err := marshalNoEscape(input)
		if err != nil {
			return err
		}
		id := fmt.Sprintf("%sSchedulerSchedule%d", plannerFunction, i+1)
		props.Target = slsTarget{
			Arn:              map[string][]string{"Fn::GetAtt": {plannerFunction + "LambdaFunction", "Arn"}},
			RoleArn:          "${self:custom.scheduler.roleArn}",
			Input:            inputJSON,
			RetryPolicy:      "${self:custom.scheduler.retryPolicy}",
			DeadLetterConfig: "${self:custom.scheduler.deadLetterConfig}",
		}
		out.Extensions[id] = slsExtension{Properties: props}
	}
	enc := json.NewEncoder(opts.IO.Out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // keep <aws.scheduler.scheduled-time> readable
	return enc.Encode(out)
}

// marshalNoEscape is v as compact JSON, with <, > and & left as they are.
func marshalNoEscape(v any) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
