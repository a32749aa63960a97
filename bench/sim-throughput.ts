/**
 * Does one simulator process keep the pace its model sets under 8 pods × 64
 * concurrent streaming requests? Starts `infergate sim` as a child process,
 * drives it from this process (the load generator) with closed-loop
 * streaming chat requests, and compares what clients receive with what the
 * engines computed, plus the simulator's own step lateness and CPU use.
 *
 *   npx tsx bench/sim-throughput.ts [--pods 8] [--concurrency 64] [--duration 20] [--warmup 3]
 *                                    [--prompt-chars 800] [--max-tokens 200] [--port 18400]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, loadavg } from 'node:os';
import { readFlags } from './lib/flags.ts';

const flags = readFlags();
const arg = (name: string, dflt: number): number => flags.number(name, dflt);
const PODS = arg('pods', flags.quick ? 2 : 8);
const CONC = arg('concurrency', flags.quick ? 16 : 64);
const DURATION_S = arg('duration', flags.quick ? 1.5 : 20);
const WARMUP_S = arg('warmup', flags.quick ? 0.5 : 3);
const PROMPT_CHARS = arg('prompt-chars', 800);
const MAX_TOKENS = arg('max-tokens', 200);
const PORT = arg('port', 18400);
const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// SIM_NODE_ARGS: extra node flags for the simulator process (e.g. "--cpu-prof" to profile it).
const nodeArgs = (process.env.SIM_NODE_ARGS ?? '').split(' ').filter(Boolean);
const child = spawn(process.execPath, [...nodeArgs, 'bin/infergate.js', 'sim', '--pods', String(PODS), '--port', String(PORT)], { stdio: ['ignore', 'pipe', 'inherit'] });
child.stdout!.resume();
const stopChild = () => child.kill('SIGTERM');
process.on('exit', stopChild);

const urls = Array.from({ length: PODS }, (_, i) => `http://127.0.0.1:${PORT + i}`);
for (let tries = 0; ; tries++) {
  const ok = await Promise.all(urls.map((u) => fetch(`${u}/health`).then((r) => r.ok, () => false)));
  if (ok.every(Boolean)) break;
  if (tries > 100) throw new Error('simulator did not start');
  await sleep(100);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CONC });
let tokens = 0;
let requests = 0;
let wrongLength = 0;
let errors = 0;
let ttftSum = 0;
let itlSum = 0;
let itlN = 0;
let measuring = false;
let running = true;

/** One closed-loop client: a streaming chat request, then the next, until stopped. */
async function client(port: number, id: number): Promise<void> {
  let n = 0;
  while (running) {
    const content = `client ${id} request ${n++} `.padEnd(PROMPT_CHARS, 'lorem ipsum ');
    const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content }], max_tokens: MAX_TOKENS, ignore_eos: true, stream: true });
    await new Promise<void>((resolve) => {
      const t0 = performance.now();
      let first = -1;
      let events = 0;
      let lastByte = 0;
      const req = http.request({ port, path: '/v1/chat/completions', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        if (res.statusCode !== 200) {
          errors++;
          res.resume();
          res.on('end', resolve);
          return;
        }
        res.on('data', (buf: Buffer) => {
          for (let i = 0; i < buf.length; i++) {
            const b = buf[i]!;
            if (b === 10 && lastByte === 10) events++;
            lastByte = b;
          }
          if (first < 0 && events >= 2) first = performance.now(); // role chunk + first token
        });
        res.on('end', () => {
          const got = events - 2; // minus the role chunk and [DONE]
          if (measuring) {
            requests++;
            tokens += got;
            if (got !== MAX_TOKENS) wrongLength++;
            ttftSum += first - t0;
            if (got > 1) {
              itlSum += (performance.now() - first) / (got - 1);
              itlN++;
            }
          }
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(body);
    });
  }
}

/** Tokens emitted mid-request are counted by the engines but by the clients only at the end: compare over whole requests. */
async function engineCounters() {
  let gen = 0;
  let itlS = 0;
  let itlC = 0;
  let ttftS = 0;
  let ttftC = 0;
  let steps = 0;
  let busy = 0;
  let late = 0;
  let lateP99 = 0;
  let running = 0;
  for (const u of urls) {
    const m = await (await fetch(`${u}/metrics`)).text();
    const val = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(m)?.[1] ?? NaN);
    gen += val('vllm:generation_tokens_total');
    itlS += val('vllm:inter_token_latency_seconds_sum');
    itlC += val('vllm:inter_token_latency_seconds_count');
    ttftS += val('vllm:time_to_first_token_seconds_sum');
    ttftC += val('vllm:time_to_first_token_seconds_count');
    running += val('vllm:num_requests_running');
    const st = (await (await fetch(`${u}/admin/state`)).json()) as { stats: { steps: number; busy_ms: number }; lateness_ms: { mean: number; p99: number } };
    steps += st.stats.steps;
    busy += st.stats.busy_ms;
    late += st.lateness_ms.mean / urls.length;
    lateP99 = Math.max(lateP99, st.lateness_ms.p99);
  }
  return { gen, itlS, itlC, ttftS, ttftC, steps, busy, late, lateP99, running };
}

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (100/s)
}

