/**
 * Reports for workloads whose requests fall into groups (RequestSpec.groups):
 * per class or tenant TTFT and losses, the groups against their unloaded
 * values, issue 17's flow-control targets, and — for every workload — where
 * infergate's default profile is not first (issue 19).
 */
import { levelLabel, ms, rateLabel } from './report.ts';
import type { LevelResult, WorkloadResult } from './run.ts';
import { INFERGATE_DEFAULT, INFERGATE_FLOW_CONTROL, INFERGATE_FLOW_ISOLATION } from './strategies/index.ts';
import type { GroupMetrics, RunMetrics } from './types.ts';

const bold = (s: string, on: boolean) => (on ? `**${s}**` : s);

function groupNames(r: WorkloadResult): string[] {
  const names: string[] = [];
  for (const l of r.levels) for (const m of l.runs) for (const g of Object.keys(m.groups ?? {})) if (!names.includes(g)) names.push(g);
  return names;
}

const cell = (g: GroupMetrics | undefined) => (g === undefined || g.measured === 0 ? '—' : `${ms(g.ttft.p50)} / ${ms(g.ttft.p99)}${g.lost ? ` · lost ${g.lost}${g.shed === g.lost ? ' (shed)' : g.shed ? ` (${g.shed} shed)` : ''}` : ''}`);

/** Per group TTFT p50 / p99 (ms) and requests lost, every load × strategy; undefined when the workload has no groups. */
export function groupTable(r: WorkloadResult): string | undefined {
  const names = groupNames(r);
  if (names.length === 0) return undefined;
  const lines = [
    `| load | strategy | ${names.map((g) => `${g} TTFT p50 / p99 (ms)`).join(' | ')} |`,
    `|---|---|${names.map(() => '---|').join('')}`,
  ];
  for (const l of r.levels) {
    for (const m of l.runs) {
      const ours = m.strategy === INFERGATE_DEFAULT || m.strategy === INFERGATE_FLOW_CONTROL;
      lines.push(`| ${levelLabel(r, l.level)} (${rateLabel(l)}) | ${bold(m.strategy, ours)} | ${names.map((g) => cell(m.groups?.[g])).join(' | ')} |`);
    }
  }
  if (!r.levels.some((l) => l.runs.some((m) => m.strategy === INFERGATE_FLOW_CONTROL))) {
    lines.push('', `\`${INFERGATE_FLOW_CONTROL}\`: not in this run (\`--strategies\` left it out).`);
  }
  return lines.join('\n');
}

/** The groups present in the unloaded runs: p99 under load ÷ p99 alone, per load × strategy. */
export function unloadedTable(r: WorkloadResult): string | undefined {
  const withUnloaded = r.levels.filter((l) => l.unloaded !== undefined);
  if (withUnloaded.length === 0) return undefined;
  const names = groupNames(r).filter((g) => withUnloaded.some((l) => l.unloaded!.some((m) => (m.groups?.[g]?.measured ?? 0) > 0)));
  const lines = [
    `| load | strategy | ${names.map((g) => `${g} p99 loaded / alone (ms)`).join(' | ')} |`,
    `|---|---|${names.map(() => '---|').join('')}`,
  ];
  for (const l of withUnloaded) {
    l.runs.forEach((m, i) => {
      const alone = l.unloaded![i]!;
      const cells = names.map((g) => {
        const a = m.groups?.[g]?.ttft.p99 ?? NaN;
        const b = alone.groups?.[g]?.ttft.p99 ?? NaN;
        return `${ms(a)} / ${ms(b)} = ${(a / b).toFixed(2)}×`;
      });
      lines.push(`| ${levelLabel(r, l.level)} (${rateLabel(l)}) | ${bold(m.strategy, m.strategy === INFERGATE_DEFAULT)} | ${cells.join(' | ')} |`);
    });
  }
  return lines.join('\n');
}

const byName = (l: LevelResult, name: string): RunMetrics | undefined => l.runs.find((m) => m.strategy === name);

