/**
 * The feed as Server-Sent Events (text/event-stream): `retry`, the state,
 * then each update as `event: <type>` with one JSON `data` line, and a
 * comment line as a heartbeat so proxies and the browser see a live
 * connection. Web streams only, so it runs on every runtime. The source
 * listener is removed when the client goes away (the server cancels the
 * body) or the request is aborted.
 */
import type { DashboardSource, FeedEvent, FeedUpdate } from './feed.ts';

export interface FeedStreamOptions {
  /** Comment line sent this often, ms (default 15 000: under common 30–60 s proxy idle timeouts). */
  heartbeatMs?: number;
  /** The request's signal: aborting it ends the stream. */
  signal?: AbortSignal;
  /** Where to report a source that failed (the stream then ends and the browser reconnects). */
  log?: (line: Record<string, unknown>) => void;
}

/** Events a client may fall behind by before it is cut off (its browser reconnects and gets a fresh state). */
export const MAX_BACKLOG = 256;
/** How long the browser waits before reconnecting, ms. */
export const RETRY_MS = 2000;

const encoder = new TextEncoder();

export function frame(event: FeedEvent): Uint8Array {
  // JSON.stringify escapes newlines inside strings, so the data is one line.
  return encoder.encode(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
}

export function feedStream(source: DashboardSource, options: FeedStreamOptions = {}): ReadableStream<Uint8Array> {
  let stop = () => {};
  return new ReadableStream<Uint8Array>(
    {
      async start(controller) {
        let open = true;
        let buffered: FeedUpdate[] | undefined = [];
        let unsubscribe = () => {};
        let heartbeat: ReturnType<typeof setInterval> | undefined;
        const onAbort = () => stop();
        stop = () => {
          if (!open) return;
          open = false;
          unsubscribe();
          if (heartbeat !== undefined) clearInterval(heartbeat);
          options.signal?.removeEventListener('abort', onAbort);
        };
        const close = () => {
          stop();
          try {
            controller.close();
          } catch (err) {
            // Already closed or errored by a cancel racing this close: nothing left to end.
            void err;
          }
        };
        const send = (event: FeedEvent) => {
          if (!open) return;
          if ((controller.desiredSize ?? 0) < -MAX_BACKLOG) {
            // A reader this far behind shows stale data; a reconnect resynchronises it.
            options.log?.({ msg: 'dashboard client too slow, closing its stream', backlog: -(controller.desiredSize ?? 0) });
            close();
            return;
          }
          controller.enqueue(frame(event));
        };
        if (options.signal?.aborted) return close();
        options.signal?.addEventListener('abort', onAbort);
        // Subscribe before taking the state so nothing falls between them (feed.ts says how repeats are handled).
        unsubscribe = source.subscribe((event) => (buffered ? buffered.push(event) : send(event)));
        controller.enqueue(encoder.encode(`retry: ${RETRY_MS}\n\n`));
        try {
          send(await source.state());
        } catch (err) {
          options.log?.({ msg: 'dashboard source failed to give its state', error: String(err) });
          return close();
        }
        const pending = buffered;
        buffered = undefined;
        for (const event of pending) send(event);
        heartbeat = setInterval(() => open && controller.enqueue(encoder.encode(': heartbeat\n\n')), options.heartbeatMs ?? 15_000);
        if (!open) clearInterval(heartbeat);
      },
      cancel() {
        stop();
      },
    },
    { highWaterMark: 1 },
  );
}
