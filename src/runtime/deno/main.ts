/**
 * The gateway on Deno: `npm run start:deno -- --manifests m.yaml --endpoints e.yaml`
 * (or `deno run --allow-net --allow-read --allow-env --allow-write src/runtime/deno/main.ts …`).
 * Same flags and INFERGATE_* environment variables as `infergate gateway`.
 * With src/runtime/deno-*.ts, the only code that touches Deno's APIs.
 */
import { commandFlags, FlagError } from '../../config/flags.ts';
import { adminToken, gatewayFlags, gatewayOptions } from '../../config/gateway-flags.ts';
import { deno } from './api.ts';
import { DenoConfigError, startDenoGateway } from './gateway.ts';
import { startupFailure } from '../../config/listen-failure.ts';
import { readFileText, stateDirProblem } from './files.ts';

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
  const flags = commandFlags('gateway', args, gatewayFlags, deno().env.toObject(), {
    check(f) {
      if (f['budget-store']) {
        throw new FlagError('--budget-store: the shared token-budget store (Redis/Valkey, through ioredis) runs on Node only; on Deno a gateway keeps its budgets itself (one replica)');
      }
      if (f.kubernetes) {
        throw new FlagError('--kubernetes: the Kubernetes source uses @kubernetes/client-node, which runs on Node only (infergate gateway --kubernetes); on Deno give --manifests and --endpoints, or --agent URL of an agent started with --kubernetes');
      }
      if (f.agent && f.endpoints) throw new FlagError('give --endpoints FILE (scrape the pods here) or --agent URL (follow an agent), not both');
      if (f.host.trim() === '') throw new FlagError('--host must name an address: 127.0.0.1 (the default), or 0.0.0.0 for every interface');
      if (f.workers.trim() !== '1') {
        throw new FlagError(`--workers ${f.workers}: several data-plane processes need node:cluster, so only Node has them (infergate gateway --workers N); on Deno run one gateway per core behind a load balancer`);
      }
    },
  });
  if (typeof flags === 'number') return flags;
  const token = await adminToken(flags, readFileText);
  if ('error' in token) {
    console.error(`infergate gateway (deno): ${token.error}`);
    return 1;
  }
  // A state dir that cannot be created or written is said now, not found out by the first apply.
  const stateDir = flags['state-dir'] ? await stateDirProblem(flags['state-dir']) : undefined;
  if (stateDir) {
    console.error(`infergate gateway (deno): --state-dir: ${stateDir}`);
    return 1;
  }
  try {
    const gw = await startDenoGateway(gatewayOptions(flags, token.token));
    console.log(JSON.stringify({ level: 'info', msg: 'gateway listening', runtime: 'deno', url: gw.url, admin: gw.adminUrl, version: gw.store.version }));
    await waitForShutdown();
    await gw.close();
    return 0;
  } catch (err) {
    if (err instanceof DenoConfigError) {
      console.error(`infergate gateway (deno): ${err.message}`);
      return 1;
    }
    if (err instanceof FlagError) {
      console.error(`infergate gateway (deno): ${err.message}`);
      return 2;
    }
    const oneLine = startupFailure(err, flags) ?? denoFailure(err);
    if (oneLine) {
      console.error(`infergate gateway (deno): ${oneLine}`);
      return 1;
    }
    throw err;
  }
}

/** Deno's own errors a user's setup causes (a permission not granted, a directory given as a file): their message is one line that says what to do. */
function denoFailure(err: unknown): string | undefined {
  const name = (err as Error | undefined)?.name;
  return name !== undefined && ['NotCapable', 'PermissionDenied', 'IsADirectory', 'NotADirectory', 'NotFound'].includes(name) ? (err as Error).message : undefined;
}

if ((import.meta as { main?: boolean }).main) deno().exit(await main(deno().args));
