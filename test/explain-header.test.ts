/**
 * `x-infergate-explain: 1` answers with the decision — the candidates'
 * addresses, scores and metrics' age — unless the gateway runs with
 * `--explain=false` (`explainHeader: false`), for clients that should not
 * see the pods. The request is served alike either way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFlags } from '../src/config/flags.ts';
import { gatewayFlags, gatewayOptions } from '../src/config/gateway-flags.ts';
import { chat, postJson, startDemoCluster, type DemoCluster } from './harness.ts';

describe('the explain header', () => {
  let open: DemoCluster;
  let closed: DemoCluster;
  beforeAll(async () => {
    [open, closed] = await Promise.all([
      startDemoCluster({ timeScale: 0.05, gateway: { log: () => {} } }),
      startDemoCluster({ timeScale: 0.05, gateway: { log: () => {}, ...gatewayOptionsFrom(['--explain=false']) } }),
    ]);
  }, 30_000);
  afterAll(async () => {
    await open?.close();
    await closed?.close();
  });

  /** The gateway options the flags give, as `infergate gateway` starts with (only the one this test is about). */
  function gatewayOptionsFrom(argv: string[]) {
    return { explainHeader: gatewayOptions(parseFlags(argv, gatewayFlags, {}), undefined).explainHeader };
  }

  it('gives the decision back by default', async () => {
    const res = await postJson(`${open.gateway.url}/v1/chat/completions`, chat('chatbot'), { 'x-infergate-explain': '1' });
    expect(res.status).toBe(200);
    await res.text();
    const decision = JSON.parse(res.headers.get('x-infergate-decision')!) as { picked: string; candidates: unknown[] };
    expect(open.endpointIds.gemma3).toContain(decision.picked);
  });

  it('gives nothing of it back with --explain=false, and serves the request as usual', async () => {
    const res = await postJson(`${closed.gateway.url}/v1/chat/completions`, chat('chatbot'), { 'x-infergate-explain': '1' });
    expect(res.status).toBe(200);
    expect((await res.json()) as { choices: unknown[] }).toMatchObject({ choices: [{}] });
    expect(res.headers.get('x-infergate-decision')).toBeNull();
  });
});
