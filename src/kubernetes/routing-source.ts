/**
 * The routing table from the cluster: informers over every routing resource
 * type (ReferenceGrants included) and over Namespaces (their labels, for
 * listeners' allowedRoutes selectors) keep a cache of objects (keyed
 * kind/namespace/name); after each change
 * the whole list goes through the same conversion and validation as
 * `infergate apply` (importObjects), and an accepted table that differs from
 * the active one is applied as a new version.
 *
 * Unlike `apply`, which takes or refuses a file whole, a cluster changes one
 * object at a time, so:
 * - an object whose new version is invalid is reported on its status and its
 *   last accepted version stays in the table (traffic unchanged); one that was
 *   never valid stays out;
 * - a reference to something missing (an HTTPRoute to a deleted pool) is
 *   reported (ResolvedRefs False) but does not block the rest; the requests
 *   the route would send it are answered 500, as the Gateway API requires
 *   (HTTPRouteRule.backendRefs), and never go to another route;
 * - a table that still fails validation as a whole is not applied; every
 *   object named in its problems says so, and the last good table is kept.
 */
import { importObjects, type Condition as ImportCondition } from '../routing/manifests.ts';
import { formatProblem, type Problem } from '../routing/problems.ts';
import { groupOf, tableName } from '../routing/references.ts';
import type { RoutingTableStore } from '../routing/store.ts';
import { canonicalJson } from './canonical.ts';
import type { ConditionInput } from './conditions.ts';
import { ownObjects, poolParentsKey } from './ownership.ts';
import { InformerGroup } from './informer-group.ts';
import { NAMESPACE, objectKey, type KubeObject, type KubernetesPort, type ResourceType } from './port.ts';
import { READ_ONLY_KINDS, routingResourceTypes } from './resources.ts';
import { acceptedOnly, conditionsStatus, DEFAULT_PARENT, parentsStatus, poolConditions, routeConditions, type DesiredStatus } from './status.ts';

export interface RoutingSourceOptions {
  namespace?: string;
  gatewayClass?: string;
  /** Our name in status.parents[].controllerName (a domain-prefixed path). */
  controllerName: string;
  log?: (line: Record<string, unknown>) => void;
}

/** Reasons that leave an object out without making the table invalid (conflict losers). */
const NOT_BLOCKING = new Set(['Superseded', 'ModelNameInUse', 'TenantInUse']);
/** Table problem object prefixes (src/routing/validate.ts) → the kinds they come from. */
const TABLE_KINDS: Record<string, string[]> = { Pool: ['InferencePool'], Route: ['HTTPRoute'], Model: ['InferenceModel'], Objective: ['InferenceObjective'], Rewrite: ['InferenceModelRewrite'], TokenBudget: ['TokenBudget'] };

export class KubernetesRoutingSource {
  readonly #objects = new Map<string, { type: ResourceType; object: KubeObject }>();
  readonly #lastGood = new Map<string, KubeObject>();
  /** Each namespace's labels (all a listener's allowedRoutes selector reads of it). */
  readonly #namespaceLabels = new Map<string, Record<string, string>>();
  readonly #informers: InformerGroup;
  readonly #log: (line: Record<string, unknown>) => void;
  #scheduled = false;
  #appliedText: string | undefined;
  #tableProblems: Problem[] = [];

  constructor(
    readonly port: KubernetesPort,
    readonly store: RoutingTableStore,
    readonly onStatus: (desired: DesiredStatus[]) => void,
    readonly options: RoutingSourceOptions,
  ) {
    this.#log = options.log ?? (() => {});
    this.#informers = new InformerGroup(port, { log: this.#log, keeping: 'keeping the routing table', changed: () => this.#changed() });
  }

