// The Crawlee contender of the side-by-side benchmark (bench/suite).
//
// Crawlee as its documentation shows it for plain HTML: a CheerioCrawler
// (got-scraping for HTTP, cheerio for the DOM), the URLs as its start
// requests, selectors for the title, the h1 and the links. Its concurrency
// is pinned at -concurrency (minConcurrency = maxConcurrency, so the
// autoscaled pool neither ramps up slowly nor backs off on a busy 2-core
// machine), storage stays in memory, retries are off (the fixture never
// fails), and each page becomes one JSON line in the output file.
//
// Same command line as the Go contenders:
//   CRAWLEE_DIR=bench/peers node flatlist.mjs -urls FILE -concurrency N -out FILE
// Crawlee is loaded from $CRAWLEE_DIR/node_modules (make bench-peers).
// Prints a JSON summary as its last line of output.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^-+/, '')] = process.argv[i + 1];
const concurrency = Number(args.concurrency || 16);
const urls = fs.readFileSync(args.urls, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);

const require = createRequire(path.resolve(process.env.CRAWLEE_DIR || 'bench/peers') + '/');
const { CheerioCrawler, Configuration, log } = require('crawlee');
log.setLevel(log.LEVELS.ERROR);

const out = args.out ? fs.openSync(args.out, 'w') : null;
let lines = [];
let pages = 0;
let errors = 0;
let firstError = '';

const config = new Configuration({ persistStorage: false, purgeOnStart: true, systemInfoV2: true });
const crawler = new CheerioCrawler({
  minConcurrency: concurrency,
  maxConcurrency: concurrency,
  maxRequestRetries: 0,
  requestHandlerTimeoutSecs: 30,
  statusMessageLoggingInterval: 3600,
  async requestHandler({ request, $ }) {
    lines.push(JSON.stringify({
      url: request.url,
      title: $('title').first().text(),
      h1: $('h1').first().text(),
      links: $('a[href]').length,
    }));
    pages++;
    if (out && lines.length >= 256) {
      fs.writeSync(out, lines.join('\n') + '\n');
      lines = [];
    }
  },
  failedRequestHandler({ request }, error) {
    errors++;
    if (!firstError) firstError = `${request.url}: ${error.message}`;
  },
}, config);

const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
await crawler.run(urls);
if (out) {
  if (lines.length) fs.writeSync(out, lines.join('\n') + '\n');
  fs.closeSync(out);
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpu0);
// VmHWM: the peak resident set since exec (ru_maxrss would include the
// parent's, inherited through vfork+exec).
const hwm = /VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
const summary = { pages, errors, seconds, cpu_seconds: (cpu.user + cpu.system) / 1e6, peak_rss_kib: hwm ? Number(hwm[1]) : 0 };
if (firstError) summary.first_error = firstError;
process.stdout.write(JSON.stringify(summary) + '\n');
process.exit(0);
