/**
 * The dashboard page: one EventSource on ./events, every event validated
 * against the feed's schema (the page's boundary), applied to the model, and
 * the changed parts redrawn at the next animation frame.
 */
import * as v from 'valibot';
import { FeedEvent } from '../feed.ts';
import { ChartsView } from './charts.ts';
import { DecisionsView } from './decisions.ts';
import { byId, count, setText } from './dom.ts';
import { FeedModel, type Part } from './model.ts';
import { PoolsView } from './pools.ts';
import { RoutingTableView } from './routing.ts';

const EVENT_TYPES = ['state', 'pools', 'point', 'decisions', 'routing'] as const;

const model = new FeedModel();
const pools = new PoolsView(byId('pools'));
const charts = new ChartsView(byId('charts'));
const dialog = byId<HTMLDialogElement>('explanation');
const decisions = new DecisionsView(byId<HTMLTableElement>('decisions'), dialog, (seq) => model.decision(seq));
const routing = new RoutingTableView(byId('routing-version'), byId<HTMLTableElement>('routing'));
const status = byId('connection');

byId('explanation-close').addEventListener('click', () => dialog.close());
// A click on the backdrop (the dialog element itself, outside its content) closes it too.
dialog.addEventListener('click', (e) => e.target === dialog && dialog.close());

let dirty = new Set<Part>();
let frame = 0;
function draw(): void {
  frame = 0;
  const parts = dirty;
  dirty = new Set();
  if (parts.has('pools')) pools.render(model.pools);
  if (parts.has('series')) {
    charts.render(model.series);
    const t = model.totals;
    setText(byId('total-requests'), count(t.requests));
    setText(byId('total-errors'), count(t.errors));
    setText(byId('total-shed'), count(t.shed));
    setText(byId('total-queued'), count(t.queued));
  }
  if (parts.has('decisions')) decisions.render(model.decisions);
  if (parts.has('routing')) routing.render(model.routing);
}

function connect(): void {
  const source = new EventSource('events');
  const onEvent = (message: MessageEvent<string>) => {
    let data: unknown;
    try {
      data = JSON.parse(message.data);
    } catch (err) {
      return feedProblem(`an event that is not JSON (${String(err)})`);
    }
    const parsed = v.safeParse(FeedEvent, data);
    if (!parsed.success) {
      const issue = parsed.issues[0];
      return feedProblem(`a ${message.type} event that does not match the feed: ${v.getDotPath(issue) ?? '(root)'}: ${issue.message}`);
    }
    for (const part of model.apply(parsed.output)) dirty.add(part);
    setText(status, 'Live');
    status.className = 'live';
    if (!frame) frame = requestAnimationFrame(draw);
  };
  for (const type of EVENT_TYPES) source.addEventListener(type, onEvent);
  source.addEventListener('error', () => {
    if (source.readyState === EventSource.CLOSED) {
      // The server refused the stream (e.g. the session expired): reconnecting will not help.
      status.replaceChildren('Disconnected. ', Object.assign(document.createElement('a'), { href: './', textContent: 'Reload to sign in again' }));
      status.className = 'down';
    } else {
      setText(status, 'Reconnecting…');
      status.className = 'reconnecting';
    }
  });
}

function feedProblem(text: string): void {
  console.error(`dashboard: ${text}`);
  setText(status, `The gateway sent ${text}; the page may be older than the gateway, reload it.`);
  status.className = 'down';
}

connect();
