package targets

import (
	"strings"
)

// definedList formats the defined schedule names for a message.
func definedList(names []string) string {
	if len(names) == 0 {
		return " (none are defined yet; add one under schedules:)"
	}
	return " (defined: " + strings.Join(names, ", ") + ")"
}

// suggestName turns a rejected schedule name into an allowed one, or "".
func suggestName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	s := strings.Trim(b.String(), "-_")
	if len(s) > 64 {
		s = s[:64]
	}
	if !validScheduleName(s) {
		return ""
	}
	return s
}

// suggest returns the option closest to word by edit distance, or "" when
// none is close enough to be a likely typo.
func suggest(word string, options []string) string {
	best, bestDist := "", -1
	for _, o := range options {
		d := editDistance(strings.ToLower(word), strings.ToLower(o))
		if bestDist < 0 || d < bestDist {
			best, bestDist = o, d
		}
	}
	limit := 2
	if n := len([]rune(word)); n > 8 {
		limit = n / 3
	}
	if bestDist < 0 || bestDist > limit || bestDist >= len([]rune(word)) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
