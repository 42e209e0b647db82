// The IAM test: each function's role grants the actions its code calls
// and the actions Lambda needs for it, and no others.
//
// The calls are computed. The three function mains are loaded from source,
// built to SSA and analysed with Rapid Type Analysis
// (golang.org/x/tools/go/callgraph/rta) from their main and init
// functions. RTA resolves a call through an interface to the methods of
// the concrete types converted to that interface. That is how main.go
// hands a *sqs.Client or *dynamodb.Client to the adapters (sqsq.API,
// dynamo.API). An SDK operation is a method of a service's Client
// ((*sqs.Client).SendMessageBatch), called by our code or by an SDK
// paginator or waiter that our code gave the client. The SDK's other calls
// to itself do not count. The grants come from deploy_test.go's grants
// table, which TestDeploymentTemplate checks against the template that
// osls generates.
package cronless_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/tools/go/callgraph"
	"golang.org/x/tools/go/callgraph/rta"
	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/ssa"
	"golang.org/x/tools/go/ssa/ssautil"
)

const module = "github.com/cronless/cronless"

// functionRoles maps each function's main package to its execution role
// (serverless.yml: functions.<name>.role).
var functionRoles = map[string]string{
	module + "/functions/planner": "PlannerRole",
	module + "/functions/worker":  "WorkerRole",
	module + "/functions/results": "ResultsRole",
}

// sdkActions maps an SDK operation ("service.Operation", a Client method)
// to the IAM actions that authorize it. The source is AWS's Service
// Authorization Reference: "Actions, resources, and condition keys for
// Amazon SQS"
// (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsqs.html)
// and "... for Amazon DynamoDB" (list_amazondynamodb.html). SQS's batch
// operations have no actions of their own. "Setting permissions for
// SendMessage, DeleteMessage, or ChangeMessageVisibility sets permissions
// for the corresponding batch versions of the actions" (SQS Developer
// Guide, "Amazon SQS batch actions",
// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-batch-api-actions.html;
// also "Amazon SQS API permissions: Actions and resource reference",
// sqs-api-permissions-reference.html).
var sdkActions = map[string][]string{
	"sqs.SendMessage":                  {"sqs:SendMessage"},
	"sqs.SendMessageBatch":             {"sqs:SendMessage"},
	"sqs.ReceiveMessage":               {"sqs:ReceiveMessage"},
	"sqs.DeleteMessage":                {"sqs:DeleteMessage"},
	"sqs.DeleteMessageBatch":           {"sqs:DeleteMessage"},
	"sqs.ChangeMessageVisibility":      {"sqs:ChangeMessageVisibility"},
	"sqs.ChangeMessageVisibilityBatch": {"sqs:ChangeMessageVisibility"},
	"sqs.GetQueueAttributes":           {"sqs:GetQueueAttributes"},
	"sqs.GetQueueUrl":                  {"sqs:GetQueueUrl"},

	"dynamodb.GetItem":        {"dynamodb:GetItem"},
	"dynamodb.PutItem":        {"dynamodb:PutItem"},
	"dynamodb.UpdateItem":     {"dynamodb:UpdateItem"},
	"dynamodb.DeleteItem":     {"dynamodb:DeleteItem"},
	"dynamodb.Query":          {"dynamodb:Query"},
	"dynamodb.Scan":           {"dynamodb:Scan"},
	"dynamodb.BatchGetItem":   {"dynamodb:BatchGetItem"},
	"dynamodb.BatchWriteItem": {"dynamodb:BatchWriteItem"},
	"dynamodb.DescribeTable":  {"dynamodb:DescribeTable"},
	// "... for AWS Lambda" (list_awslambda.html): Invoke is authorized by
	// lambda:InvokeFunction, asynchronous invocations too.
	"lambda.Invoke": {"lambda:InvokeFunction"},
}

// platformNeed is an action that a role needs for something Lambda does
// with it, rather than for a call in the function's code.
type platformNeed struct{ action, why string }

