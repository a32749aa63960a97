/**
 * The request head the fast server (./server.ts) serves
 * itself: `POST <route> HTTP/1.1` with CRLF line ends, valid tokens and values
 * and at most one content-length. Anything else is null: the connection goes
 * to node:http, which answers it (and its errors) as it always does.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { BAD_FIELD_VALUE, DIGITS, ORIGIN_FORM, TOKEN } from './grammar.ts';

export interface Head<K extends string = string> {
  kind: K;
  path: string;
  search: string;
  headers: IncomingHttpHeaders;
  length: number;
  keepAlive: boolean;
}

/** The head of a hot request, or null when it is anything else (node:http takes it from there). */
export function parseHead<K extends string>(text: string, routes: Readonly<Record<string, K>>): Head<K> | null {
  let lineEnd = text.indexOf('\r\n');
  if (lineEnd < 0) lineEnd = text.length;
  // `POST <target> HTTP/1.1`
  if (!text.startsWith(' HTTP/1.1', lineEnd - 9)) return null;
  const target = text.slice(5, lineEnd - 9);
  if (!ORIGIN_FORM.test(target)) return null;
  const q = target.indexOf('?');
  const path = q >= 0 ? target.slice(0, q) : target;
  const kind = routes[path];
  if (!kind) return null;
  const headers: IncomingHttpHeaders = {};
  let length = -1;
  let keepAlive = true;
  let at = lineEnd + 2;
  while (at < text.length) {
    let next = text.indexOf('\r\n', at);
    if (next < 0) next = text.length;
    const colon = text.indexOf(':', at);
    if (colon < 0 || colon >= next) return null;
    const rawName = text.slice(at, colon);
    if (!TOKEN.test(rawName)) return null;
    const name = rawName.toLowerCase();
    const value = text.slice(colon + 1, next).trim();
    if (BAD_FIELD_VALUE.test(value)) return null;
    at = next + 2;
    switch (name) {
      case 'content-length':
        if (length >= 0 || !DIGITS.test(value)) return null;
        length = Number(value);
        break;
      case 'transfer-encoding':
      case 'expect':
      case 'upgrade':
        return null;
      case 'connection':
        if (/(?:^|,)\s*close\s*(?:,|$)/i.test(value)) keepAlive = false;
        break;
    }
    const had = headers[name];
    headers[name] = had === undefined ? value : `${had as string}, ${value}`;
  }
  return { kind, path, search: q >= 0 ? target.slice(q) : '', headers, length: Math.max(length, 0), keepAlive };
}
