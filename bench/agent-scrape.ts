/**
 * CPU of the agent scraping 256 endpoints every 50 ms (5 120 scrapes/s of a
 * ~200-series vLLM page). The pods run in a child process so that only the
 * agent's work is measured here.
 * Run: npx tsx bench/agent-scrape.ts [--endpoints 256] [--interval 50] [--seconds 10]
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { MetricsAgent } from '../src/agent/agent.ts';
import { scrapeGetter } from '../src/runtime/node/metrics-getter.ts';
import { readFlags } from './lib/flags.ts';
import { vllmPage } from './metrics-page.ts';

const flags = readFlags();
const arg = (name: string, dflt: number) => flags.number(name, dflt);

async function servePods(count: number): Promise<void> {
  const pages = Array.from({ length: 8 }, (_, i) => vllmPage(i));
  const ports: number[] = [];
  for (let i = 0; i < count; i++) {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(pages[(Date.now() >> 8) & 7]);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    ports.push((server.address() as { port: number }).port);
  }
  process.stdout.write(`${JSON.stringify(ports)}\n`);
}

async function main(): Promise<void> {
  if (process.argv.includes('--pods')) return servePods(arg('pods', 256));
  const count = arg('endpoints', flags.quick ? 32 : 256);
  const interval = arg('interval', 50);
  const seconds = arg('seconds', flags.quick ? 1 : 10);
  const child = spawn(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--pods', String(count)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ports = await new Promise<number[]>((resolve) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\n')) resolve(JSON.parse(buf.slice(0, buf.indexOf('\n'))) as number[]);
    });
  });
  const get = scrapeGetter();
  const agent = new MetricsAgent({ get, scrapeIntervalMs: interval });
  agent.setEntries(ports.map((port) => ({ address: '127.0.0.1', port, labels: { pool: 'bench' }, engine: 'vllm' as const })));
  const release = agent.acquire({ selector: { pool: 'bench' }, targetPorts: [] });
  agent.start();
  await new Promise((r) => setTimeout(r, flags.quick ? 500 : 2000)); // warm up: connections, JIT
  const before = { cpu: process.cpuUsage(), at: performance.now(), scrapes: agent.stats.scrapes, failures: agent.stats.failures, skipped: agent.stats.skipped };
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const cpu = process.cpuUsage(before.cpu);
  const wall = (performance.now() - before.at) / 1000;
  const scrapes = agent.stats.scrapes - before.scrapes;
  const result = {
    endpoints: count,
    intervalMs: interval,
    seconds: Number(wall.toFixed(1)),
    scrapesPerSecond: Math.round(scrapes / wall),
    targetPerSecond: Math.round((count * 1000) / interval),
    failures: agent.stats.failures - before.failures,
    skippedTicks: agent.stats.skipped - before.skipped,
    cpuCores: Number(((cpu.user + cpu.system) / 1e6 / wall).toFixed(2)),
    cpuPerScrapeUs: Math.round((cpu.user + cpu.system) / scrapes),
  };
  console.log(JSON.stringify(result));
  release();
  agent.stop();
  await get.close();
  child.kill();
}

await main();
