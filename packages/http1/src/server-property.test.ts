/**
 * Property tests (fast-check) of the whole front door — the fast path and its
 * hand-off to node:http — over a real socket: any byte sequence, or a valid
 * head followed by any bytes, gets 2xx or 4xx answers (or none) and the
 * connection ends; never a 5xx, never a hang. HTTP1_FUZZ=N runs N times more.
 */
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, start } from './testing.ts';

const RUNS = 60 * Number(process.env.HTTP1_FUZZ ?? 1);
let port = 0;

beforeAll(async () => {
  ({ port } = await start({ headersTimeoutMs: 300, requestTimeoutMs: 300 }));
});
// cleanUp() closes the server after the file (afterEach would close it after the first test).
afterAll(async () => (await import('./testing.ts')).cleanUp());

/** Send `bytes`, half-close, and return every status the server answered once it closed. */
async function statuses(bytes: Uint8Array): Promise<number[]> {
  const c = await connect(port);
  c.socket.end(Buffer.from(bytes));
  await c.closed(2_000);
  return [...c.text().matchAll(/(?:^|\r\n\r\n|\n)HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}

const noServerError = (got: number[]) => {
  for (const s of got) expect(s >= 200 && s < 500, `status ${s} in ${JSON.stringify(got)}`).toBe(true);
};

const HEADS = [
  'POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\n',
  'POST /v1/embeddings HTTP/1.1\r\nhost: gw\r\ncontent-length: 4\r\n',
  'GET /v1/models HTTP/1.1\r\nhost: gw\r\n',
  'POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ntransfer-encoding: chunked\r\n\r\n',
  'POST ',
];

describe('any bytes: 2xx or 4xx, never 5xx, never a hang', () => {
  it('arbitrary bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), async (bytes) => noServerError(await statuses(bytes))),
      { numRuns: RUNS, seed: 16 },
    );
  }, 60_000);

  it('a head (hot, cold, chunked or cut) followed by arbitrary bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...HEADS), fc.uint8Array({ maxLength: 200 }), async (head, tail) => {
        noServerError(await statuses(Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(tail)])));
      }),
      { numRuns: RUNS, seed: 19 },
    );
  }, 60_000);

  it('a head with one byte anywhere replaced by any byte, then a body', async () => {
    const base = 'POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-length: 4\r\n\r\nbody';
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: base.length - 1 }), fc.integer({ min: 0, max: 255 }), async (at, byte) => {
        const bytes = Buffer.from(base, 'latin1');
        bytes[at] = byte;
        noServerError(await statuses(bytes));
      }),
      { numRuns: RUNS * 2, seed: 1619 },
    );
  }, 60_000);
});
