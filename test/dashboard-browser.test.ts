/**
 * The dashboard in real Chromium (Debian's, driven by playwright-core): the
 * built page, served by the dashboard sub-app on a loopback server behind an
 * admin token, fed by a DashboardSourceDouble. Checks what an operator does:
 * sign in, see the pools and pods, watch a value change as the source pushes,
 * open a decision's explanation (mouse and keyboard). A screenshot goes to a
 * temp dir, and to docs/dashboard.png with INFERGATE_DASHBOARD_SCREENSHOT=1.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardApp } from '../src/dashboard/app.ts';
import { embeddedDashboardAssets } from '../src/dashboard/embedded-assets.ts';
import { DashboardSourceDouble, T0, sampleDecisions, samplePoint } from '../src/dashboard/testing.ts';
import { listen, type Listening } from '../src/runtime/node/index.ts';

const CHROMIUM = process.env.INFERGATE_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const TOKEN = 'dashboard-test-token';
const ROOT = new URL('../', import.meta.url).pathname;

if (!HAVE_CHROMIUM) console.warn(`dashboard browser test skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium, as .ci/run does, or set INFERGATE_CHROMIUM)`);

describe.skipIf(!HAVE_CHROMIUM)('the dashboard in Chromium', () => {
  const source = new DashboardSourceDouble();
  let server: Listening;
  let browser: Browser;
  let page: Page;
  let base: string;
  const problems: string[] = [];

  beforeAll(async () => {
    const admin = new Hono();
    admin.route('/dashboard', createDashboardApp({ source, assets: embeddedDashboardAssets, token: TOKEN, heartbeatMs: 1000 }));
    server = await listen(admin.fetch, 0, '127.0.0.1');
    base = `http://127.0.0.1:${server.port}/dashboard/`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, timezoneId: 'UTC', locale: 'en-GB' });
    // Any script error or failed validation on the page fails the test.
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => msg.type() === 'error' && !msg.text().includes('401') && problems.push(`console: ${msg.text()}`));
    page.on('response', (res) => res.status() >= 400 && res.status() !== 401 && problems.push(`${res.status()} for ${res.url()}`));
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('asks for the admin token and opens the dashboard with the right one', async () => {
    await page.goto(base);
    await page.getByLabel('Admin token').fill('wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('not this gateway’s admin token');
    expect(source.subscribers).toBe(0);
    await page.getByLabel('Admin token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    expect(page.url()).toBe(base);
    expect(source.subscribers).toBe(1);
  });

  it('shows every pool as a card with a row per pod, their bars, adapters, readiness and metric age', async () => {
    const gemma = page.getByRole('article', { name: 'gemma3' });
    await expect.poll(() => gemma.locator('tbody tr').count()).toBe(4);
    expect(await gemma.locator('.pool-summary').textContent()).toBe('3/4 pods ready · FailClose · default profile · saturation 0.31');
    const pod3 = gemma.locator('tr[data-pod="10.0.0.3:8000"]');
    expect(await pod3.locator('[data-col=queue] .value').textContent()).toBe('3');
    expect(await pod3.locator('[data-col=running] .value').textContent()).toBe('7 (+1 in flight)');
    expect(await pod3.locator('[data-col=kv] .value').textContent()).toBe('85%');
    const down = gemma.locator('tr[data-pod="10.0.0.4:8000"]');
    expect(await down.locator('[data-col=state]').textContent()).toBe('not ready · scrape failed');
    expect(await down.locator('[data-col=state]').getAttribute('title')).toBe('GET /metrics: connection refused');
    expect(await down.locator('[data-col=age]').textContent()).toBe('2.4 s (stale)');

    const lora = page.getByRole('article', { name: 'llama-lora' });
    expect(await lora.locator('tbody tr').count()).toBe(2);
    expect(await lora.locator('tr[data-pod="10.0.0.11:8000"] [data-col=adapters]').textContent()).toBe('english-botspanish-botfrench-bot (waiting) max 4');
    expect(await lora.locator('tr[data-pod="10.0.0.12:8000"] [data-col=state]').textContent()).toBe('draining');

    expect(await page.locator('#total-requests').textContent()).toBe('12.3k');
    expect(await page.locator('#routing-version').textContent()).toBe('version 3');
    const superseded = page.locator('#routing tr[data-object="Model/chatbot"] .condition');
    expect(await superseded.getAttribute('title')).toBe('an older InferenceModel claims this modelName');
    expect(await page.locator('#chart-ttft .latest').textContent()).toMatch(/^Last second: p50 \d+ ms, p90 \d+ ms, p99 \d+ ms$/);
    expect(await page.locator('#charts canvas').count()).toBe(3);
  });

  it('changes values live as the source pushes, without reloading', async () => {
    await page.evaluate(() => Object.assign(window, { sameDocument: true }));
    const queue = page.locator('tr[data-pod="10.0.0.1:8000"] [data-col=queue] .value');
    expect(await queue.textContent()).toBe('1');
    source.setPod('gemma3', '10.0.0.1:8000', { waiting: 7, kvUsage: 0.5 });
    await expect.poll(() => queue.textContent()).toBe('7');
    expect(await page.locator('tr[data-pod="10.0.0.1:8000"] meter').first().evaluate((m: HTMLMeterElement) => [m.value, m.max])).toEqual([7, 7]);

    source.push({ type: 'point', point: { ...samplePoint(61, 57), t: T0 + 1000 }, totals: { requests: 12_402, errors: 17, shed: 41, queued: 9 } });
    await expect.poll(() => page.locator('#chart-rate .latest').textContent()).toContain('requests 57/s');
    expect(await page.locator('#total-shed').textContent()).toBe('41');

    source.push({ type: 'decisions', decisions: [{ ...sampleDecisions()[2]!, seq: 44, at: T0 + 1500, model: 'spanish-bot', pool: 'llama-lora', endpoint: '10.0.0.11:8000' }] });
    await expect.poll(() => page.locator('#decisions tbody tr').first().getAttribute('data-seq')).toBe('44');
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
  });

  it('opens a decision’s explanation when its row is clicked: each candidate’s score per plugin, the picked one marked', async () => {
    await page.locator('#decisions tr[data-seq="41"] td').nth(1).click();
    const dialog = page.getByRole('dialog', { name: /Decision #41: chatbot → 10\.0\.0\.2:8000/ });
    await dialog.waitFor();
    const headers = await dialog.locator('table.candidates thead th').allTextContents();
    expect(headers).toEqual(['Endpoint', 'queue ×2', 'kv-cache ×2', 'prefix-cache ×3', 'Total', 'Metrics age']);
    const picked = dialog.locator('tr.picked');
    expect(await picked.locator('th').textContent()).toBe('10.0.0.2:8000 picked');
    expect(await picked.locator('td').allTextContents()).toEqual(['1.000', '0.950', '0.667', '5.900', '21 ms']);
    expect(await dialog.locator('table.filtered tbody tr').textContent()).toBe('10.0.0.4:8000fresh-metricsmetrics 2400 ms old');
    await page.screenshot({ path: join(await mkdtemp(join(tmpdir(), 'infergate-dashboard-')), 'explanation.png') });
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
  });

  it('opens a shed decision’s explanation from the keyboard', async () => {
    const button = page.locator('#decisions tr[data-seq="42"] button');
    await button.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await dialog.locator('dl.facts').textContent()).toContain('Shedpool "llama-lora" is saturated');
    await page.getByRole('button', { name: 'Close the explanation' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await page.evaluate(() => document.activeElement?.closest('tr')?.dataset.seq)).toBe('42');
  });

  it('saves a screenshot of the whole page', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'infergate-dashboard-'));
    const file = join(dir, 'dashboard.png');
    const png = await page.screenshot({ path: file, fullPage: true });
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.byteLength).toBeGreaterThan(20_000);
    if (process.env.INFERGATE_DASHBOARD_SCREENSHOT === '1') await copyFile(file, join(ROOT, 'docs/dashboard.png'));
  });

  it('signs in from a ?token= link in a fresh browser context, and stops listening when the page closes', async () => {
    const context = await browser.newContext();
    const other = await context.newPage();
    await other.goto(`${base}?token=${TOKEN}`);
    await other.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    expect(other.url()).toBe(base);
    expect(source.subscribers).toBe(2);
    await context.close();
    await page.close();
    await expect.poll(() => source.subscribers).toBe(0);
    expect(problems).toEqual([]);
  });
});
