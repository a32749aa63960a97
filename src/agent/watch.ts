/**
 * One subscriber's stream of a pool's views: the current view at once, then
 * the latest view after each change, never two within one scrape interval,
 * and a heartbeat so that scrape times stay fresh when nothing changes.
 * It is pulled: a slow reader simply pulls later and gets the view of that
 * moment — there is no queue to build a backlog in.
 */
import type { PoolSelector } from '../endpoints/types.ts';
import type { MetricsAgent, PoolView } from './agent.ts';

export interface WatchOptions {
  /** Minimum time between two views (default: the agent's scrape interval). */
  minIntervalMs?: number;
  /** Send the view at least this often even without changes (default 100 ms). */
  heartbeatMs?: number;
  now?: () => number;
}

export async function* watchPool(
  agent: MetricsAgent,
  pool: PoolSelector,
  signal: AbortSignal,
  options: WatchOptions = {},
): AsyncGenerator<PoolView> {
  const minInterval = options.minIntervalMs ?? agent.scrapeIntervalMs;
  const heartbeat = Math.max(options.heartbeatMs ?? 100, minInterval);
  const now = options.now ?? Date.now;
  const release = agent.acquire(pool);
  try {
    let sentSeq = -1;
    let sentAt = 0;
    while (!signal.aborted) {
      const view = agent.view(pool);
      if (view.changeSeq !== sentSeq || now() - sentAt >= heartbeat) {
        yield view;
        sentSeq = view.changeSeq;
        sentAt = now();
      }
      const wait = sentAt + minInterval - now();
      if (wait > 0) await sleep(wait, signal);
      if (signal.aborted || agent.view(pool).changeSeq !== sentSeq) continue;
      await agent.waitForChange(sentAt + heartbeat - now(), signal);
    }
  } finally {
    release();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
