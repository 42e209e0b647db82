package emf_test

// The rules tested here are the specification's:
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/emf"
)

var at = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func record(metrics ...emf.Metric) emf.Record {
	return emf.Record{Namespace: "cronless", Timestamp: at,
		Dimensions: []emf.Dimension{{"stage", "dev"}, {"function", "worker"}}, Metrics: metrics}
}

func count(name string, vs ...float64) emf.Metric {
	return emf.Metric{Name: name, Unit: emf.Count, Values: vs}
}

func TestLineShape(t *testing.T) {
	lines, err := record(count("PagesOK", 3), emf.Metric{Name: "CrawlDuration", Unit: emf.Milliseconds, Values: []float64{12, 40}}).Lines()
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"CrawlDuration":[12,40],"PagesOK":3,"_aws":{"CloudWatchMetrics":[{"Dimensions":[["stage","function"]],` +
		`"Metrics":[{"Name":"PagesOK","Unit":"Count"},{"Name":"CrawlDuration","Unit":"Milliseconds"}],"Namespace":"cronless"}],` +
		`"Timestamp":1795770000000},"function":"worker","stage":"dev"}`
	if len(lines) != 1 || string(lines[0]) != want {
		t.Errorf("lines = %s\nwant %s", lines, want)
	}
	if err := emf.Validate(lines[0]); err != nil {
		t.Error(err)
	}
}

// Over MaxMetrics metrics or MaxValues values, a record becomes several
// lines, each within the limits and each carrying every value once.
func TestSplitAtLimits(t *testing.T) {
	many := make([]emf.Metric, 0, 250)
	for i := range 250 {
		many = append(many, count(fmt.Sprintf("M%03d", i), 1))
	}
	vals := make([]float64, 230)
	for i := range vals {
		vals[i] = float64(i)
	}
	for _, tc := range []struct {
		name      string
		rec       emf.Record
		wantLines int
		wantSum   map[string]float64
	}{
		{"250 metrics", record(many...), 3, map[string]float64{"M000": 1, "M249": 1}},
		{"230 values", record(emf.Metric{Name: "D", Unit: emf.Milliseconds, Values: vals}, count("N", 1)), 3,
			map[string]float64{"D": 229 * 230 / 2, "N": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines, err := tc.rec.Lines()
			if err != nil {
				t.Fatal(err)
			}
			if len(lines) != tc.wantLines {
				t.Errorf("%d lines, want %d", len(lines), tc.wantLines)
			}
			sum := map[string]float64{}
			for _, l := range lines {
				if err := emf.Validate(l); err != nil {
					t.Errorf("%v\n%s", err, l)
				}
				var ev map[string]any
				_ = json.Unmarshal(l, &ev)
				for k, v := range ev {
					switch v := v.(type) {
					case float64:
						sum[k] += v
					case []any:
						for _, x := range v {
							sum[k] += x.(float64)
						}
					}
				}
			}
			for k, v := range tc.wantSum {
				if sum[k] != v {
					t.Errorf("%s sums to %v over the lines, want %v", k, sum[k], v)
				}
			}
		})
	}
}

// Lines refuses what the specification rejects rather than write a line
// CloudWatch would drop.
func TestLinesRejects(t *testing.T) {
	dims31 := make([]emf.Dimension, 31)
	for i := range dims31 {
		dims31[i] = emf.Dimension{Name: fmt.Sprintf("d%d", i), Value: "v"}
	}
	for _, tc := range []struct {
		name string
		rec  emf.Record
		want string
	}{
		{"no namespace", emf.Record{Metrics: []emf.Metric{count("A", 1)}}, "namespace"},
		{"31 dimensions", emf.Record{Namespace: "n", Dimensions: dims31, Metrics: []emf.Metric{count("A", 1)}}, "at most 30"},
		{"name of 1025", record(count(strings.Repeat("a", 1025), 1)), "1 to 1024"},
		{"empty name", record(count("", 1)), "1 to 1024"},
		{"bad unit", record(emf.Metric{Name: "A", Unit: "Pages", Values: []float64{1}}), "unit"},
		{"bad resolution", record(emf.Metric{Name: "A", Values: []float64{1}, StorageResolution: 5}), "resolution"},
		{"no value", record(count("A")), "no value"},
		{"NaN", record(emf.Metric{Name: "A", Values: []float64{0 * inf()}}), "not a JSON number"},
		{"metric named as a dimension", record(count("stage", 1)), "also a dimension"},
		{"empty dimension value", emf.Record{Namespace: "n", Dimensions: []emf.Dimension{{"stage", ""}}, Metrics: []emf.Metric{count("A", 1)}}, "stage value"},
		{"set names a missing dimension", emf.Record{Namespace: "n", Dimensions: []emf.Dimension{{"stage", "dev"}}, Sets: [][]string{{"kind"}}, Metrics: []emf.Metric{count("A", 1)}}, "no value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.rec.Lines()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func inf() float64 { var z float64; return 1 / z }

// Validate applies the specification's rules to any line, ours or not.
func TestValidate(t *testing.T) {
	hundred := strings.TrimSuffix(strings.Repeat(`{"Name":"m"},`, 101), ",")
	for _, tc := range []struct {
		name, line, want string
	}{
		{"valid", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["s"]],"Metrics":[{"Name":"m","Unit":"Count","StorageResolution":1}]}]},"s":"x","m":[1,2]}`, ""},
		{"not JSON", `nope`, "not a JSON object"},
		{"no _aws", `{"m":1}`, "no _aws"},
		{"no timestamp", `{"_aws":{"CloudWatchMetrics":[]}}`, "Timestamp is missing"},
		{"timestamp in seconds.fraction", `{"_aws":{"Timestamp":1.5,"CloudWatchMetrics":[]}}`, "milliseconds"},
		{"no directives", `{"_aws":{"Timestamp":1}}`, "CloudWatchMetrics is missing"},
		{"no namespace", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Dimensions":[],"Metrics":[]}]}}`, "Namespace"},
		{"no dimensions", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Metrics":[]}]}}`, "Dimensions is missing"},
		{"dimension absent", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["s"]],"Metrics":[]}]}}`, `dimension "s"`},
		{"dimension a number", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["s"]],"Metrics":[]}]},"s":1}`, `dimension "s"`},
		{"101 metrics", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[],"Metrics":[` + hundred + `]}]},"m":1}`, "101 metrics"},
		{"metric absent", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[],"Metrics":[{"Name":"m"}]}]}}`, "no value"},
		{"metric a string", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[],"Metrics":[{"Name":"m"}]}]},"m":"1"}`, "neither"},
		{"101 values", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[],"Metrics":[{"Name":"m"}]}]},"m":[` + strings.TrimSuffix(strings.Repeat("1,", 101), ",") + `]}`, "101 values"},
		{"bad unit", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[],"Metrics":[{"Name":"m","Unit":"Pages"}]}]},"m":1}`, "Unit"},
		{"bad resolution", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[],"Metrics":[{"Name":"m","StorageResolution":30}]}]},"m":1}`, "StorageResolution"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := emf.Validate([]byte(tc.line))
			if tc.want == "" {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestWriteOneLineEach(t *testing.T) {
	var buf bytes.Buffer
	if err := emf.Write(&buf, record(count("A", 1)), record(count("B", 2))); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 2 {
		t.Errorf("%d lines, want 2:\n%s", n, buf.String())
	}
}
