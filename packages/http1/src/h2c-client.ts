/**
 * HTTP/2 over cleartext with prior knowledge (h2c, RFC 9113 §3.3), for model
 * servers that speak only that — a Service port with `appProtocol:
 * kubernetes.io/h2c`. One multiplexed session per origin over node:http2
 * (Deno's node:http2 serves it too), with the same request, answer and
 * failure contract as the HTTP/1.1 client (./types.ts), so a caller picks
 * a client by the pool's protocol and handles both alike.
 *
 * HTTP/2 tells more than HTTP/1.1 about an unanswered request: a stream the
 * server refused (RST_STREAM REFUSED_STREAM) or left unprocessed by its
 * GOAWAY was never acted on (RFC 9113 §8.7), so it fails as `connect`,
 * which a caller may send elsewhere; any other loss after the request went
 * out is `broken`.
 */
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type IncomingHttpStatusHeader } from 'node:http2';
import { BAD_FIELD_VALUE, BAD_PATH, fieldName, TOKEN } from './grammar.ts';
import { ClientError, type ClientRequest, type ClientResponse } from './types.ts';
import { H2Headers, StreamBody, type Limits } from './h2c-answer.ts';
import { IDLE_TIMEOUT_MS, originParts } from './client.ts';

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, HTTP2_HEADER_STATUS } = http2.constants;

/** Connection-specific fields HTTP/2 forbids (RFC 9113 §8.2.2), and the framing this client writes itself. */
const DROPPED = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'trailer', 'http2-settings']);

export interface H2cClientOptions {
  /** A body read whole (`bytes()`) larger than this fails with ClientBodyError `too_large` (default 64 MiB). */
  maxBufferedBytes?: number;
  /** A body with no byte for this long fails with ClientBodyError `idle`, ms (default 300 000); a request may set its own. */
  bodyIdleTimeoutMs?: number;
  /** A session with no stream for this long is closed, ms (default the HTTP/1.1 client's idle limit). */
  sessionIdleTimeoutMs?: number;
  /** After a request got no head in time, its session must answer a PING within this, ms, or it is dropped (default 5 000). */
  pingTimeoutMs?: number;
}

/** A request the server did not process is sent again this many times at most (each on a session with room). */
const MAX_RESENDS = 2;
/** Sessions one origin may have: past this, requests wait in the least busy one's queue. */
const MAX_SESSIONS_PER_ORIGIN = 16;
/** A session takes no new stream past this many (stream ids are 31-bit odd numbers: ~1.07e9 of them). */
const MAX_STREAMS_PER_SESSION = 1 << 29;

export class H2cClient {
  readonly #origins = new Map<string, Session[]>();
  readonly #limits: { maxBuffered: number; bodyIdleMs: number; sessionIdleMs: number; pingMs: number };

