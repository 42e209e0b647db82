package storetest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/cronless/cronless/shared/job"
)

// vocabulary is the words ProductPage writes its prose with: common English
// words, so that the fields compress about as well as a real page's text
// (gzip takes 1,700 bytes of it to some 45%, as it does the prose of a
// product page), unlike a repeated sentence.
var vocabulary = strings.Fields(`the a of and to in is for with on this that it
as are by from at or be your our you can all new more one will has was have an
not use made two its also other each any only most very such when which their
product quality design material cotton steel wood leather glass colour size
weight width height length inch cm kg light dark black white blue green red
grey natural soft strong durable comfortable easy clean wash hand machine dry
care warranty year month delivery free return order stock available ships days
price offer sale discount set pack piece pair box includes extra spare battery
charger cable power watt volt speed mode setting display screen touch button
handle lid base stand wall mount floor table chair sofa bed lamp shelf cabinet
drawer door kitchen bathroom garden outdoor indoor room home office travel
kids adult men women everyday premium classic modern compact portable
adjustable foldable waterproof recycled organic handmade imported local brand
model series edition version feature function works fits suits keeps holds
gives makes helps lets brings comes looks feels lasts rated tested certified`)

// ProductPage is a realistic ok result of a product page in the i-th tick of
// schedule "hourly": some 1,700 bytes of fields (a title, a price, prose,
// image links, breadcrumbs) whose content is version's: the same version is
// the same content, hash and validators (an unchanged page), another
// version other prose. Benchmarks and the DynamoDB meter measure with it.
func ProductPage(target string, i, version int) job.Result {
	r := okResult(target, i, fmt.Sprintf("sha256:%064d", version))
	rng := rand.New(rand.NewPCG(uint64(version), 7))
	var desc strings.Builder
	for desc.Len() < 1200 {
		if desc.Len() > 0 {
			desc.WriteByte(' ')
		}
		desc.WriteString(vocabulary[rng.IntN(len(vocabulary))])
	}
	r.Fields = map[string]any{
		"title":       fmt.Sprintf("Product %s, version %04d", target, version),
		"price":       fmt.Sprintf("%d.99 EUR", 100+version%100),
		"in_stock":    true,
		"description": desc.String() + ".",
		"images":      []any{"https://example.com/img/" + target + "/1.jpg", "https://example.com/img/" + target + "/2.jpg"},
		"breadcrumbs": []any{"Home", "Shop", "Category " + target},
	}
	r.ETag = fmt.Sprintf(`"%016d"`, version)
	r.LastModified = "Sat, 01 Mar 2025 10:00:00 GMT"
	r.BodyHash = fmt.Sprintf("sha256:%064d", version+1)
	r.RulesHash = "sha256:" + strings.Repeat("r", 64)
	r.FetchedAt = tick(i).Add(1500 * time.Millisecond)
	return r
}

// Tick is the scheduled time of the i-th hourly tick of ProductPage, and
// RunID its run ID.
func Tick(i int) time.Time { return tick(i) }

// RunID is the run ID of the i-th hourly tick of ProductPage.
func RunID(i int) string { return runID(i) }
