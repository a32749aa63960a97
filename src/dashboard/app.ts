/**
 * The dashboard as a Hono sub-app, to mount on the admin port:
 *
 *   GET  ./             the page (a bare `/dashboard` redirects to `/dashboard/`)
 *   GET  ./events       the feed, text/event-stream
 *   GET  ./dashboard.js ./dashboard.css ./uplot.min.css   static, no data, not gated
 *   GET  ./login  POST ./login  POST ./logout             the token gate (auth.ts)
 *
 * Web Request/Response/ReadableStream only; the gateway is behind
 * DashboardSource and the page's files behind DashboardAssets.
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { basePath } from 'hono/route';
import { GatewayError } from '../api/errors.ts';
import { bearerMatches, constantTimeEqual } from '../rpc/auth.ts';
import type { DashboardAssets } from './assets.ts';
import { loginPage, newSession, sessionCookie, sessionFromCookies, sessionValid } from './auth.ts';
import type { DashboardSource } from './feed.ts';
import { feedStream } from './sse.ts';

export interface DashboardOptions {
  source: DashboardSource;
  assets: DashboardAssets;
  /** The admin token; without one the dashboard is open (the admin port then listens on loopback only). */
  token?: string;
  /** SSE heartbeat interval, ms (default 15 000). */
  heartbeatMs?: number;
  /** Clock for session expiry, ms since epoch. */
  now?: () => number;
  log?: (line: Record<string, unknown>) => void;
}

const STATIC = ['dashboard.js', 'dashboard.css', 'uplot.min.css'];
/** The page loads only its own files and stream. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
const PAGE_HEADERS = { 'content-security-policy': CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'cache-control': 'no-store' };

/**
 * @example
 * const recorder = new DashboardRecorder({ pools: () => …, routing: () => routingView(store.current?.table) });
 * admin.route('/dashboard', createDashboardApp({ source: recorder, assets: embeddedDashboardAssets, token }));
 */
export function createDashboardApp(options: DashboardOptions): Hono {
  const app = new Hono();
  const now = options.now ?? Date.now;
  const token = options.token || undefined;

  /** Whether the request may see the dashboard (always, without a token). */
  const allowed = async (c: Context): Promise<boolean> => {
    if (!token) return true;
    if (bearerMatches(c.req.header('authorization'), token)) return true;
    const session = sessionFromCookies(c.req.header('cookie'));
    return session !== undefined && (await sessionValid(session, token, now()));
  };

  const denied = (c: Context, problem?: string): Response => {
    if (wantsHtml(c)) return html(loginPage(problem), 401);
    return new GatewayError({
      status: 401,
      type: 'invalid_request_error',
      code: 'unauthenticated',
      message: 'missing or wrong admin token: send Authorization: Bearer <token>, or sign in at the dashboard page',
      headers: { 'www-authenticate': 'Bearer realm="infergate-admin"' },
    }).toResponse();
  };

  const signIn = async (c: Context, location: string): Promise<Response> =>
    new Response(null, {
      status: 303,
      headers: { location, 'set-cookie': sessionCookie(await newSession(token!, now()), home(c), isHttps(c)), 'cache-control': 'no-store' },
    });

  const page = async (c: Context): Promise<Response> => {
    const given = c.req.query('token');
    if (token && given !== undefined) {
      // A link with ?token= signs in once; the redirect drops the token from the address bar and history.
      if (!constantTimeEqual(given, token)) return denied(c, 'That token is not this gateway’s admin token.');
      const url = new URL(c.req.url);
      url.searchParams.delete('token');
      return signIn(c, `${url.pathname}${url.search}`);
    }
    if (!(await allowed(c))) return denied(c);
    return asset(c, 'index.html', PAGE_HEADERS);
  };

  const asset = (c: Context, name: string, extra: Record<string, string> = {}): Response => {
    const found = options.assets.get(name);
    if (!found) return notFound(`dashboard asset ${name} is missing: run npm run build:dashboard`, 500);
    const headers = { 'content-type': found.contentType, etag: found.etag, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff', ...extra };
    if (c.req.header('if-none-match') === found.etag) return new Response(null, { status: 304, headers });
    return new Response(found.body, { headers });
  };

  app.get('/', (c) => (c.req.path.endsWith('/') ? page(c) : c.redirect(`${c.req.path}/${queryOf(c.req.url)}`, 301)));

  app.get('/events', async (c) => {
    if (!(await allowed(c))) return denied(c);
    // Not the request's signal: every server here cancels the body when the client leaves, and Deno's
    // legacy signal semantics log a warning when it is listened to.
    const body = feedStream(options.source, { heartbeatMs: options.heartbeatMs, log: options.log });
    return new Response(body, {
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        // nginx and similar proxies buffer responses unless told not to; an event stream must not wait.
        'x-accel-buffering': 'no',
      },
    });
  });

  for (const name of STATIC) app.get(`/${name}`, (c) => asset(c, name));

  app.get('/login', (c) => (token ? html(loginPage(), 200) : c.redirect('./', 303)));
  // Anyone may post here: a token is short, so anything over a few KiB is refused unread.
  const loginLimit = bodyLimit({ maxSize: 4096, onError: () => html(loginPage('That is too long to be a token.'), 413) });
  app.post('/login', loginLimit, async (c) => {
    if (!token) return c.redirect('./', 303);
    const form = await c.req.formData().catch(() => undefined);
    const given = form?.get('token');
    if (typeof given !== 'string' || given === '') return html(loginPage('Enter the admin token.'), 400);
    if (!constantTimeEqual(given.trim(), token)) return html(loginPage('That token is not this gateway’s admin token.'), 401);
    return signIn(c, './');
  });
  app.post('/logout', (c) => new Response(null, { status: 303, headers: { location: './', 'set-cookie': sessionCookie('', home(c), isHttps(c)) } }));

  // Under a mount, `/dashboard/` reaches only a wildcard (Hono merges the sub-app's `/` into `/dashboard`).
  app.get('/*', (c) => (c.req.path === home(c) ? page(c) : notFound(`no dashboard resource at ${c.req.path}`, 404)));
  return app;
}

function html(body: string, status: number): Response {
  return new Response(body, { status, headers: { 'content-type': 'text/html; charset=utf-8', ...PAGE_HEADERS } });
}

function notFound(message: string, status: number): Response {
  return new GatewayError({ status, type: status === 404 ? 'not_found_error' : 'server_error', code: status === 404 ? 'not_found' : 'asset_missing', message }).toResponse();
}

function wantsHtml(c: Context): boolean {
  return (c.req.header('accept') ?? '').includes('text/html');
}

function isHttps(c: Context): boolean {
  return new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
}

/** Where the sub-app is mounted, with a trailing slash (`/dashboard/`): the page's URL and the cookie's Path. */
function home(c: Context): string {
  return `${basePath(c).replace(/\/+$/, '')}/`;
}

function queryOf(url: string): string {
  return new URL(url).search;
}
