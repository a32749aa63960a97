/**
 * A gateway's copy of the agent's precise prefix index, one per pool, kept in
 * step by KvIndexService.WatchKvIndex: the whole index first, then every
 * change in the agent's order. Every replica of the gateway holds the same
 * copy, and a decision reads it in memory — no round trip per request (a
 * unary LookupPrefix costs one agent round trip per decision; see
 * docs/kv-events.md for the measured comparison).
 *
 * A copy is served only once complete and while in step: a stream silent for
 * `staleAfterMs` (the agent sends a heartbeat every second) is presumed dead,
 * the copy is withheld (the scorer falls back to the approximate index and
 * says so) and the stream is reopened, which starts with the whole index again.
 */
import { ConnectError, createClient, type Client, type Transport } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import { KvIndexService, KvIndexUpdateKind, type KvIndexUpdate } from '../gen/infergate/v1/kv_index_pb.ts';
import { KvBlockIndex } from '../kvevents/block-index.ts';
import { MEDIUM_GPU } from '../kvevents/events.ts';
import { applyUpdates, type IndexUpdate } from '../kvevents/index-updates.ts';
import type { KvIndexSource, KvPoolRef, PoolKvIndexView } from '../kvevents/index-view.ts';
import { sendBearer } from '../rpc/auth.ts';
import { poolKey } from './types.ts';

export interface KvIndexReplicaOptions {
  agentUrl: string;
  token?: string;
  transport?: Transport;
  /** A stream silent this long is presumed dead (the agent's heartbeat is 1 s). */
  staleAfterMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  now?: () => number;
  log?: (line: Record<string, unknown>) => void;
}

class PoolCopy implements PoolKvIndexView {
  index = new KvBlockIndex();
  /** The first whole index has arrived. */
  complete = false;
  updatedAt = 0;
  syncedAt = 0;
  lastMessageAt = 0;
  lastError = 'connecting';
  closed = false;
  attempt?: AbortController;

  constructor(readonly pool: KvPoolRef) {}

  lookup(hashes: BigUint64Array, pods: readonly string[]) {
    return this.index.lookup(hashes, pods);
  }
}

export class KvIndexReplica implements KvIndexSource {
  readonly #client: Client<typeof KvIndexService>;
  readonly #pools = new Map<string, PoolCopy>();
  readonly #o: Required<Omit<KvIndexReplicaOptions, 'transport' | 'token'>>;
  readonly #watchdog: ReturnType<typeof setInterval>;
  #closed = false;