// Lambda's own uses of the execution roles:
//
//   - Logs. Lambda writes the function's logs with its execution role. The
//     role "needs the following permissions to upload logs to CloudWatch
//     Logs: logs:CreateLogGroup, logs:CreateLogStream, logs:PutLogEvents"
//     (Lambda Developer Guide, "Sending Lambda function logs to CloudWatch
//     Logs", https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html).
//     The stack creates each log group, so no role needs CreateLogGroup.
//   - SQS event source mapping. Lambda polls the queue and deletes the
//     messages that the function processed, with the function's execution
//     role. That role must allow sqs:ReceiveMessage, sqs:DeleteMessage and
//     sqs:GetQueueAttributes ("Execution role permissions" in
//     https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
//     and with-sqs.html; SQS Developer Guide, "Configuring an Amazon SQS
//     queue to trigger an AWS Lambda function").
//   - On-failure destination. Lambda sends the record of a failed
//     asynchronous invocation with the function's execution role. For an
//     SQS destination the role needs sqs:SendMessage ("Capturing records
//     of Lambda asynchronous invocations", "Adding a destination",
//     https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).
var (
	logsNeeds = []platformNeed{
		{"logs:CreateLogStream", "Lambda writes the function's logs (monitoring-cloudwatchlogs.html)"},
		{"logs:PutLogEvents", "Lambda writes the function's logs (monitoring-cloudwatchlogs.html)"},
	}
	pollNeeds = []platformNeed{
		{"sqs:ReceiveMessage", "its SQS event source mapping polls the queue (services-sqs-configure.html)"},
		{"sqs:DeleteMessage", "its SQS event source mapping deletes processed messages (services-sqs-configure.html)"},
		{"sqs:GetQueueAttributes", "its SQS event source mapping reads the queue's attributes (services-sqs-configure.html)"},
	}
	platformNeeds = map[string][]platformNeed{
		"PlannerRole": append(slices.Clone(logsNeeds), platformNeed{"sqs:SendMessage",
			"Lambda sends failed asynchronous invocations to its on-failure destination (invocation-async-retain-records.html)"}),
		"WorkerRole":  append(slices.Clone(logsNeeds), pollNeeds...),
		"ResultsRole": append(slices.Clone(logsNeeds), pollNeeds...),
	}
)

func TestRolesGrantWhatTheCodeCalls(t *testing.T) {
	calls := sdkCallsOf(t, slices.Sorted(maps.Keys(functionRoles)))

	// Guards against a test that passes because it finds nothing, or
	// because it finds everything. Every Lambda role in grants must belong
	// to a function here. Each function must call the SDK. The planner's
	// send must be found. Nothing may be found that no code calls (RTA's
	// own reachable set would put every *sqs.Client method in every
	// function: see sdkCalls).
	for role, g := range grants {
		if g.principal == "lambda.amazonaws.com" && !slices.Contains(slices.Collect(maps.Values(functionRoles)), role) {
			t.Errorf("grants has the Lambda role %s, which no function in functionRoles uses", role)
		}
	}
	for _, pkg := range slices.Sorted(maps.Keys(calls)) {
		ops := calls[pkg]
		for _, op := range slices.Sorted(maps.Keys(ops)) {
			t.Logf("%s calls %s", shortName(pkg), ops[op])
		}
		if len(ops) == 0 {
			t.Errorf("%s: found no SDK call; the analysis is broken", pkg)
		}
		for _, never := range []string{"sqs.DeleteQueue", "sqs.PurgeQueue", "dynamodb.DeleteTable"} {
			if _, ok := ops[never]; ok {
				t.Errorf("%s: found a call of %s, which no code makes; the analysis counts what is not called", pkg, never)
			}
		}
	}
	if _, ok := calls[module+"/functions/planner"]["sqs.SendMessageBatch"]; !ok {
		t.Errorf("the planner's SendMessageBatch (sqsq.Queue.SendBatch) was not found; the analysis is broken")
	}
	if t.Failed() {
		return
	}

	for _, pkg := range slices.Sorted(maps.Keys(functionRoles)) {
		role, fn := functionRoles[pkg], shortName(pkg)
		g, ok := grants[role]
		if !ok {
			t.Errorf("grants has no %s, the role of %s", role, fn)
			continue
		}
		granted := map[string]bool{}
		for _, a := range g.allow {
			action, _, _ := strings.Cut(a, " ")
			granted[action] = true
		}
		need := map[string][]string{} // action -> why
		for op, call := range calls[pkg] {
			actions, ok := sdkActions[op]
			if !ok {
				t.Errorf("%s calls %s, which sdkActions does not map: add it, with the IAM actions that authorize it from AWS's Service Authorization Reference", fn, call)
				continue
			}
			for _, a := range actions {
				need[a] = append(need[a], fn+" calls "+call.String())
			}
		}
		for _, p := range platformNeeds[role] {
			need[p.action] = append(need[p.action], p.why)
		}
		var missing, extra []string
		for _, a := range slices.Sorted(maps.Keys(need)) {
			if !granted[a] {
				slices.Sort(need[a])
				missing = append(missing, a+": "+strings.Join(need[a], "; "))
			}
		}
		for _, a := range slices.Sorted(maps.Keys(granted)) {
			if need[a] == nil {
				extra = append(extra, a)
			}
		}
		if len(extra) > 0 {
			t.Errorf("%s grants actions that neither %s's code nor Lambda uses (least privilege):\n  %s", role, fn, strings.Join(extra, "\n  "))
		}
		if len(missing) > 0 {
			t.Errorf("%s lacks actions that %s needs:\n  %s", role, fn, strings.Join(missing, "\n  "))
		}
	}
}

