/**
 * The request head the fast server (./server.ts) serves itself: `POST <route>
 * HTTP/1.1`, CRLF line ends, valid tokens and values, at most one Host (a
 * valid one) and at most one content-length. Anything else is null: the connection goes to
 * node:http (llhttp), which answers it — and its errors — as it always does.
 *
 * Strict where a lenient reading could frame a message differently from
 * another parser on the path (request smuggling, the class of CVE-2023-30589):
 * a CR or LF that is not half of a CRLF, NUL, VT, FF, DEL, any other control or
 * 0xA0 anywhere in the head is never served here; values are trimmed of SP and
 * HTAB only (String#trim would also drop VT, FF and 0xA0, hiding them). The
 * differential fuzzer (./differential.test.ts) holds this to llhttp: whatever
 * is served here, node:http accepts with the same headers and body length.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { DIGITS, fieldName, HOST, ORIGIN_FORM } from './grammar.ts';

export interface Head<K extends string = string> {
  kind: K;
  path: string;
  search: string;
  headers: IncomingHttpHeaders;
  length: number;
  keepAlive: boolean;
}

/**
 * Any byte a head served here may not hold, line ends included: controls but
 * HTAB, DEL and 0xA0; a CR not followed by LF; an LF not preceded by CR. (The
 * text handed in stops before the final CRLFCRLF.)
 */
const FORBIDDEN = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\xa0]|\r(?!\n)|(?<!\r)\n/;

/**
 * The head of a hot request, or null when it is anything else (node:http takes
 * it from there). A head without Host is returned (its `headers.host` is
 * undefined): the server hands it off, as it must be answered 400.
 */
export function parseHead<K extends string>(text: string, routes: Readonly<Record<string, K>>): Head<K> | null {
  if (FORBIDDEN.test(text)) return null;
  let lineEnd = text.indexOf('\r\n');
  if (lineEnd < 0) lineEnd = text.length;
  // `POST <target> HTTP/1.1`
  if (!text.startsWith('POST ') || !text.startsWith(' HTTP/1.1', lineEnd - 9)) return null;
  const target = text.slice(5, lineEnd - 9);
  if (!ORIGIN_FORM.test(target)) return null;
  const q = target.indexOf('?');
  const path = q >= 0 ? target.slice(0, q) : target;
  const kind = routes[path];
  if (!kind) return null;
  // No prototype: a header named `constructor`, `toString` or `__proto__` is a header like any other.
  const headers: IncomingHttpHeaders = Object.create(null) as IncomingHttpHeaders;
  let length = -1;
  let hosts = 0;
  let keepAlive = true;
  let at = lineEnd + 2;
  while (at < text.length) {
    let next = text.indexOf('\r\n', at);
    if (next < 0) next = text.length;
    const colon = text.indexOf(':', at);
    if (colon < 0 || colon >= next) return null;
    const name = fieldName(text.slice(at, colon));
    if (name === null) return null;
    // Only SP and HTAB are optional whitespace (RFC 9110 §5.6.3).
    let from = colon + 1;
    let to = next;
    while (from < to && isOws(text.charCodeAt(from))) from++;
    while (to > from && isOws(text.charCodeAt(to - 1))) to--;
    const value = text.slice(from, to);
    at = next + 2;
    switch (name) {
      case 'content-length':
        // llhttp takes no HTAB after the digits: neither do we.
        if (length >= 0 || !DIGITS.test(value) || text.charCodeAt(next - 1) === 9) return null;
        length = Number(value);
        break;
      case 'host':
        // Exactly one, and a valid one (RFC 9112 §3.2); node:http answers the rest.
        if (++hosts > 1 || !HOST.test(value)) return null;
        break;
      case 'transfer-encoding':
      case 'expect':
      case 'upgrade':
        return null;
      case 'connection':
        if (value !== 'keep-alive' && /(?:^|,)[ \t]*close[ \t]*(?:,|$)/i.test(value)) keepAlive = false;
        break;
    }
    const had = headers[name];
    headers[name] = had === undefined ? value : `${had as string}, ${value}`;
  }
  return { kind, path, search: q >= 0 ? target.slice(q) : '', headers, length: Math.max(length, 0), keepAlive };
}

function isOws(c: number): boolean {
  return c === 32 || c === 9;
}
