//go:build !reliability

package reliability_test

// The quick version runs inside `go test ./...`: small N, the essential
// cases. `go test -tags reliability ./reliability/` runs the full one.
const (
	full = false
	mode = "quick"
)

var size = sizes{
	targets: 12, standinTargets: 8, load: 100, queueLoad: 1000, kills: 2,
}
