/**
 * Replaying public traces (../shared/traces, see its README).
 *
 * - Mooncake (`*.jsonl`: timestamp ms, input_length, output_length, hash_ids
 *   of 512-token blocks): each hash id becomes a deterministic 2 048-character
 *   block of text (512 tokens at the simulator's 4 characters per token), the
 *   last block cut to the recorded length, so requests sharing ids share a
 *   textual prefix. Arrivals as recorded; a run of equal timestamps (the
 *   conversation trace is quantised to 3 s buckets) is spread uniformly, in
 *   order, over the gap to the next distinct timestamp (at most 3 s).
 * - Azure 2023 (`*.csv`: TIMESTAMP, ContextTokens, GeneratedTokens): lengths
 *   and arrivals as recorded, every prompt unique.
 *
 * `speed` divides arrival times; `fromMs`/`spanMs` cut a slice (by recorded time).
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seeded } from '../../lib/rand.ts';
import type { RequestSpec, TextPart, Workload } from '../types.ts';

export interface TraceRecord {
  at: number;
  input: number;
  output: number;
  /** Mooncake block ids, or undefined (Azure). */
  hashIds?: number[];
}

export interface LoadedTrace {
  file: string;
  kind: 'mooncake' | 'azure';
  records: TraceRecord[];
}

const BLOCK_TOKENS = 512;
/** The repository's root: bench/routing/workloads → ../../.. */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A bare file name is looked up in ../shared/traces beside the repository. */
export function resolveTracePath(file: string): string {
  if (isAbsolute(file) || file.includes('/')) return resolve(file);
  return resolve(REPO_ROOT, '..', 'shared', 'traces', file);
}

export function loadTrace(file: string, seed = 1): LoadedTrace {
  const path = resolveTracePath(file);
  const text = readFileSync(path, 'utf8');
  if (path.endsWith('.jsonl')) return { file, kind: 'mooncake', records: spreadTies(parseMooncake(text), seed) };
  if (path.endsWith('.csv')) return { file, kind: 'azure', records: parseAzure(text) };
  throw new Error(`${file}: unknown trace format (expected .jsonl Mooncake or .csv Azure)`);
}

function parseMooncake(text: string): TraceRecord[] {
  const out: TraceRecord[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const r = JSON.parse(line) as { timestamp: number; input_length: number; output_length: number; hash_ids: number[] };
    out.push({ at: r.timestamp, input: Math.max(1, r.input_length), output: Math.max(1, r.output_length), hashIds: r.hash_ids });
  }
  return out;
}

/** `2023-11-16 18:17:03.9799600` → ms (UTC; only differences matter). */
function parseAzureTime(s: string): number {
  const m = /^(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+)(\.\d+)?$/.exec(s.trim());
  if (!m) throw new Error(`bad Azure timestamp "${s}"`);
  const whole = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  return whole + (m[7] ? parseFloat(m[7]) * 1000 : 0);
}

function parseAzure(text: string): TraceRecord[] {
  const lines = text.split('\n');
  const out: TraceRecord[] = [];
  let t0 = NaN;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const [ts, ctx, gen] = line.split(',');
    const t = parseAzureTime(ts!);
    if (Number.isNaN(t0)) t0 = t;
    out.push({ at: t - t0, input: Math.max(1, Number(ctx)), output: Math.max(1, Number(gen)) });
  }
  return out;
}

/** Spreads each run of equal timestamps uniformly (order kept) over the gap to the next distinct one, at most 3 s. */
function spreadTies(records: TraceRecord[], seed: number): TraceRecord[] {
  const random = seeded(seed, 11);
  for (let i = 0; i < records.length; ) {
    let j = i + 1;
    while (j < records.length && records[j]!.at === records[i]!.at) j++;
    if (j - i > 1) {
      const base = records[i]!.at;
      const gap = Math.min(3000, j < records.length ? records[j]!.at - base : 3000);
      const offsets = Array.from({ length: j - i }, () => random() * gap).sort((a, b) => a - b);
      for (let k = i; k < j; k++) records[k]!.at = base + offsets[k - i]!;
    }
    i = j;
  }
  return records;
}

function partsOf(r: TraceRecord, index: number, tag: string): TextPart[] {
  if (r.hashIds === undefined || r.hashIds.length === 0) return [[`${tag}-${index}`, r.input * 4]];
  const parts: TextPart[] = [];
  const n = r.hashIds.length;
  for (let j = 0; j < n; j++) {
    const tokens = j < n - 1 ? BLOCK_TOKENS : r.input - BLOCK_TOKENS * (n - 1);
    parts.push([`${tag}-h${r.hashIds[j]}`, Math.max(1, tokens) * 4]);
  }
  return parts;
}

