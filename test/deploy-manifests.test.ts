/**
 * deploy/ as `kubectl apply -k` would send it: every kustomization rendered
 * (its resources, bases included, with its namespace applied — the only
 * kustomize features deploy/ uses; anything else fails the render rather
 * than being skipped), every object validated against the Kubernetes schemas
 * (kubernetes-models) or, for the routing CRDs, through infergate's own
 * conversion; and the pieces checked against each other and the code: RBAC
 * covers exactly what src/kubernetes/ watches and writes, container args are
 * flags the commands accept, Services and probes name ports that exist, the
 * demo pool selects the demo pods.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { importObjects } from '../src/routing/manifests.ts';
import { poolResourceTypes, READ_ONLY_KINDS, routingResourceTypes } from '../src/kubernetes/resources.ts';
import { NAMESPACE } from '../src/kubernetes/port.ts';
import { parseFlags, type FlagSpec } from '../src/config/flags.ts';
import { gatewayFlags } from '../src/config/gateway-flags.ts';
import { kinds } from '../src/routing/manifest-kinds.ts';
import { SPECS } from '../src/routing/manifest-fields.ts';
import { agentFlags } from '../src/cli/commands/agent.ts';
import { simFlags } from '../src/cli/commands/sim.ts';

const DEPLOY = new URL('../deploy/', import.meta.url).pathname;
type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: unknown };
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition']);
const ROUTING_KINDS = new Set(['InferencePool', 'HTTPRoute', 'Gateway', 'InferenceModel', 'InferenceObjective', 'InferenceModelRewrite', 'TokenBudget']);
const KUSTOMIZATION_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'namespace']);

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

function render(dir: string, read: Set<string>): Obj[] {
  const path = join(dir, 'kustomization.yaml');
  read.add(path);
  const k = parseAllDocuments(readFileSync(path, 'utf8'))[0]!.toJS() as Record<string, unknown>;
  const unknown = Object.keys(k).filter((f) => !KUSTOMIZATION_FIELDS.has(f));
  if (unknown.length) throw new Error(`${relative(DEPLOY, path)}: this check does not render ${unknown.join(', ')}; extend it before using them`);
  const objects: Obj[] = [];
  for (const entry of (k.resources as string[]) ?? []) {
    const target = resolve(dir, entry);
    if (statSync(target).isDirectory()) objects.push(...render(target, read));
    else {
      read.add(target);
      for (const doc of parseAllDocuments(readFileSync(target, 'utf8'))) {
        if (doc.errors.length) throw new Error(`${relative(DEPLOY, target)}: ${doc.errors[0]!.message}`);
        const value = doc.toJS() as Obj | null;
        if (value) objects.push(value);
      }
    }
  }
  if (typeof k.namespace === 'string') {
    for (const o of objects) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
  }
  return objects;
}

async function validateCore(o: Obj): Promise<void> {
  const module = (await import(`kubernetes-models/${o.apiVersion}/${o.kind}`)) as Record<string, new (data: unknown) => { validate(): void }>;
  const Model = module[o.kind];
  if (!Model) throw new Error(`no schema for ${o.apiVersion} ${o.kind}`);
  new Model(o).validate();
}

const kustomizations = yamlFiles(DEPLOY).filter((f) => f.endsWith('kustomization.yaml')).map(dirname);
const rendered = new Map(kustomizations.map((dir) => [relative(DEPLOY, dir), render(dir, new Set())]));
const named = (objects: Obj[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);

type Container = { name: string; args?: string[]; ports?: { name?: string; containerPort: number }[]; readinessProbe?: { httpGet?: { port: string | number } }; livenessProbe?: { httpGet?: { port: string | number } }; env?: { valueFrom?: { secretKeyRef?: { name: string; key: string } } }[] };
type PodSpec = { serviceAccountName?: string; containers: Container[] };
const deployments = (objects: Obj[]) => objects.filter((o) => o.kind === 'Deployment') as (Obj & { spec: { template: { metadata: { labels: Record<string, string> }; spec: PodSpec } } })[];
type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
const rulesOf = (objects: Obj[], kind: string, name: string) => ((named(objects, kind, name) as (Obj & { rules: Rule[] }) | undefined)?.rules ?? []);
function verbs(rules: Rule[], group: string, resource: string): string[] {
  return [...new Set(rules.filter((r) => r.apiGroups.includes(group) && r.resources.includes(resource)).flatMap((r) => r.verbs))].sort();
}

describe('deploy/ manifests', () => {
  it('has a base and the sim-demo overlay, and every YAML file is reached by a kustomization', () => {
    expect([...rendered.keys()].sort()).toEqual(['base', 'overlays/sim-demo']);
    const read = new Set<string>();
    for (const dir of kustomizations) render(dir, read);
    expect(yamlFiles(DEPLOY).filter((f) => !read.has(f)).map((f) => relative(DEPLOY, f))).toEqual([]);
  });

  for (const [name, objects] of rendered) {
    it(`${name}: every object validates against its schema`, async () => {
      expect(objects.length).toBeGreaterThan(5);
      const routing = objects.filter((o) => ROUTING_KINDS.has(o.kind));
      for (const o of objects.filter((x) => !ROUTING_KINDS.has(x.kind))) {
        await expect(validateCore(o), `${o.kind}/${o.metadata.name}`).resolves.toBeUndefined();
      }
      const imported = importObjects(routing);
      expect(imported.errors).toEqual([]);
      expect(imported.objects.flatMap((s) => s.conditions).filter((c) => c.status !== 'True')).toEqual([]);
    });

    it(`${name}: containers run flags the commands accept; services, probes and secrets point at what exists`, () => {
      const commands: Record<string, FlagSpec> = { gateway: gatewayFlags, agent: agentFlags, sim: simFlags };
      for (const d of deployments(objects)) {
        const pod = d.spec.template.spec;
        if (pod.serviceAccountName) expect(named(objects, 'ServiceAccount', pod.serviceAccountName), `${d.metadata.name}'s service account`).toBeDefined();
        for (const c of pod.containers) {
          const [command, ...args] = c.args ?? [];
          expect(commands[command!], `${d.metadata.name}: command ${command}`).toBeDefined();
          expect(() => parseFlags(args, commands[command!]!), `${d.metadata.name}: ${args.join(' ')}`).not.toThrow();
          const ports = new Set((c.ports ?? []).flatMap((p) => [p.name, p.containerPort]));
          for (const probe of [c.readinessProbe, c.livenessProbe]) if (probe?.httpGet) expect(ports.has(probe.httpGet.port), `${d.metadata.name} probe port`).toBe(true);
          for (const e of c.env ?? []) {
            const ref = e.valueFrom?.secretKeyRef;
            // The base expects the operator to create the admin Secret; an overlay that ships one must ship the key.
            const secret = ref && (named(objects, 'Secret', ref.name) as (Obj & { stringData?: Record<string, string> }) | undefined);
            if (secret) expect(Object.keys(secret.stringData ?? {})).toContain(ref!.key);
          }
        }
      }
      for (const s of objects.filter((o) => o.kind === 'Service') as (Obj & { spec: { selector: Record<string, string>; ports: { targetPort: string | number }[] } })[]) {
        const target = deployments(objects).find((d) => Object.entries(s.spec.selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v));
        expect(target, `Service ${s.metadata.name} selects a Deployment`).toBeDefined();
        const ports = new Set(target!.spec.template.spec.containers.flatMap((c) => (c.ports ?? []).flatMap((p) => [p.name, p.containerPort])));
        for (const p of s.spec.ports) expect(ports.has(p.targetPort), `Service ${s.metadata.name} port ${p.targetPort}`).toBe(true);
      }
    });

    it(`${name}: RBAC grants exactly what the gateway and the agent use`, () => {
      const gateway = rulesOf(objects, 'ClusterRole', 'infergate-gateway');
      const granted = new Set(gateway.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.map((res) => `${g}/${res}`))));
      const used = new Set<string>();
      for (const t of routingResourceTypes()) {
        expect(verbs(gateway, t.group, t.plural), `${t.plural}.${t.group}`).toEqual(['get', 'list', 'watch']);
        used.add(`${t.group}/${t.plural}`);
        if (!READ_ONLY_KINDS.has(t.kind)) {
          expect(verbs(gateway, t.group, `${t.plural}/status`), `${t.plural}.${t.group}/status`).toEqual(['update']);
          used.add(`${t.group}/${t.plural}/status`);
        }
      }
      // ReferenceGrants are watched (a cross-namespace backendRef needs one), and never written.
      expect(verbs(gateway, 'gateway.networking.k8s.io', 'referencegrants')).toEqual(['get', 'list', 'watch']);
      expect(verbs(gateway, 'gateway.networking.k8s.io', 'referencegrants/status')).toEqual([]);
      // Namespaces' labels, for listeners' allowedRoutes selectors (src/kubernetes/routing-source.ts).
      expect(verbs(gateway, NAMESPACE.group, NAMESPACE.plural)).toEqual(['get', 'list', 'watch']);
      used.add(`${NAMESPACE.group}/${NAMESPACE.plural}`);
      expect([...granted].filter((g) => !used.has(g))).toEqual([]);
      expect(verbs(rulesOf(objects, 'Role', 'infergate-gateway-leader-election'), 'coordination.k8s.io', 'leases')).toEqual(['create', 'get', 'update']);
      const agent = rulesOf(objects, 'ClusterRole', 'infergate-agent');
      expect(verbs(agent, '', 'pods')).toEqual(['get', 'list', 'watch']);
      for (const t of poolResourceTypes()) expect(verbs(agent, t.group, t.plural)).toEqual(['get', 'list', 'watch']);
      expect(agent.flatMap((r) => r.verbs).filter((v) => !['get', 'list', 'watch'].includes(v))).toEqual([]);
      for (const b of objects.filter((o) => o.kind.endsWith('RoleBinding')) as (Obj & { subjects: { namespace?: string }[] })[]) {
        for (const s of b.subjects) expect(s.namespace, `${b.metadata.name}: a ServiceAccount subject needs its namespace`).toBe('infergate');
      }
    });
  }

  it('base: what reaches outside — no decision header, the admin port on its own ClusterIP Service, the agent behind a token, drains not blocked', () => {
    const objects = rendered.get('base')!;
    const container = (name: string) => deployments(objects).find((d) => d.metadata.name === name)!.spec.template.spec.containers[0]!;
    const gateway = container('infergate-gateway');
    const [, ...args] = gateway.args!;
    // x-infergate-decision names the pods' addresses: not for clients outside.
    expect(parseFlags(args, gatewayFlags).explain).toBe(false);

    // Exposing the data Service (type LoadBalancer) must not publish the admin API.
    type Svc = Obj & { spec: { type?: string; ports: { name?: string; port: number; targetPort: string | number }[] } };
    const data = named(objects, 'Service', 'infergate-gateway') as Svc;
    expect(data.spec.ports.map((p) => p.targetPort)).toEqual(['http']);
    const admin = named(objects, 'Service', 'infergate-gateway-admin') as Svc;
    expect(admin.spec.type ?? 'ClusterIP').toBe('ClusterIP');
    expect(admin.spec.ports.map((p) => [p.port, p.targetPort])).toEqual([[8081, 'admin']]);

    // The agent's token: one Secret, read by the agent (--token) and sent by the gateways (--agent-token).
    type Env = { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } };
    const secretOf = (c: Container, env: string) => ((c.env ?? []) as Env[]).find((e) => e.name === env)?.valueFrom?.secretKeyRef;
    const agentToken = secretOf(container('infergate-agent'), 'INFERGATE_TOKEN');
    expect(agentToken).toBeDefined();
    expect(secretOf(gateway, 'INFERGATE_AGENT_TOKEN')).toEqual(agentToken);
    expect(agentToken!.name).not.toBe(secretOf(gateway, 'INFERGATE_TOKEN')!.name); // the agent cannot drive the admin API

    // NotReady replicas (model servers down) must not block node drains.
    const pdb = objects.find((o) => o.kind === 'PodDisruptionBudget') as Obj & { spec: { unhealthyPodEvictionPolicy?: string; selector: { matchLabels: Record<string, string> } } };
    expect(pdb.spec.unhealthyPodEvictionPolicy).toBe('AlwaysAllow');
    expect(pdb.spec.selector.matchLabels).toEqual(deployments(objects).find((d) => d.metadata.name === 'infergate-gateway')!.spec.template.metadata.labels);
  });

  it('the CRDs deploy/ ships define the kinds, versions, plurals and spec fields the gateway reads', () => {
    const crds = rendered.get('base')!.filter((o) => o.kind === 'CustomResourceDefinition') as (Obj & { spec: { group: string; names: { kind: string; plural: string }; versions: { name: string; schema: { openAPIV3Schema: { properties: { spec: { properties: Record<string, unknown> } } } } }[] } })[];
    expect(crds.map((c) => c.metadata.name)).toEqual(['tokenbudgets.infergate.dev']);
    for (const crd of crds) {
      const { group, names } = crd.spec;
      expect(crd.metadata.name).toBe(`${names.plural}.${group}`);
      expect(routingResourceTypes()).toContainEqual({ group, version: crd.spec.versions[0]!.name, plural: names.plural, kind: names.kind });
      for (const version of crd.spec.versions) {
        const apiVersion = `${group}/${version.name}`;
        expect(Object.keys(kinds[names.kind as keyof typeof kinds].versions)).toContain(apiVersion);
        expect(Object.keys(version.schema.openAPIV3Schema.properties.spec.properties).sort()).toEqual(Object.keys(SPECS[names.kind]![apiVersion]!).sort());
      }
    }
  });

  it('sim-demo: the pool selects the simulated pods on the port they serve', () => {
    const objects = rendered.get('overlays/sim-demo')!;
    const pool = named(objects, 'InferencePool', 'vllm-llama3-8b-instruct') as Obj & { spec: { selector: { matchLabels: Record<string, string> }; targetPorts: { number: number }[] } };
    const sims = deployments(objects).filter((d) => Object.entries(pool.spec.selector.matchLabels).every(([k, v]) => d.spec.template.metadata.labels[k] === v));
    expect(sims.map((d) => d.metadata.name)).toEqual(['vllm-llama3-8b-instruct']);
    expect(sims[0]!.metadata.namespace).toBe(pool.metadata.namespace);
    const ports = sims[0]!.spec.template.spec.containers.flatMap((c) => (c.ports ?? []).map((p) => p.containerPort));
    expect(ports).toEqual(pool.spec.targetPorts.map((p) => p.number));
  });
});
