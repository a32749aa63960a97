/**
 * The routing table: its version and every object with its conditions
 * (Kubernetes-style: type, status, reason; the message on hover and for
 * screen readers).
 */
import type { Condition, RoutingView } from '../feed.ts';
import { h, setText } from './dom.ts';

export class RoutingTableView {
  readonly #version: HTMLElement;
  readonly #body: HTMLTableSectionElement;
  #shown = '';

  constructor(version: HTMLElement, table: HTMLTableElement) {
    this.#version = version;
    this.#body = table.tBodies[0] ?? table.createTBody();
  }

  render(routing: RoutingView): void {
    setText(this.#version, routing.version === 0 ? 'no table yet' : `version ${routing.version}`);
    const key = JSON.stringify(routing);
    if (key === this.#shown) return;
    this.#shown = key;
    const rows = routing.objects.map((o) =>
      h(
        'tr',
        { 'data-object': `${o.kind}/${o.name}` },
        h('td', {}, o.kind),
        h('th', { scope: 'row' }, o.name),
        h('td', { class: 'summary' }, o.summary),
        h('td', {}, h('ul', { class: 'conditions' }, ...o.conditions.map(condition))),
      ),
    );
    if (rows.length === 0) rows.push(h('tr', {}, h('td', { colspan: 4, class: 'empty' }, 'No routing table has been accepted yet: infergate apply -f manifests.yaml.')));
    this.#body.replaceChildren(...rows);
  }
}

function condition(c: Condition): HTMLElement {
  const text = `${c.type}: ${c.status}${c.reason && c.reason !== c.type ? ` (${c.reason})` : ''}`;
  return h('li', { class: `condition status-${c.status.toLowerCase()}`, title: c.message || undefined }, text, c.message ? h('span', { class: 'visually-hidden' }, ` — ${c.message}`) : null);
}
