/**
 * The process's metrics (prom-client's default collectors) as the admin page
 * shows them: strictly valid text even on the first scrape, when the event
 * loop's lag has no sample yet and prom-client writes its NaN as `Nan`.
 */
import { describe, expect, it } from 'vitest';
import { processMetrics } from '../src/runtime/node/process-metrics.ts';
import { parseStrict } from './prom-strict.ts';

describe('process metrics', () => {
  it('are strictly valid on the first scrape', async () => {
    const page = await processMetrics()();
    expect(page).not.toMatch(/ Nan$/m);
    expect(() => parseStrict(page)).not.toThrow();
    expect(page).toMatch(/^process_cpu_seconds_total /m);
  });
});
