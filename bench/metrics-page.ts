/** A realistic vLLM /metrics page with about 200 series (gauges, counters, histograms, LoRA and cache info). */
export function vllmPage(waiting = 3): string {
  const l = 'engine="0",model_name="google/gemma-3-4b-it"';
  const out: string[] = [];
  const gauge = (name: string, value: number, labels = l) => out.push(`# HELP ${name} A gauge.`, `# TYPE ${name} gauge`, `${name}{${labels}} ${value}`);
  const counter = (name: string, value: number) => out.push(`# HELP ${name} A counter.`, `# TYPE ${name} counter`, `${name}{${l}} ${value}`);
  const histogram = (name: string, buckets: number[]) => {
    out.push(`# HELP ${name} A histogram.`, `# TYPE ${name} histogram`);
    let n = 0;
    for (const b of buckets) out.push(`${name}_bucket{${l},le="${b}"} ${(n += 7)}.0`);
    out.push(`${name}_bucket{${l},le="+Inf"} ${n}.0`, `${name}_count{${l}} ${n}.0`, `${name}_sum{${l}} ${n * 0.37}`);
  };
  gauge('vllm:num_requests_running', 7);
  gauge('vllm:num_requests_waiting', waiting);
  gauge('vllm:kv_cache_usage_perc', 0.4215);
  gauge('vllm:gpu_cache_usage_perc', 0.4215);
  out.push('# HELP vllm:lora_requests_info Running stats on lora requests.', '# TYPE vllm:lora_requests_info gauge');
  out.push('vllm:lora_requests_info{max_lora="4",running_lora_adapters="english-bot",waiting_lora_adapters=""} 1.7324e+09');
  out.push('vllm:lora_requests_info{max_lora="4",running_lora_adapters="english-bot,spanish-bot",waiting_lora_adapters=""} 1.7325e+09');
  gauge('vllm:cache_config_info', 1, 'block_size="16",cache_dtype="auto",enable_prefix_caching="True",num_gpu_blocks="27145"');
  for (const c of ['prompt_tokens_total', 'generation_tokens_total', 'num_preemptions_total', 'prefix_cache_queries_total', 'prefix_cache_hits_total']) counter(`vllm:${c}`, 123456);
  const latency = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
  for (const h of ['time_to_first_token_seconds', 'inter_token_latency_seconds', 'e2e_request_latency_seconds', 'request_queue_time_seconds', 'request_prefill_time_seconds', 'request_decode_time_seconds', 'request_inference_time_seconds'])
    histogram(`vllm:${h}`, latency);
  histogram('vllm:request_prompt_tokens', [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]);
  histogram('vllm:request_generation_tokens', [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000]);
  return `${out.join('\n')}\n`;
}

export function seriesCount(page: string): number {
  return page.split('\n').filter((line) => line && !line.startsWith('#')).length;
}
