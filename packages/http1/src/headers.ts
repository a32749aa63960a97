/** Node's plain-object headers seen through the small get/forEach view the core reads. */
import type { IncomingHttpHeaders } from 'node:http';

export class NodeHeaders {
  constructor(private readonly raw: IncomingHttpHeaders) {}

  get(name: string): string | null {
    const v = this.raw[name];
    // Only values: node:http's headers are a plain object, whose `constructor` or `toString` is no header.
    return typeof v === 'string' ? v : Array.isArray(v) ? v.join(', ') : null;
  }

  forEach(callback: (value: string, name: string) => void): void {
    for (const name in this.raw) {
      const v = this.raw[name];
      if (v !== undefined) callback(Array.isArray(v) ? v.join(', ') : v, name);
    }
  }
}
