/**
 * `infergate demo` (what `npm start` runs): simulated vLLM pods for the two
 * seed use cases, and a gateway in front of them configured from
 * examples/seed-use-cases.yaml and examples/seed-endpoints.yaml.
 */
import { commandFlags, type FlagSpec, PORT } from '../../config/flags.ts';
import { startupFailure } from '../../config/listen-failure.ts';
import { environment, readTextFile, waitForShutdown } from '../../runtime/node/index.ts';
import { ConfigError, startGateway } from '../../runtime/node/gateway.ts';
import { parseEndpointsFile } from '../../endpoints/file-schema.ts';
import type { Simulator } from '../../sim/index.ts';
import { startSimulator } from '../../runtime/node/index.ts';

/** What each demo pool's simulated pods serve. */
export const demoPools: Record<string, { model: string; loras: string[] }> = {
  gemma3: { model: 'google/gemma-3-4b-it', loras: ['english-bot-v1', 'english-bot-v2', 'spanish-bot-v1'] },
  'deepseek-r1': { model: 'deepseek-ai/DeepSeek-R1-Distill-Llama-8B', loras: [] },
};

const flags = {
  manifests: { type: 'string', default: 'examples/seed-use-cases.yaml', help: 'routing manifests' },
  endpoints: { type: 'string', default: 'examples/seed-endpoints.yaml', help: 'endpoints file; each entry becomes a simulated pod on its port' },
  port: { type: 'number', ...PORT, default: 8080, help: 'gateway port' },
  'admin-port': { type: 'number', ...PORT, default: 8081, help: 'admin API port (loopback only, no token)' },
  'time-scale': { type: 'number', default: 1, help: 'simulated pods run this much slower (0.1 = ten times faster)' },
  help: { type: 'boolean', help: 'show this help' },
} satisfies FlagSpec;

export async function run(args: string[]): Promise<number> {
  const f = commandFlags('demo', args, flags, environment());
  if (typeof f === 'number') return f;
  const parsed = parseEndpointsFile(await readTextFile(f.endpoints), f.endpoints);
  if (!parsed.ok) {
    console.error(new ConfigError(`${f.endpoints}: rejected`, parsed.problems).message);
    return 1;
  }
  const sims: Simulator[] = [];
  try {
    for (const [i, entry] of parsed.endpoints.entries()) {
      const pool = demoPools[entry.labels.pool ?? ''];
      if (!pool || entry.port === undefined) continue;
      sims.push(
        await startSimulator({
          pods: 1,
          port: entry.port,
          host: entry.address,
          model: pool.model,
          loras: pool.loras,
          engineConfig: { maxLoras: 2 },
          timeScale: f['time-scale'],
          seed: i + 1,
          name: `${entry.labels.pool}-${i}`,
        }),
      );
    }
    const gw = await startGateway({ manifests: f.manifests, endpoints: f.endpoints, port: f.port, adminPort: f['admin-port'] });
    const pods = sims.flatMap((s) => s.pods.map((p) => `${p.name} ${p.url} (${p.model})`));
    console.log(`infergate demo: gateway on ${gw.url} (admin API ${gw.adminUrl}), ${pods.length} simulated vLLM pods:\n  ${pods.join('\n  ')}

Models: ${gw.store.current?.modelNames.join(', ')}. Try:

  curl ${gw.url}/v1/chat/completions -H 'content-type: application/json' \\
    -d '{"model":"english-bot","messages":[{"role":"user","content":"Hello!"}]}'

  curl -N ${gw.url}/v1/chat/completions -H 'X-Gateway-Model-Name: recommender' -H 'content-type: application/json' \\
    -d '{"model":"recommender","stream":true,"messages":[{"role":"user","content":"Suggest a book"}]}'

Ctrl-C stops everything.`);
    await waitForShutdown();
    await gw.close();
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`infergate demo: ${err.message}`);
      return 1;
    }
    console.error(`infergate demo: ${startupFailure(err) ?? (err as Error).message}`);
    return 1;
  } finally {
    await Promise.all(sims.map((s) => s.close()));
  }
}
