/**
 * The pieces `bench/proxy.ts` measures, each on loopback: nginx as the
 * upstream that answers at once (a fixed small JSON, and a short SSE stream)
 * and as a plain round-robin reverse proxy in front of it, and infergate in
 * front of the same upstream, as separate processes.
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PORTS = { upstream: 19101, sse: 19102, nginx: 19103, infergate: 19104, floor: 19105, nginxWorkers: 19106, infergateWorkers: 19107, deno: 19108, infergateFlowControl: 19109, infergateAccessLog: 19110, h2c: 19111, netFloor: 19112 };

const CHAT_JSON = JSON.stringify({
  id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'llama',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! How can I help you today?' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21 },
});
// An idle vLLM's gauges: the gateway's agent scrapes the upstream and refuses a page of no engine's names.
const VLLM_METRICS = 'vllm:num_requests_waiting{model_name="llama"} 0\\nvllm:num_requests_running{model_name="llama"} 0\\nvllm:kv_cache_usage_perc{model_name="llama"} 0\\n';
const chunk = (content: string) => `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'llama', choices: [{ index: 0, delta: { content } }] })}\\n\\n`;
const SSE = ['Hello', '!', ' How', ' can', ' I', ' help', '?'].map(chunk).join('') + 'data: [DONE]\\n\\n';

/**
 * An idle vLLM's /metrics page: the agent refuses a page with none of the
 * configured engine's metrics (the endpoint then is not ready), so the fixed
 * upstream answers its scrapes as a vLLM pod would.
 */
const METRICS_LOCATION = `location = /metrics { default_type text/plain; return 200 '${[
  'vllm:num_requests_waiting{model_name="llama"} 0',
  'vllm:num_requests_running{model_name="llama"} 0',
  'vllm:kv_cache_usage_perc{model_name="llama"} 0',
].join('\\n')}\\n'; }`;

/** An nginx.conf: `workers` processes, no access log, the JSON upstream pool, and these server blocks. */
function nginxConf(workers: number, dir: string, servers: string): string {
  return `worker_processes ${workers};
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  upstream json_pool { server 127.0.0.1:${PORTS.upstream}; keepalive 128; }
  ${servers}
}
`;
}

/** nginx as a plain round-robin reverse proxy (keep-alive upstream, no buffering) on `port`. */
const proxyServer = (port: number) =>
  `server {
    listen 127.0.0.1:${port} reuseport;
    location / { proxy_pass http://json_pool; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; }
  }`;

/** nginx is installed with its HTTP/2 module (the upstream also answers over h2c; Debian's nginx-light has it). */
export function nginxAvailable(): boolean {
  const r = spawnSync('nginx', ['-V'], { encoding: 'utf8' });
  return r.status === 0 && `${r.stdout ?? ''}${r.stderr ?? ''}`.includes('http_v2_module');
}

export interface Started {
  close(): Promise<void>;
  /** The process and its descendants (nginx workers, cluster workers), for CPU accounting. */
  pids(): number[];
}

/** CPU time (user + system) used so far by `pids`, in seconds, from /proc (Linux); 0 where /proc is missing. */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      // Fields after the command's closing parenthesis: state is 3rd, utime 14th, stime 15th.
      const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(rest[11]) + Number(rest[12]);
    } catch {
      // The process is gone.
    }
  }
  return ticks / 100; // USER_HZ is 100 on Linux
}

/** `pid` and every process below it. */
function tree(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  const parents = new Map<number, number[]>();
  try {
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const ppid = Number(readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
        parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)]);
      } catch {
        // Gone meanwhile.
      }
    }
  } catch {
    return [pid];
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(parents.get(out[i]!) ?? []));
  return out;
}

export async function startNginx(dir = mkdtempSync(join(tmpdir(), 'infergate-bench-'))): Promise<Started> {
  const conf = nginxConf(1, dir, `
  server {
    listen 127.0.0.1:${PORTS.upstream} reuseport;
    ${METRICS_LOCATION}
    location / { default_type application/json; return 200 '${CHAT_JSON}'; }
  }
  server {
    listen 127.0.0.1:${PORTS.sse} reuseport;
    ${METRICS_LOCATION}
    location / { default_type text/event-stream; return 200 '${SSE}'; }
  }
  # The same answer over HTTP/2 cleartext with prior knowledge (h2c), for a pool with appProtocol kubernetes.io/h2c.
  server {
    listen 127.0.0.1:${PORTS.h2c} http2 reuseport;
    ${METRICS_LOCATION}
    location / { default_type application/json; return 200 '${CHAT_JSON}'; }
  }
  ${proxyServer(PORTS.nginx)}`);
  return runNginx(conf, dir, PORTS.nginx);
}

/**
 * nginx as a plain reverse proxy only, with `workers` worker processes, in
 * front of the upstream `startNginx` serves (for the multi-process comparison).
 */
export async function startNginxProxy(workers: number, port: number, dir = mkdtempSync(join(tmpdir(), 'infergate-bench-'))): Promise<Started> {
  return runNginx(nginxConf(workers, dir, proxyServer(port)), dir, port);
}

async function runNginx(conf: string, dir: string, port: number): Promise<Started> {
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const child = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'inherit' });
  await waitForPort(port);
  return { close: () => stop(child), pids: () => tree(child.pid) };
}

