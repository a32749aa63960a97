/**
 * The HTTP/1.1 client's findings (issue 16) through the real Node gateway,
 * against raw-socket pods that misbehave after reading the request: the POST
 * reaches one pod only, and the client gets a 502 — for a pod that closes
 * after reading, for a malformed answer, and for a header value no server
 * could pass on (whose pod connection is closed); a refused connection is
 * still tried on the next pod, and so is an address that never answers the
 * SYN (a deleted pod's), once `--upstream-connect-timeout` has passed.
 */
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanUp, silentPort } from '../packages/http1/src/testing.ts';
import { parseFlags } from '../src/config/flags.ts';
import { gatewayFlags, gatewayOptions } from '../src/config/gateway-flags.ts';
import { startGateway, type RunningGateway } from '../src/runtime/node/gateway.ts';
import { chat, postJson } from './harness.ts';
import { staticEndpoints } from './static-endpoints.ts';

interface RawPod {
  port: number;
  /** Requests read (a head and its declared body each). */
  requests: number;
  closed: number;
  close(): Promise<void>;
}

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
  await cleanUp();
});

/** A pod that reads each request, then does `act` with the socket. */
async function rawPod(act: (socket: net.Socket) => void): Promise<RawPod> {
  const sockets = new Set<net.Socket>();
  const pod: RawPod = { port: 0, requests: 0, closed: 0, close: async () => undefined };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => pod.closed++);
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      buf = buf.slice(end + 4 + length);
      pod.requests++;
      act(socket);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  pod.port = (server.address() as AddressInfo).port;
  pod.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  open.push(pod);
  return pod;
}

async function gatewayFor(ports: number[], argv: string[] = []): Promise<RunningGateway> {
  const { upstreamTimeoutMs, upstreamConnectTimeoutMs } = gatewayOptions(parseFlags(argv, gatewayFlags, {}), undefined);
  const gw = await startGateway({ port: 0, upstreamTimeoutMs, upstreamConnectTimeoutMs, endpointSource: staticEndpoints(ports.map((port) => ({ address: '127.0.0.1', port, labels: { pool: 'p' }, engine: 'vllm' as const }))) });
  open.push(gw);
  const applied = gw.store.apply({
    routes: [{ name: 'all', rules: [{ backendRefs: [{ pool: 'p' }] }] }],
    pools: [{ name: 'p', selector: { pool: 'p' }, targetPorts: [8000], failureMode: 'FailOpen' as const }],
    models: [{ name: 'bot', pool: 'p', targetModels: [{ name: 'bot' }] }],
  });
  expect(applied.ok).toBe(true);
  return gw;
}

const misbehaving: [string, (s: net.Socket) => void][] = [
  ['closes the connection after reading the request', (s) => s.end()],
  ['resets the connection after reading the request', (s) => s.resetAndDestroy()],
  ['answers garbage', (s) => s.write('HTTP/1.1 2OO OK\r\n\r\n')],
  ['answers a header value with a control character', (s) => s.write('HTTP/1.1 200 OK\r\nx-bad: a\x01b\r\ncontent-length: 2\r\n\r\n{}')],
];

describe('a pod that misbehaves after reading the POST', () => {
  for (const [name, act] of misbehaving) {
    it(`${name}: 502, and the POST reached one pod only (never sent twice)`, async () => {
      const a = await rawPod(act);
      const b = await rawPod(act);
      const gw = await gatewayFor([a.port, b.port]);
      const res = await postJson(`${gw.url}/v1/chat/completions`, chat('bot'));
      expect(res.status).toBe(502);
      const body = (await res.json()) as { error: { type: string; code: string } };
      expect(body.error.type).toBe('upstream_error');
      expect(a.requests + b.requests).toBe(1);
      // The pod's connection is not kept.
      const deadline = Date.now() + 2_000;
      while (a.closed + b.closed < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(a.closed + b.closed).toBe(1);
    });
  }

  it('a refused connection (nothing written) is still tried on the next pod', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const dead = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const good = await rawPod((s) => s.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}'));
    const gw = await gatewayFor([dead, good.port]);
    for (let i = 0; i < 4; i++) expect((await postJson(`${gw.url}/v1/chat/completions`, chat('bot'))).status).toBe(200);
    expect(good.requests).toBe(4);
  });

  it('an address that never answers the SYN (a deleted pod) is given up on after --upstream-connect-timeout, and the next pod answers', async () => {
    const silent = await silentPort();
    const good = await rawPod((s) => s.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}'));
    // Without a connect timeout a request tried first on the silent address waits out the head timeout: a 504.
    const gw = await gatewayFor([silent, good.port], ['--upstream-connect-timeout', '300', '--upstream-timeout', '8000']);
    // The picker has no metrics (FailOpen, by load): it tries the silent address first for some requests. Each is
    // answered 200 by the good pod; one that was tried on the silent address first took the connect timeout.
    let triedSilentFirst = 0;
    for (let i = 0; i < 40 && triedSilentFirst === 0; i++) {
      const started = Date.now();
      expect((await postJson(`${gw.url}/v1/chat/completions`, chat('bot'))).status).toBe(200);
      if (Date.now() - started >= 250) triedSilentFirst++;
    }
    expect(triedSilentFirst).toBe(1);
    expect(good.requests).toBeGreaterThan(0);
  }, 20_000);
});
