// Lighthouse on several pages in one Node process, against a Chromium the caller started
// (tests/share/test_audits.py): one process saves Lighthouse's import and config per page.
//
// node lighthouse_pages.mjs JOB.json, where JOB is {"lighthouse": "<its package dir>",
// "port": <DevTools port>, "out": "<folder for the reports>", "pages": [{"name", "url",
// "headers"}]}. Prints one JSON line per page: its name, the accessibility score, the
// cumulative layout shift, the accessibility audits that failed, Lighthouse's runtime error
// (if any) and the seconds the page took.
import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {pathToFileURL} from 'node:url';

const job = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const {default: lighthouse} = await import(
  pathToFileURL(join(job.lighthouse, 'core', 'index.js')).href);

for (const page of job.pages) {
  const started = Date.now();
  const result = await lighthouse(page.url, {
    port: job.port,
    hostname: '127.0.0.1',
    output: ['json', 'html'],
    logLevel: 'error',
    // the accessibility category and, of performance, only the layout shift: the other
    // performance audits cost seconds per page and say nothing the test checks
    onlyCategories: ['accessibility'],
    onlyAudits: ['cumulative-layout-shift'],
    formFactor: 'mobile',
    screenEmulation: {mobile: true, width: 390, height: 844, deviceScaleFactor: 1,
                      disabled: false},
    throttlingMethod: 'simulate',
    disableFullPageScreenshot: true,
    extraHeaders: page.headers || undefined,
  });
  const lhr = result.lhr;
  writeFileSync(join(job.out, `${page.name}.report.json`), result.report[0]);
  writeFileSync(join(job.out, `${page.name}.report.html`), result.report[1]);
  const a11y = lhr.categories.accessibility;
  const failed = a11y.auditRefs
    .map(ref => lhr.audits[ref.id])
    .filter(a => a.score !== null && a.score < 1)
    .map(a => ({id: a.id, items: ((a.details || {}).items || []).map(
      i => (i.node || {}).snippet || '').slice(0, 5)}));
  const cls = lhr.audits['cumulative-layout-shift'];
  console.log(JSON.stringify({
    name: page.name,
    accessibility: a11y.score,
    cls: cls.numericValue === undefined ? null : cls.numericValue,
    failed,
    error: lhr.runtimeError ? lhr.runtimeError.message : null,
    seconds: (Date.now() - started) / 1000,
  }));
}
