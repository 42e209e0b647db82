package main

import (
	"regexp"
	"strconv"
	"testing"
)

// The cost report of the README's two scenarios, as a table (with the EC2
// comparison), JSON and CSV. The prices are a table in code, so the output
// is deterministic; -update rewrites the files after a price change.
func TestCostGolden(t *testing.T) {
	scenarios := []struct {
		name string
		args []string
	}{
		{"cost_seed", []string{"--targets", "1", "--schedule", "rate(1 minute)", "--duration", "1s", "--compare-ec2", "t4g.small"}},
		{"cost_hourly_10000", []string{"--targets", "10000", "--schedule", "rate(1 hour)", "--duration", "1s"}},
	}
	for _, sc := range scenarios {
		for _, format := range []string{"table", "json", "csv"} {
			t.Run(sc.name+"/"+format, func(t *testing.T) {
				args := append([]string{"cost", "-o", format}, sc.args...)
				code, out, stderr := cli(t, args...)
				if code != exitOK {
					t.Fatalf("%v: exit %d, stderr %q", args, code, stderr)
				}
				if format == "json" {
					out = roundFloats(out)
				}
				checkGolden(t, sc.name+"."+format, out, *updateGolden)
			})
		}
	}
}

var longFloat = regexp.MustCompile(`-?[0-9]+\.[0-9]{10,}(e-?[0-9]+)?`)

// roundFloats rounds the numbers of a JSON text with ten or more decimals
// to 9 significant digits, so that the last bits of a float64 (which may
// differ with the platform's fused multiply-add) do not matter.
func roundFloats(s string) string {
	return longFloat.ReplaceAllStringFunc(s, func(n string) string {
		x, err := strconv.ParseFloat(n, 64)
		if err != nil {
			return n
		}
		return strconv.FormatFloat(x, 'g', 9, 64)
	})
}
