/**
 * Pools as cards, a row per pod: state, queue, running, KV use (bars with
 * their numbers), adapters, metric age. Cards and rows are kept by name and
 * id and updated in place, so a tick every half second does not rebuild the
 * page (nor lose a reader's place).
 */
import type { PodView, PoolView } from '../feed.ts';
import { h, setText, duration } from './dom.ts';

/** Metrics older than this are stale for the scheduler (DESIGN.md's default). */
const STALE_MS = 2000;
/** Queue bars fill at the saturation threshold's queue depth (5) unless a pod queues more. */
const QUEUE_SCALE = 5;

interface PodRow {
  row: HTMLTableRowElement;
  state: HTMLElement;
  queue: Bar;
  running: Bar;
  kv: Bar;
  adapters: HTMLElement;
  age: HTMLElement;
}

interface Bar {
  meter: HTMLMeterElement;
  text: HTMLElement;
}

interface Card {
  card: HTMLElement;
  summary: HTMLElement;
  body: HTMLTableSectionElement;
  rows: Map<string, PodRow>;
}

export class PoolsView {
  readonly #root: HTMLElement;
  readonly #cards = new Map<string, Card>();

  constructor(root: HTMLElement) {
    this.#root = root;
  }

  render(pools: PoolView[]): void {
    const seen = new Set<string>();
    if (pools.length === 0) {
      this.#root.replaceChildren(h('p', { class: 'empty' }, 'No pools yet: apply a routing table with an InferencePool.'));
      this.#cards.clear();
      return;
    }
    this.#root.querySelector(':scope > p.empty')?.remove();
    pools.forEach((pool, i) => {
      seen.add(pool.name);
      let card = this.#cards.get(pool.name);
      if (!card) {
        card = newCard(pool.name);
        this.#cards.set(pool.name, card);
      }
      if (this.#root.children[i] !== card.card) this.#root.insertBefore(card.card, this.#root.children[i] ?? null);
      updateCard(card, pool);
    });
    for (const [name, card] of this.#cards) {
      if (seen.has(name)) continue;
      card.card.remove();
      this.#cards.delete(name);
    }
  }
}

function newCard(name: string): Card {
  const headingId = `pool-${name.replace(/[^a-zA-Z0-9_-]/g, '_')}`;
  const summary = h('p', { class: 'pool-summary' });
  const body = h('tbody');
  const card = h(
    'article',
    { class: 'pool', 'aria-labelledby': headingId, 'data-pool': name },
    h('header', {}, h('h3', { id: headingId }, name), summary),
    h(
      'table',
      { class: 'pods' },
      h('caption', { class: 'visually-hidden' }, `Pods of pool ${name}`),
      h('thead', {}, h('tr', {}, ...['Pod', 'State', 'Queue', 'Running', 'KV cache', 'Adapters', 'Metrics age'].map((t) => h('th', { scope: 'col' }, t)))),
      body,
    ),
  );
  return { card, summary, body, rows: new Map() };
}

function updateCard(card: Card, pool: PoolView): void {
  const ready = pool.pods.filter((p) => p.ready && !p.draining).length;
  const parts = [`${ready}/${pool.pods.length} pods ready`, pool.failureMode, pool.profile ? `profile ${pool.profile}` : 'default profile'];
  if (pool.saturation !== undefined) parts.push(`saturation ${pool.saturation.toFixed(2)}`);
  setText(card.summary, parts.filter(Boolean).join(' · '));
  card.card.classList.toggle('saturated', (pool.saturation ?? 0) >= 1);

  const queueMax = Math.max(QUEUE_SCALE, ...pool.pods.map((p) => p.waiting));
  const runningMax = Math.max(1, ...pool.pods.map((p) => p.running));
  const seen = new Set<string>();
  if (pool.pods.length === 0 && card.rows.size === 0) card.body.replaceChildren(h('tr', {}, h('td', { colspan: 7, class: 'empty' }, 'No pods match this pool’s selector.')));
  else card.body.querySelector('td.empty')?.parentElement?.remove();
  pool.pods.forEach((pod, i) => {
    seen.add(pod.id);
    let row = card.rows.get(pod.id);
    if (!row) {
      row = newRow(pod.id);
      card.rows.set(pod.id, row);
    }
    if (card.body.rows[i] !== row.row) card.body.insertBefore(row.row, card.body.rows[i] ?? null);
    updateRow(row, pod, queueMax, runningMax);
  });
  for (const [id, row] of card.rows) {
    if (seen.has(id)) continue;
    row.row.remove();
    card.rows.delete(id);
  }
}

function newBar(kind: string): Bar & { cell: HTMLElement } {
  // The number is the accessible value; the meter is its picture.
  const meter = h('meter', { min: 0, max: 1, value: 0, 'aria-hidden': 'true' });
  const text = h('span', { class: 'value' });
  return { meter, text, cell: h('td', { class: `bar ${kind}`, 'data-col': kind }, meter, text) };
}

function newRow(id: string): PodRow {
  const state = h('td', { 'data-col': 'state' });
  const queue = newBar('queue');
  const running = newBar('running');
  const kv = newBar('kv');
  const adapters = h('td', { 'data-col': 'adapters' });
  const age = h('td', { 'data-col': 'age' });
  const row = h('tr', { 'data-pod': id }, h('th', { scope: 'row' }, id), state, queue.cell, running.cell, kv.cell, adapters, age);
  return { row, state, queue, running, kv, adapters, age };
}

function updateRow(r: PodRow, pod: PodView, queueMax: number, runningMax: number): void {
  const state = pod.draining ? 'draining' : pod.ready ? 'ready' : 'not ready';
  setText(r.state, pod.lastError ? `${state} · scrape failed` : state);
  r.state.className = pod.draining ? 'state draining' : pod.ready ? 'state ready' : 'state not-ready';
  if (pod.lastError) r.state.title = pod.lastError;
  else r.state.removeAttribute('title');

  setBar(r.queue, pod.waiting, queueMax, String(pod.waiting));
  const inFlight = pod.inFlight !== undefined ? ` (+${pod.inFlight} in flight)` : '';
  setBar(r.running, pod.running, runningMax, `${pod.running}${inFlight}`);
  setBar(r.kv, pod.kvUsage, 1, `${Math.round(pod.kvUsage * 100)}%`);
  r.kv.meter.high = 0.8; // the saturation threshold: the meter turns amber past it
  r.kv.meter.optimum = 0;

  renderAdapters(r.adapters, pod);

  const stale = pod.metricAgeMs === null || pod.metricAgeMs > STALE_MS;
  setText(r.age, pod.metricAgeMs === null ? 'never scraped' : `${duration(pod.metricAgeMs)}${stale ? ' (stale)' : ''}`);
  r.age.classList.toggle('stale', stale);
}

function setBar(bar: Bar, value: number, max: number, text: string): void {
  if (bar.meter.max !== max) bar.meter.max = max;
  if (bar.meter.value !== value) bar.meter.value = value;
  setText(bar.text, text);
}

function renderAdapters(cell: HTMLElement, pod: PodView): void {
  const key = `${pod.activeAdapters.join(',')}|${pod.waitingAdapters.join(',')}|${pod.maxAdapters ?? ''}`;
  if (cell.dataset.key === key) return;
  cell.dataset.key = key;
  const chips: Node[] = [];
  for (const a of pod.activeAdapters) chips.push(h('span', { class: 'chip active', title: 'loaded, in the running batch' }, a));
  for (const a of pod.waitingAdapters) chips.push(h('span', { class: 'chip waiting', title: 'asked for by waiting requests' }, `${a} (waiting)`));
  if (chips.length === 0) chips.push(h('span', { class: 'muted' }, '—'));
  if (pod.maxAdapters) chips.push(h('span', { class: 'muted' }, ` max ${pod.maxAdapters}`));
  cell.replaceChildren(...chips);
}
