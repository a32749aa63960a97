/**
 * A one-shot abort signal: `abort()` runs each listener once. It is the
 * `AbortSignalLike` the server gives each request: ~0.1 µs per request, where
 * an AbortController with one listener added and removed costs ~8 µs on
 * Node 20 (its EventTarget).
 */
import type { AbortSignalLike } from './types.ts';

export class AbortOnce implements AbortSignalLike {
  aborted = false;
  #listeners: Array<() => void> | null = null;

  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return;
    (this.#listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const l = this.#listeners;
    if (!l) return;
    const k = l.indexOf(listener);
    if (k >= 0) l.splice(k, 1);
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const l = this.#listeners;
    this.#listeners = null;
    if (l) for (const listener of l) listener();
  }
}
