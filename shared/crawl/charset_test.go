package crawl

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/cronless/cronless/shared/job"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/unicode"
)

func encode(t *testing.T, e encoding.Encoding, s string) []byte {
	t.Helper()
	b, err := e.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatalf("encode %q: %v", s, err)
	}
	return b
}

// TestCharsets: pages in legacy encodings, declared in the header or in a
// meta tag (which colly v2.3.0 never reads), give UTF-8 fields; the body
// hash is over the UTF-8 text.
func TestCharsets(t *testing.T) {
	page := func(meta, title, h1, price string) string {
		return "<!DOCTYPE html><html><head>" + meta + "<title>" + title + "</title></head><body><h1>" + h1 +
			"</h1><p class=\"price\">" + price + "</p></body></html>"
	}
	ko := page("", "안녕하세요 세계", "한국어 제목", "가격: 12,000원")
	koMeta := page(`<meta charset="euc-kr">`, "안녕하세요 세계", "한국어 제목", "가격: 12,000원")
	koEquiv := page(`<meta http-equiv="Content-Type" content="text/html; charset=EUC-KR">`, "안녕하세요 세계", "한국어 제목", "가격: 12,000원")
	ja := page(`<meta charset="Shift_JIS">`, "日本語のページ", "見出し", "価格: ￥1,200")
	cp := page("", "Café – crème", "Ünïcödé", "Price: 12 €")
	cpMeta := page(`<meta charset="windows-1252">`, "Café – crème", "Ünïcödé", "Price: 12 €")
	// UTF-8 that says nothing and has only ASCII in its first 1024 bytes:
	// guessing from those bytes alone (as charset.DetermineEncoding does)
	// would read it as windows-1252.
	late := page("<!-- "+strings.Repeat("padding ", 150)+"-->", "late", "Ünïcödé", "12 €")
	wantKo := map[string]any{"title": "안녕하세요 세계", "h1": "한국어 제목", "price": "가격: 12,000원"}
	wantCp := map[string]any{"title": "Café – crème", "h1": "Ünïcödé", "price": "Price: 12 €"}

	tests := []struct {
		name        string
		contentType string
		body        []byte
		utf8        string // the page in UTF-8: the body hash is over it
		want        map[string]any
	}{
		{"EUC-KR header", "text/html; charset=euc-kr", encode(t, korean.EUCKR, ko), ko, wantKo},
		{"EUC-KR meta charset", "text/html", encode(t, korean.EUCKR, koMeta), koMeta, wantKo},
		{"EUC-KR meta http-equiv", "text/html", encode(t, korean.EUCKR, koEquiv), koEquiv, wantKo},
		{"EUC-KR meta, unknown header label", "text/html; charset=x-no-such-thing", encode(t, korean.EUCKR, koMeta), koMeta, wantKo},
		{"Shift_JIS meta", "text/html", encode(t, japanese.ShiftJIS, ja), ja,
			map[string]any{"title": "日本語のページ", "h1": "見出し", "price": "価格: ￥1,200"}},
		{"windows-1252 header", "text/html; charset=windows-1252", encode(t, charmap.Windows1252, cp), cp, wantCp},
		{"latin1 label is windows-1252", "text/html; charset=ISO-8859-1", encode(t, charmap.Windows1252, cp), cp, wantCp},
		{"windows-1252 meta", "text/html", encode(t, charmap.Windows1252, cpMeta), cpMeta, wantCp},
		{"undeclared, not UTF-8", "text/html", encode(t, charmap.Windows1252, cp), cp, wantCp},
		{"undeclared UTF-8", "text/html", []byte(late), late, map[string]any{"title": "late", "h1": "Ünïcödé", "price": "12 €"}},
		{"header beats meta", "text/html; charset=utf-8", []byte(koMeta), koMeta, wantKo},
		{"UTF-8 BOM", "text/html", append([]byte("\xef\xbb\xbf"), ko...), ko, wantKo},
		{"UTF-16 BOM beats header", "text/html; charset=iso-8859-1", encode(t, unicode.UTF16(unicode.LittleEndian, unicode.UseBOM), ko), ko, wantKo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				_, _ = w.Write(tt.body)
			}))
			j := testJob(srv.URL, map[string]job.Rule{"h1": {CSS: "h1"}, "price": {CSS: ".price"}})
			page, err := fetch(t, newFetcher(t, Options{}), j)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(page.Fields, tt.want) {
				t.Errorf("fields = %q\nwant %q", page.Fields, tt.want)
			}
			if page.BodyHash != hashBytes([]byte(tt.utf8)) {
				t.Errorf("the body hash is not over the UTF-8 text")
			}
			if page.Bytes != int64(len(tt.body)) {
				t.Errorf("Bytes = %d, want %d (as received)", page.Bytes, len(tt.body))
			}
		})
	}
}

func TestCharsetParam(t *testing.T) {
	for in, want := range map[string]string{
		"text/html; charset=utf-8":           "utf-8",
		"text/html;charset=EUC-KR":           "EUC-KR",
		`text/html; charset="Shift_JIS"`:     "Shift_JIS",
		"text/html; q=1; Charset = latin1":   "",
		"text/html; q=1; CHARSET=latin1 ":    "latin1",
		"text/html":                          "",
		"":                                   "",
		"text/html; charset=":                "",
		"text/html; foo=bar; charset=koi8-r": "koi8-r",
	} {
		if got := charsetParam(in); got != want {
			t.Errorf("charsetParam(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCharsetText(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=euc-kr")
		_, _ = w.Write(encode(t, korean.EUCKR, "안녕하세요"))
	}))
	page, err := fetch(t, newFetcher(t, Options{}), testJob(srv.URL, nil))
	if err != nil {
		t.Fatal(err)
	}
	if page.BodyHash != hashBytes([]byte("안녕하세요")) {
		t.Errorf("the body hash of a text page is not over its UTF-8 text")
	}
}

// TestToUTF8Cheap: a page that is UTF-8 (declared or not) is returned as
// is, not copied.
func TestToUTF8Cheap(t *testing.T) {
	body := []byte("<html><head><meta charset=utf-8><title>Ünïcödé</title></head></html>")
	for _, ct := range []string{"text/html; charset=utf-8", "text/html; charset=UTF8", "text/html", ""} {
		out := toUTF8(body, ct, true)
		if &out[0] != &body[0] || len(out) != len(body) {
			t.Errorf("%q: the body was copied", ct)
		}
	}
	allocs := testing.AllocsPerRun(100, func() { toUTF8(body, "text/html; charset=utf-8", true) })
	if allocs != 0 {
		t.Errorf("%v allocations to keep a UTF-8 page as it is", allocs)
	}
}
