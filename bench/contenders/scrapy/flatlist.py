"""The Scrapy contender of the side-by-side benchmark (bench/suite).

Scrapy as its documentation shows it: one spider, the URLs as start
requests, CSS selectors for the title, the h1 and the links, and the items
written by Scrapy's own feed export as JSON lines. Its concurrency settings
are the benchmark's (-concurrency requests at once, all to the fixture's one
host); everything else is Scrapy's default, but logging is cut to errors and
the telnet console is off.

Same command line as the Go contenders:
    python3 flatlist.py -urls FILE -concurrency N -out FILE [-latency D]
Prints a JSON summary as its last line of output.
"""

import argparse
import json
import resource
import sys
import time

import scrapy
from scrapy.crawler import CrawlerProcess


def peak_rss_kib():
    # VmHWM: the peak resident set since exec (ru_maxrss would include the
    # parent's, inherited through vfork+exec).
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class FlatList(scrapy.Spider):
    name = "flatlist"
    errors = 0
    first_error = ""

    def __init__(self, urls=None, **kwargs):
        super().__init__(**kwargs)
        self.urls = urls or []

    def start_requests(self):
        for u in self.urls:
            yield scrapy.Request(u, callback=self.parse, errback=self.failed)

    def parse(self, response):
        yield {
            "url": response.url,
            "title": response.css("title::text").get(default=""),
            "h1": response.css("h1::text").get(default=""),
            "links": len(response.css("a[href]")),
        }

    def failed(self, failure):
        FlatList.errors += 1
        if not FlatList.first_error:
            FlatList.first_error = repr(failure.value)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("-urls", required=True)
    p.add_argument("-concurrency", type=int, default=16)
    p.add_argument("-out", default="")
    p.add_argument("-latency", default="")
    a = p.parse_args()
    with open(a.urls) as f:
        urls = [l.strip() for l in f if l.strip()]
    settings = {
        "CONCURRENT_REQUESTS": a.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": a.concurrency,
        "LOG_LEVEL": "ERROR",
        "TELNETCONSOLE_ENABLED": False,
        "ROBOTSTXT_OBEY": False,
    }
    if a.out:
        settings["FEEDS"] = {a.out: {"format": "jsonlines", "encoding": "utf8", "overwrite": True}}
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(FlatList)
    cpu0, t0 = cpu_seconds(), time.monotonic()
    process.crawl(crawler, urls=urls)
    process.start()
    seconds, cpu = time.monotonic() - t0, cpu_seconds() - cpu0
    stats = crawler.stats.get_stats()
    pages = stats.get("item_scraped_count", 0)
    summary = {"pages": pages, "errors": FlatList.errors, "seconds": seconds, "cpu_seconds": cpu, "peak_rss_kib": peak_rss_kib()}
    if FlatList.first_error:
        summary["first_error"] = FlatList.first_error
    sys.stdout.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main()