  constructor(options: H2cClientOptions = {}) {
    this.#limits = {
      maxBuffered: options.maxBufferedBytes ?? 64 << 20,
      bodyIdleMs: options.bodyIdleTimeoutMs ?? 300_000,
      sessionIdleMs: options.sessionIdleTimeoutMs ?? IDLE_TIMEOUT_MS,
      pingMs: options.pingTimeoutMs ?? 5_000,
    };
  }

  /** Send one request on a session of its origin with room for it; again only if the server says it did not process it (see ClientFailure). */
  request(req: ClientRequest): Promise<ClientResponse> {
    return this.#request(req, 0, Date.now() + req.headersTimeoutMs);
  }

  /**
   * A stream the server did not process (refused, or above its GOAWAY's last
   * stream id: a server closing a connection after N requests does this to
   * the streams in flight) is sent again on a session with room, at most twice,
   * as HTTP/2 clients do: the server said it never acted on it.
   */
  #request(req: ClientRequest, resent: number, deadline: number): Promise<ClientResponse> {
    if (req.signal.aborted) return Promise.reject(new ClientError('aborted', 'the client went away', false));
    let headers: http2.OutgoingHttpHeaders;
    let session: Session;
    try {
      const { hostHeader } = originParts(req.origin);
      headers = requestHeaders(req, hostHeader);
      session = this.#pick(req.origin);
    } catch (err) {
      return Promise.reject(err);
    }
    // A new session sends nothing until the server's SETTINGS say how many streams it takes.
    if (!session.settled) return this.#whenSettled(session, req).then(() => this.#request(req, resent, deadline));
    const sent = this.#send(session, headers, req);
    if (resent >= MAX_RESENDS) return sent;
    return sent.catch((err: unknown) => {
      if (!(err instanceof Unprocessed) || req.signal.aborted) throw err;
      // The head timeout covers every send together, not each.
      return this.#request({ ...req, headersTimeoutMs: Math.max(1, deadline - Date.now()) }, resent + 1, deadline);
    });
  }

  #send(session: Session, headers: http2.OutgoingHttpHeaders, req: ClientRequest): Promise<ClientResponse> {
    let stream: ClientHttp2Stream;
    try {
      stream = session.h2.request(headers, { endStream: req.body.byteLength === 0 });
    } catch (err) {
      // Thrown before anything was queued: a value node:http2 will not encode, or a session already going away.
      const code = (err as { code?: string }).code ?? '';
      if (/INVALID_HEADER|INVALID_HTTP_TOKEN|INVALID_CHAR|HEADER_SINGLE_VALUE|PSEUDOHEADER/.test(code)) return Promise.reject(new ClientError('invalid', `the request cannot be sent over HTTP/2: ${(err as Error).message}`));
      this.#retire(session);
      return Promise.reject(new ClientError('connect', `the HTTP/2 session to ${req.origin} cannot open a stream (${(err as Error).message})`));
    }
    this.#opened(session, stream);
    if (req.body.byteLength) stream.end(req.body);
    return new Promise((resolve, reject) => exchange(session, stream, req, this.#limits, { retire: () => this.#retire(session), probe: () => this.#probe(session) }, resolve, reject));
  }

  /** A session with room: a settled one under the server's stream limit, one still connecting, or a new one. */
  #pick(origin: string): Session {
    let list = this.#origins.get(origin);
    if (!list) this.#origins.set(origin, (list = []));
    let least: Session | undefined;
    for (const s of list) {
      if (!s.settled || s.open < s.limit) return s;
      if (!least || s.open < least.open) least = s;
    }
    if (least && list.length >= MAX_SESSIONS_PER_ORIGIN) return least; // node:http2 queues the stream until one ends
    const session = this.#connect(origin);
    list.push(session);
    return session;
  }

  #connect(origin: string): Session {
    const h2 = http2.connect(origin);
    let settle!: () => void;
    let fail!: (err: Error) => void;
    const ready = new Promise<void>((resolve, reject) => ((settle = resolve), (fail = reject)));
    ready.catch(() => undefined);
    const session: Session = { origin, h2, connected: false, settled: false, ready, limit: Infinity, goingAway: false, lastStreamId: Infinity, open: 0, total: 0, idle: undefined, probing: false };
    h2.once('connect', () => (session.connected = true));
    h2.on('remoteSettings', (settings: http2.Settings) => {
      session.limit = Math.max(1, settings.maxConcurrentStreams ?? Infinity);
      session.settled = true;
      settle();
    });
    // A GOAWAY: streams above its last id were not processed; no new stream goes on this session.
    h2.on('goaway', (_code: number, lastStreamId: number) => {
      session.lastStreamId = lastStreamId;
      this.#retire(session);
    });
    const gone = (err?: Error) => {
      this.#retire(session);
      fail(err ?? new Error('the connection closed before the server spoke HTTP/2'));
    };
    h2.on('error', gone); // each stream reports its own failure
    h2.once('close', gone);
    h2.unref();
    return session;
  }

  /** Wait for a new session's SETTINGS (nothing is sent before): a failure here is `connect`, a wait past the head timeout too. */
  #whenSettled(session: Session, req: ClientRequest): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (err?: ClientError) => {
        clearTimeout(timer);
        req.signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const onAbort = () => done(new ClientError('aborted', 'the client went away', false));
      const timer = setTimeout(() => {
        this.#retire(session);
        session.h2.destroy();
        done(new ClientError('connect', `${req.origin} did not start HTTP/2 within ${req.headersTimeoutMs} ms`));
      }, req.headersTimeoutMs);
      req.signal.addEventListener('abort', onAbort, { once: true });
      session.ready.then(
        () => done(),
        (err: Error & { code?: string }) => done(new ClientError('connect', `cannot connect to ${req.origin} over HTTP/2 (${err.code ?? err.message})`)),
      );
    });
  }

  /** Count the stream; the session closes once it has had none for the idle limit. */
  #opened(session: Session, stream: ClientHttp2Stream): void {
    clearTimeout(session.idle);
    session.open++;
    if (++session.total >= MAX_STREAMS_PER_SESSION) this.#retire(session); // ids run out: the next request opens a new session
    stream.once('close', () => {
      if (--session.open > 0) return;
      if (session.goingAway) {
        session.h2.close();
        return;
      }
      session.idle = setTimeout(() => {
        if (session.open > 0) return;
        this.#retire(session);
        session.h2.close();
      }, this.#limits.sessionIdleMs);
      session.idle.unref?.();
    });
  }

  /**
   * A request got no head in time: the server may be slow, or the connection
   * silently dead. A session that does not answer a PING is dropped.
   */
  #probe(session: Session): void {
    if (session.probing || session.h2.destroyed) return;
    session.probing = true;
    const dead = setTimeout(() => {
      this.#retire(session);
      session.h2.destroy(new Error(`no PING answer within ${this.#limits.pingMs} ms`));
    }, this.#limits.pingMs);
    dead.unref?.();
    const answered = (err: Error | null) => {
      clearTimeout(dead);
      session.probing = false;
      if (err) this.#retire(session);
    };
    try {
      if (!session.h2.ping(answered)) answered(null); // too many PINGs in flight: the session is talking
    } catch (err) {
      answered(err as Error);
    }
  }

  /** No new stream on this session; those open finish. */
  #retire(session: Session): void {
    session.goingAway = true;
    const list = this.#origins.get(session.origin);
    if (!list) return;
    const k = list.indexOf(session);
    if (k >= 0) list.splice(k, 1);
    if (list.length === 0) this.#origins.delete(session.origin);
  }

  async close(): Promise<void> {
    const sessions = [...this.#origins.values()].flat();
    this.#origins.clear();
    for (const s of sessions) {
      clearTimeout(s.idle);
      s.h2.destroy();
    }
  }
}

