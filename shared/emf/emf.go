// Package emf encodes CloudWatch Embedded Metric Format records: JSON log
// lines that CloudWatch Logs turns into metrics, so a function publishes
// metrics by writing to stdout, with no API call.
//
// It follows the specification,
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html,
// and Validate checks a line against its rules. We wrote it rather than use
// a library: github.com/dangrier/aws-embedded-metrics-golang needs Go 1.27,
// github.com/prozz/aws-embedded-metrics-golang (its origin) takes integer
// values only and has not been released since 2021, and what we need (one
// directive per line, split at the limits) is a hundred lines.
package emf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// The specification's limits.
const (
	MaxMetrics        = 100  // metric definitions in one directive
	MaxDimensions     = 30   // dimensions in one dimension set
	MaxValues         = 100  // values of one metric in one record
	MaxNameLen        = 1024 // characters of a metric name
	MaxNamespaceLen   = 255  // characters of a namespace
	MaxDimensionValue = 1024 // characters of a dimension value
)

// Unit is a CloudWatch metric unit (MetricDatum's Unit).
type Unit string

// The units the specification allows.
const (
	Seconds      Unit = "Seconds"
	Microseconds Unit = "Microseconds"
	Milliseconds Unit = "Milliseconds"
	Bytes        Unit = "Bytes"
	Kilobytes    Unit = "Kilobytes"
	Megabytes    Unit = "Megabytes"
	Gigabytes    Unit = "Gigabytes"
	Terabytes    Unit = "Terabytes"
	Bits         Unit = "Bits"
	Kilobits     Unit = "Kilobits"
	Megabits     Unit = "Megabits"
	Gigabits     Unit = "Gigabits"
	Terabits     Unit = "Terabits"
	Percent      Unit = "Percent"
	Count        Unit = "Count"
	BytesPerSec  Unit = "Bytes/Second"
	KBPerSec     Unit = "Kilobytes/Second"
	MBPerSec     Unit = "Megabytes/Second"
	GBPerSec     Unit = "Gigabytes/Second"
	TBPerSec     Unit = "Terabytes/Second"
	BitsPerSec   Unit = "Bits/Second"
	KbitsPerSec  Unit = "Kilobits/Second"
	MbitsPerSec  Unit = "Megabits/Second"
	GbitsPerSec  Unit = "Gigabits/Second"
	TbitsPerSec  Unit = "Terabits/Second"
	CountPerSec  Unit = "Count/Second"
	None         Unit = "None"
)

// Units are the units the specification allows.
var Units = []Unit{Seconds, Microseconds, Milliseconds, Bytes, Kilobytes, Megabytes, Gigabytes, Terabytes,
	Bits, Kilobits, Megabits, Gigabits, Terabits, Percent, Count, BytesPerSec, KBPerSec, MBPerSec, GBPerSec,
	TBPerSec, BitsPerSec, KbitsPerSec, MbitsPerSec, GbitsPerSec, TbitsPerSec, CountPerSec, None}

// Dimension is a dimension's name and value.
type Dimension struct{ Name, Value string }

// Metric is a metric's definition and its values (one data point each).
type Metric struct {
	Name   string
	Unit   Unit // "" omits it (CloudWatch records None)
	Values []float64
	// StorageResolution is 1 (high resolution) or 60; 0 omits it (60).
	StorageResolution int
}

// Record is what one directive says: metrics under a namespace with the
// given dimensions. Sets lists the dimension sets by name; nil means one
// set of every dimension. Lines splits it at the specification's limits.
type Record struct {
	Namespace  string
	Timestamp  time.Time
	Dimensions []Dimension
	Sets       [][]string
	Metrics    []Metric
}

