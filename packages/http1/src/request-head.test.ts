/**
 * parseHead: the request heads the fast server takes itself, and every shape it leaves to node:http.
 */
import { NodeHeaders } from './headers.ts';
import { parseHead } from './request-head.ts';
import { describe, expect, it } from 'vitest';
import { ROUTES } from './testing.ts';

describe('parseHead', () => {
  it('reads a plain hot request: kind, path, search, lower-case headers, length, keep-alive', () => {
    const head = parseHead('POST /v1/chat/completions?api-version=2 HTTP/1.1\r\nHost: gw\r\nContent-Length: 12\r\nX-A:  1 \r\nx-a: 2\r\nAuthorization: Bearer k', ROUTES);
    expect(head).toEqual({
      kind: 'chat',
      path: '/v1/chat/completions',
      search: '?api-version=2',
      headers: { host: 'gw', 'content-length': '12', 'x-a': '1, 2', authorization: 'Bearer k' },
      length: 12,
      keepAlive: true,
    });
  });

  it('maps each route to its kind; no content-length is an empty body; no headers at all is fine', () => {
    expect(parseHead('POST /v1/completions HTTP/1.1\r\nHost: gw', ROUTES)).toMatchObject({ kind: 'completions', length: 0 });
    expect(parseHead('POST /v1/embeddings HTTP/1.1', ROUTES)).toEqual({ kind: 'embeddings', path: '/v1/embeddings', search: '', headers: {}, length: 0, keepAlive: true });
  });

  it('connection: close in any case and list position ends keep-alive; other tokens do not', () => {
    for (const v of ['close', 'Close', 'keep-alive, CLOSE', ' close ,te']) {
      expect(parseHead(`POST /v1/embeddings HTTP/1.1\r\nConnection: ${v}`, ROUTES)?.keepAlive).toBe(false);
    }
    for (const v of ['keep-alive', 'closed', 'enclose', 'te']) {
      expect(parseHead(`POST /v1/embeddings HTTP/1.1\r\nConnection: ${v}`, ROUTES)?.keepAlive).toBe(true);
    }
  });

  it('keeps tabs and obs-text in values, and an empty value', () => {
    expect(parseHead('POST /v1/embeddings HTTP/1.1\r\nX-A: a\tb\xe9\r\nX-Empty:', ROUTES)?.headers).toEqual({ 'x-a': 'a\tb\xe9', 'x-empty': '' });
  });

  it('keeps headers named after Object.prototype members as own values; NodeHeaders reads only values', () => {
    const head = parseHead('POST /v1/embeddings HTTP/1.1\r\nConstructor: a\r\n__proto__: c\r\nconstructor: d', ROUTES)!;
    expect(Object.entries(head.headers)).toEqual([['constructor', 'a, d'], ['__proto__', 'c']]);
    // node:http's headers, which node-inbound reads through it too, are a plain object.
    expect(new NodeHeaders({ host: 'gw' }).get('constructor')).toBeNull();
  });

  const others: [string, string][] = [
    ['a GET', 'GET /v1/chat/completions HTTP/1.1\r\nHost: gw'],
    ['an unknown path', 'POST /v1/models HTTP/1.1\r\nHost: gw'],
    ['a path with a trailing slash', 'POST /v1/chat/completions/ HTTP/1.1\r\nHost: gw'],
    ['a path in another case', 'POST /V1/chat/completions HTTP/1.1\r\nHost: gw'],
    ['HTTP/1.0', 'POST /v1/chat/completions HTTP/1.0\r\nHost: gw'],
    ['HTTP/2 in the request line', 'POST /v1/chat/completions HTTP/2\r\nHost: gw'],
    ['a lower-case version', 'POST /v1/chat/completions http/1.1\r\nHost: gw'],
    ['a trailing space on the request line', 'POST /v1/chat/completions HTTP/1.1 \r\nHost: gw'],
    ['two spaces before the target', 'POST  /v1/chat/completions HTTP/1.1\r\nHost: gw'],
    ['an absolute-form target', 'POST http://gw/v1/chat/completions HTTP/1.1\r\nHost: gw'],
    ['a space in the target', 'POST /v1/chat/completions?a=b c HTTP/1.1\r\nHost: gw'],
    ['a non-ASCII byte in the target', 'POST /v1/chat/completions?q=\xe9 HTTP/1.1\r\nHost: gw'],
    ['transfer-encoding', 'POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked'],
    ['transfer-encoding beside content-length', 'POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 5\r\ntransfer-encoding: identity'],
    ['expect', 'POST /v1/chat/completions HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5'],
    ['upgrade', 'POST /v1/chat/completions HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: h2c'],
    ['two content-lengths, even equal', 'POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5'],
    ['a content-length list', 'POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 5, 5'],
    ['a signed content-length', 'POST /v1/chat/completions HTTP/1.1\r\nContent-Length: +5'],
    ['an empty content-length', 'POST /v1/chat/completions HTTP/1.1\r\nContent-Length:'],
    ['a 16-digit content-length', 'POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 1000000000000000'],
    ['a header line without a colon', 'POST /v1/chat/completions HTTP/1.1\r\nHost gw'],
    ['a space before the colon', 'POST /v1/chat/completions HTTP/1.1\r\nHost : gw'],
    ['an empty header name', 'POST /v1/chat/completions HTTP/1.1\r\n: gw'],
    ['an obs-fold continuation line', 'POST /v1/chat/completions HTTP/1.1\r\nX-A: b\r\n c'],
    ['an empty line inside the head', 'POST /v1/chat/completions HTTP/1.1\r\nX-A: b\r\n\r\nX-B: c'],
    ['a bare LF in a value', 'POST /v1/chat/completions HTTP/1.1\r\nX-A: b\nX-B: c'],
    ['a bare CR in a value', 'POST /v1/chat/completions HTTP/1.1\r\nX-A: b\rc'],
    ['NUL in a value', 'POST /v1/chat/completions HTTP/1.1\r\nX-A: b\0'],
    ['DEL in a value', 'POST /v1/chat/completions HTTP/1.1\r\nX-A: b\x7f'],
    ['bare LF line ends', 'POST /v1/chat/completions HTTP/1.1\nHost: gw\nContent-Length: 2'],
  ];
  for (const [name, text] of others) {
    it(`leaves ${name} to node:http`, () => expect(parseHead(text, ROUTES)).toBeNull());
  }
});
