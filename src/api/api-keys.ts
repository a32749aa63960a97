/**
 * Client authentication on the data plane: API keys, each with the tenant it
 * belongs to (flow control's fairness and token budgets count by tenant).
 * The gateway keeps only the keys' SHA-256 digests (a file or a mounted
 * Kubernetes Secret), so the file grants nothing if it leaks:
 *
 * ```yaml
 * keys:
 *   - name: team-a-ci             # shown in logs, never the key
 *     tenant: team-a
 *     sha256: 5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8
 * ```
 *
 * `infergate key --tenant team-a` makes a key and prints its entry; the file
 * is read by src/config/api-keys-file.ts.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { GatewayError } from './errors.ts';

export interface ApiKeyOwner {
  name: string;
  tenant: string;
}

const encoder = new TextEncoder();

/** The digest a key is stored as. */
export function keyDigest(key: string): string {
  return bytesToHex(sha256(encoder.encode(key)));
}

export class ApiKeys {
  readonly #byDigest: Map<string, ApiKeyOwner>;

  constructor(entries: ReadonlyArray<ApiKeyOwner & { sha256: string }>) {
    this.#byDigest = new Map(entries.map((e) => [e.sha256.toLowerCase(), { name: e.name, tenant: e.tenant }]));
  }

  get size(): number {
    return this.#byDigest.size;
  }

  /** The key's owner, from an `Authorization: Bearer <key>` header; throws a 401 in OpenAI's shape otherwise. */
  authenticate(authorization: string | null): ApiKeyOwner {
    const given = authorization && /^bearer /i.test(authorization) ? authorization.slice(7).trim() : '';
    if (!given) throw unauthorized("You didn't provide an API key. Send it as Authorization: Bearer YOUR_KEY (the OpenAI clients' api_key).");
    const owner = this.#byDigest.get(keyDigest(given));
    if (!owner) throw unauthorized(`Incorrect API key provided: ${redact(given)}. Ask the gateway's operator for a valid key.`);
    return owner;
  }
}

function unauthorized(message: string): GatewayError {
  return new GatewayError({ status: 401, type: 'invalid_request_error', code: 'invalid_api_key', message, headers: { 'www-authenticate': 'Bearer realm="infergate"' } });
}

/** A key as OpenAI shows it in errors: its first and last characters only. */
function redact(key: string): string {
  return key.length <= 8 ? '****' : `${key.slice(0, 3)}****${key.slice(-4)}`;
}
