/**
 * Malformed requests on the wire through the real gateway (issue 16): any
 * method (FOO, BREW, lower case, punctuation), any target, heads with a byte
 * replaced anywhere, bodies that disagree with their framing. Every request
 * gets a status below 500, every answer the gateway makes is OpenAI-shaped
 * JSON, and every connection ends — none hangs. With the body fuzz
 * (fuzz-bodies.test.ts) and the HTTP/1.1 package's differential fuzzer, over
 * 10 000 malformed requests in all.
 */
import { Buffer } from 'node:buffer';
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/sim/index.ts';
import { startGateway, startSimulator, type RunningGateway } from '../src/runtime/node/index.ts';
import { staticEndpoints } from './static-endpoints.ts';

let sim: Simulator;
let gateway: RunningGateway;
const RUNS = Number(process.env.INFERGATE_FUZZ_RUNS ?? 2000);

beforeAll(async () => {
  sim = await startSimulator({ pods: 1, port: 0, model: 'base', timeScale: 0.001, engineConfig: { defaultOutputTokens: 2 } });
  gateway = await startGateway({ port: 0, bodyLimit: 4096, endpointSource: staticEndpoints([{ address: '127.0.0.1', port: sim.pods[0]!.port, labels: { pool: 'p' }, engine: 'vllm' }]), log: () => {} });
  expect(
    gateway.store.apply({
      routes: [{ name: 'all', rules: [{ backendRefs: [{ pool: 'p' }] }] }],
      pools: [{ name: 'p', selector: { pool: 'p' }, targetPorts: [8000], failureMode: 'FailOpen' }],
      models: [{ name: 'base', pool: 'p' }],
    }).ok,
  ).toBe(true);
});
afterAll(async () => {
  await gateway?.close();
  await sim?.close();
});

interface Exchange {
  /** Each answer's status and, when the gateway made it, its JSON body. */
  answers: Array<{ status: number; body: string; contentType: string; fromPod: boolean }>;
}

/** Send the bytes, half-close, read until the gateway closes (or give up after 3 s: a hang). */
function exchange(bytes: Buffer, head = false): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = net.connect((gateway as { port: number }).port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no end within 3 s for ${JSON.stringify(bytes.toString('latin1').slice(0, 120))}`));
    }, 3000);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ answers: parseAnswers(Buffer.concat(chunks).toString('latin1'), head) });
    });
    socket.end(bytes);
  });
}

/** The answers in the bytes received; `head`: answers to HEAD, which carry no body whatever their length says. */
function parseAnswers(text: string, head: boolean): Exchange['answers'] {
  const out: Exchange['answers'] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const lines = text.slice(at, end);
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines)?.[1]);
    if (!status) break;
    const header = (name: string) => new RegExp(`\r\n${name}: *([^\r\n]*)`, 'i').exec(lines)?.[1];
    let body = '';
    let next = end + 4;
    const length = header('content-length');
    if (head || status === 204 || status === 304) {
      // no body
    } else if (length !== undefined) {
      body = text.slice(next, next + Number(length));
      next += Number(length);
    } else if (/chunked/i.test(header('transfer-encoding') ?? '')) {
      for (;;) {
        const line = text.indexOf('\r\n', next);
        const size = parseInt(text.slice(next, line), 16);
        if (!(size >= 0) || line < 0) break;
        body += text.slice(line + 2, line + 2 + size);
        next = line + 2 + size + 2;
        if (size === 0) break;
      }
    } else {
      body = text.slice(next);
      next = text.length;
    }
    out.push({ status, body, contentType: header('content-type') ?? '', fromPod: header('x-gateway-destination-endpoint') !== undefined });
    at = next;
  }
  return out;
}

function check(x: Exchange, head = false): void {
  for (const a of x.answers) {
    expect(a.status, JSON.stringify(a).slice(0, 300)).toBeLessThan(500);
    if (a.status >= 400 && !a.fromPod && !head) {
      expect(a.contentType).toContain('application/json');
      const error = (JSON.parse(a.body) as { error: Record<string, unknown> }).error;
      expect(typeof error.message).toBe('string');
      expect(typeof error.type).toBe('string');
    }
  }
}

const chatBody = '{"model":"base","messages":[{"role":"user","content":"hi"}]}';
const request = (method: string, target: string, headers: string[], body: string) =>
  Buffer.from(`${method} ${target} HTTP/1.1\r\nhost: gw\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n${body}`, 'latin1');

describe('malformed requests on the wire, through the gateway', () => {
  it(`${RUNS} methods and targets: each answered below 500, OpenAI-shaped, and closed`, async () => {
    const method = fc.oneof(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'FOO', 'BREW', 'post', 'PRI', 'CONNECT', 'TRACE'), fc.stringMatching(/^[!-~]{1,12}$/));
    const target = fc.oneof(fc.constantFrom('/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/models', '/', '*', '/healthz', '/v1/chat/completions?x=1', '/%00', '//v1/models'), fc.stringMatching(/^\/[!-~]{0,30}$/));
    const body = fc.oneof(fc.constant(''), fc.constant(chatBody), fc.string({ maxLength: 60 }));
    const framing = fc.constantFrom('length', 'none', 'chunked', 'short', 'long');
    await fc.assert(
      fc.asyncProperty(method, target, body, framing, async (m, t, b, f) => {
        const headers = ['content-type: application/json'];
        let payload = b;
        if (f === 'length') headers.push(`content-length: ${Buffer.byteLength(b, 'latin1')}`);
        if (f === 'short') headers.push(`content-length: ${Math.max(0, Buffer.byteLength(b, 'latin1') - 3)}`);
        if (f === 'long') headers.push(`content-length: ${Buffer.byteLength(b, 'latin1') + 5}`);
        if (f === 'chunked') {
          headers.push('transfer-encoding: chunked');
          payload = `${Buffer.byteLength(b, 'latin1').toString(16)}\r\n${b}\r\n0\r\n\r\n`;
        }
        check(await exchange(request(m, t, headers, payload), m === 'HEAD'), m === 'HEAD');
      }),
      { numRuns: RUNS, seed: 17 },
    );
  }, 120_000);

  it(`${RUNS} heads with one byte replaced anywhere by any byte: below 500, OpenAI-shaped, closed`, async () => {
    const base = request('POST', '/v1/chat/completions', ['content-type: application/json', `content-length: ${chatBody.length}`], chatBody);
    const headEnd = base.indexOf('\r\n\r\n') + 4;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: headEnd - 1 }), fc.integer({ min: 0, max: 255 }), async (at, byte) => {
        const bytes = Buffer.from(base);
        bytes[at] = byte;
        check(await exchange(bytes));
      }),
      { numRuns: RUNS, seed: 23 },
    );
  }, 120_000);
});