/**
 * Issue 17's acceptance figures, with and without flow control: on priority-burst Critical's p99 and losses
 * (target at 110%: ≥ 5× lower with flow control, none lost); on noisy-neighbour the quiet tenants' p99 against
 * their unloaded value (target ≤ 1.2×). With flow isolation too when the run has it (`--strategies …,infergate-flow-isolation`).
 */
export function flowControlTargets(results: WorkloadResult[]): string | undefined {
  const rows: string[] = [];
  const isolation = results.some((r) => r.levels.some((l) => byName(l, INFERGATE_FLOW_ISOLATION)));
  const column = (name: string) => (l: LevelResult, f: (m: RunMetrics, i: number) => string) => {
    const i = l.runs.findIndex((m) => m.strategy === name);
    return i < 0 ? 'not in this run' : f(l.runs[i]!, i);
  };
  const fc = (l: LevelResult, f: (m: RunMetrics, i: number) => string) =>
    column(INFERGATE_FLOW_CONTROL)(l, f) + (isolation ? ` | ${column(INFERGATE_FLOW_ISOLATION)(l, f)}` : '');
  for (const r of results) {
    for (const l of r.levels) {
      const d = byName(l, INFERGATE_DEFAULT);
      if (!d) continue;
      const di = l.runs.indexOf(d);
      if (r.workload === 'priority-burst') {
        const crit = (m: RunMetrics) => `Critical p99 ${ms(m.groups?.Critical?.ttft.p99 ?? NaN)}, ${m.groups?.Critical?.lost ?? 0} lost`;
        rows.push(`| priority-burst | ${levelLabel(r, l.level)} | ${crit(d)} | ${fc(l, crit)} | ${l.level >= 1.1 ? 'p99 ≥ 5× lower with flow control; 0 lost' : '0 lost'} |`);
      } else if (r.workload === 'noisy-neighbour' && l.unloaded) {
        const quiet = (m: RunMetrics, i: number) => {
          const a = m.groups?.quiet?.ttft.p99 ?? NaN;
          const b = l.unloaded![i]!.groups?.quiet?.ttft.p99 ?? NaN;
          return `quiet p99 ${ms(a)} vs ${ms(b)} alone = ${(a / b).toFixed(2)}×`;
        };
        rows.push(`| noisy-neighbour | ${levelLabel(r, l.level)} | ${quiet(d, di)} | ${fc(l, quiet)} | ≤ 1.20× |`);
      }
    }
  }
  if (rows.length === 0) return undefined;
  const head = `| workload | load | ${INFERGATE_DEFAULT} | ${INFERGATE_FLOW_CONTROL}${isolation ? ` | ${INFERGATE_FLOW_ISOLATION}` : ''} | target (issue 17) |`;
  return [head, `|---|---|---|---|${isolation ? '---|' : ''}---|`, ...rows].join('\n');
}

/** Where infergate's default profile does not have the lowest p99 TTFT (issue 19): by how much, and who is first. */
export function firstPlaceTable(results: WorkloadResult[]): string {
  const lines = ['| workload | load | infergate-default p99 | lowest p99 (strategy) | default first? |', '|---|---|---|---|---|'];
  for (const r of results) {
    for (const l of r.levels) {
      const d = byName(l, INFERGATE_DEFAULT);
      if (!d) continue;
      const others = l.runs.filter((m) => m.strategy !== INFERGATE_DEFAULT && m.strategy !== INFERGATE_FLOW_CONTROL);
      if (others.length === 0) continue;
      const best = others.reduce((b, m) => (m.ttft.p99 < b.ttft.p99 ? m : b));
      const first = d.ttft.p99 <= best.ttft.p99;
      const verdict = first ? `yes (${((1 - d.ttft.p99 / best.ttft.p99) * 100).toFixed(0)}% lower)` : `**no**: ${((d.ttft.p99 / best.ttft.p99 - 1) * 100).toFixed(1)}% higher`;
      lines.push(`| ${r.workload} | ${levelLabel(r, l.level)} | ${ms(d.ttft.p99)} | ${ms(best.ttft.p99)} (${best.strategy}) | ${verdict} |`);
    }
  }
  return lines.join('\n');
}
