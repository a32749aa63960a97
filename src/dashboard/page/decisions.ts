/**
 * The last decisions, newest first; a row (or its button, for the keyboard)
 * opens the decision's explanation in a dialog: the profile, the candidates
 * with each scorer's score and weight, what was filtered out and why, or why
 * the request was shed or found no endpoint.
 */
import type { DecisionView, Explanation } from '../feed.ts';
import { h } from './dom.ts';

type Candidate = NonNullable<Explanation['candidates']>[number];

export class DecisionsView {
  readonly #body: HTMLTableSectionElement;
  readonly #dialog: HTMLDialogElement;
  readonly #content: HTMLElement;
  readonly #find: (seq: number) => DecisionView | undefined;
  #shown = '';

  constructor(table: HTMLTableElement, dialog: HTMLDialogElement, find: (seq: number) => DecisionView | undefined) {
    this.#body = table.tBodies[0] ?? table.createTBody();
    this.#dialog = dialog;
    this.#content = dialog.querySelector<HTMLElement>('.explanation-content')!;
    this.#find = find;
    this.#body.addEventListener('click', (e) => {
      const row = (e.target as Element).closest<HTMLTableRowElement>('tr[data-seq]');
      if (row) this.open(Number(row.dataset.seq));
    });
  }

  render(decisions: DecisionView[]): void {
    // Rebuild only when the newest decision changed: rows are cheap, but focus on a row must survive ticks.
    const key = `${decisions.length}:${decisions.at(-1)?.seq ?? 0}:${decisions[0]?.seq ?? 0}`;
    if (key === this.#shown) return;
    this.#shown = key;
    const focused = (document.activeElement as HTMLElement | null)?.closest<HTMLElement>('tr[data-seq]')?.dataset.seq;
    const rows = decisions
      .slice()
      .reverse()
      .map((d) => this.#row(d));
    if (rows.length === 0) rows.push(h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'No decisions yet.')));
    this.#body.replaceChildren(...rows);
    if (focused) this.#body.querySelector<HTMLElement>(`tr[data-seq="${focused}"] button`)?.focus();
  }

  open(seq: number): void {
    const d = this.#find(seq);
    if (!d) return;
    this.#content.replaceChildren(...explanation(d));
    const title = this.#dialog.querySelector('#explanation-title');
    if (title) title.textContent = `Decision #${d.seq}: ${d.model} → ${d.endpoint ?? d.outcome}`;
    if (!this.#dialog.open) this.#dialog.showModal();
  }

  #row(d: DecisionView): HTMLTableRowElement {
    const time = new Date(d.at).toLocaleTimeString('en-GB', { hour12: false });
    const where = d.outcome === 'route' ? (d.endpoint ?? '') : (d.reason ?? d.outcome);
    const model = d.targetModel && d.targetModel !== d.model ? `${d.model} → ${d.targetModel}` : d.model;
    return h(
      'tr',
      { 'data-seq': d.seq, class: `outcome-${d.outcome}` },
      h('td', {}, h('button', { type: 'button', class: 'link', 'aria-haspopup': 'dialog', 'aria-label': `Explain decision ${d.seq} at ${time}` }, time)),
      h('td', {}, model),
      h('td', {}, d.pool),
      h('td', {}, h('span', { class: `badge ${d.outcome}` }, d.outcome)),
      h('td', { class: 'where' }, where),
      h('td', {}, d.explanation ? (d.explanation.profile ?? '') : h('span', { class: 'muted' }, 'not explained')),
    );
  }
}

function explanation(d: DecisionView): Node[] {
  const e = d.explanation;
  const facts: [string, string | undefined][] = [
    ['Outcome', d.outcome],
    ['Model', d.targetModel ? `${d.model} (sent as ${d.targetModel})` : d.model],
    ['Objective', d.objective],
    ['Pool', d.pool],
    ['Picked', d.endpoint],
    ['Reason', d.reason],
  ];
  if (!e) {
    return [facts_(facts), h('p', { class: 'muted' }, 'No explanation was computed for this request: the gateway explains a sample of decisions while a dashboard is open.')];
  }
  facts.push(
    ['Profile', e.profileMissing ? `${e.profile} (pool asked for “${e.profileMissing}”, which does not exist)` : e.profile],
    ['Picker', e.picker],
    ['Kernel', e.kernel],
    ['Pool saturation', e.saturation === undefined || e.saturation === null ? undefined : e.saturation.toFixed(3)],
    ['Candidates considered', e.considered === undefined ? undefined : String(e.considered)],
    ['Fail-open', e.failOpen ? 'no fresh metrics: picked by least in-flight' : undefined],
    ['Shed', e.shed],
    ['Unavailable', e.unavailable],
    ['Filters bypassed', e.bypassed?.length ? `${e.bypassed.join(', ')} (would have removed every candidate)` : undefined],
  );
  const out: Node[] = [facts_(facts)];
  if (e.candidates?.length) out.push(candidates(e.candidates, e.weights ?? {}, e.picked));
  if (e.filtered?.length) {
    out.push(
      h('h3', {}, 'Filtered out'),
      h(
        'table',
        { class: 'filtered' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Endpoint'), h('th', { scope: 'col' }, 'Filter'), h('th', { scope: 'col' }, 'Why'))),
        h('tbody', {}, ...e.filtered.map((r) => h('tr', {}, h('th', { scope: 'row' }, r.id), h('td', {}, r.by), h('td', {}, r.reason)))),
      ),
    );
    if (e.filteredCount && e.filteredCount > e.filtered.length) out.push(h('p', { class: 'muted' }, `and ${e.filteredCount - e.filtered.length} more`));
  }
  return out;
}

function facts_(facts: [string, string | undefined][]): HTMLElement {
  const dl = h('dl', { class: 'facts' });
  for (const [k, v] of facts) if (v !== undefined && v !== '') dl.append(h('dt', {}, k), h('dd', {}, v));
  return dl;
}

function candidates(list: Candidate[], weights: Record<string, number>, picked: string | undefined): Node {
  const scorers = [...new Set(list.flatMap((c) => Object.keys(c.scores)))];
  const score = (x: number | null | undefined) => (x === null || x === undefined ? '–' : x.toFixed(3));
  return h(
    'table',
    { class: 'candidates' },
    h('caption', {}, 'Scores per plugin (0–1, before weighting) and weighted total'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Endpoint'),
        ...scorers.map((s) => h('th', { scope: 'col', class: 'num' }, s, weights[s] !== undefined ? h('span', { class: 'weight' }, ` ×${weights[s]}`) : null)),
        h('th', { scope: 'col', class: 'num' }, 'Total'),
        h('th', { scope: 'col', class: 'num' }, 'Metrics age'),
      ),
    ),
    h(
      'tbody',
      {},
      ...list.map((c) =>
        h(
          'tr',
          { class: c.id === picked ? 'picked' : undefined, 'data-candidate': c.id },
          h('th', { scope: 'row' }, c.id, c.id === picked ? h('span', { class: 'badge route' }, ' picked') : null),
          ...scorers.map((s) => h('td', { class: 'num' }, score(c.scores[s]))),
          h('td', { class: 'num total' }, score(c.total)),
          h('td', { class: 'num' }, `${c.ageMs} ms`),
        ),
      ),
    ),
  );
}