export interface InfergateOptions {
  /** Node flags before the script (e.g. `--cpu-prof` to see where a run's time goes). */
  nodeArgs?: string[];
  /** Gateway flags after the defaults (e.g. `--workers 2`). */
  args?: string[];
  port?: number;
  /** Where the gateway's stdout goes (default: nowhere; 'inherit' to see e.g. --trace-gc). */
  stdout?: 'ignore' | 'inherit';
}

/** The gateway's routing for the benchmark: the JSON pool, and the SSE pool for requests with `x-bench: sse`. */
function writeBenchConfig(dir: string): { manifests: string; endpoints: string } {
  writeFileSync(
    join(dir, 'manifests.yaml'),
    `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: bench }
spec:
  rules:
  - matches: [{ headers: [{ name: x-bench, value: sse }] }]
    backendRefs: [{ name: sse, kind: InferencePool }]
  - matches: [{ headers: [{ name: x-bench, value: h2c }] }]
    backendRefs: [{ name: h2c, kind: InferencePool }]
  - backendRefs: [{ name: json, kind: InferencePool }]
---
apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: { name: json }
spec: { selector: { matchLabels: { pool: json } }, targetPorts: [{ number: ${PORTS.upstream} }] }
---
apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: { name: sse }
spec: { selector: { matchLabels: { pool: sse } }, targetPorts: [{ number: ${PORTS.sse} }] }
---
apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: { name: h2c }
spec: { selector: { matchLabels: { pool: h2c } }, targetPorts: [{ number: ${PORTS.h2c} }], appProtocol: kubernetes.io/h2c }
---
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceModel
metadata: { name: llama-json }
spec: { modelName: llama, poolRef: { name: json } }
---
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceModel
metadata: { name: llama-sse }
spec: { modelName: llama, poolRef: { name: sse } }
`,
  );
  writeFileSync(join(dir, 'endpoints.yaml'), `endpoints:\n  - { address: 127.0.0.1, labels: { pool: json } }\n  - { address: 127.0.0.1, labels: { pool: sse } }\n  - { address: 127.0.0.1, labels: { pool: h2c } }\n`);
  return { manifests: join(dir, 'manifests.yaml'), endpoints: join(dir, 'endpoints.yaml') };
}

export async function startInfergate(root: string, options: InfergateOptions = {}, dir = mkdtempSync(join(tmpdir(), 'infergate-bench-'))): Promise<Started> {
  const port = options.port ?? PORTS.infergate;
  const config = writeBenchConfig(dir);
  const args = ['gateway', '--manifests', config.manifests, '--endpoints', config.endpoints, '--port', String(port), '--admin-port', '-1', ...(options.args ?? [])];
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), join(root, 'bin/infergate.js'), ...args], { stdio: ['ignore', options.stdout ?? 'ignore', 'inherit'] });
  await waitForPort(port);
  return { close: () => stop(child), pids: () => tree(child.pid) };
}

/**
 * An EndpointPickerConfig that turns flow control on (llm-d's feature gate) with
 * a queue threshold the benchmark never reaches: flow control's whole cost when
 * the pool has room (every request is admitted, then scheduled as without it).
 */
export function idleFlowControlConfig(dir = mkdtempSync(join(tmpdir(), 'infergate-bench-'))): string {
  const path = join(dir, 'flow-control.yaml');
  writeFileSync(
    path,
    `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
featureGates: [flowControl]
plugins: [{ type: utilization-detector, parameters: { queueDepthThreshold: 1000000 } }]
flowControl: { saturationDetector: { pluginRef: utilization-detector } }
`,
  );
  return path;
}

/** The Deno binary the project installs (the `deno` npm package), or undefined. */
export function denoBinary(root: string): string | undefined {
  const bin = join(root, 'node_modules/.bin/deno');
  try {
    execFileSync(bin, ['--version'], { stdio: 'ignore' });
    return bin;
  } catch {
    return undefined;
  }
}

/** infergate on Deno (src/runtime/deno/main.ts), one process, in front of the same upstreams. */
export async function startDenoInfergate(root: string, deno: string, options: { port?: number; args?: string[] } = {}, dir = mkdtempSync(join(tmpdir(), 'infergate-bench-'))): Promise<Started> {
  const port = options.port ?? PORTS.deno;
  const config = writeBenchConfig(dir);
  const args = ['run', ...(process.env.DENO_PROF ? ['--v8-flags=--prof,--logfile=/tmp/http1x/v8deno.log,--no-logfile-per-isolate'] : []), '--allow-net', '--allow-read', '--allow-env', '--allow-write', join(root, 'src/runtime/deno/main.ts')];
  args.push('--manifests', config.manifests, '--endpoints', config.endpoints, '--port', String(port), '--admin-port', '-1', ...(options.args ?? []));
  const child = spawn(deno, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitForPort(port);
  return { close: () => stop(child), pids: () => tree(child.pid) };
}

/** A bare proxy in front of the JSON upstream: node:http (bench/proxy/node-floor.ts) or node:net alone (bench/proxy/net-floor.ts). */
export async function startNodeFloor(root: string, kind: 'node-floor' | 'net-floor' = 'node-floor'): Promise<Started> {
  const port = kind === 'node-floor' ? PORTS.floor : PORTS.netFloor;
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, `bench/proxy/${kind}.ts`), String(port), String(PORTS.upstream)], { stdio: 'inherit' });
  await waitForPort(port);
  return { close: () => stop(child), pids: () => tree(child.pid) };
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/healthz`);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`nothing listens on ${port} after 10 s`);
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
