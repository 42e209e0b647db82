package main

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

func (r *Report) lambdaTables(p func(string, ...any)) {
	p("## Lambda")
	p("")
	l := r.Lambda
	if l == nil {
		p("Not measured: %s", r.LambdaSkipped)
		p("")
		return
	}
	if r.LambdaSkipped != "" {
		p("Partly measured; stopped by: %s", r.LambdaSkipped)
		p("")
	}
	p("### Artifact sizes (`make build`: linux/arm64, CGO off, `-trimpath -ldflags=\"-s -w\"`, tag lambda.norpc)")
	p("")
	if l.BuildErr != "" {
		p("`make build`: %s", l.BuildErr)
		p("")
	} else {
		p("| function | bootstrap | zip | host (%s) bootstrap run under the RIE | ≤ 12 MB |", r.Machine.Go[strings.LastIndexByte(r.Machine.Go, ' ')+1:])
		p("|---|---|---|---|---|")
		for _, fn := range Functions {
			s := l.Sizes[fn]
			p("| %s | %s | %s | %s | %s |", fn, mib(s.Bootstrap), mib(s.Zip), mib(l.HostSize[fn]), okMark(s.Bootstrap <= 12<<20))
		}
		if n := l.HostSize[Baseline]; n > 0 {
			p("| baseline: an empty Go handler | | | %s | – |", mib(n))
		}
		p("")
	}
	w := l.Why
	p("What is in the worker's bootstrap (an unstripped linux/arm64 build: `go version -m`, and its ELF symbol table (what `go tool nm -size` lists) without the bss sections, which take no room in the file):")
	p("")
	if w.Err != "" {
		p("- could not look: %s", w.Err)
	} else {
		if w.AppengineBy != "" {
			p("- %d modules linked; google.golang.org/appengine is replaced by %s (only `urlfetch.Client`, which colly's unused `Appengine()` option calls; see its README), so neither appengine's packages nor the protobuf runtimes are linked.", w.Modules, w.AppengineBy)
		} else {
			p("- %d modules linked; google.golang.org/appengine among them: %v.", w.Modules, w.HasAppengin)
		}
		p("- google.golang.org/appengine with the protobuf runtimes it pulls in (github.com/golang/protobuf, google.golang.org/protobuf): **%s** of symbols, %.0f %% of the %s total.", mib(w.Appengine), 100*float64(w.Appengine)/float64(max(w.Total, 1)), mib(w.Total))
		if len(w.Importers) > 0 {
			imp := w.Importers
			if len(imp) > 8 {
				imp = append(slices.Clone(imp[:8]), fmt.Sprintf("… %d more", len(w.Importers)-8))
			}
			p("- imported from outside them by: %s.", strings.Join(imp, "; "))
		}
		p("")
		p("| module (by symbol size; std is the standard library) | size |")
		p("|---|---|")
		for _, ps := range w.Modules2 {
			p("| %s | %s |", ps.Path, mib(ps.Size))
		}
		p("")
		p("| package (largest by symbol size) | size |")
		p("|---|---|")
		for _, ps := range w.Packages {
			p("| %s | %s |", ps.Path, mib(ps.Size))
		}
	}
	p("")
	p("### Start-up under aws-lambda-rie (host arch, %d fresh starts each)", r.Config.LambdaStarts)
	p("")
	p("Each start is a new emulator and bootstrap; `init` is the emulator's `INIT REPORT durationMs` (exec of bootstrap to its first request for work: the Go runtime, package init, config and SDK clients), `first invoke` the wall time of the first invocation as the caller sees it (init included), `warm` the emulator's invoke duration of three more invocations. The worker and results are invoked with an empty batch, the planner with a tick of the repository's targets.yaml (2 targets, on fauxqs and dynalite).")
	p("")
	p("| function | init ms | first invoke ms | warm invoke ms (RIE) | warm invoke ms (wall) | ≤ 20 ms init |")
	p("|---|---|---|---|---|---|")
	for _, fn := range withBaseline() {
		s, ok := l.Starts[fn]
		if !ok {
			continue
		}
		name, mark := fn, okMark(median(s.InitMs) <= 20)
		if fn == Baseline {
			name, mark = "baseline: an empty Go handler, same flags (bench/lambdabase)", "–"
		}
		if s.Err != "" && len(s.InitMs) == 0 {
			p("| %s | failed: %s | | | | |", name, oneLine(s.Err))
			continue
		}
		p("| %s | %s | %s | %s | %s | %s |", name, rangeStr(s.InitMs, "%.1f"), rangeStr(s.FirstMs, "%.1f"), rangeStr(s.WarmMs, "%.2f"), rangeStr(s.WarmWallMs, "%.2f"), mark)
	}
	p("")
	if bt := l.Batch; bt != nil {
		p("### The worker on a 10-message batch at %s (under the RIE, results sent to fauxqs)", lat(bt.Latency))
		p("")
		if bt.FirstResp != "" && len(bt.WarmMs) == 0 {
			p("Failed: %s", oneLine(bt.FirstResp))
			p("")
		} else {
			warm := median(bt.WarmMs)
			if len(bt.WarmMs) == 0 {
				warm = median(bt.WarmWall)
			}
			var cpu float64
			for _, c := range bt.CPUms {
				cpu += c
			}
			cpu /= float64(max(len(bt.CPUms), 1))
			p("| | |")
			p("|---|---|")
			p("| first batch (cold: connections, robots.txt) | %.1f ms |", bt.ColdMs)
			p("| warm batch, handler duration (RIE) | %s ms (median of %d) |", rangeStr(bt.WarmMs, "%.1f"), len(bt.WarmMs))
			p("| warm batch, wall time at the caller | %s ms |", rangeStr(bt.WarmWall, "%.1f"))
			p("| bootstrap CPU per warm batch | %.1f ms (%.2f ms per page; all warm batches' CPU time ÷ %d, from /proc/<pid>/stat in 10 ms ticks) |", cpu, cpu/10, len(bt.CPUms))
			p("| bootstrap peak RSS (VmHWM) after %d batches | %.1f MiB |", bt.Invokes, float64(bt.PeakRSS)/1024)
			p("| batch item failures / results on the queue | %d / %d |", bt.Failures, bt.Sent)
			p("")
			pr := l.Prices
			// 128 MB gets 128/1769 of a vCPU: the batch cannot take less
			// wall time than its CPU time at that share.
			share := 128.0 / 1769
			est := math.Max(warm, cpu/share)
			perM := func(ms float64) float64 {
				billed := math.Ceil(ms)
				return 1e6 / 10 * (billed/1000*0.125*pr.LambdaGBSecond + pr.LambdaRequest)
			}
			p("Cost per million pages at 128 MB arm64 (10 pages per invocation; Lambda only: %.10f USD per GB-s, %.2f USD per million requests, us-east-1, from shared/cost, recorded %s from https://aws.amazon.com/lambda/pricing/):", pr.LambdaGBSecond, pr.LambdaRequest*1e6, costAsOf)
			p("")
			p("| assumption | billed ms per batch | USD per million pages |")
			p("|---|---|---|")
			p("| the warm duration measured here (this machine's CPU, unthrottled) | %.0f | **%.2f** |", math.Ceil(warm), perM(warm))
			p("| 128 MB gets 128/1769 of a vCPU: at least the batch's CPU time ÷ 0.072 (%.1f ms ÷ 0.072) | %.0f | **%.2f** |", cpu, math.Ceil(est), perM(est))
			p("")
			p("The second line is the realistic one: at 128 MB Lambda gives a function 7 %% of a vCPU, so the worker's CPU per page, not the site's latency, sets its duration; the requests alone are %.2f USD per million pages. Cold starts add their init (billed) once per execution environment; SQS and DynamoDB are extra (see `cronless cost`). This machine is amd64, Lambda's arm64 is Graviton: the CPU time there differs.", pr.LambdaRequest*1e6/10)
			p("")
		}
	}
}

