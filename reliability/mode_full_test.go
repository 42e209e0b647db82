//go:build reliability

package reliability_test

// The full version (make reliability): every case, at size, and it writes
// docs/reliability.md.
const (
	full = true
	mode = "full"
)

var size = sizes{
	targets: 200, standinTargets: 60, load: 10_000, queueLoad: 100_000, kills: 6,
}
