/**
 * Hostnames as the Gateway API matches them: a route's `hostnames` against
 * the request's Host, and against a listener's `hostname` when the route
 * attaches to it. A leading `*.` matches one or more labels
 * (`*.example.com` matches `a.example.com` and `a.b.example.com`, not
 * `example.com`).
 */

/** The host of a Host header: port and a trailing dot removed, lower case; IPv6 brackets kept off. */
export function requestHost(header: string | null): string {
  if (!header) return '';
  let h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(1, end) : h;
  }
  const colon = h.indexOf(':');
  if (colon >= 0) h = h.slice(0, colon);
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/** Whether `pattern` (exact or `*.suffix`) matches `host`. */
export function hostnameMatches(pattern: string, host: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === host;
  const suffix = pattern.slice(1); // ".example.com"
  return host.length > suffix.length && host.endsWith(suffix);
}

/**
 * The hostnames a route serves on one listener (Gateway API "hostname
 * intersection"): `[]` means any host, `undefined` means none — the route does
 * not attach to that listener.
 */
export function intersectHostnames(route: readonly string[], listener: string | undefined): string[] | undefined {
  if (!listener) return [...route];
  if (route.length === 0) return [listener];
  const out: string[] = [];
  for (const h of route) {
    // The more specific of the two, when one includes the other.
    if (hostnameMatches(listener, h) || h === listener) out.push(h);
    else if (hostnameMatches(h, listener)) out.push(listener);
    else if (h.startsWith('*.') && listener.startsWith('*.') && (hostnameMatches(h, listener.slice(2)) || hostnameMatches(listener, h.slice(2)))) {
      out.push(h.length >= listener.length ? h : listener);
    }
  }
  return out.length ? [...new Set(out)] : undefined;
}

/**
 * Precedence of a hostname among those matching one request: an exact
 * hostname first, then wildcards with the longest suffix, then routes
 * without hostnames. Larger is more specific.
 */
export function hostnameRank(pattern: string | undefined): number {
  if (pattern === undefined) return 0;
  if (pattern.startsWith('*.')) return 1 + pattern.length;
  return 10_000 + pattern.length;
}
