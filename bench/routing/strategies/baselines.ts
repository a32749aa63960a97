/**
 * The strategies a user would otherwise run, as `Scheduler`s so the harness
 * drives them exactly like the endpoint picker: random, round-robin, and
 * least-request (fewest of this gateway's own requests in flight — what
 * Envoy's LEAST_REQUEST or an nginx `least_conn` upstream does; no metrics).
 * None of them sheds.
 */
import type { Endpoint, PoolSnapshot } from '../../../src/endpoints/types.ts';
import type { Pool } from '../../../src/routing/schema.ts';
import type { Decision, Scheduler, SchedulingRequest } from '../../../src/scheduling/scheduler.ts';

function ready(snapshot: PoolSnapshot): Endpoint[] {
  return snapshot.endpoints.filter((e) => e.ready);
}

function route(endpoint: Endpoint | undefined): Decision {
  return endpoint ? { kind: 'route', endpoint, fallbacks: [] } : { kind: 'unavailable', reason: 'no ready endpoint' };
}

export function randomScheduler(random: () => number): Scheduler {
  return {
    decide(_pool, snapshot) {
      const eps = ready(snapshot);
      return route(eps[Math.floor(random() * eps.length)]);
    },
    dispatched() {},
    completed() {},
  };
}

export function roundRobinScheduler(): Scheduler {
  const next = new Map<string, number>();
  return {
    decide(pool, snapshot) {
      const eps = ready(snapshot);
      const i = next.get(pool.name) ?? 0;
      next.set(pool.name, i + 1);
      return route(eps[i % Math.max(1, eps.length)]);
    },
    dispatched() {},
    completed() {},
  };
}

/** This gateway's requests in flight per endpoint id (dispatched, not completed). */
export class InFlightCounts {
  readonly #counts = new Map<string, number>();

  get(id: string): number {
    return this.#counts.get(id) ?? 0;
  }

  add(id: string, delta: number): void {
    this.#counts.set(id, this.get(id) + delta);
  }
}

/** Fewest in flight; ties broken at random (not by position, which would pile onto the first pod). */
export function leastRequestScheduler(random: () => number): Scheduler {
  const inFlight = new InFlightCounts();
  return {
    decide(_pool: Pool, snapshot: PoolSnapshot, _req: SchedulingRequest) {
      let best: Endpoint | undefined;
      let bestLoad = Infinity;
      let ties = 0;
      for (const e of snapshot.endpoints) {
        if (!e.ready) continue;
        const load = inFlight.get(e.id);
        if (load < bestLoad) {
          best = e;
          bestLoad = load;
          ties = 1;
        } else if (load === bestLoad && random() * ++ties < 1) {
          best = e; // reservoir sampling over the tied endpoints
        }
      }
      return route(best);
    },
    dispatched(_pool, endpoint) {
      inFlight.add(endpoint.id, 1);
    },
    completed(_pool, endpoint) {
      inFlight.add(endpoint.id, -1);
    },
  };
}