// Lines encodes r as EMF log events (without newlines): one, or more when
// r has over MaxMetrics metrics or a metric over MaxValues values.
func (r Record) Lines() ([][]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	sets := r.Sets
	if sets == nil {
		all := make([]string, len(r.Dimensions))
		for i, d := range r.Dimensions {
			all[i] = d.Name
		}
		sets = [][]string{all}
	}
	var lines [][]byte
	for start := 0; start < len(r.Metrics); start += MaxMetrics {
		chunk := r.Metrics[start:min(start+MaxMetrics, len(r.Metrics))]
		// Values past MaxValues go in further lines of the same metrics.
		for off := 0; ; off += MaxValues {
			var defs []map[string]any
			ev := map[string]any{}
			for _, d := range r.Dimensions {
				ev[d.Name] = d.Value
			}
			for _, m := range chunk {
				if off >= len(m.Values) {
					continue
				}
				vs := m.Values[off:min(off+MaxValues, len(m.Values))]
				def := map[string]any{"Name": m.Name}
				if m.Unit != "" {
					def["Unit"] = m.Unit
				}
				if m.StorageResolution != 0 {
					def["StorageResolution"] = m.StorageResolution
				}
				defs = append(defs, def)
				if len(vs) == 1 {
					ev[m.Name] = vs[0]
				} else {
					ev[m.Name] = vs
				}
			}
			if len(defs) == 0 {
				break
			}
			ev["_aws"] = map[string]any{
				"Timestamp": r.Timestamp.UnixMilli(),
				"CloudWatchMetrics": []map[string]any{{
					"Namespace": r.Namespace, "Dimensions": sets, "Metrics": defs,
				}},
			}
			b, err := json.Marshal(ev)
			if err != nil {
				return nil, fmt.Errorf("emf: %w", err)
			}
			lines = append(lines, b)
		}
	}
	return lines, nil
}

// Write writes the records' lines to w, each ending in a newline, with
// one Write call each (a log line is not interleaved with another).
func Write(w io.Writer, recs ...Record) error {
	for _, r := range recs {
		lines, err := r.Lines()
		if err != nil {
			return err
		}
		for _, l := range lines {
			if _, err := w.Write(append(l, '\n')); err != nil {
				return fmt.Errorf("emf: %w", err)
			}
		}
	}
	return nil
}

// check reports what in r the specification rejects.
func (r Record) check() error {
	if r.Namespace == "" || len(r.Namespace) > MaxNamespaceLen {
		return fmt.Errorf("emf: namespace %q: want 1 to %d characters", r.Namespace, MaxNamespaceLen)
	}
	names := map[string]bool{"_aws": true}
	for _, d := range r.Dimensions {
		if d.Name == "" || names[d.Name] {
			return fmt.Errorf("emf: dimension %q is empty or repeated", d.Name)
		}
		if d.Value == "" || len(d.Value) > MaxDimensionValue {
			return fmt.Errorf("emf: dimension %s value %q: want 1 to %d characters", d.Name, d.Value, MaxDimensionValue)
		}
		names[d.Name] = true
	}
	if r.Sets == nil && len(r.Dimensions) > MaxDimensions {
		return fmt.Errorf("emf: %d dimensions in one set, at most %d", len(r.Dimensions), MaxDimensions)
	}
	for _, set := range r.Sets {
		if len(set) > MaxDimensions {
			return fmt.Errorf("emf: dimension set %v has %d dimensions, at most %d", set, len(set), MaxDimensions)
		}
		for _, n := range set {
			if !slices.ContainsFunc(r.Dimensions, func(d Dimension) bool { return d.Name == n }) {
				return fmt.Errorf("emf: dimension set %v names %q, which has no value", set, n)
			}
		}
	}
	for _, m := range r.Metrics {
		if m.Name == "" || len(m.Name) > MaxNameLen {
			return fmt.Errorf("emf: metric name %.40q: want 1 to %d characters", m.Name, MaxNameLen)
		}
		if names[m.Name] {
			return fmt.Errorf("emf: metric %q is repeated or also a dimension", m.Name)
		}
		names[m.Name] = true
		if m.Unit != "" && !slices.Contains(Units, m.Unit) {
			return fmt.Errorf("emf: metric %s: unit %q is not one CloudWatch allows", m.Name, m.Unit)
		}
		if m.StorageResolution != 0 && m.StorageResolution != 1 && m.StorageResolution != 60 {
			return fmt.Errorf("emf: metric %s: storage resolution %d, want 1 or 60", m.Name, m.StorageResolution)
		}
		if len(m.Values) == 0 {
			return fmt.Errorf("emf: metric %s has no value", m.Name)
		}
		for _, v := range m.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("emf: metric %s: value %v is not a JSON number", m.Name, v)
			}
		}
	}
	return nil
}

