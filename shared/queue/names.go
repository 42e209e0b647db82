package queue

import (
	"strings"
	"unicode/utf8"
)

// The checks below are byte loops rather than regular expressions: a
// bounded repetition such as {1,256} compiles into a large program at
// package init, which every Lambda cold start paid for.

// ValidEntryID reports whether id is a valid batch entry ID: 1 to 80
// letters, digits, hyphens or underscores.
func ValidEntryID(id string) bool {
	return len(id) >= 1 && len(id) <= 80 && onlyBytes(id, "_-")
}

// ValidQueueName reports whether name is a standard queue's name: 1 to
// 80 letters, digits, hyphens or underscores.
func ValidQueueName(name string) bool {
	return len(name) >= 1 && len(name) <= 80 && onlyBytes(name, "_-")
}

// ValidAttributeName reports whether k is a message attribute name SQS
// accepts: 1 to 256 letters, digits, underscores, hyphens and periods, not
// starting or ending with a period, without "..", and not starting with
// "AWS." or "Amazon." in any case.
func ValidAttributeName(k string) bool {
	if len(k) < 1 || len(k) > 256 || !onlyBytes(k, "_.-") {
		return false
	}
	lower := strings.ToLower(k)
	return !strings.HasPrefix(k, ".") && !strings.HasSuffix(k, ".") && !strings.Contains(k, "..") &&
		!strings.HasPrefix(lower, "aws.") && !strings.HasPrefix(lower, "amazon.")
}

// ValidText reports whether s holds only the characters SQS allows in a
// message body or attribute value: #x9, #xA, #xD, #x20 to #xD7FF, #xE000 to
// #xFFFD and #x10000 to #x10FFFF, as valid UTF-8.
func ValidText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r == 0x9 || r == 0xA || r == 0xD:
		case r >= 0x20 && r <= 0xD7FF:
		case r >= 0xE000 && r <= 0xFFFD:
		case r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
	}
	return true
}

// onlyBytes reports whether s has only ASCII letters, digits and the bytes in extra.
func onlyBytes(s, extra string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || strings.IndexByte(extra, c) >= 0 {
			continue
		}
		return false
	}
	return true
}
