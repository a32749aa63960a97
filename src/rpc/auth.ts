/**
 * Admin authentication: a bearer token, compared in constant time (no
 * node:crypto in the core; this runs on Workers too).
 */
import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';

const encoder = new TextEncoder();

/** True when a and b are equal; the time taken depends on their lengths only, not on where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  const n = Math.max(x.length, y.length);
  let diff = x.length ^ y.length;
  for (let i = 0; i < n; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** Whether an `Authorization` header carries the token. */
export function bearerMatches(header: string | null | undefined, token: string): boolean {
  const value = header ?? '';
  const given = value.slice(0, 7).toLowerCase() === 'bearer ' ? value.slice(7).trim() : '';
  return constantTimeEqual(given, token) && given.length > 0;
}

/** A Connect interceptor refusing calls without `Authorization: Bearer <token>` (code unauthenticated). */
export function bearerAuth(token: string): Interceptor {
  return (next) => async (req) => {
    if (!bearerMatches(req.header.get('authorization'), token)) {
      throw new ConnectError('missing or wrong bearer token: pass --token or set INFERGATE_TOKEN', Code.Unauthenticated);
    }
    return next(req);
  };
}

/** A Connect client interceptor sending `Authorization: Bearer <token>`. */
export function sendBearer(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set('authorization', `Bearer ${token}`);
    return next(req);
  };
}

/** Where the admin port may listen: anywhere with a token, loopback only without one. */
export function adminListenHost(token: string | undefined, requested: string): string {
  if (token) return requested;
  return requested === '127.0.0.1' || requested === '::1' || requested === 'localhost' ? requested : '127.0.0.1';
}
