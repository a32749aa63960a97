/** Helpers for the simulator tests: a strict Prometheus text parser and SSE readers. */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/**
 * Parses the Prometheus text exposition format (0.0.4) strictly: every sample
 * belongs to a family declared by a TYPE line before it, families are not
 * interleaved, label syntax and escapes are exact, values are floats, and
 * histograms have ascending cumulative buckets ending in +Inf = _count.
 * Throws with the line number on the first problem.
 */
export function parsePrometheus(text: string): Sample[] {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const closed = new Set<string>();
  let current = '';
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, i) => {
    const at = `line ${i + 1}: ${line}`;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) throw new Error(`bad comment, ${at}`);
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`bad metric name, ${at}`);
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`bad type, ${at}`);
        if (types.has(name)) throw new Error(`second TYPE for ${name}, ${at}`);
        types.set(name, rest);
      }
      if (current && current !== name) closed.add(current);
      if (closed.has(name)) throw new Error(`family ${name} interleaved, ${at}`);
      current = name;
      return;
    }
    if (line.trim() === '') throw new Error(`blank line, ${at}`);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
    if (!m) throw new Error(`bad sample, ${at}`);
    const name = m[1]!;
    const labels = m[3] !== undefined ? parseLabels(m[3], at) : {};
    const value = parseValue(m[4]!, at);
    const family = familyOf(name, types);
    if (!family) throw new Error(`sample without TYPE, ${at}`);
    if (family !== current) throw new Error(`sample outside its family block, ${at}`);
    samples.push({ name, labels, value });
  });
  checkHistograms(samples, types);
  return samples;
}

function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const suffix of ['_bucket', '_count', '_sum']) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      if (types.get(base) === 'histogram' || types.get(base) === 'summary') return base;
    }
  }
  return undefined;
}

function parseLabels(s: string, at: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < s.length) {
    const eq = s.indexOf('=', i);
    if (eq < 0) throw new Error(`bad labels, ${at}`);
    const key = s.slice(i, eq);
    if (!LABEL.test(key)) throw new Error(`bad label name "${key}", ${at}`);
    if (key in out) throw new Error(`duplicate label ${key}, ${at}`);
    if (s[eq + 1] !== '"') throw new Error(`unquoted label value, ${at}`);
    let j = eq + 2;
    let val = '';
    for (; j < s.length && s[j] !== '"'; j++) {
      if (s[j] === '\\') {
        const n = s[++j];
        if (n === 'n') val += '\n';
        else if (n === '\\' || n === '"') val += n;
        else throw new Error(`bad escape, ${at}`);
      } else if (s[j] === '\n') throw new Error(`newline in label, ${at}`);
      else val += s[j];
    }
    if (s[j] !== '"') throw new Error(`unterminated label value, ${at}`);
    out[key] = val;
    i = j + 1;
    if (i < s.length) {
      if (s[i] !== ',') throw new Error(`expected comma, ${at}`);
      i++;
    }
  }
  return out;
}

function parseValue(s: string, at: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`bad value "${s}", ${at}`);
  return Number(s);
}

function checkHistograms(samples: Sample[], types: Map<string, string>): void {
  for (const [name, type] of types) {
    if (type !== 'histogram') continue;
    const groups = new Map<string, Sample[]>();
    for (const s of samples) {
      if (s.name !== `${name}_bucket`) continue;
      const { le, ...rest } = s.labels;
      if (le === undefined) throw new Error(`${name}_bucket without le`);
      const key = JSON.stringify(rest);
      groups.set(key, [...(groups.get(key) ?? []), s]);
    }
    if (groups.size === 0) throw new Error(`histogram ${name} has no buckets`);
    for (const [key, buckets] of groups) {
      let prevLe = -Infinity;
      let prev = 0;
      for (const b of buckets) {
        const le = parseValue(b.labels.le!, name);
        if (!(le > prevLe)) throw new Error(`${name} buckets not ascending`);
        if (b.value < prev) throw new Error(`${name} buckets not cumulative`);
        prevLe = le;
        prev = b.value;
      }
      if (prevLe !== Infinity) throw new Error(`${name} has no +Inf bucket`);
      const count = samples.find((s) => s.name === `${name}_count` && JSON.stringify(s.labels) === key);
      if (!count || count.value !== prev) throw new Error(`${name}_count does not match the +Inf bucket`);
      if (!samples.some((s) => s.name === `${name}_sum` && JSON.stringify(s.labels) === key)) throw new Error(`${name} has no _sum`);
    }
  }
}

export async function scrape(url: string): Promise<Sample[]> {
  const r = await fetch(`${url}/metrics`);
  return parsePrometheus(await r.text());
}

/** The value of the first sample with this name (and these labels), or undefined. */
export function metric(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

export function sampleOf(samples: Sample[], name: string): Sample | undefined {
  return samples.find((s) => s.name === name);
}

/** Sends a streaming request and returns wall ms to the first content chunk, the chunks, and the total. */
export async function streamTimed(url: string, body: Record<string, unknown>, path = '/v1/chat/completions') {
  const t0 = performance.now();
  const r = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }) });
  if (!r.ok || !r.body) throw new Error(`status ${r.status}: ${await r.text()}`);
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let firstMs = -1;
  const events: string[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += value;
    let nl;
    while ((nl = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, nl);
      buf = buf.slice(nl + 2);
      events.push(ev);
      if (firstMs < 0 && /"(content|text)":"[^"]+"/.test(ev)) firstMs = performance.now() - t0;
    }
  }
  return { firstMs, totalMs: performance.now() - t0, events };
}

export function chat(model: string, content: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model, messages: [{ role: 'user', content }], ...extra };
}

export async function postJson(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
