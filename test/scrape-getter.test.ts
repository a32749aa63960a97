/**
 * The agent's /metrics getter on Node (packages/http1's clients through
 * clientGetter), against real sockets: a page read whole, and each way a pod
 * can fail a scrape — refused, an error status, no answer, an answer that
 * stops mid-body — with the short reason the agent records, within the
 * scrape's timeout.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientGetter } from '../src/agent/http-get.ts';
import { UpstreamError } from '../src/http/upstream.ts';
import { scrapeGetter } from '../src/runtime/node/metrics-getter.ts';

const PAGE = 'vllm:num_requests_waiting{model_name="m"} 2\nvllm:num_requests_running{model_name="m"} 1\n';

/** A pod whose every connection gets `answer(head)` for each request head it sends. */
async function pod(answer: (head: string, socket: net.Socket) => void): Promise<{ port: number; heads: string[]; close(): Promise<void> }> {
  const heads: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      let end: number;
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        heads.push(head);
        answer(head, socket);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    heads,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe('the Node scrape getter', () => {
  const get = scrapeGetter();
  const pods: { close(): Promise<void> }[] = [];
  let ok: Awaited<ReturnType<typeof pod>>;

  beforeAll(async () => {
    ok = await pod((_head, socket) => socket.write(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${PAGE.length}\r\n\r\n${PAGE}`));
    pods.push(ok);
  });

  afterAll(async () => {
    await get.close();
    await Promise.all(pods.map((p) => p.close()));
  });

  it('reads the page whole over a kept-alive connection, a GET with no content-length', async () => {
    expect(await get(`http://127.0.0.1:${ok.port}/metrics`, 1000)).toBe(PAGE);
    expect(await get(`http://127.0.0.1:${ok.port}/metrics`, 1000)).toBe(PAGE);
    expect(ok.heads).toHaveLength(2);
    expect(ok.heads[0]).toMatch(/^GET \/metrics HTTP\/1\.1\r\n/);
    expect(ok.heads[0]).toMatch(/\r\naccept: text\/plain(\r\n|$)/);
    expect(ok.heads[0]!.toLowerCase()).not.toContain('content-length');
  });

  it('says refused when nothing listens', async () => {
    const closed = await pod(() => undefined);
    const port = closed.port;
    await closed.close();
    await expect(get(`http://127.0.0.1:${port}/metrics`, 1000)).rejects.toThrow(/^refused: /);
  });

  it('says the status of an error answer', async () => {
    const failing = await pod((_head, socket) => socket.write('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\n\r\nbusy'));
    pods.push(failing);
    await expect(get(`http://127.0.0.1:${failing.port}/metrics`, 1000)).rejects.toThrow('HTTP 503');
  });

  it('times out a pod that never answers, and one that stops mid-body, within the timeout', async () => {
    const silent = await pod(() => undefined);
    const stalled = await pod((_head, socket) => socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${PAGE.length}\r\n\r\n${PAGE.slice(0, 10)}`));
    pods.push(silent, stalled);
    for (const p of [silent, stalled]) {
      const started = Date.now();
      await expect(get(`http://127.0.0.1:${p.port}/metrics`, 200)).rejects.toThrow('timed out after 200 ms');
      expect(Date.now() - started).toBeLessThan(1500);
    }
  });

  it("says the same timeout when the client's head timeout fires before the getter's own deadline", async () => {
    // Both timers are the scrape's timeout; on a busy machine either may fire first (a CI run saw the client's).
    const headTimeout = clientGetter({ request: async () => Promise.reject(new UpstreamError('timeout', 'no response within 200 ms')) });
    await expect(headTimeout('http://127.0.0.1:1/metrics', 200)).rejects.toThrow(/^timed out after 200 ms$/);
  });
});
