/**
 * The Inference Extension conformance suite's pods, on loopback: for every
 * Deployment of `conformance/resources/base.yaml` that runs the suite's echo
 * server (`echo-basic`), its replicas as echo servers, each pod on its own
 * loopback address (127.77.D.R) and on the container ports the manifest
 * declares (3000, 3002, 3004; the `H2C_PORT` one speaks h2c only, as
 * echo-basic does). An answer is what echo-basic answers: JSON with the
 * request's path, host, method, proto and headers, the pod's namespace and
 * name, and the port it was reached on. The suite's reference picker needs
 * no metrics; infergate's reads them, so each pod also answers `/metrics`
 * with an idle vLLM's gauges (and can be told to fail it).
 *
 * Also: where the ecosystem files are (`../shared/ecosystem/…`, found by
 * walking up from the checkout), for tests that skip when they are absent.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createH2cServer, type Http2Server } from 'node:http2';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';

/** `shared/ecosystem/<name>` beside (above) the checkout, or undefined. */
export function ecosystemDir(name: string): string | undefined {
  for (let dir = new URL('.', import.meta.url).pathname; ; dir = dirname(dir)) {
    const candidate = join(dir, 'shared', 'ecosystem', name);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

export interface EchoPod {
  name: string;
  namespace: string;
  ip: string;
  labels: Record<string, string>;
  /** Container ports, HTTP/1.1 ones first. */
  ports: number[];
  h2cPort?: number;
}

export interface EchoPods {
  pods: EchoPod[];
  /** The endpoints file: one port-less entry per pod (the pools' targetPorts choose the ports). */
  endpoints: { address: string; labels: Record<string, string> }[];
  /** Make these pods' /metrics fail (true) or answer again (false). */
  failMetrics(prefix: string, fail: boolean): void;
  close(): Promise<void>;
}

interface Deployment {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: {
    replicas?: number;
    template?: { metadata?: { labels?: Record<string, string> }; spec?: { containers?: { image?: string; ports?: { containerPort: number }[]; env?: { name: string; value?: string }[] }[] } };
  };
}

const IDLE_VLLM = [
  '# TYPE vllm:num_requests_waiting gauge',
  'vllm:num_requests_waiting{model_name="conformance-fake-model"} 0',
  '# TYPE vllm:num_requests_running gauge',
  'vllm:num_requests_running{model_name="conformance-fake-model"} 0',
  '# TYPE vllm:kv_cache_usage_perc gauge',
  'vllm:kv_cache_usage_perc{model_name="conformance-fake-model"} 0',
  '',
].join('\n');

/** Start the echo pods of base.yaml's Deployments. Throws when a pod's port is taken on its loopback address. */
export async function startEchoPods(baseYaml: string): Promise<EchoPods> {
  const deployments = parseAllDocuments(baseYaml)
    .map((d) => d.toJS() as Deployment | null)
    .filter((d): d is Deployment => d?.kind === 'Deployment' && !!d.spec?.template?.spec?.containers?.some((c) => c.image?.includes('echo-basic')));
  const pods: EchoPod[] = [];
  const servers: (Server | Http2Server)[] = [];
  const failing = new Set<string>();
  let d = 0;
  for (const dep of deployments) {
    d++;
    const containers = dep.spec!.template!.spec!.containers!;
    const h2c = containers.flatMap((c) => c.env ?? []).find((e) => e.name === 'H2C_PORT')?.value;
    const declared = containers.flatMap((c) => (c.ports ?? []).map((p) => p.containerPort));
    for (let r = 1; r <= (dep.spec!.replicas ?? 1); r++) {
      const pod: EchoPod = {
        name: `${dep.metadata!.name}-77f${d}c-${r}`,
        namespace: dep.metadata!.namespace ?? 'default',
        ip: `127.77.${d}.${r}`,
        labels: dep.spec!.template!.metadata?.labels ?? {},
        ports: declared.filter((p) => String(p) !== h2c),
        ...(h2c && declared.includes(Number(h2c)) ? { h2cPort: Number(h2c) } : {}),
      };
      pods.push(pod);
      for (const port of pod.ports) servers.push(await listenOn(createServer((req, res) => answer(pod, port, req, failing, (status, headers, body) => res.writeHead(status, headers).end(body))), pod.ip, port));
      if (pod.h2cPort !== undefined) {
        const port = pod.h2cPort;
        servers.push(await listenOn(createH2cServer((req, res) => answer(pod, port, req as unknown as IncomingMessage, failing, (status, headers, body) => res.writeHead(status, headers).end(body))), pod.ip, port));
      }
    }
  }
  return {
    pods,
    endpoints: pods.map((p) => ({ address: p.ip, labels: p.labels })),
    failMetrics(prefix, fail) {
      for (const p of pods) if (p.name.startsWith(prefix)) (fail ? failing.add(p.name) : failing.delete(p.name));
    },
    async close() {
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}

function listenOn<S extends Server | Http2Server>(server: S, host: string, port: number): Promise<S> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`echo pod ${host}:${port}: ${err.code ?? err.message} (the suite's pods listen on their container ports)`)));
    server.listen(port, host, () => resolve(server));
  });
}

function answer(pod: EchoPod, port: number, req: IncomingMessage, failing: Set<string>, send: (status: number, headers: Record<string, string>, body: string) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.url === '/metrics') {
      if (failing.has(pod.name)) send(500, { 'content-type': 'text/plain' }, 'metrics unavailable\n');
      else send(200, { 'content-type': 'text/plain; version=0.0.4' }, IDLE_VLLM);
      return;
    }
    const headers: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (!k.startsWith(':')) headers[k] = Array.isArray(v) ? v : [String(v)];
    const url = new URL(req.url ?? '/', 'http://x');
    const body = {
      path: url.pathname + url.search,
      host: req.headers.host ?? (req.headers as Record<string, string>)[':authority'] ?? '',
      method: req.method,
      proto: `HTTP/${req.httpVersion}`,
      headers,
      namespace: pod.namespace,
      ingress: '',
      service: '',
      pod: pod.name,
      httpPort: String(port),
      body: Buffer.concat(chunks).toString('utf8'),
    };
    send(200, { 'content-type': 'application/json', 'x-content-type-options': 'nosniff' }, JSON.stringify(body));
  });
}

/** The text of one ecosystem file. */
export function ecosystemFile(dir: string, name: string): string {
  return readFileSync(join(dir, name), 'utf8');
}