const costAsOf = "2026-11-27"

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return strings.ReplaceAll(s, "|", "\\|")
}

func (r *Report) awsTables(p func(string, ...any)) {
	p("## AWS-side requests (on the stand-ins)")
	p("")
	a := r.AWS
	if a == nil {
		p("Not measured: %s", r.AWSSkipped)
		p("")
		return
	}
	p("Counted by wrappers of `sqsq.API` and `dynamo.API` around real SDK clients talking to fauxqs and dynalite.")
	p("")
	if a.PlannerErr != "" {
		p("Planner failed: %s", oneLine(a.PlannerErr))
		p("")
	} else {
		p("The planner core (`planner.Handle`, sqsq on fauxqs, the dynamo store on dynalite) plans one tick of %d targets in %.1f s; %d messages reached the queue.", a.Planned, a.PlanSeconds, a.OnQueue)
		p("")
		p("| call | calls | entries | per 10,000 targets |")
		p("|---|---|---|---|")
		for _, k := range sortedKeys(a.PlanSQS) {
			p("| SQS %s | %d | %d | %.0f |", k, a.PlanSQS[k], a.PlanSQSItems[k], float64(a.PlanSQS[k])*10000/float64(max(a.Planned, 1)))
		}
		for _, k := range sortedKeys(a.PlanDynamo) {
			p("| DynamoDB %s | %d | | %.0f |", k, a.PlanDynamo[k], float64(a.PlanDynamo[k])*10000/float64(max(a.Planned, 1)))
		}
		p("")
	}
	if a.ResultsErr != "" {
		p("Results store failed: %s", oneLine(a.ResultsErr))
		p("")
	}
	if len(a.ResultCases) > 0 {
		p("DynamoDB requests per stored result (`dynamo.Store.PutResult`, %d targets each):", a.Results)
		p("")
		p("| case | write requests per result | of which PutItem / UpdateItem / BatchWriteItem | read requests per result (GetItem, Query) | ms per result (dynalite) |")
		p("|---|---|---|---|---|")
		for _, rc := range a.ResultCases {
			n := float64(rc.N)
			p("| %s | **%.2f** | %.2f / %.2f / %.2f | %.2f | %.1f |", rc.Name, float64(rc.Writes())/n,
				float64(rc.Calls["PutItem"])/n, float64(rc.Calls["UpdateItem"])/n, float64(rc.Calls["BatchWriteItem"])/n,
				float64(rc.Reads())/n, rc.Seconds*1000/n)
		}
		p("")
	}
}

func sortedKeys(m map[string]int) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}
