/**
 * The agent's own Prometheus metrics: scrapes of each endpoint, how long
 * they took and how many failed (and the kind of failure), scrapes skipped
 * because the previous one was still out, the endpoints it knows, and the
 * gateways subscribed to its EndpointService streams. Served at the agent's
 * `/metrics`, and on the gateway's admin `/metrics` when the agent runs
 * inside the gateway.
 */
import { Registry } from '../observability/exposition.ts';
import type { MetricsAgent } from './agent.ts';

const SCRAPE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** The failure's kind, a bounded label value. */
export function scrapeFailure(error: string): string {
  if (/timeout|timed out|aborted/i.test(error)) return 'timeout';
  if (/ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|UND_ERR_SOCKET|refused|socket hang up/i.test(error)) return 'unreachable';
  if (/unreadable/i.test(error)) return 'unreadable';
  if (/HTTP|status/i.test(error)) return 'http_status';
  return 'other';
}

export class AgentMetrics {
  readonly registry: Registry;
  #subscribers = 0;

  constructor(agent: MetricsAgent, registry = new Registry()) {
    this.registry = registry;
    const scrapes = registry.counter('infergate_agent_scrapes_total', 'Scrapes of an endpoint’s /metrics that finished, by endpoint.', ['endpoint']);
    const errors = registry.counter('infergate_agent_scrape_errors_total', 'Scrapes that failed, by endpoint and kind (unreachable, timeout, http_status, unreadable, other).', ['endpoint', 'reason']);
    const duration = registry.histogram('infergate_agent_scrape_duration_seconds', 'Time a scrape took, by endpoint.', ['endpoint'], SCRAPE_BUCKETS);
    const skipped = registry.counter('infergate_agent_scrapes_skipped_total', 'Scrape ticks skipped for an endpoint whose previous scrape was still out (or at the concurrency cap).');
    const endpoints = registry.gauge('infergate_agent_endpoints', 'Endpoints the agent scrapes.');
    const subscribers = registry.gauge('infergate_agent_subscribers', 'EndpointService streams open (gateways watching pools).');
    registry.collect(() => {
      skipped.labels().value = agent.stats.skipped;
      endpoints.labels().value = agent.endpointCount;
      subscribers.labels().value = this.#subscribers;
    });
    agent.onScrape = (id, seconds, error) => {
      scrapes.labels(id).value++;
      duration.labels(id).observe(seconds);
      if (error !== undefined) errors.labels(id, scrapeFailure(error)).value++;
    };
  }

  /** A stream opened; call the returned function when it closes. */
  subscribed(): () => void {
    this.#subscribers++;
    let open = true;
    return () => {
      if (open) this.#subscribers--;
      open = false;
    };
  }

  render(): string {
    return this.registry.render();
  }
}
