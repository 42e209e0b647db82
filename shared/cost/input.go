package cost

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/cronless/cronless/shared/schedule"
)

// Schedule is one schedule of the setup: how many targets it runs and how
// often it ticks in a month.
type Schedule struct {
	Name       string `json:"name"`
	Expression string `json:"expression"`
	Timezone   string `json:"timezone"`
	Targets    int    `json:"targets"`
	// Ticks is the number of ticks in the 30-day month; ColdTicks those
	// that follow an idle gap longer than IdleGap.
	Ticks     int `json:"ticks"`
	ColdTicks int `json:"cold_ticks"`
}

// MonthStart is the start of the month ticks are counted in, in loc.
func MonthStart(loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	return time.Date(2026, time.June, 1, 0, 0, 0, 0, loc)
}

// CountTicks counts expr's ticks in the 30 days from MonthStart(loc), and
// how many of them come more than IdleGap after the tick before (the first
// tick counts when the last one before the month is that far back).
func CountTicks(expr schedule.Expr, loc *time.Location) (ticks, cold int) {
	start := MonthStart(loc)
	end := start.AddDate(0, 0, MonthDays)
	var prev time.Time
	// Start a day early to know the tick before the month; a schedule
	// with none in that day has an idle gap before its first tick anyway.
	for t := expr.Next(start.Add(-24*time.Hour-time.Nanosecond), loc); !t.IsZero() && t.Before(end); t = expr.Next(t, loc) {
		if t.Before(start) {
			prev = t
			continue
		}
		ticks++
		if prev.IsZero() || t.Sub(prev) > IdleGap {
			cold++
		}
		prev = t
	}
	return ticks, cold
}

// NewSchedule is a Schedule of targets on expr in loc, with its ticks counted.
func NewSchedule(name string, expr schedule.Expr, loc *time.Location, targets int) Schedule {
	if loc == nil {
		loc = time.UTC
	}
	ticks, cold := CountTicks(expr, loc)
	return Schedule{Name: name, Expression: expr.String(), Timezone: loc.String(), Targets: targets, Ticks: ticks, ColdTicks: cold}
}

// Input is everything the bill depends on.
type Input struct {
	Region    string     `json:"region"`
	Params    Params     `json:"params"`
	Schedules []Schedule `json:"schedules"`
	// PageDuration is how long one crawl takes.
	PageDuration time.Duration `json:"page_duration"`
	// ResultBytes is the size of a result (its message and its item).
	ResultBytes int `json:"result_bytes"`
	// FailureRate is the share of crawls that fail once and are retried.
	FailureRate float64 `json:"failure_rate"`
	// ChangeInterval is how often a page's content changes, on average (0:
	// at every tick): it decides the share of results that store their
	// fields (ChangedShare).
	ChangeInterval time.Duration `json:"change_interval"`
	// ColdStartRate, when 0 or more, is the share of all invocations that
	// start cold; below 0 it is derived from the schedules.
	ColdStartRate float64       `json:"cold_start_rate"`
	InitDuration  time.Duration `json:"init_duration"`
}

