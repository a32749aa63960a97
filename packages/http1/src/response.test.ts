/**
 * The upstream response parser, fed exact bytes: every way a response can be
 * cut into socket chunks must parse the same, and every framing rule and limit
 * is checked on the bytes it decides by.
 */
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Http1ResponseParser, MAX_HEAD_BYTES, MalformedResponseError, type ResponseHead } from './response.ts';

interface Parsed {
  heads: { status: number; minor: number; keepAlive: boolean; headers: Record<string, string> }[];
  body: string;
  /** What `execute` returned for each chunk. */
  leftovers: number[];
  complete: boolean;
  keepAlive: boolean;
  untilClose: boolean;
}

function recorder() {
  const heads: ResponseHead[] = [];
  const bodies: Buffer[] = [];
  const parser = new Http1ResponseParser({
    onHead: (head) => heads.push(head),
    // A copy: the parser hands out views that are only valid as long as the chunk.
    onBody: (chunk) => bodies.push(Buffer.from(chunk)),
  });
  return { parser, heads, bodies };
}

function plainHeaders(head: ResponseHead): Record<string, string> {
  const out: Record<string, string> = {};
  head.headers.forEach((value, name) => (out[name] = value));
  return out;
}

/** Feed the chunks in order; `close` then tells the parser the connection closed. */
function parse(chunks: (string | Buffer)[], opts: { noBody?: boolean; close?: boolean } = {}): Parsed {
  const { parser, heads, bodies } = recorder();
  parser.reset(opts.noBody ?? false);
  const leftovers = chunks.map((c) => parser.execute(typeof c === 'string' ? Buffer.from(c, 'latin1') : c));
  if (opts.close) parser.finish();
  return {
    heads: heads.map((h) => ({ status: h.status, minor: h.minor, keepAlive: h.keepAlive, headers: plainHeaders(h) })),
    body: Buffer.concat(bodies).toString('latin1'),
    leftovers,
    complete: parser.complete,
    keepAlive: parser.keepAlive,
    untilClose: parser.untilClose,
  };
}

function splitAt(text: string, cuts: number[]): string[] {
  const out: string[] = [];
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    out.push(text.slice(from, cut));
    from = cut;
  }
  out.push(text.slice(from));
  return out.filter((piece) => piece.length > 0);
}

function malformed(chunks: (string | Buffer)[], detail: RegExp, opts: { noBody?: boolean; close?: boolean } = {}): void {
  let caught: unknown;
  try {
    parse(chunks, opts);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(MalformedResponseError);
  expect((caught as Error).message).toMatch(detail);
}

/** Responses that end by their own framing (no close needed), with what they must parse to. */
const framed: { name: string; raw: string; status: number; body: string; keepAlive: boolean; headers: Record<string, string> }[] = [
  {
    name: 'content-length',
    raw: 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}',
    status: 200,
    body: '{"ok":true}',
    keepAlive: true,
    headers: { 'content-type': 'application/json', 'content-length': '11' },
  },
  {
    name: 'chunked with extensions and trailers',
    raw: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\nA ; q="x;y"\r\n, world!!!\r\n0;last\r\nX-Checksum: abc\r\nX-More: 1\r\n\r\n',
    status: 200,
    body: 'hello, world!!!',
    keepAlive: true,
    headers: { 'transfer-encoding': 'chunked' },
  },
  {
    name: 'interim 100 and 103 before the answer',
    raw: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok',
    status: 201,
    body: 'ok',
    keepAlive: true,
    headers: { 'content-length': '2' },
  },
  {
    name: 'bare LF line ends',
    raw: 'HTTP/1.1 200 OK\nContent-Length: 3\n\nabc',
    status: 200,
    body: 'abc',
    keepAlive: true,
    headers: { 'content-length': '3' },
  },
  {
    name: 'chunked with bare LF after the data and upper-case hex',
    raw: 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1F\r\n0123456789abcdef0123456789abcde\n0\r\n\r\n',
    status: 200,
    body: '0123456789abcdef0123456789abcde',
    keepAlive: true,
    headers: { 'transfer-encoding': 'chunked' },
  },
];

