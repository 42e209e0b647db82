package contend

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	urls := []string{"http://127.0.0.1:1/page/1", "http://127.0.0.1:1/page/65"}
	out := filepath.Join(dir, "out.jsonl")
	w, err := Create(out)
	if err != nil {
		t.Fatal(err)
	}
	_ = w.Write(Record{URL: urls[0], Title: "Fixture product 1 | Bench shop", H1: "Widget 1", Links: 21})
	// A cronless result message.
	_ = w.WriteLine([]byte(`{"url":"` + urls[1] + `","fields":{"title":"Fixture product 1 | Bench shop","h1":"Widget 1","links":[` +
		`"a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a"]}}`))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if good, err := Check(out, urls); err != nil || good != 2 {
		t.Fatalf("Check = %d, %v; want 2, nil", good, err)
	}
	if err := os.WriteFile(out, []byte(`{"url":"`+urls[0]+`","title":"x","h1":"Widget 1","links":21}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if good, err := Check(out, urls); err == nil || good != 0 {
		t.Fatalf("Check of a wrong title and a missing line = %d, %v; want 0 and an error", good, err)
	}
}