// sdkCall is where a function calls an SDK operation. The path is the
// shortest found from the function's main: a path, not the only one.
type sdkCall struct {
	op   string   // "dynamodb.Query"
	at   []string // the calls in our code: "shared/store/dynamo/dynamo.go:643"
	path []string // our functions from main to the first of at
}

func (c sdkCall) String() string {
	return fmt.Sprintf("%s at %s (from %s)", c.op, strings.Join(c.at, ", "), strings.Join(c.path, " → "))
}

// sdkCallsOf returns, for each main package, the SDK operations its code
// calls.
//
// All three mains are loaded in one packages.Load and built as one SSA
// program. Only our module's function bodies, and those of the SDK's
// paginators and waiters, are kept: ParseFile drops every other body
// before type-checking. On this project's 2 shared cores that cuts the
// test from about 25 s to under 10 s, and from 90 s to 13 s under -race;
// it finds the same calls. A library reaches our code only by calling a
// func value we gave it, which sdkCalls counts as called, or by calling
// our methods through an interface: checkLibraryCallbacks fails if one of
// those methods could reach the SDK.
func sdkCallsOf(t *testing.T, mains []string) map[string]map[string]sdkCall {
	t.Helper()
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &packages.Config{
		// What SSA needs: types and syntax of every dependency. No tests.
		Mode: packages.NeedName | packages.NeedImports | packages.NeedDeps | packages.NeedTypes |
			packages.NeedSyntax | packages.NeedTypesInfo,
		// go list must find everything in the module cache, never online.
		Env: append(os.Environ(), "GOPROXY=off"),
		ParseFile: func(fset *token.FileSet, filename string, src []byte) (*ast.File, error) {
			f, err := parser.ParseFile(fset, filename, src, parser.SkipObjectResolution)
			if err == nil && !strings.HasPrefix(filename, root+string(filepath.Separator)) {
				dropBodies(f, strings.Contains(filename, "/github.com/aws/aws-sdk-go-v2/service/"))
			}
			return f, err
		},
	}
	pkgs, err := packages.Load(cfg, mains...)
	if err != nil {
		t.Fatalf("loading %v: %v", mains, err)
	}
	// Without bodies, a library's imports may go unused. That is the only
	// error the dropped bodies cause; any other error is real.
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		p.Errors = slices.DeleteFunc(p.Errors, func(e packages.Error) bool {
			return !strings.HasPrefix(e.Pos, root) && strings.HasPrefix(e.Msg, `"`) && strings.HasSuffix(e.Msg, " not used")
		})
		p.IllTyped = len(p.Errors) > 0
		for _, imp := range p.Imports {
			p.IllTyped = p.IllTyped || imp.IllTyped
		}
	})
	if n := packages.PrintErrors(pkgs); n > 0 {
		t.Fatalf("loading %v: %d errors", mains, n)
	}
	// RTA needs generic functions instantiated (rta.Analyze).
	prog, ssaPkgs := ssautil.AllPackages(pkgs, ssa.InstantiateGenerics)
	prog.Build()
	var all []*packages.Package
	packages.Visit(pkgs, nil, func(p *packages.Package) { all = append(all, p) })
	foreign := foreignInterfaceMethods(all)

	out := map[string]map[string]sdkCall{}
	for _, p := range ssaPkgs {
		if p == nil || p.Pkg.Name() != "main" {
			t.Fatalf("%v: not a main package", p)
		}
		roots := []*ssa.Function{p.Func("main"), p.Func("init")}
		cg := rta.Analyze(roots, true).CallGraph
		calls, reached := sdkCalls(prog, cg, roots)
		checkLibraryCallbacks(t, p.Pkg.Path(), cg, reached, foreign)
		out[p.Pkg.Path()] = calls
	}
	if len(out) != len(mains) {
		t.Fatalf("analysed %d packages, want %d", len(out), len(mains))
	}
	return out
}

