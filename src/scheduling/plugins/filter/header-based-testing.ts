/**
 * header-based-testing-filter (the conformance suite's picker, GIE/llm-d's
 * type name): keeps the endpoints named in the request header
 * `test-epp-endpoint-selection` — `ip` (every port of that pod) or `ip:port`
 * (exactly that endpoint), comma-separated. Without the header, or when it
 * names none of the candidates, the filter keeps them all, as the suite's
 * reference picker (lwepp) falls back to every pod. Only for conformance
 * profiles: any client could steer its requests with the header.
 */
import type { Candidate, FilterPlugin } from '../types.ts';

export function createHeaderBasedTestingFilter(name = 'header-based-testing-filter'): FilterPlugin {
  return {
    kind: 'filter',
    type: 'header-based-testing-filter',
    name,
    filter(candidates, ctx) {
      const selection = ctx.request.hints?.selection;
      if (!selection?.length) return candidates;
      const wanted = new Set(selection.map(normalise));
      const kept: Candidate[] = [];
      for (const c of candidates) {
        const e = c.endpoint;
        if (wanted.has(e.id) || wanted.has(`${stripBrackets(e.address)}:${e.port}`) || wanted.has(stripBrackets(e.address))) kept.push(c);
        else ctx.rejected?.push({ id: e.id, by: name, reason: 'not named in test-epp-endpoint-selection' });
      }
      return kept;
    },
  };
}

/** `[::1]:3000` → `::1:3000`, `[::1]` → `::1`, `10.0.0.1:3000` as is. */
function normalise(item: string): string {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(item);
  if (m) return m[2] ? `${m[1]}:${m[2]}` : m[1]!;
  return item;
}

function stripBrackets(address: string): string {
  return address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
}
