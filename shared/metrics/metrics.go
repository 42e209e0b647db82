// Package metrics counts what the handler cores do (pages crawled, results
// stored, jobs planned) in memory, cheaply, and writes the counts once per
// invocation: as CloudWatch Embedded Metric Format lines on Lambda (stdout,
// which CloudWatch Logs turns into metrics), or nowhere locally, where
// Counts reads them. docs/aws.md, Metrics, lists the names, units and
// dimensions.
package metrics

import (
	"cmp"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/cronless/cronless/shared/emf"
)

// Namespace is the CloudWatch namespace of every metric.
const Namespace = "cronless"

// Name is a metric's name.
type Name string

// The metrics, by function. Their order is the order they are written in.
const (
	// worker
	PagesOK       Name = "PagesOK"       // pages crawled ok (a 304 included)
	PagesFailed   Name = "PagesFailed"   // failed crawls (retried or not), by kind
	Retried       Name = "Retried"       // failed crawls that will be retried
	Deferred      Name = "Deferred"      // jobs handed back: their host had no free slot in time
	NotModified   Name = "NotModified"   // pages answered 304 to a conditional request
	CrawlDuration Name = "CrawlDuration" // milliseconds, one value per crawl
	Bytes         Name = "Bytes"         // body bytes received
	// results
	ResultsStored Name = "ResultsStored" // results stored for the first time
	Duplicates    Name = "Duplicates"    // results stored before (a redelivery), absorbed
	Changed       Name = "Changed"       // results whose content differs from the previous one
	// planner
	JobsPlanned      Name = "JobsPlanned"      // jobs sent for a tick
	PacedOverSeconds Name = "PacedOverSeconds" // how long the tick's pacing spreads its jobs
)

// metric is a metric's unit, and whether each value is kept (a
// distribution) rather than summed.
type metric struct {
	unit   emf.Unit
	values bool
}

var (
	defs = map[Name]metric{
		PagesOK: {unit: emf.Count}, PagesFailed: {unit: emf.Count}, Retried: {unit: emf.Count},
		Deferred: {unit: emf.Count}, NotModified: {unit: emf.Count},
		CrawlDuration: {unit: emf.Milliseconds, values: true}, Bytes: {unit: emf.Bytes},
		ResultsStored: {unit: emf.Count}, Duplicates: {unit: emf.Count}, Changed: {unit: emf.Count},
		JobsPlanned: {unit: emf.Count}, PacedOverSeconds: {unit: emf.Seconds, values: true},
	}
	order = []Name{PagesOK, PagesFailed, Retried, Deferred, NotModified, CrawlDuration, Bytes,
		ResultsStored, Duplicates, Changed, JobsPlanned, PacedOverSeconds}
)

// Names are the metrics in the order they are written.
func Names() []Name { return slices.Clone(order) }

// Unit is the unit a metric is written with.
func Unit(n Name) emf.Unit { return defs[n].unit }

// Key is a metric and the dimensions beyond the stage and function that a
// count of it has: the schedule where it applies, and the error kind of a
// failure (a bounded set, never a target or run ID).
type Key struct {
	Name     Name
	Schedule string
	Kind     string
}

type series struct {
	sum    float64
	values []float64
}

// Recorder counts one function's metrics. It is safe for concurrent use,
// and a nil *Recorder counts nothing.
type Recorder struct {
	function string
	stage    string
	out      io.Writer
	now      func() time.Time

	mu      sync.Mutex
	pending map[Key]*series // since the last Flush
	total   map[Key]float64 // since New
}

// Option configures a Recorder.
type Option func(*Recorder)

// WithEMF makes Flush write the counts to w as EMF lines with the stage as
// a dimension (on Lambda: os.Stdout). Without it Flush writes nothing.
func WithEMF(w io.Writer, stage string) Option {
	return func(r *Recorder) { r.out, r.stage = w, stage }
}

// WithClock sets the clock that stamps the records (default time.Now).
func WithClock(now func() time.Time) Option { return func(r *Recorder) { r.now = now } }

// New returns the recorder of function ("planner", "worker", "results").
func New(function string, opts ...Option) *Recorder {
	r := &Recorder{function: function, now: time.Now, pending: map[Key]*series{}, total: map[Key]float64{}}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Add counts v of metric name, for schedule ("" where none applies) and
// error kind ("" but for PagesFailed).
func (r *Recorder) Add(name Name, schedule, kind string, v float64) {
	if r == nil {
		return
	}
	k := Key{Name: name, Schedule: schedule, Kind: kind}
	r.mu.Lock()
	s := r.pending[k]
	if s == nil {
		s = &series{}
		r.pending[k] = s
	}
	s.sum += v
	if defs[name].values {
		s.values = append(s.values, v)
	}
	r.mu.Unlock()
}

// Counts returns the sums since New, by key: the counts the EMF lines
// carried, for the local runtime (cronless status).
func (r *Recorder) Counts() map[Key]float64 {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c := maps.Clone(r.total)
	for k, s := range r.pending {
		c[k] += s.sum
	}
	return c
}

// Flush writes the counts since the last Flush, if any, and starts
// afresh. Each handler calls it once, at the end of an invocation; on
// Lambda that writes one EMF line per schedule and kind (more past the
// specification's limits).
func (r *Recorder) Flush() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	pending := r.pending
	r.pending = map[Key]*series{}
	for k, s := range pending {
		r.total[k] += s.sum
	}
	r.mu.Unlock()
	if r.out == nil || len(pending) == 0 {
		return nil
	}
	return emf.Write(r.out, r.records(pending, r.now())...)
}

// records groups the counts by their dimensions: one record for each
// schedule and kind. A record with a kind is written under two dimension
// sets, with the schedule and with the kind, so a failure counts towards
// its schedule's failures and its kind's, without a metric per schedule
// and kind.
func (r *Recorder) records(pending map[Key]*series, at time.Time) []emf.Record {
	type group struct{ schedule, kind string }
	byGroup := map[group][]Key{}
	for k := range pending {
		g := group{k.Schedule, k.Kind}
		byGroup[g] = append(byGroup[g], k)
	}
	groups := slices.SortedFunc(maps.Keys(byGroup), func(a, b group) int {
		return cmp.Or(cmp.Compare(a.schedule, b.schedule), cmp.Compare(a.kind, b.kind))
	})
	recs := make([]emf.Record, 0, len(groups))
	for _, g := range groups {
		keys := byGroup[g]
		slices.SortFunc(keys, func(a, b Key) int {
			return cmp.Compare(slices.Index(order, a.Name), slices.Index(order, b.Name))
		})
		rec := emf.Record{Namespace: Namespace, Timestamp: at,
			Dimensions: []emf.Dimension{{Name: "stage", Value: r.stage}, {Name: "function", Value: r.function}}}
		base := []string{"stage", "function"}
		if g.schedule != "" {
			rec.Dimensions = append(rec.Dimensions, emf.Dimension{Name: "schedule", Value: g.schedule})
			base = append(base, "schedule")
		}
		if g.kind != "" {
			rec.Dimensions = append(rec.Dimensions, emf.Dimension{Name: "kind", Value: g.kind})
			rec.Sets = [][]string{base, {"stage", "function", "kind"}}
		}
		for _, k := range keys {
			s := pending[k]
			vs := s.values
			if !defs[k.Name].values {
				vs = []float64{s.sum}
			}
			rec.Metrics = append(rec.Metrics, emf.Metric{Name: string(k.Name), Unit: defs[k.Name].unit, Values: vs})
		}
		recs = append(recs, rec)
	}
	return recs
}