// dropBodies replaces every function body in f with panic(""). Bodies of
// an SDK service's paginators and waiters are kept, when sdkService is
// set. The panic keeps a function with results well-typed.
func dropBodies(f *ast.File, sdkService bool) {
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil {
			continue
		}
		name := fd.Name.Name
		if fd.Recv != nil {
			name = types.ExprString(fd.Recv.List[0].Type)
		}
		if sdkService && (strings.HasSuffix(name, "Paginator") || strings.HasSuffix(name, "Waiter")) {
			continue
		}
		fd.Body = &ast.BlockStmt{Lbrace: fd.Body.Lbrace, Rbrace: fd.Body.Rbrace, List: []ast.Stmt{&ast.ExprStmt{
			X: &ast.CallExpr{Fun: ast.NewIdent("panic"), Args: []ast.Expr{&ast.BasicLit{Kind: token.STRING, Value: `""`}}},
		}}}
	}
}

// sdkCalls walks the call graph from roots and returns the SDK operations
// reached, and the set of reached nodes.
//
// The walk follows RTA's static and interface call edges. A function
// counts as called once reached code takes its address (a func value or
// a method value). That covers calls of func values and reflect.Value.Call
// (lambda.Start calls the handler that way), including calls made in
// dropped library code. The walk does not use rta.Result.Reachable. That
// set also holds every exported method of every type converted to an
// interface, as callable by reflection, and the code those methods reach.
// It would put every method of *sqs.Client and of sqsq.Queue in every
// function, and nothing here calls a method by reflection.
func sdkCalls(prog *ssa.Program, cg *callgraph.Graph, roots []*ssa.Function) (map[string]sdkCall, map[*callgraph.Node]bool) {
	parent := map[*callgraph.Node]*callgraph.Node{}
	seen := map[*callgraph.Node]bool{}
	var queue []*callgraph.Node
	reach := func(from, n *callgraph.Node) {
		if n != nil && !seen[n] {
			seen[n] = true
			parent[n] = from
			queue = append(queue, n)
		}
	}
	for _, r := range roots {
		reach(nil, cg.Nodes[r])
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, m := range calledBy(cg, n) {
			reach(n, m)
		}
	}

	calls := map[string]sdkCall{}
	for n := range seen {
		op, ok := sdkOperation(n.Func)
		if !ok {
			continue
		}
		c := sdkCall{op: op}
		for _, e := range n.In {
			if seen[e.Caller] {
				for _, caller := range callers(e, seen, map[*callgraph.Node]bool{}) {
					c.at = append(c.at, position(prog, caller.Site))
					p := ourPath(caller.Caller, parent)
					if c.path == nil || len(p) < len(c.path) || len(p) == len(c.path) && strings.Join(p, " ") < strings.Join(c.path, " ") {
						c.path = p
					}
				}
			}
		}
		if len(c.at) > 0 {
			slices.Sort(c.at)
			c.at = slices.Compact(c.at)
			calls[op] = c
		}
	}
	return calls, seen
}