  constructor(options: KvIndexReplicaOptions) {
    this.#o = {
      agentUrl: options.agentUrl,
      staleAfterMs: options.staleAfterMs ?? 3000,
      backoffInitialMs: options.backoffInitialMs ?? 50,
      backoffMaxMs: options.backoffMaxMs ?? 2000,
      now: options.now ?? Date.now,
      log: options.log ?? (() => {}),
    };
    const interceptors = options.token ? [sendBearer(options.token)] : [];
    this.#client = createClient(KvIndexService, options.transport ?? createConnectTransport({ baseUrl: options.agentUrl, useBinaryFormat: true, interceptors }));
    this.#watchdog = setInterval(() => this.#check(), 500);
  }

  view(pool: KvPoolRef): PoolKvIndexView | undefined {
    const copy = this.#follow(pool);
    return copy.complete && this.#inStep(copy) ? copy : undefined;
  }

  whyNot(pool: KvPoolRef): string {
    const copy = this.#pools.get(poolKey(pool));
    if (!copy) return 'no index stream for this pool yet';
    if (!copy.complete) return `the index from agent ${this.#o.agentUrl} has not arrived yet (${copy.lastError})`;
    return `the index stream from agent ${this.#o.agentUrl} is silent for ${this.#o.now() - copy.lastMessageAt} ms (${copy.lastError || 'no heartbeat'})`;
  }

  prepare(pools: readonly KvPoolRef[]): void {
    const keep = new Set(pools.map(poolKey));
    for (const [key, copy] of this.#pools) {
      if (keep.has(key)) continue;
      copy.closed = true;
      copy.attempt?.abort();
      this.#pools.delete(key);
    }
    for (const p of pools) this.#follow(p);
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#watchdog);
    for (const copy of this.#pools.values()) {
      copy.closed = true;
      copy.attempt?.abort();
    }
    this.#pools.clear();
  }

  #inStep(copy: PoolCopy): boolean {
    return this.#o.now() - copy.lastMessageAt <= this.#o.staleAfterMs;
  }

  #follow(pool: KvPoolRef): PoolCopy {
    const key = poolKey(pool);
    let copy = this.#pools.get(key);
    if (!copy) {
      copy = new PoolCopy(pool);
      copy.closed = this.#closed;
      this.#pools.set(key, copy);
      if (!this.#closed) void this.#run(copy);
    }
    return copy;
  }

  async #run(copy: PoolCopy): Promise<void> {
    let failures = 0;
    while (!copy.closed) {
      const attempt = new AbortController();
      copy.attempt = attempt;
      // A reopened stream starts with the whole index; until it is complete the copy is not served.
      let building: KvBlockIndex | undefined;
      try {
        const stream = this.#client.watchKvIndex({ selector: copy.pool.selector, targetPorts: copy.pool.targetPorts, pool: copy.pool.name }, { signal: attempt.signal });
        for await (const msg of stream) {
          if (msg.reset) building = new KvBlockIndex();
          const target = building ?? copy.index;
          for (const u of msg.updates) applyWire(target, u);
          copy.lastMessageAt = this.#o.now();
          copy.updatedAt = msg.indexUpdatedUnixMs;
          if (msg.complete) {
            if (building) {
              copy.index = building;
              building = undefined;
              if (!copy.complete) this.#o.log({ level: 'info', msg: 'kv index stream in step', pool: copy.pool.name, agent: this.#o.agentUrl });
              copy.complete = true;
            }
            copy.syncedAt = copy.lastMessageAt;
            copy.lastError = '';
            failures = 0;
          }
        }
        copy.lastError = 'the agent ended the stream';
      } catch (err) {
        if (copy.closed) break;
        copy.lastError = attempt.signal.aborted ? `no message for ${this.#o.staleAfterMs} ms` : ConnectError.from(err).rawMessage;
      }
      copy.complete = false;
      this.#o.log({ level: 'warn', msg: 'kv index stream lost', pool: copy.pool.name, agent: this.#o.agentUrl, error: copy.lastError });
      const ceiling = Math.min(this.#o.backoffMaxMs, this.#o.backoffInitialMs * 2 ** failures++);
      await sleep(ceiling, () => copy.closed);
    }
  }

  /** Abort streams that went silent (a half-open connection never errors by itself). */
  #check(): void {
    for (const copy of this.#pools.values()) if (copy.complete && !this.#inStep(copy)) copy.attempt?.abort();
  }
}

const KINDS = { [KvIndexUpdateKind.STORED]: 'stored', [KvIndexUpdateKind.REMOVED]: 'removed', [KvIndexUpdateKind.CLEARED]: 'cleared', [KvIndexUpdateKind.FORGOTTEN]: 'forgotten' } as const;

/** A wire update as kvevents' IndexUpdate (the same rules the agent's index applied). */
export function fromWireUpdate(u: KvIndexUpdate): IndexUpdate {
  const kind = KINDS[u.kind as keyof typeof KINDS];
  if (kind === undefined) throw new Error(`unknown KV index update kind ${u.kind} for ${u.endpointId}`);
  if (kind === 'stored' || kind === 'removed') return { kind, pod: u.endpointId, medium: u.medium || MEDIUM_GPU, hashes: u.blockHashes };
  return { kind, pod: u.endpointId };
}

function applyWire(index: KvBlockIndex, u: KvIndexUpdate): void {
  const update = fromWireUpdate(u);
  // A pod that holds nothing is still a member (a lookup answers 0 for it, from events).
  if (update.kind === 'cleared') index.podSlot(update.pod);
  applyUpdates(index, [update]);
}

async function sleep(ms: number, stop: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (!stop() && Date.now() < until) await new Promise((r) => setTimeout(r, Math.min(50, until - Date.now())));
}
