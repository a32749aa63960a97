/**
 * The dashboard in real Chromium against the real gateway (no double): the
 * seed use cases' pools of simulated vLLM pods behind a gateway whose admin
 * port has a token. Sign in, see the pools and their pods as the embedded
 * agent scrapes them, send traffic and watch the totals and the pods' numbers
 * move without a reload, open a decision's explanation (the gateway explains
 * a sample of decisions while a page is open), and take a screenshot — to
 * docs/dashboard-gateway.png with INFERGATE_DASHBOARD_SCREENSHOT=1 (the README shows it).
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chat, postJson, startDemoCluster, type DemoCluster } from './harness.ts';

const CHROMIUM = process.env.INFERGATE_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const TOKEN = 'gateway-dashboard-token';
const ROOT = new URL('../', import.meta.url).pathname;

if (!HAVE_CHROMIUM) console.warn(`dashboard gateway test skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium, as .ci/run does, or set INFERGATE_CHROMIUM)`);

describe.skipIf(!HAVE_CHROMIUM)('the dashboard of a running gateway, in Chromium', () => {
  let cluster: DemoCluster;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  let traffic: Promise<void> | undefined;
  let stopTraffic = false;

  /** Requests in the background, a few at a time, until stopped. */
  const flow = async () => {
    const models = ['chatbot', 'english-bot', 'spanish-bot', 'recommender'];
    let i = 0;
    while (!stopTraffic) {
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          const model = models[i++ % models.length]!;
          const res = await postJson(`${cluster.gateway.url}/v1/chat/completions`, chat(model, `Tell me something about request ${i}. `.repeat(4), { max_tokens: 16, stream: i % 2 === 0 }));
          await res.text();
        }),
      );
    }
  };

  beforeAll(async () => {
    cluster = await startDemoCluster({ timeScale: 0.02, gateway: { adminPort: 0, token: TOKEN, log: () => {} } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, timezoneId: 'UTC', locale: 'en-GB' });
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => msg.type() === 'error' && !msg.text().includes('401') && problems.push(`console: ${msg.text()}`));
  }, 30_000);

  afterAll(async () => {
    stopTraffic = true;
    await traffic;
    await browser?.close();
    await cluster?.close();
  });

  it('signs in with the admin token and shows every pool with a row per simulated pod', async () => {
    await page.goto(`${cluster.gateway.adminUrl}/dashboard/`);
    await page.getByLabel('Admin token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    for (const [pool, ids] of Object.entries(cluster.endpointIds)) {
      const card = page.getByRole('article', { name: pool });
      await expect.poll(() => card.locator('tbody tr').count()).toBe(ids.length);
      for (const id of ids) expect(await card.locator(`tr[data-pod="${id}"] [data-col=state]`).textContent()).toBe('ready');
    }
    expect(await page.locator('#routing-version').textContent()).toBe('version 1');
    expect(await page.locator('#routing tr[data-object="Model/chatbot"]').count()).toBe(1);
  });

  it('moves as traffic flows: totals, the chart’s last second, a pod’s numbers', async () => {
    const total = async () => {
      const text = (await page.locator('#total-requests').textContent()) ?? '';
      return text.endsWith('k') ? Number.parseFloat(text) * 1000 : Number(text);
    };
    const before = await total();
    traffic = flow();
    await expect.poll(total, { timeout: 10_000 }).toBeGreaterThan(before + 8);
    await expect.poll(() => page.locator('#chart-rate .latest').textContent(), { timeout: 10_000 }).toMatch(/requests [1-9]\d*\/s/);
    // Some pod shows requests running or in flight while the traffic runs.
    const busy = async () => (await page.locator('[data-col=running] .value').allTextContents()).some((t) => !t.startsWith('0') || t.includes('in flight'));
    await expect.poll(busy, { timeout: 10_000 }).toBe(true);
  });

  it('opens the explanation of a decision made while the page was open', async () => {
    const explained = page.locator('#decisions tbody tr').filter({ hasNot: page.locator('.muted') }).locator('button').first();
    await explained.waitFor({ timeout: 20_000 });
    await explained.click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await dialog.locator('table.candidates thead th').first().textContent()).toBe('Endpoint');
    expect(await dialog.locator('tr.picked').count()).toBe(1);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
  });

  it('takes a screenshot of the whole page, and the client never got a decision header it did not ask for', async () => {
    const res = await postJson(`${cluster.gateway.url}/v1/chat/completions`, chat('chatbot'));
    expect(res.headers.get('x-infergate-decision')).toBeNull();
    const file = join(await mkdtemp(join(tmpdir(), 'infergate-dashboard-')), 'dashboard.png');
    // The first screenful (pools, charts, the newest decisions): what the README shows.
    await page.evaluate(() => window.scrollTo(0, 0));
    const png = await page.screenshot({ path: file });
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    if (process.env.INFERGATE_DASHBOARD_SCREENSHOT === '1') await copyFile(file, join(ROOT, 'docs/dashboard-gateway.png'));
    expect(problems).toEqual([]);
  });
});