// calledBy returns what n calls, as sdkCalls counts calls: the callees of
// its static and interface calls, and the functions whose address it
// takes (as RTA defines address-taken: used as a value, not called).
func calledBy(cg *callgraph.Graph, n *callgraph.Node) []*callgraph.Node {
	var out []*callgraph.Node
	for _, e := range n.Out {
		if e.Site != nil && (e.Site.Common().IsInvoke() || e.Site.Common().StaticCallee() != nil) {
			out = append(out, e.Callee)
		}
	}
	var space [32]*ssa.Value
	for _, b := range n.Func.Blocks {
		for _, instr := range b.Instrs {
			rands := instr.Operands(space[:0])
			if _, ok := instr.(ssa.CallInstruction); ok {
				rands = rands[1:] // the callee
			}
			for _, op := range rands {
				if g, ok := (*op).(*ssa.Function); ok {
					out = append(out, cg.CreateNode(g))
				}
			}
		}
	}
	return out
}

// callers returns the edges in our code through which edge e is made. If
// the caller is synthetic (a wrapper, a bound method, a generic instance)
// or an SDK paginator or waiter, callers looks through it to its own
// callers. An edge from other SDK code (the SDK calling itself) yields
// none.
func callers(e *callgraph.Edge, seen, visiting map[*callgraph.Node]bool) []*callgraph.Edge {
	fn := e.Caller.Func
	if fn.Synthetic != "" || sdkHelper(fn) {
		if visiting[e.Caller] {
			return nil
		}
		visiting[e.Caller] = true
		var out []*callgraph.Edge
		for _, in := range e.Caller.In {
			if seen[in.Caller] {
				out = append(out, callers(in, seen, visiting)...)
			}
		}
		return out
	}
	if e.Site == nil || !ours(fn) {
		return nil
	}
	return []*callgraph.Edge{e}
}

// ourPath returns the names of our functions on the walk's path from main
// to n.
func ourPath(n *callgraph.Node, parent map[*callgraph.Node]*callgraph.Node) []string {
	var path []string
	for ; n != nil; n = parent[n] {
		if fn := n.Func; fn.Synthetic == "" && ours(fn) {
			path = append(path, strings.ReplaceAll(fn.RelString(nil), module+"/", ""))
		}
	}
	slices.Reverse(path)
	return path
}

func position(prog *ssa.Program, site ssa.CallInstruction) string {
	pos := prog.Fset.Position(site.Pos())
	file := pos.Filename
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, file); err == nil {
			file = rel
		}
	}
	return fmt.Sprintf("%s:%d", file, pos.Line)
}

// ours reports whether fn is code of this module (a closure or generic
// instance counts as its origin's).
func ours(fn *ssa.Function) bool {
	for fn.Parent() != nil {
		fn = fn.Parent()
	}
	if o := fn.Origin(); o != nil {
		fn = o
	}
	return fn.Pkg != nil && (fn.Pkg.Pkg.Path() == module || strings.HasPrefix(fn.Pkg.Pkg.Path(), module+"/"))
}

// foreignInterfaceMethods returns the methods of the interfaces declared at
// package level outside our module, by name.
func foreignInterfaceMethods(pkgs []*packages.Package) map[string][]*types.Func {
	out := map[string][]*types.Func{}
	for _, p := range pkgs {
		if p.PkgPath == module || strings.HasPrefix(p.PkgPath, module+"/") {
			continue
		}
		scope := p.Types.Scope()
		for _, name := range scope.Names() {
			tn, ok := scope.Lookup(name).(*types.TypeName)
			if !ok {
				continue
			}
			if it, ok := tn.Type().Underlying().(*types.Interface); ok {
				for m := range it.Methods() {
					out[m.Name()] = append(out[m.Name()], m)
				}
			}
		}
	}
	return out
}