export interface TraceWorkloadOptions {
  pods: number;
  speed: number;
  /** Slice by recorded time (ms). */
  fromMs?: number;
  spanMs?: number;
}

export const TRACE_ENGINE = { maxModelLen: 262_144 };

export function traceWorkload(trace: LoadedTrace, options: TraceWorkloadOptions): Workload {
  const from = options.fromMs ?? 0;
  const to = options.spanMs !== undefined ? from + options.spanMs : Infinity;
  const tag = trace.file.replace(/\W+/g, '');
  const requests: RequestSpec[] = [];
  trace.records.forEach((r, i) => {
    if (r.at < from || r.at >= to) return;
    requests.push({
      at: (r.at - from) / options.speed, pool: 'trace-pool', model: 'llama-3.1-8b', adapter: false,
      parts: partsOf(r, i, tag), promptTokens: r.input, outputTokens: r.output, criticality: 'Standard',
    });
  });
  const durationMs = requests.length > 0 ? requests[requests.length - 1]!.at + 1 : 0;
  return {
    name: `trace:${trace.file}`,
    pools: [{ name: 'trace-pool', pods: options.pods, model: 'llama-3.1-8b', adapters: [], engine: TRACE_ENGINE }],
    requests,
    durationMs,
    warmupMs: Math.min(Math.round(durationMs * 0.15), 180_000),
    rate: (requests.length * 1000) / Math.max(1, durationMs),
  };
}

/** Requests per second in the busiest 60 s window (sliding, by arrival). */
export function peakMinuteRate(w: Workload): number {
  let best = 0;
  let j = 0;
  const rs = w.requests;
  for (let i = 0; i < rs.length; i++) {
    while (rs[i]!.at - rs[j]!.at > 60_000) j++;
    best = Math.max(best, i - j + 1);
  }
  return best / 60;
}

/**
 * Share of the measured requests' input tokens an infinite cache would serve
 * (README note 2: each request hits the longest leading run of blocks some
 * earlier request had; tokens = min(blocks × 512, input)). Requests before
 * `warmupMs` fill the cache but are not counted.
 */
export function reuseCeiling(trace: LoadedTrace, w: Workload, options: TraceWorkloadOptions): number {
  if (trace.kind !== 'mooncake') return 0;
  const seen = new Set<number>();
  let hit = 0;
  let total = 0;
  const from = options.fromMs ?? 0;
  const to = options.spanMs !== undefined ? from + options.spanMs : Infinity;
  for (const r of trace.records) {
    if (r.at < from || r.at >= to) continue;
    const ids = r.hashIds ?? [];
    let k = 0;
    while (k < ids.length && seen.has(ids[k]!)) k++;
    if ((r.at - from) / options.speed >= w.warmupMs) {
      hit += Math.min(k * BLOCK_TOKENS, r.input);
      total += r.input;
    }
    for (const id of ids) seen.add(id);
  }
  return total > 0 ? hit / total : 0;
}

/**
 * The same ceiling with a finite cache: one LRU of `capacityTokens` (e.g. the
 * whole cluster's KV capacity) that every request reads and fills — what a
 * perfect router could reach if all pods' caches were one. Mooncake only.
 */
export function finiteReuseCeiling(trace: LoadedTrace, w: Workload, options: TraceWorkloadOptions, capacityTokens: number): number {
  if (trace.kind !== 'mooncake') return 0;
  const lru = new Map<number, true>();
  const cap = Math.max(1, Math.floor(capacityTokens / BLOCK_TOKENS));
  let hit = 0;
  let total = 0;
  const from = options.fromMs ?? 0;
  const to = options.spanMs !== undefined ? from + options.spanMs : Infinity;
  for (const r of trace.records) {
    if (r.at < from || r.at >= to) continue;
    const ids = r.hashIds ?? [];
    let k = 0;
    while (k < ids.length && lru.has(ids[k]!)) k++;
    if ((r.at - from) / options.speed >= w.warmupMs) {
      hit += Math.min(k * BLOCK_TOKENS, r.input);
      total += r.input;
    }
    for (let j = ids.length - 1; j >= 0; j--) {
      lru.delete(ids[j]!);
      lru.set(ids[j]!, true);
    }
    if (lru.size > cap) {
      let excess = lru.size - cap;
      for (const id of lru.keys()) {
        if (excess-- <= 0) break;
        lru.delete(id);
      }
    }
  }
  return total > 0 ? hit / total : 0;
}
