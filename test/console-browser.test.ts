// The web console in a real browser (Debian's chromium driven by playwright-core) against a real daemon on a real
// etcd: sign-in, pool numbers against the API, the address map of a /24, an address's history, the time slider,
// live updates, and a hostile pod name shown as text. Screenshots go to test-output/console/ for a person to see.
import test from 'ava';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { consoleApiRoute, consoleAssetsRoute, CONSOLE_CSP } from '../src/console/route.js';
import { AT } from './helpers/alloc.js';
import { call, startDaemon, TOKEN, type DaemonFixture } from './helpers/daemon.js';
import { testTls } from './helpers/tls.js';
import { createHash, X509Certificate } from 'node:crypto';

const SHOTS = resolve(fileURLToPath(import.meta.url), '../../../test-output/console');
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const HOSTILE = '<img src=x onerror="window.__pwned=1">';

let f: DaemonFixture;
let browser: Browser;
let page: Page;
const violations: string[] = [];

const alloc = async (name: string, container: string, pool = 'web24') => {
  const r = await call(f, 'POST', '/v1/allocations', { body: { endpoint: { namespace: 'shop', name, containerID: container }, pools: { ipv4: [pool] } } });
  if (r.status !== 201) throw new Error(`allocate ${name}: ${r.status} ${r.text}`);
  return r.json<{ allocations: { address: string }[]; revision: number }>();
};
const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

test.before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  f = await startDaemon({ extra: { routes: [consoleApiRoute], publicRoutes: [consoleAssetsRoute()] } });
  const a = f.daemon.allocator;
  await a.definePool('web24', { ipVersion: 4, subnet: '10.72.0.0/24', ips: ['10.72.0.1-10.72.0.254'], excludeIPs: ['10.72.0.200-10.72.0.209'], gateway: '10.72.0.1', default: true }, { at: AT });
  await a.definePool('tiny', { ipVersion: 4, subnet: '10.73.0.0/29', ips: ['10.73.0.2-10.73.0.3'] }, { at: AT });
  await a.reserve('keep', 4, ['10.72.0.250-10.72.0.251'], { at: AT });
  // The daemon's TCP API is HTTPS with the test CA: Chromium accepts exactly that certificate (by its SPKI hash).
  const spki = createHash('sha256').update(new X509Certificate(testTls().cert).publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', `--ignore-certificate-errors-spki-list=${spki}`] });
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
  });
});

test.after.always(async () => {
  await browser?.close();
  await f?.close();
});

test.serial('the page is served with its content types and a strict CSP, without a token; its API needs one', async (t) => {
  const html = await call(f, 'GET', '/console/', { token: null });
  t.is(html.status, 200);
  t.is(html.headers['content-type'], 'text/html; charset=utf-8');
  t.is(html.headers['content-security-policy'], CONSOLE_CSP);
  t.is((await call(f, 'GET', '/console/app.js', { token: null })).headers['content-type'], 'text/javascript; charset=utf-8');
  t.is((await call(f, 'GET', '/console/api/overview', { token: null })).status, 401);
  t.is((await call(f, 'GET', '/console/api/overview')).status, 200);
});

