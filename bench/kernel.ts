/**
 * The scheduling kernel standalone, WebAssembly against its TypeScript twin
 * in one run: score + pick over n endpoints (ns per decision, the default
 * profile's five scorers and max-score) and chained prompt-block hashing
 * (GB/s). Run: npx tsx bench/kernel.ts (after npm run build:kernel).
 */
import { loadKernelModule } from '../src/runtime/node/index.ts';
import { readFlags } from './lib/flags.ts';
import { seeded } from './lib/rand.ts';
import { MAX_BLOCKS, PickerKind, ScorerKind, type Kernel } from '../src/scheduling/kernel/layout.ts';
import { TwinKernel } from '../src/scheduling/kernel/twin.ts';
import { instantiateKernel } from '../src/scheduling/kernel/wasm.ts';

const wasm = instantiateKernel(await loadKernelModule());
const twin = new TwinKernel();
const kernels: Kernel[] = [wasm, twin];

/**
 * CPU time per call in ns: the best of `rounds` batches, each long enough
 * (≥ budgetMs of CPU) for process.cpuUsage's µs resolution. CPU time rather
 * than wall time, because the 2-core machine is shared with other work and
 * wall time there measures the queue for a core.
 */
// --quick (npm run bench -- --quick): a smoke run, shorter budgets and fewer rounds.
const quick = readFlags().quick;

function measure(fn: () => void, budgetMs = quick ? 10 : 60, rounds = quick ? 2 : 5): number {
  const cpu = () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  let iterations = 1;
  for (;;) {
    const t = cpu();
    for (let i = 0; i < iterations; i++) fn();
    if (cpu() - t > budgetMs * 1000) break;
    iterations *= 2;
  }
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t = cpu();
    for (let i = 0; i < iterations; i++) fn();
    best = Math.min(best, ((cpu() - t) * 1000) / iterations);
  }
  return best;
}

const random = seeded(12345);

const scorers = [
  [ScorerKind.queue, 2], [ScorerKind.kvCache, 2], [ScorerKind.prefixCache, 3], [ScorerKind.inFlight, 2], [ScorerKind.loraAffinity, 2],
] as const;

function setUp(k: Kernel, n: number): void {
  for (let i = 0; i < n; i++) {
    k.waiting[i] = Math.floor(random() * 10);
    k.running[i] = Math.floor(random() * 64);
    k.kvUsage[i] = random();
    k.inFlight[i] = Math.floor(random() * 4);
    k.prefixMatched[i] = Math.floor(random() * 256);
    k.loraClass[i] = Math.floor(random() * 4);
  }
  scorers.forEach(([kind, w], i) => {
    k.scorerKind[i] = kind;
    k.scorerWeight[i] = w;
  });
}

console.log(`kernel benchmark — node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
console.log('\nscore + pick (5 scorers, max-score, 3 fallbacks), ns per decision');
console.log('endpoints |     wasm |       ts | wasm speed-up');
for (const n of [8, 64, 256, 1024, 4096]) {
  const ns = kernels.map((k) => {
    setUp(k, n);
    let seed = 1;
    return measure(() => {
      k.scoreAndPick(n, scorers.length, 256, PickerKind.maxScore, (seed = (seed + 0x9e3779b9) >>> 0), 3);
    });
  });
  console.log(`${String(n).padStart(9)} | ${ns[0]!.toFixed(0).padStart(8)} | ${ns[1]!.toFixed(0).padStart(8)} | ${(ns[1]! / ns[0]!).toFixed(1)}×`);
}

console.log('\nprompt block hashing (chained XXH64, 64-byte blocks), GB/s; and UTF-8 encodeInto + hash');
console.log('   prompt |  wasm GB/s |    ts GB/s | wasm encode+hash GB/s');
const encoder = new TextEncoder();
for (const kib of [1, 32, 256]) {
  const bytes = kib * 1024;
  const text = 'The quick brown fox jumps over the lazy dog; '.repeat(Math.ceil(bytes / 45)).slice(0, bytes);
  const rates = kernels.map((k) => {
    const m = encoder.encodeInto('meta-llama/Llama-3.1-8B-Instruct', k.model).written;
    const p = encoder.encodeInto(text, k.input).written;
    return bytes / measure(() => k.hashPrompt(m, p, MAX_BLOCKS));
  });
  const m = encoder.encodeInto('meta-llama/Llama-3.1-8B-Instruct', wasm.model).written;
  const withEncode = bytes / measure(() => wasm.hashPrompt(m, encoder.encodeInto(text, wasm.input).written, MAX_BLOCKS));
  console.log(`${`${kib} KiB`.padStart(9)} | ${rates[0]!.toFixed(2).padStart(10)} | ${rates[1]!.toFixed(3).padStart(10)} | ${withEncode.toFixed(2).padStart(10)}`);
}
