/**
 * Where the access log's lines go on Node: stdout, or a file opened for
 * appending. Lines are gathered and written once per turn of the event loop,
 * in writes of whole lines under 4 KiB (PIPE_BUF), so the lines of several
 * `--workers` processes sharing a stdout pipe or a file never interleave
 * within a line. A destination that cannot keep up (its buffer past 8 MiB)
 * loses lines rather than memory; a warning says how many, at most every 10 s.
 */
import { createWriteStream, openSync, type WriteStream } from 'node:fs';

/** One write, at most: whole lines up to this size (Linux's PIPE_BUF, the atomic write to a pipe). */
const ATOMIC_BYTES = 4096;
const MAX_BUFFERED = 8 * 1024 * 1024;

export interface AccessLogSink {
  write(line: string): void;
  close(): Promise<void>;
}

export function accessLogSink(target: string, warn: (line: Record<string, unknown>) => void): AccessLogSink {
  const stream: NodeJS.WritableStream & { writableLength?: number } = target === 'stdout' ? process.stdout : openFile(target, warn);
  let pending: string[] = [];
  let scheduled = false;
  let dropped = 0;
  let warnedAt = 0;

  const flush = () => {
    scheduled = false;
    const lines = pending;
    pending = [];
    let chunk = '';
    for (const line of lines) {
      if (chunk.length + line.length + 1 > ATOMIC_BYTES && chunk) {
        stream.write(chunk);
        chunk = '';
      }
      chunk += `${line}\n`;
    }
    if (chunk) stream.write(chunk);
  };

  return {
    write(line) {
      if ((stream.writableLength ?? 0) > MAX_BUFFERED) {
        dropped++;
        const now = Date.now();
        if (now - warnedAt > 10_000) {
          warn({ level: 'warn', msg: 'access log destination cannot keep up; lines dropped', target, dropped });
          warnedAt = now;
          dropped = 0;
        }
        return;
      }
      pending.push(line);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    async close() {
      if (pending.length) flush();
      if (stream !== process.stdout) await new Promise<void>((resolve) => (stream as WriteStream).end(resolve));
    },
  };
}

/** Opened at once (a path that cannot be written fails the start, not the first request), appended to. */
function openFile(path: string, warn: (line: Record<string, unknown>) => void): WriteStream {
  const file = createWriteStream('', { fd: openSync(path, 'a') });
  file.on('error', (err) => warn({ level: 'error', msg: 'access log file failed; lines are lost until restart', path, error: err.message }));
  return file;
}