test.serial('sign in: a wrong token is refused, the right one shows the pools, and the token is never in the URL', async (t) => {
  await page.goto(`https://127.0.0.1:${f.port}/console/`);
  await page.getByTestId('token').fill('wrong-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('That token was refused.').waitFor();
  await page.getByTestId('token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('pools').waitFor();
  t.false(page.url().includes(TOKEN));
  t.is(await page.evaluate('sessionStorage.getItem("ipam-es-token")'), TOKEN);
});

test.serial('pools page: the numbers are the API\'s; an exhausted pool is highlighted', async (t) => {
  for (let i = 0; i < 5; i++) await alloc(`web-${i}`, `c-web-${i}`);
  await alloc('tiny-0', 'c-tiny-0', 'tiny');
  await alloc('tiny-1', 'c-tiny-1', 'tiny');
  const row = page.locator('tr[data-pool="web24"]');
  await row.locator('[data-field="allocated"]', { hasText: /^5$/ }).waitFor();
  const kube = (await call(f, 'GET', '/apis/spiderpool.spidernet.io/v2beta1/spiderippools/web24')).json<{ status: { allocatedIPCount: number; totalIPCount: number } }>();
  t.is(await row.locator('[data-field="allocated"]').textContent(), String(kube.status.allocatedIPCount));
  t.is((await row.locator('[data-field="total"]').textContent())!.replace(/,/g, ''), String(kube.status.totalIPCount));
  const tiny = page.locator('tr[data-pool="tiny"]');
  t.regex((await tiny.getAttribute('class'))!, /state-exhausted/);
  t.is(await tiny.locator('.warn').textContent(), 'exhausted');
  await shot('pools');
});

test.serial('address map of a /24: cell counts and the holder of a known address on hover', async (t) => {
  const model = f.daemon.allocator.model;
  const known = [...model.byId.values()].find((a) => a.endpoint.name === 'web-3')!;
  await page.locator('tr[data-pool="web24"] a').click();
  const canvas = page.getByTestId('address-map');
  await canvas.waitFor();
  const count = (n: string) => page.locator(`[data-count="${n}"]`).textContent();
  t.is(await count('Allocated'), '5');
  t.is(await count('Reserved'), '2');
  t.is(await count('Excluded'), '10');
  t.is(await count('Infrastructure'), '1'); // the gateway (.0 and .255 are outside ips)
  const i = Number(known.address.split('.')[3]);
  const box = (await canvas.boundingBox())!;
  const columns = Number(await canvas.getAttribute('data-columns'));
  const cell = box.width / columns;
  await page.mouse.move(box.x + ((i % columns) + 0.5) * cell, box.y + (Math.floor(i / columns) + 0.5) * cell);
  const info = page.getByTestId('cell-info');
  await info.getByText(known.address, { exact: true }).waitFor();
  t.is(await info.getByTestId('holder-pod').textContent(), 'shop/web-3');
  await shot('pool-map');
});

test.serial('history of an address after allocate, release, allocate', async (t) => {
  // A pool of one address: the second pod must get the address the first one released.
  await f.daemon.allocator.definePool('solo', { ipVersion: 4, subnet: '10.74.0.0/29', ips: ['10.74.0.2'] }, { at: AT });
  const first = await alloc('hist-a', 'c-hist-a', 'solo');
  const ip = first.allocations[0]!.address;
  const rel = await call(f, 'POST', '/v1/releases', { body: { containerID: 'c-hist-a' } });
  t.is(rel.status, 200, rel.text);
  t.is((await alloc('hist-b', 'c-hist-b', 'solo')).allocations[0]!.address, ip);
  await page.goto(`https://127.0.0.1:${f.port}/console/#/history?ip=${ip}`);
  await page.getByTestId('holding').nth(1).waitFor();
  const rows = page.getByTestId('holdings').locator('tbody tr');
  t.is(await rows.count(), 2);
  t.regex((await rows.nth(0).textContent())!, /shop\/hist-a/);
  t.is(await rows.nth(0).locator('[data-field="reason"]').textContent(), 'cni-del');
  t.regex((await rows.nth(1).textContent())!, /shop\/hist-b.*held now/);
  await shot('history');
});

test.serial('the time slider shows the pool as it was at an earlier revision, and goes back to live', async (t) => {
  const earlier = await alloc('slider-a', 'c-slider-a');
  t.is((await call(f, 'POST', '/v1/releases', { body: { containerID: 'c-slider-a' } })).status, 200);
  await page.goto(`https://127.0.0.1:${f.port}/console/#/pool/web24`);
  await page.locator('[data-count="Allocated"]', { hasText: /^5$/ }).waitFor();
  await page.locator('[data-testid="map-revision"]', { hasText: `revision ${earlier.revision + 1}` }).waitFor();
  // A range input cannot be typed into: set it as a drag would, and fire the input event the page listens to.
  await page.getByTestId('time-slider').evaluate((el, v) => {
    (el as unknown as { value: string }).value = String(v);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }, earlier.revision);
  await page.locator('[data-testid="map-revision"]', { hasText: `revision ${earlier.revision}` }).waitFor();
  t.is(await page.locator('[data-count="Allocated"]').textContent(), '6');
  await shot('pool-map-earlier');
  await page.getByRole('button', { name: 'Back to live' }).click();
  await page.locator('[data-count="Allocated"]', { hasText: /^5$/ }).waitFor();
  t.pass();
});

test.serial('a live allocation appears without reloading', async (t) => {
  await page.goto(`https://127.0.0.1:${f.port}/console/#/pools`);
  const allocated = page.locator('tr[data-pool="web24"] [data-field="allocated"]');
  await allocated.getByText(/^5$/).waitFor();
  await page.waitForTimeout(300); // the watch is open
  await alloc('live-1', 'c-live-1');
  await allocated.getByText(/^6$/).waitFor({ timeout: 10_000 });
  t.pass();
});

test.serial('a hostile pod name is shown as text, never run', async (t) => {
  await alloc(HOSTILE, 'c-hostile');
  await page.goto(`https://127.0.0.1:${f.port}/console/#/endpoints`);
  await page.getByTestId('endpoint-search').fill('onerror');
  await page.getByTestId('endpoints').getByText(HOSTILE, { exact: true }).waitFor();
  t.is(await page.getByTestId('endpoints').locator('img').count(), 0);
  t.is(await page.evaluate('window.__pwned'), undefined);
  await shot('endpoints-hostile');
  t.deepEqual(violations, [], 'no Content-Security-Policy violations on any page');
});
