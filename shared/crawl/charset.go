package crawl

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
)

// toUTF8 returns body in UTF-8, decoded from its declared or detected
// character encoding, in the order of the HTML standard: a byte order
// mark, the charset of the Content-Type header, then (for HTML) a
// <meta charset> or <meta http-equiv="Content-Type"> within the first 1024
// bytes; failing all three, UTF-8 when the body is valid UTF-8, else
// windows-1252 (the web's default for undeclared legacy pages).
//
// colly v2.3.0 only reads the header (its DetectCharset guesses
// statistically over the whole body instead, which is slow and often
// wrong on short pages), never the meta tags. The common case, a UTF-8
// page that says so in its header, costs a media-type parse and nothing
// else: the body is returned as is, not copied.
func toUTF8(body []byte, contentType string, isHTML bool) []byte {
	if len(body) == 0 {
		return body
	}
	switch {
	case bytes.HasPrefix(body, []byte("\xef\xbb\xbf")):
		return body[3:]
	case bytes.HasPrefix(body, []byte("\xfe\xff")):
		return decodeWith(body[2:], "utf-16be")
	case bytes.HasPrefix(body, []byte("\xff\xfe")):
		return decodeWith(body[2:], "utf-16le")
	}
	if label := charsetParam(contentType); label != "" {
		if strings.EqualFold(label, "utf-8") || strings.EqualFold(label, "utf8") {
			return body
		}
		if e, name := charset.Lookup(label); e != nil {
			if name == "utf-8" {
				return body
			}
			return decode(body, e)
		}
		// An unknown label: go on as if there were none.
	}
	if isHTML {
		head := body[:min(len(body), 1024)]
		if containsFoldASCII(head, "charset") {
			// The header had no (known) charset, so DetermineEncoding's
			// answer comes from the meta prescan or, failing that, from
			// its own guess on the first 1024 bytes, which is refined here
			// on the whole body.
			e, name, _ := charset.DetermineEncoding(head, "text/html")
			switch name {
			case "utf-8":
				return body
			case "windows-1252":
			default:
				return decode(body, e)
			}
		}
	}
	if utf8.Valid(body) {
		return body
	}
	return decode(body, charmap.Windows1252)
}

func decodeWith(body []byte, label string) []byte {
	e, _ := charset.Lookup(label)
	return decode(body, e)
}

// decode converts body from e to UTF-8; bytes that are not valid in e
// become U+FFFD.
func decode(body []byte, e encoding.Encoding) []byte {
	if e == nil || e == encoding.Nop {
		return body
	}
	out, err := e.NewDecoder().Bytes(body)
	if err != nil {
		return body
	}
	return out
}

// containsFoldASCII reports whether s contains the lower-case ASCII word
// sub, in any case.
func containsFoldASCII(s []byte, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for j < len(sub) && s[i+j]|0x20 == sub[j] {
			j++
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}

// charsetParam returns the charset parameter of a Content-Type value, or
// "". It does not allocate (mime.ParseMediaType builds a map).
func charsetParam(contentType string) string {
	_, params, ok := strings.Cut(contentType, ";")
	for ok {
		var p string
		p, params, ok = strings.Cut(params, ";")
		p = strings.TrimSpace(p)
		if len(p) > len("charset=") && strings.EqualFold(p[:len("charset=")], "charset=") {
			return strings.Trim(strings.TrimSpace(p[len("charset="):]), `"'`)
		}
	}
	return ""
}