// MarshalJSON writes the durations as Go duration text ("1s").
func (in Input) MarshalJSON() ([]byte, error) {
	type plain Input
	return json.Marshal(struct {
		plain
		PageDuration   string `json:"page_duration"`
		InitDuration   string `json:"init_duration"`
		ChangeInterval string `json:"change_interval"`
	}{plain(in), in.PageDuration.String(), in.InitDuration.String(), in.ChangeInterval.String()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (in *Input) UnmarshalJSON(data []byte) error {
	type plain Input
	var v struct {
		*plain
		PageDuration   string `json:"page_duration"`
		InitDuration   string `json:"init_duration"`
		ChangeInterval string `json:"change_interval"`
	}
	v.plain = (*plain)(in)
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	var err error
	if in.PageDuration, err = time.ParseDuration(v.PageDuration); err != nil {
		return fmt.Errorf("page_duration: %w", err)
	}
	if in.InitDuration, err = time.ParseDuration(v.InitDuration); err != nil {
		return fmt.Errorf("init_duration: %w", err)
	}
	if v.ChangeInterval != "" {
		if in.ChangeInterval, err = time.ParseDuration(v.ChangeInterval); err != nil {
			return fmt.Errorf("change_interval: %w", err)
		}
	}
	return nil
}

// DefaultInput is an Input with the shipped parameters and the model's
// defaults, in us-east-1, with no schedules.
func DefaultInput() Input {
	return Input{
		Region: "us-east-1", Params: DefaultParams(), PageDuration: time.Second, ResultBytes: DefaultResultBytes,
		ColdStartRate: -1, InitDuration: DefaultInitDuration, ChangeInterval: DefaultChangeInterval,
	}
}

// Validate checks the input; its errors name what to change.
func (in Input) Validate() error {
	var errs []error
	if _, err := PricesFor(in.Region); err != nil {
		errs = append(errs, err)
	}
	if err := in.Params.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(in.Schedules) == 0 {
		errs = append(errs, errors.New("no schedules: give a targets file or a number of targets"))
	}
	for _, s := range in.Schedules {
		if s.Targets < 0 || s.Ticks < 0 || s.ColdTicks < 0 || s.ColdTicks > s.Ticks {
			errs = append(errs, fmt.Errorf("schedule %q: bad counts (targets %d, ticks %d, cold ticks %d)", s.Name, s.Targets, s.Ticks, s.ColdTicks))
		}
	}
	if in.PageDuration <= 0 {
		errs = append(errs, fmt.Errorf("page duration %s: must be above 0", in.PageDuration))
	} else if d := workerDuration(in.Params.WorkerBatchSize, in); d > time.Duration(in.Params.WorkerTimeout)*time.Second {
		errs = append(errs, fmt.Errorf("a full worker batch takes %s (ceil(%d/%d) × %s + %s), more than workerTimeout %d s; lower the duration or the batch size, or raise crawlConcurrency",
			d, in.Params.WorkerBatchSize, in.Params.CrawlConcurrency, in.PageDuration, WorkerOverhead, in.Params.WorkerTimeout))
	}
	if d := resultsDuration(in.Params.ResultsBatchSize); d > time.Duration(in.Params.ResultsTimeout)*time.Second {
		errs = append(errs, fmt.Errorf("a full results batch takes %s, more than resultsTimeout %d s", d, in.Params.ResultsTimeout))
	}
	if in.ResultBytes < 1 || in.ResultBytes > 256*1024 {
		errs = append(errs, fmt.Errorf("result size %d bytes: must be between 1 byte and 256 KiB", in.ResultBytes))
	}
	if in.FailureRate < 0 || in.FailureRate >= 1 || math.IsNaN(in.FailureRate) {
		errs = append(errs, fmt.Errorf("failure rate %g: must be at least 0 and below 1", in.FailureRate))
	} else if in.FailureRate > 0 && in.Params.MaxReceiveCount < 2 {
		errs = append(errs, fmt.Errorf("failure rate %g with maxReceiveCount %d: a failed crawl is dead-lettered, not retried; the model needs maxReceiveCount of at least 2", in.FailureRate, in.Params.MaxReceiveCount))
	}
	if in.ChangeInterval < 0 {
		errs = append(errs, fmt.Errorf("change interval %s: must be 0 (pages change at every tick) or more", in.ChangeInterval))
	}
	if in.ColdStartRate > 1 || math.IsNaN(in.ColdStartRate) {
		errs = append(errs, fmt.Errorf("cold start rate %g: must be between 0 and 1", in.ColdStartRate))
	}
	if in.InitDuration < 0 || in.InitDuration > 10*time.Second {
		errs = append(errs, fmt.Errorf("init duration %s: must be between 0 and 10s (Lambda's INIT limit)", in.InitDuration))
	}
	return errors.Join(errs...)
}
