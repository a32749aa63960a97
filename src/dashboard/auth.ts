/**
 * The dashboard's token gate, for when the admin port has a token. Scripts
 * send `Authorization: Bearer <token>` as they do to the RoutingService. A
 * browser cannot set that header on a page load or an EventSource, so it
 * signs in once — with the login form, or by opening a link with
 * `?token=<token>` (as Jupyter does; the gateway answers with a redirect that
 * drops it from the address bar) — and then carries a session cookie.
 *
 * The cookie is not the token: it is `<expiry>.<HMAC-SHA-256(token, expiry)>`,
 * HttpOnly, SameSite=Strict, scoped to the dashboard's path, good for 12 hours
 * or until the token changes. It opens the dashboard only: it cannot call the
 * RoutingService, so a leaked cookie cannot change the routing table.
 */
import { constantTimeEqual } from '../rpc/auth.ts';

export const SESSION_COOKIE = 'infergate_dashboard';
/** How long a session lasts, seconds. */
export const SESSION_SECONDS = 12 * 60 * 60;

const encoder = new TextEncoder();

async function sign(token: string, expires: number): Promise<string> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(token), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(`infergate-dashboard:${expires}`)));
  let text = '';
  for (const byte of mac) text += String.fromCharCode(byte);
  return btoa(text).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

/** A session value good until `now + SESSION_SECONDS`. */
export async function newSession(token: string, nowMs: number): Promise<string> {
  const expires = Math.floor(nowMs / 1000) + SESSION_SECONDS;
  return `${expires}.${await sign(token, expires)}`;
}

/** Whether a cookie value is a session this token signed and that has not expired. */
export async function sessionValid(value: string, token: string, nowMs: number): Promise<boolean> {
  const dot = value.indexOf('.');
  if (dot <= 0) return false;
  const expires = Number(value.slice(0, dot));
  if (!Number.isSafeInteger(expires) || expires * 1000 <= nowMs) return false;
  return constantTimeEqual(value.slice(dot + 1), await sign(token, expires));
}

/** The Set-Cookie header for a session (or to end one, with `value` empty). */
export function sessionCookie(value: string, path: string, secure: boolean): string {
  const age = value ? SESSION_SECONDS : 0;
  return `${SESSION_COOKIE}=${value}; Path=${path}; Max-Age=${age}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** The session cookie's value from a Cookie header, if any. */
export function sessionFromCookies(header: string | null | undefined): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => escapes[ch]!);

/** The sign-in page (401 when shown instead of the dashboard). */
export function loginPage(problem?: string): string {
  const alert = problem ? `<p class="login-problem" role="alert">${escapeHtml(problem)}</p>` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>infergate dashboard — sign in</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="dashboard.css">
</head>
<body class="login">
<main>
<h1>infergate dashboard</h1>
<form method="post" action="login">
<p>This gateway's admin port has a token. Enter it to open the dashboard (the same token
<code>infergate apply --token</code> and <code>INFERGATE_TOKEN</code> use).</p>
${alert}
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button>
</form>
</main>
</body>
</html>
`;
}
