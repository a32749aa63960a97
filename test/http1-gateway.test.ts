/**
 * The HTTP/1.1 stack's findings (issue 16) through the real Node gateway in
 * front of simulated pods: a smuggled request is never served nor forwarded,
 * a request handed to node:http on a proxied route is served without web
 * objects, and a client that goes away mid-body is not logged as a bug.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startDemoCluster, type DemoCluster } from './harness.ts';

let cluster: DemoCluster;
let port = 0;

beforeAll(async () => {
  cluster = await startDemoCluster();
  port = cluster.gateway.port;
});
afterAll(() => cluster?.close());

function exchange(bytes: string, opts: { end?: boolean; ms?: number } = {}): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(got));
    socket.write(Buffer.from(bytes, 'latin1'));
    if (opts.end) socket.end();
    setTimeout(() => socket.destroy(), opts.ms ?? 2_000);
  });
}

const body = JSON.stringify({ model: 'chatbot', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });

describe('the Node gateway and the HTTP/1.1 stack', () => {
  it('X-Pad:\\nContent-Length hiding a second request: one 400, the connection closed, nothing forwarded', async () => {
    const smuggled = `POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
    // Answers from pods, as the gateway counts them (infergate_requests_total has a pool label only for those).
    const forwarded = () => cluster.gateway.gateway.metrics.render().split('\n').filter((l) => /^infergate_requests_total\{pool="[^"]+"/.test(l)).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
    const before = forwarded();
    const got = await exchange(`POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nX-Pad:\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`);
    expect(got.match(/^HTTP\/1\.1 \d{3} /gm)).toEqual(['HTTP/1.1 400 ']);
    expect(JSON.parse(got.slice(got.indexOf('\r\n\r\n') + 4)).error.code).toBe('malformed_request');
    expect(forwarded()).toBe(before);
  });

  it('a chunked POST (handed to node:http) is served by the director, OpenAI-shaped', async () => {
    const got = await exchange(`POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nx-gateway-model-name: chatbot\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`);
    expect(got).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(JSON.parse(got.slice(got.indexOf('\r\n\r\n') + 4)).model).toBe('chatbot');
  });

  it('a client that goes away mid-body is not logged as an unexpected error', async () => {
    const errors = vi.spyOn(console, 'error');
    try {
      await exchange(`POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ntransfer-encoding: chunked\r\n\r\n10\r\n{"model":"chatb`, { ms: 100 });
      await new Promise((r) => setTimeout(r, 100));
      const logged = errors.mock.calls.map((c) => String(c[0])).filter((l) => l.includes('unexpected error'));
      expect(logged).toEqual([]);
    } finally {
      errors.mockRestore();
    }
  });
});