/** `connect`: the server says it never processed the stream (RFC 9113 §8.7); safe to send again. */
class Unprocessed extends ClientError {
  constructor(message: string) {
    super('connect', message, false);
  }
}

interface Session {
  origin: string;
  h2: ClientHttp2Session;
  /** The connection was established (before that, a failure means nothing reached the server). */
  connected: boolean;
  /** The server's first SETTINGS arrived (`limit` is known); until then nothing is sent. */
  settled: boolean;
  ready: Promise<void>;
  /** The server's SETTINGS_MAX_CONCURRENT_STREAMS. */
  limit: number;
  /** Takes no new stream (GOAWAY, ids running out, idle, dead). */
  goingAway: boolean;
  /** The GOAWAY's last processed stream id. */
  lastStreamId: number;
  /** Streams not closed yet. */
  open: number;
  /** Streams ever opened. */
  total: number;
  /** Closes the session when it has had no stream for the idle limit. */
  idle: ReturnType<typeof setTimeout> | undefined;
  /** A PING is out to see whether the connection is alive. */
  probing: boolean;
}

/** Wait for the answer's head; then hand the body over as a ClientBody. */
function exchange(
  session: Session,
  stream: ClientHttp2Stream,
  req: ClientRequest,
  limits: Limits,
  hooks: { retire(): void; probe(): void },
  resolve: (r: ClientResponse) => void,
  reject: (e: ClientError) => void,
): void {
  let settled = false;
  const fail = (err: ClientError) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    req.signal.removeEventListener('abort', onAbort);
    stream.removeAllListeners('response');
    if (!stream.destroyed) stream.close(NGHTTP2_CANCEL);
    reject(err);
  };
  const onAbort = () => fail(new ClientError('aborted', 'the client went away'));
  req.signal.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => {
    fail(new ClientError('timeout', `no response within ${req.headersTimeoutMs} ms`));
    hooks.probe();
  }, req.headersTimeoutMs);
  const lost = (detail: string) => {
    if (!session.connected) return new ClientError('connect', `cannot connect to ${req.origin} (${detail})`);
    if (detail === 'ERR_HTTP2_OUT_OF_STREAMS') {
      hooks.retire();
      return new Unprocessed(`the HTTP/2 session to ${req.origin} ran out of stream ids`);
    }
    // Never processed, as the server says: safe to send elsewhere.
    if (stream.rstCode === NGHTTP2_REFUSED_STREAM || (stream.id !== undefined && stream.id > session.lastStreamId)) return new Unprocessed(`${req.origin} refused the stream unprocessed (${detail})`);
    return new ClientError('broken', `the upstream closed the stream before answering (${detail})`);
  };
  // Each stream closes, answered or not: an error is made (a stack captured) only when nothing answered.
  stream.once('error', (err: Error & { code?: string }) => settled || fail(lost(err.code ?? err.message)));
  stream.once('close', () => settled || fail(lost(`RST_STREAM code ${stream.rstCode ?? 'none'}`)));
  stream.once('response', (raw: IncomingHttpHeaders & IncomingHttpStatusHeader) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    req.signal.removeEventListener('abort', onAbort);
    const status = Number(raw[HTTP2_HEADER_STATUS]);
    const headers = new H2Headers(raw);
    const empty = stream.endAfterHeaders || req.method === 'HEAD' || status === 204 || status === 304;
    if (empty) {
      stream.resume();
      resolve({ status, headers, body: null });
      return;
    }
    resolve({ status, headers, body: new StreamBody(stream, req, limits) });
  });
}

