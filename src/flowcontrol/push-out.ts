/**
 * The requests a full queue would push out to make room for an arrival,
 * chosen before any of them is: the queues read as if they were gone, so the
 * next choice is made exactly as it would be after the last one left. Only if
 * the arrival then fits are they pushed out (FlowController.admitThen); else
 * the arrival alone is refused and nobody who waits loses their place.
 */
import type { QueuedRequest } from './queues.ts';

interface Sizes {
  count: number;
  bytes: number;
}

const NONE: Readonly<Sizes> = { count: 0, bytes: 0 };

export class PushOutPlan {
  readonly items: QueuedRequest[] = [];
  /** Chosen, every band. */
  count = 0;
  bytes = 0;
  readonly #chosen = new Set<QueuedRequest>();
  /** Chosen per band (by priority), in all and per flow. */
  readonly #bands = new Map<number, Sizes & { flows: Map<string, Sizes> }>();

  add(item: QueuedRequest): void {
    this.items.push(item);
    this.#chosen.add(item);
    this.count++;
    this.bytes += item.bytes;
    let band = this.#bands.get(item.priority);
    if (!band) this.#bands.set(item.priority, (band = { count: 0, bytes: 0, flows: new Map() }));
    band.count++;
    band.bytes += item.bytes;
    let flow = band.flows.get(item.flow);
    if (!flow) band.flows.set(item.flow, (flow = { count: 0, bytes: 0 }));
    flow.count++;
    flow.bytes += item.bytes;
  }

  has(item: QueuedRequest): boolean {
    return this.#chosen.has(item);
  }

  /** Chosen from the band of `priority`. */
  band(priority: number): Readonly<Sizes> {
    return this.#bands.get(priority) ?? NONE;
  }

  /** Chosen from `flow` in the band of `priority`. */
  flow(priority: number, flow: string): Readonly<Sizes> {
    return this.#bands.get(priority)?.flows.get(flow) ?? NONE;
  }
}
