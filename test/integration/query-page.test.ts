import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedTenants, startQueryService } from '../helpers/query-service.js';
import { runId, testConfig } from '../helpers/stack.js';

// The page at / in a real headless Chromium, against a query service on the real lake.
const root = fileURLToPath(new URL('../../', import.meta.url));
const cfg = testConfig(runId(), { QUERY_HOST: '127.0.0.1', QUERY_HTTP_PORT: '0' });
let service: Awaited<ReturnType<typeof startQueryService>>;
let browser: Browser;
let page: Page;
// the callbacks below run in the page, where `document` is; the tests are not compiled with the DOM's types
declare const document: any;

beforeAll(async () => {
  const executablePath = execFileSync('bash', ['stack/stack.sh', 'install-browser'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 900_000 }).trim();
  await seedTenants(cfg, ['acme', 'beta']);
  service = await startQueryService(cfg);
  // --no-sandbox: the tests may run as root, where Chromium's sandbox refuses to start
  browser = await puppeteer.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  page = await browser.newPage();
}, 900_000);

afterAll(async () => {
  await browser?.close();
  await service?.service.stop();
});

/** Types `token`, picks the example `name` (or types `sql`), runs it and waits for rows or an error. */
async function run(token: string, query: { example: string } | { sql: string }): Promise<{ status: string; error: string; headers: string[]; cells: string[][] }> {
  await page.goto(service.url + '/', { waitUntil: 'networkidle0' });
  // the page keeps the last token for the tab: clear it before typing this one
  await page.$eval('#token', (el) => ((el as any).value = ''));
  await page.type('#token', token);
  if ('example' in query) {
    const value = await page.$$eval('#example option', (options, name) => options.find((o) => o.textContent!.startsWith(name + ':'))?.getAttribute('value') ?? null, query.example);
    expect(value, `example ${query.example} is offered`).not.toBeNull();
    await page.select('#example', value!);
  } else {
    await page.$eval('#sql', (el, sql) => ((el as any).value = sql), query.sql);
  }
  await page.click('#run');
  await page.waitForFunction(() => document.querySelector('#result table') !== null || document.querySelector('#error')!.textContent !== '', { timeout: 30_000 });
  return page.evaluate(() => ({
    status: document.querySelector('#status')!.textContent ?? '',
    error: document.querySelector('#error')!.textContent ?? '',
    headers: [...document.querySelectorAll('#result th')].map((th: any) => th.textContent ?? ''),
    cells: [...document.querySelectorAll('#result tr')].slice(1).map((tr: any) => [...tr.querySelectorAll('td')].map((td: any) => td.textContent ?? '')),
  }));
}

describe('the query page', () => {
  it('logs in with a token, runs an example, and shows that tenant\'s rows and none of another\'s', async () => {
    for (const [tenant, token, other] of [['acme', 'acme-token', 'beta'], ['beta', 'beta-token', 'acme']] as const) {
      const r = await run(token, { example: 'volume_per_tenant_per_day' });
      expect(r.error).toBe('');
      expect(r.headers).toEqual(['tenant_id', 'day', 'records']);
      expect(r.cells.length).toBeGreaterThan(0);
      for (const row of r.cells) expect(row[0]).toBe(tenant);
      expect(JSON.stringify(r.cells)).not.toContain(other);
      expect(r.status).toMatch(/^\d+ rows? in/);

      const rows = await run(token, { example: 'attribute_search' });
      expect(rows.cells.length).toBe(5);
      expect(JSON.stringify(rows.cells)).toContain(`${tenant}-secret-`);
      expect(JSON.stringify(rows.cells)).not.toContain(other);
    }
  });

  it('shows the API\'s error as it gave it: a wrong token, a refused query', async () => {
    const unauthorized = await run('wrong-token', { example: 'volume_per_tenant_per_day' });
    expect(unauthorized.error).toBe('401 UNAUTHORIZED: missing or unknown bearer token');
    expect(unauthorized.cells).toEqual([]);

    const refused = await run('acme-token', { sql: `SELECT * FROM lake.${cfg.ICEBERG_NAMESPACE}.logs` });
    expect(refused.error).toBe('400 QUERY_REFUSED: queries read only the view logs: Catalog "lake" does not exist!');
  });

  it('puts markup in the data on the page as text', async () => {
    const r = await run('acme-token', { sql: `SELECT '<img src=x onerror="document.title=1">' AS v` });
    expect(r.cells).toEqual([['<img src=x onerror="document.title=1">']]);
    expect(await page.$('#result img')).toBeNull();
  });
});
