/**
 * What the model servers receive in `Authorization`, per pool: the client's
 * header as sent (`pass`), nothing (`strip`), or the pool's own key
 * (`replace`). When the gateway checks clients' API keys itself, the default is
 * `strip`: a client's key is the gateway's business, not the pods'.
 */
export type AuthorizationMode = 'pass' | 'strip' | 'replace';

export interface PoolCredentials {
  authorization: AuthorizationMode;
  /** The key sent as `Authorization: Bearer …` when `replace`. */
  apiKey?: string;
}

export class UpstreamAuth {
  constructor(
    private readonly fallback: PoolCredentials,
    private readonly pools: ReadonlyMap<string, PoolCredentials> = new Map(),
  ) {}

  /** Set the upstream request's Authorization for this pool (headers are lower-case). */
  apply(pool: string, headers: Record<string, string>): void {
    const c = this.pools.get(pool) ?? this.fallback;
    if (c.authorization === 'pass') return;
    delete headers.authorization;
    if (c.authorization === 'replace' && c.apiKey) headers.authorization = `Bearer ${c.apiKey}`;
  }
}