// Validate checks one log line against the specification's rules: the _aws
// member with a millisecond Timestamp and CloudWatchMetrics; in each
// directive a Namespace, dimension sets of at most MaxDimensions names, at
// most MaxMetrics metric definitions with a Name of at most MaxNameLen
// characters, a Unit CloudWatch allows and a StorageResolution of 1 or 60;
// and every dimension and metric present as a top-level member, a
// dimension's as a string, a metric's as a number or up to MaxValues numbers.
func Validate(line []byte) error {
	var ev map[string]json.RawMessage
	if err := json.Unmarshal(line, &ev); err != nil {
		return fmt.Errorf("emf: not a JSON object: %w", err)
	}
	var meta struct {
		Timestamp         *json.Number
		CloudWatchMetrics []struct {
			Namespace  *string
			Dimensions [][]string
			Metrics    []struct {
				Name              *string
				Unit              *string
				StorageResolution *int
			}
		}
	}
	raw, ok := ev["_aws"]
	if !ok {
		return errors.New("emf: no _aws member")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&meta); err != nil {
		return fmt.Errorf("emf: _aws: %w", err)
	}
	if meta.Timestamp == nil {
		return errors.New("emf: _aws.Timestamp is missing")
	}
	if _, err := meta.Timestamp.Int64(); err != nil {
		return fmt.Errorf("emf: _aws.Timestamp %s is not milliseconds since the epoch", *meta.Timestamp)
	}
	if meta.CloudWatchMetrics == nil {
		return errors.New("emf: _aws.CloudWatchMetrics is missing")
	}
	for i, d := range meta.CloudWatchMetrics {
		if d.Namespace == nil || *d.Namespace == "" || len(*d.Namespace) > MaxNamespaceLen {
			return fmt.Errorf("emf: directive %d: Namespace missing, empty or over %d characters", i, MaxNamespaceLen)
		}
		if d.Dimensions == nil {
			return fmt.Errorf("emf: directive %d: Dimensions is missing", i)
		}
		for _, set := range d.Dimensions {
			if len(set) > MaxDimensions {
				return fmt.Errorf("emf: directive %d: dimension set of %d, at most %d", i, len(set), MaxDimensions)
			}
			for _, n := range set {
				var v string
				if err := json.Unmarshal(ev[n], &v); err != nil {
					return fmt.Errorf("emf: directive %d: dimension %q has no string value at the top level", i, n)
				}
			}
		}
		if d.Metrics == nil || len(d.Metrics) > MaxMetrics {
			return fmt.Errorf("emf: directive %d: %d metrics, want 0 to %d", i, len(d.Metrics), MaxMetrics)
		}
		for _, m := range d.Metrics {
			if m.Name == nil || *m.Name == "" || len(*m.Name) > MaxNameLen {
				return fmt.Errorf("emf: directive %d: a metric Name is missing, empty or over %d characters", i, MaxNameLen)
			}
			if m.Unit != nil && !slices.Contains(Units, Unit(*m.Unit)) {
				return fmt.Errorf("emf: metric %s: Unit %q is not allowed", *m.Name, *m.Unit)
			}
			if r := m.StorageResolution; r != nil && *r != 1 && *r != 60 {
				return fmt.Errorf("emf: metric %s: StorageResolution %d, want 1 or 60", *m.Name, *r)
			}
			if err := checkValue(ev[*m.Name]); err != nil {
				return fmt.Errorf("emf: metric %s: %w", *m.Name, err)
			}
		}
	}
	return nil
}

// checkValue accepts a number or an array of 1 to MaxValues numbers.
func checkValue(raw json.RawMessage) error {
	if raw == nil {
		return errors.New("no value at the top level")
	}
	var n float64
	if json.Unmarshal(raw, &n) == nil {
		return nil
	}
	var ns []float64
	if err := json.Unmarshal(raw, &ns); err != nil {
		return fmt.Errorf("value %s is neither a number nor an array of numbers", raw)
	}
	if len(ns) == 0 || len(ns) > MaxValues {
		return fmt.Errorf("%d values, want 1 to %d", len(ns), MaxValues)
	}
	return nil
}