// checkLibraryCallbacks fails if a method of ours that the walk did not
// reach could be called by a library through one of its interfaces (a
// method with the name and signature of a library interface's method),
// and could reach an SDK operation. With the library's body dropped, the
// analysis cannot tell whether the library calls it.
func checkLibraryCallbacks(t *testing.T, pkg string, cg *callgraph.Graph, reached map[*callgraph.Node]bool, foreign map[string][]*types.Func) {
	t.Helper()
	// reachesSDK: the nodes of our code from which an SDK operation is
	// called, as sdkCalls counts calls.
	callers := map[*callgraph.Node][]*callgraph.Node{}
	var queue []*callgraph.Node
	for _, n := range slices.Collect(maps.Values(cg.Nodes)) {
		if _, ok := sdkOperation(n.Func); ok {
			queue = append(queue, n)
		}
		for _, m := range calledBy(cg, n) {
			callers[m] = append(callers[m], n)
		}
	}
	reachesSDK := map[*callgraph.Node]bool{}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, c := range callers[n] {
			if !reachesSDK[c] && (ours(c.Func) || c.Func.Synthetic != "" || sdkHelper(c.Func)) {
				reachesSDK[c] = true
				queue = append(queue, c)
			}
		}
	}
	for n := range reachesSDK {
		fn := n.Func
		recv := fn.Signature.Recv()
		if reached[n] || recv == nil || fn.Synthetic != "" || !ours(fn) {
			continue
		}
		sig := types.NewSignatureType(nil, nil, nil, fn.Signature.Params(), fn.Signature.Results(), fn.Signature.Variadic())
		var through []string
		for _, m := range foreign[fn.Name()] {
			ms := m.Type().(*types.Signature)
			if types.Identical(sig, types.NewSignatureType(nil, nil, nil, ms.Params(), ms.Results(), ms.Variadic())) {
				through = append(through, m.FullName())
			}
		}
		if len(through) > 0 {
			slices.Sort(through)
			through = slices.Compact(through)
			t.Errorf("%s: %s reaches the SDK, and a library may call it through %s (%d interfaces). "+
				"This test drops library bodies, so it cannot tell: keep the callers' bodies (dropBodies)",
				shortName(pkg), fn, through[0], len(through))
		}
	}
}

// sdkHelper reports whether fn is a method of an SDK service's paginator
// or waiter. Such a method calls an operation of the client its caller gave
// it: dynamodb.NewQueryPaginator(client, in).NextPage calls client.Query.
func sdkHelper(fn *ssa.Function) bool {
	named := recvNamed(fn)
	if named == nil || !isService(named.Obj().Pkg()) {
		return false
	}
	name := named.Obj().Name()
	return strings.HasSuffix(name, "Paginator") || strings.HasSuffix(name, "Waiter")
}

// sdkOperation reports whether fn is an operation of an SDK service's
// client, (*<service>.Client).<Op>(ctx, *<Op>Input, ...), and returns
// "<service>.<Op>".
func sdkOperation(fn *ssa.Function) (string, bool) {
	named := recvNamed(fn)
	if named == nil || fn.Synthetic != "" || named.Obj().Name() != "Client" || !isService(named.Obj().Pkg()) {
		return "", false
	}
	if _, ptr := fn.Signature.Recv().Type().(*types.Pointer); !ptr || fn.Signature.Params().Len() < 2 {
		return "", false
	}
	in, ok := fn.Signature.Params().At(1).Type().(*types.Pointer)
	if !ok {
		return "", false
	}
	if n, ok := in.Elem().(*types.Named); !ok || n.Obj().Name() != fn.Name()+"Input" {
		return "", false
	}
	return named.Obj().Pkg().Name() + "." + fn.Name(), true
}

func recvNamed(fn *ssa.Function) *types.Named {
	recv := fn.Signature.Recv()
	if recv == nil {
		return nil
	}
	t := recv.Type()
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	named, _ := t.(*types.Named)
	return named
}

// isService reports whether p is an SDK service package
// (github.com/aws/aws-sdk-go-v2/service/sqs, not .../service/internal/...).
func isService(p *types.Package) bool {
	if p == nil {
		return false
	}
	rest, ok := strings.CutPrefix(p.Path(), "github.com/aws/aws-sdk-go-v2/service/")
	return ok && rest != "internal" && !strings.Contains(rest, "/")
}

// shortName is the last element of a package path: "planner".
func shortName(pkg string) string {
	return pkg[strings.LastIndex(pkg, "/")+1:]
}
