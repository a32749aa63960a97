/**
 * Writes made during one turn of the event loop leave together at its end.
 *
 * A proxy's write to a loopback or same-host peer runs the peer's network
 * stack in the writer's system call and wakes the peer; when the peer sleeps
 * on another core, that wake-up (an inter-processor interrupt, through the
 * hypervisor on a VM) costs more than the rest of the write. Writing each
 * answer the moment it is ready wakes the client once per answer. Holding
 * the writes of one poll phase (every socket event that epoll returned at
 * once) and sending them all in the check phase that follows wakes each peer
 * about once per batch, and sends the several writes one socket got (pipelined
 * answers, a head and its body) as one `writev`. uWebSockets corks every
 * socket until the end of the loop's iteration for the same reason.
 *
 * What it costs: an answer waits for the other callbacks of the same poll
 * phase — a few of the others' handlers under load. At low load there is
 * nothing to share a wake-up with, and holding to the check phase would only
 * make the peer wait for the bookkeeping that follows a write (the
 * completion, the metrics): after a quiet turn (one socket wrote), a turn's
 * first writes leave as soon as the callback that made them is done (a
 * microtask), and the rest of that turn's at its end. At 2 000 req/s through
 * the gateway this took ~11 µs off the added latency's p50 on average (−27
 * to +8 µs in three side-by-side runs), with throughput at saturation
 * unchanged (docs/benchmarks.md). Order on a socket is kept; back-pressure
 * still works (`write` returns false past the high-water mark, 'drain' comes
 * after the flush); `end()` flushes at once. A socket destroyed before the
 * flush loses what is held, so code that writes and then destroys calls
 * `flushNow` first.
 *
 * Only `write`'s return value and Node's Writable cork/uncork are used, so
 * Deno's node:net works alike.
 */
import type net from 'node:net';
import { setImmediate } from 'node:timers';

let held: net.Socket[] = [];
let spare: net.Socket[] = [];
/** The turn's end is scheduled (a write was made since the last check phase). */
let scheduled = false;
/** Sockets that wrote this turn, and whether the last turn was quiet (one socket or none). */
let writers = 0;
let quiet = true;

function flush(): void {
  const sockets = held;
  held = spare;
  for (let i = 0; i < sockets.length; i++) sockets[i]!.uncork();
  sockets.length = 0;
  spare = sockets;
}

function endOfTurn(): void {
  scheduled = false;
  quiet = writers <= 1;
  writers = 0;
  flush();
}

/** `socket.write(data)`, sent with the other writes of this turn of the event loop. */
export function batchWrite(socket: net.Socket, data: Uint8Array | string, encoding?: BufferEncoding): boolean {
  // A socket already corked is already held (or corked by its owner for a moment, who will uncork it).
  if (socket.writableCorked === 0) {
    socket.cork();
    held.push(socket);
    writers++;
    if (!scheduled) {
      scheduled = true;
      setImmediate(endOfTurn);
      // After a quiet turn, the first writes leave when the callback that made them is done.
      if (quiet) queueMicrotask(flush);
    }
  }
  return encoding === undefined ? socket.write(data) : socket.write(data, encoding);
}

/** Send what this socket holds now (before a `destroy()` that would drop it). */
export function flushNow(socket: net.Socket): void {
  while (socket.writableCorked > 0) socket.uncork();
}
