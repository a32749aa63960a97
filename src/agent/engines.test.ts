/** Engine pages read into EndpointMetrics: the cache geometry trtllm-serve publishes. */
import { describe, expect, it } from 'vitest';
import { readEngineMetrics } from './engines.ts';

describe('readEngineMetrics (trtllm)', () => {
  it('reads trtllm-serve\'s block size and block count (trtllm_kv_cache_tokens_per_block, trtllm_kv_cache_max_blocks)', () => {
    const page = [
      '# TYPE trtllm_num_requests_running gauge',
      'trtllm_num_requests_running{model_name="m",engine_type="trtllm"} 2',
      '# TYPE trtllm_kv_cache_tokens_per_block gauge',
      'trtllm_kv_cache_tokens_per_block{model_name="m",engine_type="trtllm"} 32',
      '# TYPE trtllm_kv_cache_max_blocks gauge',
      'trtllm_kv_cache_max_blocks{model_name="m",engine_type="trtllm"} 4096',
      '',
    ].join('\n');
    expect(readEngineMetrics('trtllm', page)).toMatchObject({ running: 2, blockSize: 32, totalBlocks: 4096 });
  });
});
