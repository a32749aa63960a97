import { describe, expect, it } from 'vitest';
import { workerExecArgv } from './cluster.ts';

const loader = new URL('./typescript.mjs', import.meta.url).href;

describe('workerExecArgv', () => {
  it('adds the TypeScript loader once', () => {
    expect(workerExecArgv(1, 4, [], '')).toEqual(['--import', loader]);
    expect(workerExecArgv(1, 4, ['--import', loader], '')).toEqual(['--import', loader]);
  });

  it('runs the GC on the worker thread when there is a worker for every core', () => {
    expect(workerExecArgv(2, 2, [], '')).toContain('--single-threaded-gc');
    expect(workerExecArgv(4, 2, [], '')).toContain('--single-threaded-gc');
    // Spare cores: the GC's helper threads run there.
    expect(workerExecArgv(2, 4, [], '')).not.toContain('--single-threaded-gc');
  });

  it("keeps a GC-threads flag the user gave, in the process's flags or NODE_OPTIONS", () => {
    for (const flag of ['--no-single-threaded-gc', '--nosingle_threaded_gc', '--single_threaded_gc', '--single-threaded', '--v8-pool-size=4', '--no-concurrent-marking', '--noconcurrent-marking', '--parallel-scavenge', '--parallel-marking', '--concurrent_sweeping', '--no-parallel-compaction']) {
      expect(workerExecArgv(2, 2, [flag], '')).toEqual([flag, '--import', loader]);
    }
    expect(workerExecArgv(2, 2, [], '--max-old-space-size=512 --v8-pool-size=2')).toEqual(['--import', loader]);
    expect(workerExecArgv(2, 2, ['--max-old-space-size=512'], '--enable-source-maps')).toEqual(['--max-old-space-size=512', '--import', loader, '--single-threaded-gc']);
    // Flags that only look alike are not GC-thread flags.
    expect(workerExecArgv(2, 2, ['--no-warnings', '--stack-size=2000', '--expose-gc'], '')).toContain('--single-threaded-gc');
  });
});
