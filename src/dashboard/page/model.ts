/**
 * What the page knows, built from the feed's events. Pure (no DOM), so its
 * rules are tested without a browser: `pools` and `routing` replace, points
 * and decisions append unless already held (the stream may repeat what the
 * state had, see DashboardSource.subscribe), both windows stay bounded.
 */
import { FEED_LIMITS, type DecisionView, type FeedEvent, type PoolView, type RoutingView, type SeriesPoint, type Totals } from '../feed.ts';

export type Part = 'pools' | 'series' | 'decisions' | 'routing';

export class FeedModel {
  pools: PoolView[] = [];
  /** When the pools were read, ms since epoch. */
  poolsAt = 0;
  series: SeriesPoint[] = [];
  totals: Totals = { requests: 0, errors: 0, shed: 0, queued: 0 };
  /** Oldest first. */
  decisions: DecisionView[] = [];
  routing: RoutingView = { version: 0, objects: [] };

  /** Apply an event; returns the parts that changed. */
  apply(event: FeedEvent): Set<Part> {
    switch (event.type) {
      case 'state':
        this.pools = event.pools;
        this.poolsAt = event.at;
        this.series = event.series.slice(-FEED_LIMITS.seriesSeconds);
        this.totals = event.totals;
        this.decisions = event.decisions.slice(-FEED_LIMITS.decisions);
        this.routing = event.routing;
        return new Set<Part>(['pools', 'series', 'decisions', 'routing']);
      case 'pools':
        this.pools = event.pools;
        this.poolsAt = event.at;
        return new Set<Part>(['pools']);
      case 'point': {
        this.totals = event.totals;
        const last = this.series.at(-1);
        if (last && event.point.t <= last.t) return new Set<Part>(['series']);
        this.series.push(event.point);
        if (this.series.length > FEED_LIMITS.seriesSeconds) this.series.splice(0, this.series.length - FEED_LIMITS.seriesSeconds);
        return new Set<Part>(['series']);
      }
      case 'decisions': {
        const lastSeq = this.decisions.at(-1)?.seq ?? 0;
        const fresh = event.decisions.filter((d) => d.seq > lastSeq);
        if (fresh.length === 0) return new Set();
        this.decisions.push(...fresh);
        if (this.decisions.length > FEED_LIMITS.decisions) this.decisions.splice(0, this.decisions.length - FEED_LIMITS.decisions);
        return new Set<Part>(['decisions']);
      }
      case 'routing':
        this.routing = event.routing;
        return new Set<Part>(['routing']);
    }
  }

  decision(seq: number): DecisionView | undefined {
    return this.decisions.find((d) => d.seq === seq);
  }
}
