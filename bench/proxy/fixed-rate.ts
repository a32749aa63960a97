/**
 * Open-loop load at a fixed rate (a separate process from what it measures).
 * Latency counts from when each request was due, not when it was sent, so a
 * stalled target cannot hide its queueing (no coordinated omission).
 *
 *   tsx bench/proxy/fixed-rate.ts URL RATE SECONDS BODY_JSON [HEADER=VALUE...]
 * Prints one JSON line (ms): { sent, ok, errors, p50, p90, p99, p999, max } counted from when each
 * request was due, `wire` the same counted from when it was written, and `lateP99`.
 *
 * The generator is raw keep-alive sockets with the request's bytes built once
 * and a minimal response reader (content-length or chunked), so its own cost
 * per request — and its own pauses — stay far below what it measures; an HTTP
 * client library here cost ~50 µs and a GC pause every few ms at 2000 req/s,
 * which showed up as the *target's* p99. `lateP99` is how late the generator
 * itself sent (its timer: setTimeout fires ~1 ms late, and later when the
 * machine is busy). Counted from the write (`wire`), that lateness drops out;
 * the load stays open-loop either way (a request never waits for another's
 * answer: it takes an idle connection or opens one).
 */
import { connect, type Socket } from 'node:net';
import { percentile } from '../lib/stats.ts';

const [url, rateArg, secondsArg, body, ...headerArgs] = process.argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const target = new URL(url!);
let head = `POST ${target.pathname} HTTP/1.1\r\nhost: ${target.host}\r\ncontent-type: application/json\r\n`;
for (const h of headerArgs) {
  const i = h.indexOf('=');
  head += `${h.slice(0, i)}: ${h.slice(i + 1)}\r\n`;
}
const bodyBytes = Buffer.from(body!);
const request = Buffer.concat([Buffer.from(`${head}content-length: ${bodyBytes.length}\r\n\r\n`, 'latin1'), bodyBytes]);

const MAX_CONNECTIONS = 512;
const total = Math.round(rate * seconds);
const latencies = new Float64Array(total);
const lateness = new Float64Array(total);
const wire = new Float64Array(total);
const sentAt = new Float64Array(total);
let done = 0;
let ok = 0;
let errors = 0;
const start = performance.now() + 50;
let finish: () => void;
const finished = new Promise<void>((resolve) => (finish = resolve));

/** One keep-alive connection carrying one request at a time. */
class Conn {
  readonly socket: Socket;
  busy = -1;
  #buf: Buffer | null = null;
  dead = false;

  constructor() {
    this.socket = connect({ host: target.hostname, port: Number(target.port || 80), noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.socket.on('error', () => this.#fail());
    this.socket.on('close', () => this.#fail());
  }

  send(i: number): void {
    this.busy = i;
    sentAt[i] = performance.now();
    this.socket.write(request);
  }

  #onData(chunk: Buffer): void {
    const buf = this.#buf ? Buffer.concat([this.#buf, chunk]) : chunk;
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return void (this.#buf = buf);
    const headText = buf.toString('latin1', 0, end);
    const status = Number(headText.slice(9, 12));
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(headText);
    let complete: boolean;
    if (length) complete = buf.length >= end + 4 + Number(length[1]);
    else complete = buf.indexOf('\r\n0\r\n\r\n', end) >= 0 || buf.subarray(end + 4).indexOf('0\r\n\r\n') === 0;
    if (!complete) return void (this.#buf = buf);
    this.#buf = null;
    const i = this.busy;
    this.busy = -1;
    if (status === 200) ok++;
    else errors++;
    record(i);
    // nginx closes a keep-alive connection after 1000 requests, saying so: never write to it again.
    if (/\r\nconnection:\s*close/i.test(headText)) {
      this.busy = -1;
      this.socket.destroy();
      this.#fail();
    } else idle.push(this);
    pump();
  }

  #fail(): void {
    if (this.dead) return;
    this.dead = true;
    open--;
    if (this.busy >= 0) {
      errors++;
      record(this.busy);
    }
    const k = idle.indexOf(this);
    if (k >= 0) idle.splice(k, 1);
    pump();
  }
}

function record(i: number): void {
  const now = performance.now();
  latencies[i] = now - (start + (i * 1000) / rate);
  wire[i] = now - sentAt[i]!;
  if (++done === total) finish();
}

const idle: Conn[] = [];
const waiting: number[] = [];
let open = 0;
let next = 0;

/** Send what is due: on an idle connection, else a new one, else it waits (its latency still counts from its due time). */
function pump(): void {
  while (waiting.length > 0) {
    let conn = idle.pop();
    if (!conn && open < MAX_CONNECTIONS) {
      conn = new Conn();
      open++;
    }
    if (!conn) return;
    conn.send(waiting.shift()!);
  }
}

function tick(): void {
  const now = performance.now();
  while (next < total && start + (next * 1000) / rate <= now) {
    lateness[next] = now - (start + (next * 1000) / rate);
    waiting.push(next++);
  }
  pump();
  if (next < total) setTimeout(tick, Math.max(0, start + (next * 1000) / rate - performance.now()));
}

// Open some connections ahead, as a keep-alive client would have them.
for (let k = 0; k < 16; k++) {
  idle.push(new Conn());
  open++;
}
setTimeout(tick, Math.max(0, start - performance.now()));
await finished;
for (const c of [...idle]) c.socket.destroy();
const sorted = Array.from(latencies).sort((a, b) => a - b);
const late = Array.from(lateness).sort((a, b) => a - b);
const onWire = Array.from(wire).sort((a, b) => a - b);
const q = (s: number[], p: number) => Number(percentile(s, p).toFixed(3));
const summary = (s: number[]) => ({ p50: q(s, 0.5), p90: q(s, 0.9), p99: q(s, 0.99), p999: q(s, 0.999), max: q(s, 1) });
console.log(JSON.stringify({ sent: total, ok, errors, ...summary(sorted), wire: summary(onWire), lateP99: q(late, 0.99) }));
process.exit(0);