describe('Http1ResponseParser: one chunk', () => {
  it('reads a content-length answer: status, version, lower-case headers, body, keep-alive', () => {
    const r = parse(['HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Id:  7 \r\nContent-Length: 5\r\n\r\nhello']);
    expect(r.heads).toEqual([{ status: 200, minor: 1, keepAlive: true, headers: { 'content-type': 'text/plain', 'x-id': '7', 'content-length': '5' } }]);
    expect(r.body).toBe('hello');
    expect(r.leftovers).toEqual([0]);
    expect(r.complete).toBe(true);
    expect(r.keepAlive).toBe(true);
  });

  it('hands the body on as views of the chunk it was given, not copies', () => {
    const chunk = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody', 'latin1');
    const views: Buffer[] = [];
    const parser = new Http1ResponseParser({ onHead: () => undefined, onBody: (c) => views.push(c) });
    parser.execute(chunk);
    expect(views).toHaveLength(1);
    expect(views[0]!.buffer).toBe(chunk.buffer);
    expect(views[0]!.byteOffset).toBe(chunk.byteOffset + chunk.length - 4);
    expect(views[0]!.toString()).toBe('body');
  });

  it('accepts a status line without a reason phrase, and HTTP/1.0', () => {
    expect(parse(['HTTP/1.1 404\r\ncontent-length: 0\r\n\r\n']).heads[0]!.status).toBe(404);
    const old = parse(['HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\nx']);
    expect(old.heads[0]).toMatchObject({ status: 200, minor: 0, keepAlive: false });
    expect(old.complete).toBe(true);
  });

  it('joins repeated headers with ", ", set-cookie included', () => {
    const r = parse(['HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nVary: x\r\nvary: y\r\ncontent-length: 0\r\n\r\n']);
    expect(r.heads[0]!.headers).toEqual({ 'set-cookie': 'a=1, b=2', vary: 'x, y', 'content-length': '0' });
  });

  it('a content-length of 0 is complete at the head', () => {
    const r = parse(['HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n']);
    expect(r).toMatchObject({ body: '', complete: true, keepAlive: true });
  });

  it('accepts the same content-length repeated, in one header or several', () => {
    expect(parse(['HTTP/1.1 200 OK\r\ncontent-length: 2, 2\r\n\r\nok']).body).toBe('ok');
    expect(parse(['HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 2\r\n\r\nok']).body).toBe('ok');
  });

  it('decodes chunked bodies, dropping extensions and trailers', () => {
    const r = parse([framed[1]!.raw]);
    expect(r.body).toBe('hello, world!!!');
    expect(r.heads[0]!.headers).toEqual({ 'transfer-encoding': 'chunked' });
    expect(r.complete).toBe(true);
    expect(r.keepAlive).toBe(true);
  });

  it('chunked wins over content-length, and then the connection is not reused', () => {
    const r = parse(['HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n']);
    expect(r.body).toBe('abc');
    expect(r.complete).toBe(true);
    expect(r.keepAlive).toBe(false);
    expect(r.heads[0]!.keepAlive).toBe(false);
  });

  it('a transfer-coding list ending in chunked is chunked', () => {
    const r = parse(['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n']);
    expect(r.body).toBe('ab');
    expect(r.complete).toBe(true);
  });

  it('skips 1xx answers and reports only the final head', () => {
    const r = parse([framed[2]!.raw]);
    expect(r.heads).toEqual([{ status: 201, minor: 1, keepAlive: true, headers: { 'content-length': '2' } }]);
    expect(r.body).toBe('ok');
  });

  it('reports no head for an interim answer alone', () => {
    const { parser, heads } = recorder();
    expect(parser.execute(Buffer.from('HTTP/1.1 100 Continue\r\n\r\n'))).toBe(0);
    expect(heads).toHaveLength(0);
    expect(parser.headRead).toBe(false);
    expect(parser.complete).toBe(false);
  });

  it('answers to HEAD, 204 and 304 have no body whatever their headers say', () => {
    const head = parse(['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n'], { noBody: true });
    expect(head).toMatchObject({ body: '', complete: true, keepAlive: true });
    expect(parse(['HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n'])).toMatchObject({ body: '', complete: true, keepAlive: true });
    expect(parse(['HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n'])).toMatchObject({ body: '', complete: true, keepAlive: true });
    // Bytes after a body-less answer were not asked for.
    expect(parse(['HTTP/1.1 204 No Content\r\n\r\nxyz']).leftovers).toEqual([3]);
  });

  it('connection: close means the connection is not reused, though the body is framed', () => {
    const r = parse(['HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 2\r\n\r\nok']);
    expect(r).toMatchObject({ body: 'ok', complete: true, keepAlive: false });
  });

  it('HTTP/1.0 keeps the connection only when it says keep-alive', () => {
    expect(parse(['HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok'])).toMatchObject({ complete: true, keepAlive: true });
    expect(parse(['HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok'])).toMatchObject({ complete: true, keepAlive: false });
    // A token that merely contains "close" is not close.
    expect(parse(['HTTP/1.1 200 OK\r\nConnection: closed-captions\r\nContent-Length: 0\r\n\r\n']).keepAlive).toBe(true);
  });

  it('without content-length or chunked, the body runs until the connection closes', () => {
    const { parser, bodies } = recorder();
    expect(parser.execute(Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst '))).toBe(0);
    expect(parser.untilClose).toBe(true);
    expect(parser.complete).toBe(false);
    expect(parser.execute(Buffer.from('second'))).toBe(0);
    parser.finish();
    expect(parser.complete).toBe(true);
    expect(parser.keepAlive).toBe(false);
    expect(Buffer.concat(bodies).toString()).toBe('first second');
  });

  it('a transfer-coding that is not chunked last is read until close', () => {
    const r = parse(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n3\r\nabc'], { close: true });
    expect(r).toMatchObject({ body: '3\r\nabc', complete: true, keepAlive: false });
  });

  it('returns the count of bytes past a complete answer', () => {
    const extra = 'HTTP/1.1 200 OK\r\n';
    const r = parse([`HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok${extra}`]);
    expect(r.body).toBe('ok');
    expect(r.leftovers).toEqual([extra.length]);
    // And for a chunk that arrives once it is complete: all of it.
    expect(parse(['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 'more']).leftovers).toEqual([0, 4]);
    expect(parse(['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\nX']).leftovers).toEqual([1]);
  });

  it('reset() reads the next answer on the same connection', () => {
    const { parser, heads, bodies } = recorder();
    const two = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 202 Accepted\r\nContent-Length: 1\r\n\r\nb');
    const rest = parser.execute(two);
    expect(rest).toBe(two.length - two.indexOf('HTTP/1.1 202'));
    parser.reset();
    expect(parser.headRead).toBe(false);
    expect(parser.complete).toBe(false);
    expect(parser.execute(two.subarray(two.length - rest))).toBe(0);
    expect(heads.map((h) => h.status)).toEqual([200, 202]);
    expect(Buffer.concat(bodies).toString()).toBe('ab');
    expect(parser.complete).toBe(true);
  });

  it('reset() drops a half-read head', () => {
    const { parser, heads } = recorder();
    parser.execute(Buffer.from('HTTP/1.1 500 Oops\r\nconte'));
    parser.reset();
    parser.execute(Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'));
    expect(heads.map((h) => h.status)).toEqual([200]);
  });
});

describe('Http1ResponseParser: any chunking parses the same', () => {
  for (const c of framed) {
    it(`${c.name}: cut at every byte, in two and one byte at a time`, () => {
      const whole = parse([c.raw]);
      expect(whole.heads).toHaveLength(1);
      expect(whole.heads[0]).toMatchObject({ status: c.status, keepAlive: c.keepAlive, headers: c.headers });
      expect(whole.body).toBe(c.body);
      expect(whole.complete).toBe(true);
      for (let cut = 1; cut < c.raw.length; cut++) {
        const r = parse(splitAt(c.raw, [cut]));
        expect({ cut, ...r, leftovers: undefined }).toEqual({ cut, ...whole, leftovers: undefined });
        expect(r.leftovers.every((n) => n === 0)).toBe(true);
      }
      const bytes = parse(c.raw.split(''));
      expect({ ...bytes, leftovers: undefined }).toEqual({ ...whole, leftovers: undefined });
    });
  }

  it('until-close bodies: cut at every byte', () => {
    const raw = 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nline one\nline two\n';
    const whole = parse([raw], { close: true });
    expect(whole).toMatchObject({ body: 'line one\nline two\n', complete: true, keepAlive: false });
    for (let cut = 1; cut < raw.length; cut++) expect(parse(splitAt(raw, [cut]), { close: true })).toEqual({ ...whole, leftovers: [0, 0] });
  });

  it('random cuts into many pieces', () => {
    const all = framed.map((c) => c.raw);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: all.length - 1 }), fc.array(fc.nat(), { maxLength: 12 }), (k, cuts) => {
        const raw = all[k]!;
        const pieces = splitAt(raw, cuts.map((n) => n % raw.length));
        const r = parse(pieces);
        const whole = parse([raw]);
        expect({ ...r, leftovers: undefined }).toEqual({ ...whole, leftovers: undefined });
      }),
      { numRuns: 300 },
    );
  });
});

describe('Http1ResponseParser: cut short', () => {
  it('finish() before the head is complete throws', () => {
    malformed(['HTTP/1.1 200 OK\r\nContent-Len'], /closed the connection mid-answer/, { close: true });
    malformed([], /closed the connection mid-answer/, { close: true });
  });

  it('finish() inside a content-length body throws', () => {
    malformed(['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'], /closed the connection mid-answer/, { close: true });
  });

  it('finish() inside a chunked body, or before its trailers end, throws', () => {
    malformed(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab'], /mid-answer/, { close: true });
    malformed(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n'], /mid-answer/, { close: true });
  });

  it('finish() after a complete answer is fine', () => {
    expect(parse(['HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx'], { close: true }).complete).toBe(true);
  });
});

describe('Http1ResponseParser: malformed answers', () => {
  const cases: [string, string[], RegExp][] = [
    ['garbage', ['hello there\r\n\r\n'], /bad status line "hello there"/],
    ['HTTP/2', ['HTTP/2 200 OK\r\n\r\n'], /bad status line/],
    ['HTTP/1.2', ['HTTP/1.2 200 OK\r\n\r\n'], /bad status line/],
    ['lower-case protocol', ['http/1.1 200 OK\r\n\r\n'], /bad status line/],
    ['two-digit status', ['HTTP/1.1 20 OK\r\n\r\n'], /bad status line/],
    ['four-digit status', ['HTTP/1.1 2000 OK\r\n\r\n'], /bad status line/],
    ['no space before the reason', ['HTTP/1.1 200OK\r\n\r\n'], /bad status line/],
    ['a status below 100', ['HTTP/1.1 099 Odd\r\ncontent-length: 0\r\n\r\n'], /bad status line/],
    ['101 with no upgrade asked', ['HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n'], /101 Switching Protocols/],
    ['a header line without a colon', ['HTTP/1.1 200 OK\r\nno colon here\r\n\r\n'], /bad header line "no colon here"/],
    ['an empty header name', ['HTTP/1.1 200 OK\r\n: value\r\n\r\n'], /bad header line/],
    ['a space before the colon', ['HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok'], /bad header name "content-length "/],
    ['an obs-fold continuation', ['HTTP/1.1 200 OK\r\nX-A: b\r\n  c: d\r\n\r\n'], /bad header name/],
    ['a control character in a name', ['HTTP/1.1 200 OK\r\nX\x01A: b\r\n\r\n'], /bad header name/],
    ['differing content-lengths', ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok'], /bad content-length "2,3"/],
    ['a negative content-length', ['HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'], /bad content-length/],
    ['a non-numeric content-length', ['HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n'], /bad content-length/],
    ['an empty content-length', ['HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n'], /bad content-length/],
    ['a content-length of 16 digits', ['HTTP/1.1 200 OK\r\nContent-Length: 1000000000000000\r\n\r\n'], /bad content-length/],
    ['a chunk size that is not hex', ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'], /bad chunk size "zz"/],
    ['an empty chunk size', ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n'], /bad chunk size/],
    ['a negative chunk size', ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n'], /bad chunk size/],
    ['a 13-digit chunk size', ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000\r\n'], /bad chunk size/],
    ['chunk data not followed by CRLF', ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n'], /chunk not followed by CRLF/],
    ['chunk data followed by CR and not LF', ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\rx'], /chunk not followed by CRLF/],
  ];
  for (const [name, chunks, detail] of cases) {
    it(`rejects ${name}`, () => malformed(chunks, detail));
  }

  it('rejects a head over the limit, whole or arriving in pieces', () => {
    const big = `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`;
    malformed([big], new RegExp(`head larger than ${MAX_HEAD_BYTES} bytes`));
    const pieces = big.slice(0, MAX_HEAD_BYTES + 100).match(/[^]{1,1000}/g)!;
    malformed(pieces, /head larger than/);
  });

  it('accepts a head just under the limit', () => {
    const name = 'X-Big: ';
    const pad = MAX_HEAD_BYTES - 'HTTP/1.1 200 OK\r\n'.length - name.length - '\r\ncontent-length: 0\r\n\r\n'.length;
    const raw = `HTTP/1.1 200 OK\r\n${name}${'a'.repeat(pad)}\r\ncontent-length: 0\r\n\r\n`;
    expect(raw.length).toBe(MAX_HEAD_BYTES);
    expect(parse([raw]).complete).toBe(true);
    expect(parse(raw.match(/[^]{1,997}/g)!).complete).toBe(true);
  });

  it('rejects a chunk-size line over 4 KiB, whole or in pieces', () => {
    const head = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
    malformed([`${head}5;${'e'.repeat(5000)}\r\nhello\r\n0\r\n\r\n`], /line too long/);
    malformed([head, `5;${'e'.repeat(3000)}`, 'e'.repeat(3000)], /line too long/);
  });

  it('accepts long chunk extensions under the line limit', () => {
    const r = parse([`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;${'e'.repeat(4000)}\r\nhello\r\n0\r\n\r\n`]);
    expect(r.body).toBe('hello');
  });

  it('rejects trailers over 64 KiB in total', () => {
    const line = `X-T: ${'t'.repeat(4000)}\r\n`;
    const trailers = line.repeat(Math.ceil(MAX_HEAD_BYTES / 4000) + 1);
    malformed([`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n${trailers}\r\n`], /trailers too large/);
  });
});
