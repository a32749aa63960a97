/**
 * A strict reader of the Prometheus text format (0.0.4) for tests: every line
 * must be a HELP, a TYPE or a sample; names and label names as the format
 * allows; a family's HELP and TYPE once, before its samples, its samples in
 * one group; no series twice; counters named `_total`; a histogram's buckets
 * cumulative, with `+Inf` equal to `_count`, and a `_sum`. Throws, naming the
 * line, at the first breach; returns the samples.
 */
export interface StrictSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface StrictPage {
  samples: StrictSample[];
  types: Map<string, string>;
  /** The value of the one sample with this name whose labels include `labels`; throws when none or several match. */
  value(name: string, labels?: Record<string, string>): number;
  /** Sum over the samples with this name whose labels include `labels`. */
  sum(name: string, labels?: Record<string, string>): number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function parseStrict(text: string): StrictPage {
  if (!text.endsWith('\n')) throw new Error('the page does not end with a newline');
  const samples: StrictSample[] = [];
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const closed = new Set<string>();
  const series = new Set<string>();
  let family: string | undefined;
  const lines = text.slice(0, -1).split('\n');
  lines.forEach((line, i) => {
    const where = `line ${i + 1} "${line}"`;
    const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      if (!NAME.test(name!)) throw new Error(`${where}: bad metric name`);
      if (family !== name) {
        if (family) closed.add(family);
        if (closed.has(name!)) throw new Error(`${where}: family ${name} appears in two groups`);
        family = name;
      }
      if (kind === 'HELP') {
        if (helps.has(name!)) throw new Error(`${where}: second HELP`);
        helps.add(name!);
      } else {
        if (types.has(name!)) throw new Error(`${where}: second TYPE`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest ?? '')) throw new Error(`${where}: unknown type`);
        if (rest === 'counter' && !name!.endsWith('_total')) throw new Error(`${where}: a counter's name should end in _total`);
        types.set(name!, rest!);
      }
      return;
    }
    if (line.startsWith('#') || line === '') throw new Error(`${where}: neither HELP, TYPE nor a sample`);
    const sample = parseSample(line, where);
    const base = family && (sample.name === family || (types.get(family) === 'histogram' && /^(.*)_(bucket|sum|count)$/.exec(sample.name)?.[1] === family)) ? family : undefined;
    if (!base) throw new Error(`${where}: sample outside its family (${family})`);
    const key = `${sample.name}{${Object.entries(sample.labels).map(([k, v]) => `${k}=${v}`).sort().join(',')}}`;
    if (series.has(key)) throw new Error(`${where}: series twice`);
    series.add(key);
    samples.push(sample);
  });
  checkHistograms(samples, types);
  const matching = (name: string, labels: Record<string, string> = {}) => samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return {
    samples,
    types,
    value(name, labels) {
      const found = matching(name, labels);
      if (found.length !== 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels ?? {})}`);
      return found[0]!.value;
    },
    sum: (name, labels) => matching(name, labels).reduce((s, x) => s + x.value, 0),
  };
}

function parseSample(line: string, where: string): StrictSample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
  if (!m) throw new Error(`${where}: not a sample`);
  const labels: Record<string, string> = {};
  if (m[2]) {
    let rest = m[2].slice(1, -1);
    while (rest.length) {
      const lm = /^([^=]+)="((?:[^"\\]|\\.)*)"(,|$)/.exec(rest);
      if (!lm || !LABEL.test(lm[1]!)) throw new Error(`${where}: bad label at "${rest}"`);
      labels[lm[1]!] = lm[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      rest = rest.slice(lm[0].length);
    }
  }
  const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
  if (Number.isNaN(value) && m[3] !== 'NaN') throw new Error(`${where}: bad value`);
  return { name: m[1]!, labels, value };
}

function checkHistograms(samples: StrictSample[], types: Map<string, string>): void {
  for (const [name, type] of types) {
    if (type !== 'histogram') continue;
    const groups = new Map<string, StrictSample[]>();
    for (const s of samples) {
      if (s.name !== `${name}_bucket`) continue;
      const { le: _le, ...rest } = s.labels;
      const key = JSON.stringify(rest);
      groups.set(key, [...(groups.get(key) ?? []), s]);
    }
    for (const [key, buckets] of groups) {
      const labels = JSON.parse(key) as Record<string, string>;
      let previous = -Infinity;
      let last = 0;
      for (const b of buckets) {
        const le = b.labels.le === '+Inf' ? Infinity : Number(b.labels.le);
        if (!(le > previous)) throw new Error(`${name}${key}: le not increasing at ${b.labels.le}`);
        if (b.value < last) throw new Error(`${name}${key}: buckets not cumulative at le=${b.labels.le}`);
        previous = le;
        last = b.value;
      }
      if (previous !== Infinity) throw new Error(`${name}${key}: no +Inf bucket`);
      const same = (s: StrictSample) => Object.keys(labels).length === Object.keys(s.labels).length && Object.entries(labels).every(([k, v]) => s.labels[k] === v);
      const count = samples.find((s) => s.name === `${name}_count` && same(s));
      const sum = samples.find((s) => s.name === `${name}_sum` && same(s));
      if (!count || !sum) throw new Error(`${name}${key}: _count or _sum missing`);
      if (count.value !== last) throw new Error(`${name}${key}: +Inf bucket ${last} != _count ${count.value}`);
    }
  }
}
