// Command nethtml is the hand-written bound of the side-by-side benchmark
// (bench/suite): the least a Go program can do for the same output. A pool
// of -concurrency goroutines shares one net/http client whose transport
// keeps a connection per goroutine alive; each streams a page's body
// through the x/net/html tokenizer (no tree is built) and takes the title's
// text, the first h1's text and the number of <a href> tags.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/cronless/cronless/bench/contend"
)

func main() { contend.Main("nethtml", run) }

func run(ctx context.Context, cfg contend.Config, w *contend.Writer, errs *contend.Errors, extra map[string]float64) error {
	var dials atomic.Int64
	d := &net.Dialer{KeepAlive: 30 * time.Second}
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				dials.Add(1)
				return d.DialContext(ctx, network, addr)
			},
			MaxIdleConns:        cfg.Concurrency,
			MaxIdleConnsPerHost: cfg.Concurrency,
			IdleConnTimeout:     90 * time.Second,
		},
	}
	defer client.CloseIdleConnections()
	next := make(chan string)
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Go(func() {
			for u := range next {
				rec, err := fetch(ctx, client, u)
				if err == nil {
					err = w.Write(rec)
				}
				if err != nil {
					errs.Add(err)
				}
			}
		})
	}
	for _, u := range cfg.URLs {
		select {
		case next <- u:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	extra["connections"] = float64(dials.Load())
	return ctx.Err()
}

func fetch(ctx context.Context, client *http.Client, u string) (contend.Record, error) {
	rec := contend.Record{URL: u}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return rec, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return rec, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return rec, fmt.Errorf("%s: HTTP %d", u, resp.StatusCode)
	}
	Extract(resp.Body, &rec)
	// Read what the tokenizer left, so the connection is reused.
	_, _ = io.Copy(io.Discard, resp.Body)
	return rec, nil
}

// Extract streams r through the tokenizer into rec's Title, H1 and Links.
func Extract(r io.Reader, rec *contend.Record) {
	z := html.NewTokenizer(r)
	var in atom.Atom // title or h1 while inside the first of each
	var title, h1 strings.Builder
	seenH1 := false
	for {
		switch z.Next() {
		case html.ErrorToken:
			rec.Title, rec.H1 = strings.TrimSpace(title.String()), strings.TrimSpace(h1.String())
			return
		case html.TextToken:
			if in == atom.Title {
				title.Write(z.Text())
			} else if in == atom.H1 {
				h1.Write(z.Text())
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			switch a := atom.Lookup(name); a {
			case atom.A:
				for hasAttr {
					var k []byte
					k, _, hasAttr = z.TagAttr()
					if string(k) == "href" {
						rec.Links++
						break
					}
				}
			case atom.Title:
				if title.Len() == 0 {
					in = a
				}
			case atom.H1:
				if !seenH1 {
					in, seenH1 = a, true
				}
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			if a := atom.Lookup(name); a == in {
				in = 0
			}
		}
	}
}
