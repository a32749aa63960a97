import { Hono } from 'hono';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { createDashboardApp, type DashboardOptions } from './app.ts';
import type { DashboardAssets } from './assets.ts';
import { SESSION_SECONDS } from './auth.ts';
import { FeedEvent } from './feed.ts';
import { DashboardRecorder } from './recorder.ts';
import { MAX_BACKLOG, feedStream } from './sse.ts';
import { DashboardSourceDouble, samplePoint } from './testing.ts';

/** Stand-in page files: these tests are about the app, the browser test serves the built ones. */
const assets: DashboardAssets = {
  get: (name) => (name === 'index.html' ? { contentType: 'text/html; charset=utf-8', body: '<!doctype html><title>infergate dashboard</title>', etag: '"page"' } : name === 'dashboard.js' ? { contentType: 'text/javascript; charset=utf-8', body: 'export {}', etag: '"js"' } : undefined),
};

function mounted(options: Partial<DashboardOptions> = {}) {
  const source = new DashboardSourceDouble();
  const admin = new Hono();
  admin.route('/dashboard', createDashboardApp({ source, assets, heartbeatMs: 60_000, ...options }));
  return { admin, source };
}

/** Reads an SSE body, keeping what it has read so far. */
class FrameReader {
  raw = '';
  events: FeedEvent[] = [];
  readonly #decoder = new TextDecoder();
  constructor(readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  /** Read until `count` events (not comments) have arrived in all; parse each against the feed's schema. */
  async until(count: number): Promise<FeedEvent[]> {
    while (this.events.length < count) {
      const { done, value } = await this.reader.read();
      if (done) break;
      this.raw += this.#decoder.decode(value, { stream: true });
      const complete = this.raw.slice(0, this.raw.lastIndexOf('\n\n') + 2);
      this.events = complete
        .split('\n\n')
        .map((block) => block.split('\n').find((l) => l.startsWith('data: ')))
        .filter((data) => data !== undefined)
        .map((data) => v.parse(FeedEvent, JSON.parse(data.slice(6))));
    }
    return this.events;
  }
}

describe('dashboard app without a token', () => {
  it('redirects /dashboard to /dashboard/ (relative asset URLs need the slash) and serves the page with a strict CSP', async () => {
    const { admin } = mounted();
    const bare = await admin.request('/dashboard?x=1');
    expect(bare.status).toBe(301);
    expect(bare.headers.get('location')).toBe('/dashboard/?x=1');
    const page = await admin.request('/dashboard/');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('infergate dashboard');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
  });

  it('serves assets with an ETag and answers If-None-Match with 304; unknown paths are JSON 404s', async () => {
    const { admin } = mounted();
    const js = await admin.request('/dashboard/dashboard.js');
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect((await admin.request('/dashboard/dashboard.js', { headers: { 'if-none-match': js.headers.get('etag')! } })).status).toBe(304);
    const missing = await admin.request('/dashboard/uplot.min.css');
    expect(missing.status).toBe(500);
    expect((await missing.json()).error.message).toContain('npm run build:dashboard');
    const nothing = await admin.request('/dashboard/nope/');
    expect(nothing.status).toBe(404);
    expect((await nothing.json()).error.code).toBe('not_found');
  });

  it('streams the state, then each pushed update, and unsubscribes when the client goes away', async () => {
    const { admin, source } = mounted();
    const res = await admin.request('/dashboard/events');
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const frames = new FrameReader(res.body!.getReader());
    expect((await frames.until(1))[0]!.type).toBe('state');
    expect(frames.raw.startsWith('retry: 2000\n\n')).toBe(true);
    expect(source.subscribers).toBe(1);
    source.setPod('gemma3', '10.0.0.1:8000', { waiting: 9 });
    const pools = (await frames.until(2))[1]!;
    expect(pools.type === 'pools' && pools.pools[0]!.pods[0]!.waiting).toBe(9);
    expect(frames.raw).toMatch(/\nevent: pools\ndata: \{.*\}\n\n$/);
    await frames.reader.cancel();
    expect(source.subscribers).toBe(0);
  });
});

describe('dashboard app behind the admin token', () => {
  const token = 's3cret-token';

  it('asks a browser to sign in and a script for a bearer token (OpenAI-shaped 401)', async () => {
    const { admin } = mounted({ token });
    const page = await admin.request('/dashboard/', { headers: { accept: 'text/html' } });
    expect(page.status).toBe(401);
    expect(await page.text()).toContain('<form method="post" action="login">');
    const events = await admin.request('/dashboard/events');
    expect(events.status).toBe(401);
    expect(events.headers.get('www-authenticate')).toContain('Bearer');
    const body = await events.json();
    expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'unauthenticated', param: null });
    expect((await admin.request('/dashboard/events', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const ok = await admin.request('/dashboard/events', { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    await ok.body!.cancel();
  });

  it('signs in with the form: a wrong token is refused, the right one sets an HttpOnly session cookie scoped to the dashboard', async () => {
    const { admin } = mounted({ token });
    const wrong = await admin.request('/dashboard/login', { method: 'POST', body: new URLSearchParams({ token: 'nope' }) });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('role="alert"');
    const huge = await admin.request('/dashboard/login', { method: 'POST', body: new URLSearchParams({ token: 'x'.repeat(10_000) }) });
    expect(huge.status).toBe(413);
    const right = await admin.request('/dashboard/login', { method: 'POST', body: new URLSearchParams({ token }) });
    expect(right.status).toBe(303);
    expect(right.headers.get('location')).toBe('./');
    const cookie = right.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^infergate_dashboard=\d+\.[\w-]+; Path=\/dashboard\/; Max-Age=43200; HttpOnly; SameSite=Strict$/);
    expect(cookie).not.toContain(token);
    const session = cookie.split(';')[0]!;
    expect((await admin.request('/dashboard/', { headers: { cookie: session } })).status).toBe(200);
    // A forged signature, or the same session under another token, opens nothing.
    const forged = session.replace(/\.[\w-]+$/, '.AAAA');
    expect((await admin.request('/dashboard/', { headers: { cookie: forged } })).status).toBe(401);
    const other = mounted({ token: 'another-token' });
    expect((await other.admin.request('/dashboard/', { headers: { cookie: session } })).status).toBe(401);
  });

  it('expires a session after its lifetime', async () => {
    let now = 1_800_000_000_000;
    const { admin } = mounted({ token, now: () => now });
    const login = await admin.request('/dashboard/login', { method: 'POST', body: new URLSearchParams({ token }) });
    const session = login.headers.get('set-cookie')!.split(';')[0]!;
    now += (SESSION_SECONDS - 60) * 1000;
    expect((await admin.request('/dashboard/', { headers: { cookie: session } })).status).toBe(200);
    now += 120_000;
    expect((await admin.request('/dashboard/', { headers: { cookie: session } })).status).toBe(401);
  });

  it('accepts ?token= once: redirects to the same URL without it, with the session cookie', async () => {
    const { admin } = mounted({ token });
    const res = await admin.request(`/dashboard/?token=${token}&pool=gemma3`);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/dashboard/?pool=gemma3');
    expect(res.headers.get('set-cookie')).toMatch(/^infergate_dashboard=/);
    const bad = await admin.request('/dashboard/?token=nope', { headers: { accept: 'text/html' } });
    expect(bad.status).toBe(401);
    expect(await bad.text()).toContain('not this gateway’s admin token');
  });

  it('serves static assets to the sign-in page without a session (they carry no data)', async () => {
    const { admin } = mounted({ token });
    expect((await admin.request('/dashboard/dashboard.js')).status).toBe(200);
  });
});

describe('feedStream', () => {
  it('forwards updates pushed while the state was being taken, after the state', async () => {
    const double = new DashboardSourceDouble();
    const source = {
      subscribe: double.subscribe.bind(double),
      state: async () => {
        const s = double.state();
        double.push({ type: 'point', point: samplePoint(61), totals: s.totals });
        return s;
      },
    };
    const frames = new FrameReader(feedStream(source, { heartbeatMs: 60_000 }).getReader());
    expect((await frames.until(2)).map((e) => e.type)).toEqual(['state', 'point']);
    await frames.reader.cancel();
  });

  it('sends heartbeats as comments', async () => {
    const reader = feedStream(new DashboardSourceDouble(), { heartbeatMs: 20 }).getReader();
    const decoder = new TextDecoder();
    let raw = '';
    while (!raw.includes(': heartbeat\n\n')) raw += decoder.decode((await reader.read()).value);
    await reader.cancel();
  });

  it('ends on abort, and cuts off a reader that falls too far behind (its browser reconnects to a fresh state)', async () => {
    const aborted = new DashboardSourceDouble();
    const controller = new AbortController();
    const stream = feedStream(aborted, { signal: controller.signal, heartbeatMs: 60_000 });
    await new FrameReader(stream.getReader()).until(1);
    controller.abort();
    expect(aborted.subscribers).toBe(0);

    const slow = new DashboardSourceDouble();
    const lines: Record<string, unknown>[] = [];
    const reader = feedStream(slow, { heartbeatMs: 60_000, log: (l) => lines.push(l) }).getReader();
    await new FrameReader(reader).until(1);
    for (let i = 0; i < MAX_BACKLOG + 10; i++) slow.push({ type: 'routing', routing: { version: i, objects: [] } });
    expect(slow.subscribers).toBe(0);
    expect(lines[0]).toMatchObject({ msg: 'dashboard client too slow, closing its stream' });
    let done = false;
    while (!done) done = (await reader.read()).done;
  });

  it('carries a DashboardRecorder: its timer ticks pools out while the stream is open and stops when it closes', async () => {
    const recorder = new DashboardRecorder({ pools: () => [{ name: 'p', pods: [] }], routing: () => ({ version: 1, objects: [] }), tickMs: 10 });
    const frames = new FrameReader(feedStream(recorder, { heartbeatMs: 60_000 }).getReader());
    const [state, pools] = await frames.until(2);
    expect([state!.type, pools!.type]).toEqual(['state', 'pools']);
    expect(recorder.watching).toBe(true);
    await frames.reader.cancel();
    expect(recorder.watching).toBe(false);
  });
});
