/**
 * One Prometheus page from several processes' pages (the workers of a
 * `--workers N` gateway): samples of the same series are summed — right for
 * counters and histogram buckets/sums/counts, and for the one gauge
 * GatewayMetrics renders (requests running: the workers' add up) — and each
 * family keeps one HELP and one TYPE line, its samples grouped under them in
 * the order they were first seen. Gauges that must not be summed (the pool
 * averages) are rendered by the primary alone (./pool-metrics.ts).
 */
import { parseValue } from '../agent/prom-text.ts';

interface Family {
  help?: string;
  type?: string;
  /** Series (name and labels, as rendered) → summed value. */
  series: Map<string, number>;
}

/**
 * @example
 * mergePrometheusText(['# TYPE x counter\nx{a="1"} 2\n', '# TYPE x counter\nx{a="1"} 3\n']);
 * // '# TYPE x counter\nx{a="1"} 5\n'
 */
export function mergePrometheusText(pages: readonly string[]): string {
  const families = new Map<string, Family>();
  const familyOf = (name: string): Family => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { series: new Map() }));
    return f;
  };
  for (const page of pages) {
    let current: string | undefined;
    for (const raw of page.split('\n')) {
      const line = raw.trimEnd();
      if (line === '') continue;
      if (line.startsWith('#')) {
        const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
        if (!m) continue; // another comment: not carried over
        const family = familyOf(m[2]!);
        current = m[2]!;
        if (m[1] === 'HELP') family.help ??= m[3] ?? '';
        else family.type ??= (m[3] ?? 'untyped').trim();
        continue;
      }
      const sample = splitSample(line);
      if (!sample) continue;
      const family = familyOf(current && belongsTo(sample.name, current) ? current : sample.name);
      family.series.set(sample.series, (family.series.get(sample.series) ?? 0) + sample.value);
    }
  }
  const out: string[] = [];
  for (const [name, f] of families) {
    if (f.help !== undefined) out.push(`# HELP ${name} ${f.help}`);
    if (f.type !== undefined) out.push(`# TYPE ${name} ${f.type}`);
    for (const [series, value] of f.series) out.push(`${series} ${formatValue(value)}`);
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

/** A sample of family `family`: its own name, or a histogram's/summary's suffixed series. */
function belongsTo(name: string, family: string): boolean {
  if (name === family) return true;
  if (!name.startsWith(family)) return false;
  const suffix = name.slice(family.length);
  return suffix === '_bucket' || suffix === '_sum' || suffix === '_count';
}

/** `name{labels} value [timestamp]` → the series text and the value; undefined when malformed. */
function splitSample(line: string): { name: string; series: string; value: number } | undefined {
  const brace = line.indexOf('{');
  const space = line.search(/[ \t]/);
  let seriesEnd: number;
  if (brace >= 0 && (space < 0 || brace < space)) {
    seriesEnd = closingBrace(line, brace + 1);
    if (seriesEnd < 0) return undefined;
  } else {
    if (space < 0) return undefined;
    seriesEnd = space;
  }
  const value = parseValue(line.slice(seriesEnd).trim().split(/[ \t]+/)[0] ?? '');
  if (value === undefined) return undefined;
  const name = line.slice(0, brace >= 0 && brace < seriesEnd ? brace : seriesEnd);
  return { name, series: line.slice(0, seriesEnd), value };
}

/** The index after the `}` closing a label set that starts at `i`, skipping quoted values; -1 when there is none. */
function closingBrace(line: string, i: number): number {
  let quoted = false;
  for (; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '}') return i + 1;
  }
  return -1;
}

function formatValue(n: number): string {
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

/**
 * A page without its gauge families: what is kept of a worker that exited, so
 * its counts stay in the sums (counters never go down) while a gauge it last
 * reported (requests it was running) does not linger.
 */
export function withoutGauges(page: string): string {
  const out: string[] = [];
  let gauge = false;
  let family: string | undefined;
  for (const line of page.split('\n')) {
    if (line === '') continue;
    const meta = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
    if (meta) {
      if (meta[2] !== family) {
        family = meta[2];
        gauge = false;
      }
      if (meta[1] === 'TYPE' && meta[3]?.trim() === 'gauge') {
        gauge = true;
        // Its HELP line went out before its TYPE said what it was.
        if (out.at(-1)?.startsWith(`# HELP ${family} `)) out.pop();
      }
      if (!gauge) out.push(line);
      continue;
    }
    if (!gauge) out.push(line);
  }
  return out.length ? `${out.join('\n')}\n` : '';
}
