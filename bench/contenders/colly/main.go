// Command colly is the bare colly v2.3.0 contender of the side-by-side
// benchmark (bench/suite): colly as its documentation shows it, with an
// asynchronous collector whose LimitRule allows -concurrency requests at
// once, its default transport, and one OnHTML callback that takes the
// title, the h1 and the number of links.
package main

import (
	"context"

	"github.com/cronless/cronless/bench/contend"
	"github.com/gocolly/colly/v2"
)

func main() { contend.Main("colly", run) }

func run(ctx context.Context, cfg contend.Config, w *contend.Writer, errs *contend.Errors, _ map[string]float64) error {
	c := colly.NewCollector(colly.Async(true), colly.StdlibContext(ctx))
	if err := c.Limit(&colly.LimitRule{DomainGlob: "*", Parallelism: cfg.Concurrency}); err != nil {
		return err
	}
	c.OnHTML("html", func(e *colly.HTMLElement) {
		rec := contend.Record{
			URL:   e.Request.URL.String(),
			Title: e.DOM.Find("title").First().Text(),
			H1:    e.DOM.Find("h1").First().Text(),
			Links: e.DOM.Find("a[href]").Length(),
		}
		if err := w.Write(rec); err != nil {
			errs.Add(err)
		}
	})
	c.OnError(func(_ *colly.Response, err error) { errs.Add(err) })
	for _, u := range cfg.URLs {
		if err := c.Visit(u); err != nil {
			errs.Add(err)
		}
	}
	c.Wait()
	return ctx.Err()
}
