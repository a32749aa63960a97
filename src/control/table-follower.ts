/**
 * Follow another gateway's routing table: stream RoutingService.WatchRoutingTable
 * from the leader (the primary of a `--workers N` gateway), validate each table
 * and install it keeping the leader's version. An invalid table is logged and
 * ignored; while the leader is unreachable the last table stays in force and the
 * stream is retried with jittered exponential backoff.
 */
import { ConnectError, createClient, type Client, type Transport } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import { RoutingService, type RoutingTable as WireTable } from '../gen/infergate/v1/routing_pb.ts';
import { formatProblem } from '../routing/problems.ts';
import type { RoutingTableStore } from '../routing/store.ts';
import { validateTable } from '../routing/validate.ts';
import { sendBearer } from '../rpc/auth.ts';
import { tableFromWire } from './table-wire.ts';

export interface TableFollowerOptions {
  store: RoutingTableStore;
  /** The leader's RoutingService base URL. */
  url: string;
  /** Bearer token the leader requires. */
  token?: string;
  /** Default: Connect over fetch (works on every runtime). */
  transport?: Transport;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  random?: () => number;
  log?: (line: Record<string, unknown>) => void;
}

/**
 * @example
 * const follower = new TableFollower({ store, url: 'http://127.0.0.1:40123', token });
 * await follower.firstTable(3000); // false: none yet, serve 503 until one lands
 * follower.close();
 */
export class TableFollower {
  readonly #client: Client<typeof RoutingService>;
  readonly #o: Required<Omit<TableFollowerOptions, 'transport' | 'token'>>;
  readonly #installed = new Set<() => void>();
  #attempt: AbortController | undefined;
  #connected = false;
  #closed = false;

  constructor(options: TableFollowerOptions) {
    this.#o = {
      store: options.store,
      url: options.url,
      backoffInitialMs: options.backoffInitialMs ?? 50,
      backoffMaxMs: options.backoffMaxMs ?? 1000,
      random: options.random ?? Math.random,
      log: options.log ?? (() => {}),
    };
    const transport = options.transport ?? createConnectTransport({ baseUrl: options.url, useBinaryFormat: true, interceptors: options.token ? [sendBearer(options.token)] : [] });
    this.#client = createClient(RoutingService, transport);
    void this.#run();
  }

  /** Whether the stream from the leader is up. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Resolves true once the store holds a table (at once if it already does), false after `timeoutMs` or on close. */
  firstTable(timeoutMs: number): Promise<boolean> {
    if (this.#o.store.current) return Promise.resolve(true);
    if (this.#closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.#installed.delete(onInstall);
        resolve(ok);
      };
      const onInstall = () => done(!!this.#o.store.current);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.#installed.add(onInstall);
    });
  }

  close(): void {
    this.#closed = true;
    this.#attempt?.abort();
    for (const wake of [...this.#installed]) wake();
  }

  async #run(): Promise<void> {
    let failures = 0;
    let lossLogged = false;
    while (!this.#closed) {
      const attempt = new AbortController();
      this.#attempt = attempt;
      let error: string;
      try {
        for await (const msg of this.#client.watchRoutingTable({}, { signal: attempt.signal })) {
          if (!this.#connected && lossLogged) this.#o.log({ level: 'info', msg: 'routing table stream reconnected', leader: this.#o.url });
          this.#connected = true;
          lossLogged = false;
          failures = 0;
          if (msg.table) this.#install(msg.table);
        }
        error = 'the leader ended the stream';
      } catch (err) {
        if (this.#closed) break;
        error = ConnectError.from(err).rawMessage;
      }
      // A stream that ends and comes straight back (an idle timeout somewhere) is not news; one that stays down is.
      if (failures > 0 && !lossLogged) {
        this.#o.log({ level: 'warn', msg: 'routing table stream lost; keeping the last table', leader: this.#o.url, error, version: this.#o.store.version });
        lossLogged = true;
      }
      this.#connected = false;
      const ceiling = Math.min(this.#o.backoffMaxMs, this.#o.backoffInitialMs * 2 ** failures++);
      await sleep(ceiling * (0.5 + this.#o.random() * 0.5), () => this.#closed);
    }
    this.#connected = false;
  }

  #install(wire: WireTable): void {
    const result = validateTable(tableFromWire(wire));
    if (!result.ok) {
      this.#o.log({ level: 'warn', msg: 'ignored an invalid routing table from the leader; keeping the last one', leader: this.#o.url, version: Number(wire.version), problems: result.problems.map(formatProblem) });
      return;
    }
    const current = this.#o.store.current;
    // The leader re-sends its table on every reconnect: do not recompile an identical one.
    if (current && current.version === result.table.version && JSON.stringify(current.source) === JSON.stringify(result.table)) return;
    this.#o.store.install(result.table);
    for (const wake of [...this.#installed]) wake();
  }
}

/** Sleep, checking `stop` every 50 ms so that close() is prompt. */
async function sleep(ms: number, stop: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (!stop() && Date.now() < until) await new Promise((r) => setTimeout(r, Math.min(50, until - Date.now())));
}
