/**
 * The gateway on Deno: `npm run start:deno -- --manifests m.yaml --endpoints e.yaml`
 * (or `deno run --allow-net --allow-read --allow-env --allow-write src/runtime/deno.ts …`).
 * Same flags and INFERGATE_* environment variables as `infergate gateway`.
 * With src/runtime/deno-*.ts, the only code that touches Deno's APIs.
 */
import { FlagError, parseFlags, usage } from '../cli/flags.ts';
import { gatewayFlags } from '../cli/gateway-flags.ts';
import { deno } from './deno-api.ts';
import { DenoConfigError, startDenoGateway } from './deno-gateway.ts';
import { readFileText } from './deno-files.ts';

/** Resolves on SIGINT or SIGTERM. */
function waitForShutdown(): Promise<string> {
  return new Promise((resolve) => {
    const d = deno();
    const on = (signal: 'SIGINT' | 'SIGTERM') => () => {
      d.removeSignalListener('SIGINT', onInt);
      d.removeSignalListener('SIGTERM', onTerm);
      resolve(signal);
    };
    const onInt = on('SIGINT');
    const onTerm = on('SIGTERM');
    d.addSignalListener('SIGINT', onInt);
    d.addSignalListener('SIGTERM', onTerm);
  });
}

export async function main(args: string[]): Promise<number> {
  let flags;
  try {
    flags = parseFlags(args, gatewayFlags, deno().env.toObject());
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    console.error(`infergate gateway (deno): ${err.message}\n\n${usage('gateway', gatewayFlags)}`);
    return 2;
  }
  if (flags.help) {
    console.log(usage('gateway', gatewayFlags));
    return 0;
  }
  let token = flags.token;
  if (!token && flags['token-file']) {
    const text = await readFileText(flags['token-file']);
    if (text === undefined) {
      console.error(`infergate gateway (deno): --token-file ${flags['token-file']} does not exist`);
      return 1;
    }
    token = text.trim();
  }
  try {
    const gw = await startDenoGateway({
      manifests: flags.manifests,
      endpoints: flags.endpoints,
      agent: flags.agent,
      schedulingConfig: flags['scheduling-config'],
      adminPort: flags['admin-port'] >= 0 ? flags['admin-port'] : undefined,
      token,
      stateDir: flags['state-dir'],
      scrapeIntervalMs: flags['scrape-interval'],
      staleAfterMs: flags['stale-after'],
      port: flags.port,
      host: flags.host,
      bodyLimit: flags['body-limit'],
      upstreamTimeoutMs: flags['upstream-timeout'],
      maxAttempts: flags['max-attempts'],
    });
    console.log(JSON.stringify({ level: 'info', msg: 'gateway listening', runtime: 'deno', url: gw.url, admin: gw.adminUrl, version: gw.store.version }));
    await waitForShutdown();
    await gw.close();
    return 0;
  } catch (err) {
    if (err instanceof DenoConfigError) {
      console.error(`infergate gateway (deno): ${err.message}`);
      return 1;
    }
    throw err;
  }
}

if ((import.meta as { main?: boolean }).main) deno().exit(await main(deno().args));