/** The request's header block; throws `invalid` for what cannot be sent, as the HTTP/1.1 client does. */
function requestHeaders(req: ClientRequest, hostHeader: string): http2.OutgoingHttpHeaders {
  if (!TOKEN.test(req.method)) throw invalid(`the method ${JSON.stringify(req.method)} is not a valid HTTP method`);
  if (BAD_PATH.test(req.path) || !req.path.startsWith('/')) throw invalid('the request path contains characters that cannot be sent upstream');
  if (req.host !== undefined && (req.host === '' || BAD_FIELD_VALUE.test(req.host))) throw invalid('the Host to forward is empty or contains control characters');
  const out: http2.OutgoingHttpHeaders = { ':method': req.method, ':scheme': 'http', ':authority': req.host ?? hostHeader, ':path': req.path };
  for (const name in req.headers) {
    const lower = fieldName(name);
    if (lower === null) throw invalid(`the header name ${JSON.stringify(name.slice(0, 80))} is not valid`);
    if (DROPPED.has(lower)) continue;
    const value = req.headers[name]!;
    if (BAD_FIELD_VALUE.test(value)) throw invalid(`the value of header ${name} contains control characters (CR, LF or NUL)`);
    // HTTP/2 field names are lower case (RFC 9113 §8.2.1).
    out[lower] = value;
  }
  out['content-length'] = String(req.body.byteLength);
  return out;
}

function invalid(message: string): ClientError {
  return new ClientError('invalid', message);
}