const clients: Promise<void>[] = [];
for (let p = 0; p < PODS; p++) for (let c = 0; c < CONC; c++) clients.push(client(PORT + p, p * CONC + c));

await sleep(WARMUP_S * 1000);
const e0 = await engineCounters();
const cpu0 = cpuTicks(child.pid!);
const me0 = process.cpuUsage();
const t0 = performance.now();
measuring = true;
await sleep(DURATION_S * 1000);
measuring = false;
const wall = (performance.now() - t0) / 1000;
const cpuSim = (cpuTicks(child.pid!) - cpu0) / 100 / wall;
const me = process.cpuUsage(me0);
const cpuLoad = (me.user + me.system) / 1e6 / wall;
const e1 = await engineCounters();
running = false;
await Promise.all(clients);
agent.destroy();

const engineRate = (e1.gen - e0.gen) / wall;
const stepMs = (e1.busy - e0.busy) / (e1.steps - e0.steps);
const engineItl = ((e1.itlS - e0.itlS) / (e1.itlC - e0.itlC)) * 1000;
// The model's own prediction for a full batch of CONC decoding sequences, context ≈ prompt + half the output.
const ctxK = (PROMPT_CHARS / 4 + MAX_TOKENS / 2) / 1000;
const prefillPerStep = (CONC / MAX_TOKENS) * (PROMPT_CHARS / 4);
const modelStep = 6 + CONC * (0.035 + 0.04 * ctxK) + 0.021 * prefillPerStep;
const result = {
  date: new Date().toISOString(),
  machine: `${cpus().length}-core ${cpus()[0]?.model ?? ''}, Node ${process.version}`,
  pods: PODS,
  concurrency_per_pod: CONC,
  streams: PODS * CONC,
  duration_s: +wall.toFixed(1),
  requests_completed: requests,
  requests_wrong_length: wrongLength,
  errors,
  client_tokens_per_s: Math.round(tokens / wall),
  engine_tokens_per_s: Math.round(engineRate),
  model_predicted_tokens_per_s: Math.round((PODS * CONC * 1000) / modelStep),
  engine_mean_step_ms: +stepMs.toFixed(2),
  model_predicted_step_ms: +modelStep.toFixed(2),
  engine_itl_ms: +engineItl.toFixed(2),
  client_itl_ms: +(itlSum / itlN).toFixed(2),
  engine_ttft_ms: +(((e1.ttftS - e0.ttftS) / (e1.ttftC - e0.ttftC)) * 1000).toFixed(1),
  client_ttft_ms: +(ttftSum / requests).toFixed(1),
  sim_step_lateness_mean_ms: +e1.late.toFixed(2),
  sim_step_lateness_p99_ms_bucket: e1.lateP99,
  sim_cpu_cores: +cpuSim.toFixed(2),
  sim_cpu_us_per_streamed_token: +((cpuSim * 1e6) / (tokens / wall)).toFixed(1),
  load_average_1m: loadavg()[0],
  loadgen_cpu_cores: +cpuLoad.toFixed(2),
};
console.log(JSON.stringify(result, null, 2));
stopChild();
process.exit(0);