  get problem(): string | undefined {
    const notYet = this.#informers.failing ?? this.#informers.waiting;
    if (notYet) return notYet;
    if (this.#tableProblems.length) return `the cluster's routing objects do not make a valid table (the last good one stays): ${this.#tableProblems.map(formatProblem).join('; ')}`;
    return undefined;
  }

  /** Start the informers; resolves once every type has been listed (the first table is built then) or after `waitMs`. */
  async start(waitMs = 10_000): Promise<void> {
    for (const type of routingResourceTypes()) {
      this.#informers.watch(`${type.plural}.${type.group}/${type.version}`, type, this.options.namespace, {
        upsert: (o) => this.#set(type, o),
        remove: (o) => this.#remove(type, o),
      });
    }
    // Cluster-wide even with --namespace: a route's namespace is matched by its labels wherever the
    // Gateway is. A single-namespace install (a Role) may not read them (403): then only the label
    // the API server sets on every namespace, kubernetes.io/metadata.name, is known (manifest-routes.ts).
    this.#informers.watch('namespaces/v1', NAMESPACE, undefined, {
      upsert: (o) => this.#setNamespace(o),
      remove: (o) => this.#namespaceLabels.delete(o.metadata.name) && this.#changed(),
    }, true, true);
    await this.#informers.waitForFirstSync(waitMs);
  }

  stop(): void {
    this.#informers.stop();
  }

  #set(type: ResourceType, object: KubeObject): void {
    this.#objects.set(objectKey(object), { type, object });
    this.#changed();
  }

  #setNamespace(o: KubeObject): void {
    const labels = o.metadata.labels ?? {};
    // A namespace changes for other reasons (its phase, finalizers): only a label change can attach or detach routes.
    if (canonicalJson(labels) === canonicalJson(this.#namespaceLabels.get(o.metadata.name))) return;
    this.#namespaceLabels.set(o.metadata.name, labels);
    this.#changed();
  }

  #remove(type: ResourceType, object: KubeObject): void {
    this.#objects.delete(objectKey(object));
    this.#lastGood.delete(objectKey(object));
    this.#changed();
  }

  #changed(): void {
    // Nothing is built from a partial picture: a table missing the pools not yet listed would drop their traffic.
    if (this.#scheduled || this.#informers.unsynced) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#rebuild();
    });
  }

  #rebuild(): void {
    const own = ownObjects([...this.#objects.values()].map((e) => e.object), this.options.gatewayClass);
    const first = importObjects(own.objects, this.#namespaceLabels);
    const rejected = new Map<string, ImportCondition>();
    for (const s of first.objects) {
      const bad = s.conditions.find((c) => c.type === 'Accepted' && c.status === 'False' && !NOT_BLOCKING.has(c.reason));
      const object = own.objects[s.document]!;
      if (bad) rejected.set(objectKey(object), bad);
      else this.#lastGood.set(objectKey(object), object);
    }
    // Each rejected object's last accepted version stands in for it (or nothing, if it never had one).
    const values = rejected.size ? own.objects.map((o) => (rejected.has(objectKey(o)) ? this.#lastGood.get(objectKey(o)) : o)) : own.objects;
    const imported = rejected.size ? importObjects(values, this.#namespaceLabels) : first;

    const text = canonicalJson(imported.table);
    let tableProblems: Problem[] = [];
    if (text !== this.#appliedText) {
      const result = this.store.apply(imported.table);
      if (result.ok) {
        this.#appliedText = text;
        this.#log({ level: 'info', msg: 'routing table from the cluster applied', version: result.version, objects: own.objects.length, kept: rejected.size });
      } else {
        tableProblems = result.reason === 'invalid' ? result.problems : [];
        this.#log({ level: 'warn', msg: 'routing objects make an invalid table; the last good table stays', version: this.store.version, problems: tableProblems.map(formatProblem) });
      }
    } else if (this.#tableProblems.length) tableProblems = this.#tableProblems;
    this.#tableProblems = tableProblems;

    // Conditions per object: its own (from this import), or its rejection.
    const byKey = new Map<string, ConditionInput[]>();
    for (const s of first.objects) byKey.set(objectKey(own.objects[s.document]!), s.conditions);
    for (const s of imported.objects) {
      const o = values[s.document];
      if (!o || rejected.has(objectKey(o))) continue;
      byKey.set(objectKey(o), s.conditions);
    }
    for (const [key, bad] of rejected) {
      const kept = this.#lastGood.has(key) ? `; its previous accepted version (generation ${this.#lastGood.get(key)!.metadata.generation ?? '?'}) is still in use` : '; it is not in use';
      byKey.set(key, [{ type: 'Accepted', status: 'False', reason: bad.reason, message: `${bad.message}${kept}` }]);
    }
    for (const p of tableProblems) {
      // `Kind/name`, the name as the table has it (`namespace/name` outside the default namespace).
      const slash = p.object.indexOf('/');
      const [prefix, name] = [p.object.slice(0, slash), p.object.slice(slash + 1)];
      for (const o of own.objects) {
        // A pool's table name may carry `@group` (a v1 and an alpha pool of one name: references.ts, PoolIndex).
        const plain = name.endsWith(`@${groupOf(o.apiVersion)}`) ? name.slice(0, name.lastIndexOf('@')) : name;
        if (!(TABLE_KINDS[prefix] ?? []).includes(o.kind) || (tableName(o.metadata.namespace ?? 'default', o.metadata.name) !== plain && o.metadata.name !== plain)) continue;
        const message = `rejected with the routing table (version ${this.store.version} stays in use): ${formatProblem(p)}`;
        byKey.set(objectKey(o), [...(byKey.get(objectKey(o)) ?? []).filter((c) => c.type !== 'Accepted'), { type: 'Accepted', status: 'False', reason: 'Invalid', message }]);
      }
    }
    this.onStatus(this.#desired(own, byKey));
  }

  #desired(own: ReturnType<typeof ownObjects>, byKey: Map<string, ConditionInput[]>): DesiredStatus[] {
    const out: DesiredStatus[] = [];
    const controller = this.options.controllerName;
    for (const o of own.objects) {
      const key = objectKey(o);
      const type = this.#objects.get(key)?.type;
      const conditions = byKey.get(key) ?? [];
      if (!type) continue;
      if (o.kind === 'InferencePool') {
        const parents = own.poolParents.get(poolParentsKey(groupOf(o.apiVersion), o.metadata.namespace ?? 'default', o.metadata.name)) ?? [DEFAULT_PARENT];
        out.push(parentsStatus(type, o, parents, poolConditions(conditions), controller));
      } else if (o.kind === 'HTTPRoute') {
        out.push(parentsStatus(type, o, own.routeParents.get(key) ?? [DEFAULT_PARENT], routeConditions(conditions), controller));
      } else if (!READ_ONLY_KINDS.has(o.kind)) {
        out.push(conditionsStatus(type, o, acceptedOnly(conditions)));
      }
    }
    return out;
  }
}
