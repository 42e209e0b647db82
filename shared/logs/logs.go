// Package logs keeps and reads the log records of the three functions: the
// zap JSON lines of shared/obs, with their correlation fields (function,
// run_id, target_id, message_id). Locally the runtime tees them into a
// size-bounded file beside the database (File, Tee); on a stage they are
// in CloudWatch Logs (package cwlogs). Either way they become Records,
// filtered by a Filter and merged in time order (Sort).
package logs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
)

// Functions are the function names, in the order of the pipeline.
var Functions = []string{"planner", "worker", "results"}

// Record is one log line of a function.
type Record struct {
	Time      time.Time
	Function  string
	Level     string
	Msg       string
	RunID     string
	TargetID  string
	MessageID string
	// Fields are the record's other fields, as decoded from JSON.
	Fields map[string]any
	// EventID is the CloudWatch Logs event ID (empty locally).
	EventID string
}

// The keys of the fields a Record has its own place for (obs.New's
// encoder config: "time", "level", "msg"; obs's correlation fields).
const (
	keyTime      = "time"
	keyLevel     = "level"
	keyMsg       = "msg"
	keyFunction  = "function"
	keyRunID     = "run_id"
	keyTargetID  = "target_id"
	keyMessageID = "message_id"
)

// Parse decodes one JSON line of obs.New. A line that is not a JSON object
// (a Lambda platform line such as START or REPORT) is an error.
func Parse(line []byte) (Record, error) {
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	if err := d.Decode(&m); err != nil || m == nil {
		return Record{}, fmt.Errorf("not a JSON log record: %.80q", line)
	}
	var r Record
	str := func(k string) string {
		s, ok := m[k].(string)
		if ok {
			delete(m, k)
		}
		return s
	}
	if t, err := time.Parse(time.RFC3339Nano, str(keyTime)); err == nil {
		r.Time = t
	}
	r.Level, r.Msg, r.Function = str(keyLevel), str(keyMsg), str(keyFunction)
	r.RunID, r.TargetID, r.MessageID = str(keyRunID), str(keyTargetID), str(keyMessageID)
	if len(m) > 0 {
		r.Fields = m
	}
	return r, nil
}

// MarshalJSON writes the record as the flat JSON object it was logged as.
func (r Record) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(r.Fields)+7)
	for k, v := range r.Fields {
		m[k] = v
	}
	if !r.Time.IsZero() {
		m[keyTime] = r.Time.UTC().Format(time.RFC3339Nano)
	}
	for k, v := range map[string]string{keyFunction: r.Function, keyLevel: r.Level, keyMsg: r.Msg, keyRunID: r.RunID, keyTargetID: r.TargetID, keyMessageID: r.MessageID} {
		if v != "" {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// LevelOf is the record's level; info when it has none or an unknown one.
func (r Record) LevelOf() zapcore.Level {
	l, err := zapcore.ParseLevel(r.Level)
	if err != nil || r.Level == "" {
		return zapcore.InfoLevel
	}
	return l
}

// Filter selects records; its zero value selects all.
type Filter struct {
	// RunID keeps the records of this run.
	RunID string
	// TargetID keeps the records of this target and, with RunID, the
	// run's own records (those without a target, such as the planner's
	// "run planned"): a target's story in a run.
	TargetID string
	// Function keeps one function's records (planner, worker, results).
	Function string
	// MinLevel keeps records at this level and above.
	MinLevel zapcore.Level
	// Since keeps the records logged at or after it (zero: all).
	Since time.Time
}

// Match reports whether the filter keeps r.
func (f Filter) Match(r Record) bool {
	switch {
	case f.RunID != "" && r.RunID != f.RunID:
		return false
	case f.TargetID != "" && r.TargetID != f.TargetID && (r.TargetID != "" || f.RunID == ""):
		return false
	case f.Function != "" && r.Function != f.Function:
		return false
	case r.LevelOf() < f.MinLevel:
		return false
	case !f.Since.IsZero() && r.Time.Before(f.Since):
		return false
	}
	return true
}

// Sort merges records in time order; records of the same time keep their
// order (a function's lines as it wrote them).
func Sort(rs []Record) {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Time.Before(rs[j].Time) })
}

// CompactFields is a record's other fields for a person: key=value, sorted
// by key, values as JSON where they are not plain strings.
func (r Record) CompactFields() string {
	keys := make([]string, 0, len(r.Fields))
	for k := range r.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		v := r.Fields[k]
		s, ok := v.(string)
		if !ok || strings.ContainsAny(s, " \t\n\"") {
			j, _ := json.Marshal(v)
			s = string(j)
		}
		b.WriteString(k + "=" + s)
	}
	return b.String()
}
