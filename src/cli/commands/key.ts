/**
 * `infergate key --tenant NAME [--name NAME]`: make a client API key. Prints
 * the key (give it to the client, once) and the entry for the `--api-keys`
 * file, which holds only the key's SHA-256.
 */
import { keyDigest } from '../../api/api-keys.ts';
import { commandFlags, FlagError, type FlagSpec } from '../../config/flags.ts';
import { environment } from '../../runtime/node/index.ts';

export const keyFlags = {
  tenant: { type: 'string', help: 'the tenant the key belongs to (flow control and token budgets count by tenant)' },
  name: { type: 'string', help: 'a name for the key in logs (default: the tenant and the date)' },
  help: { type: 'boolean', help: 'show this help' },
} satisfies FlagSpec;

const NAME = /^[\x21-\x7e]{1,253}$/;

export async function run(args: string[]): Promise<number> {
  const flags = commandFlags('key', args, keyFlags, environment(), {
    check(f) {
      if (!f.tenant) throw new FlagError('--tenant is required');
      if (!NAME.test(f.tenant) || (f.name && !NAME.test(f.name))) throw new FlagError('--tenant and --name must be printable ASCII without spaces');
    },
  });
  if (typeof flags === 'number') return flags;
  const random = crypto.getRandomValues(new Uint8Array(32));
  const key = `sk-ig-${btoa(String.fromCharCode(...random)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`;
  const name = flags.name || `${flags.tenant}-${new Date().toISOString().slice(0, 10)}`;
  console.log(`# the key, for the client (shown once; the gateway keeps only its SHA-256):\n${key}\n`);
  // Quoted: a tenant such as 123, true or #a would otherwise read back as a number, a boolean or a comment.
  console.log(`# the entry for the --api-keys file, under "keys:":\n  - name: ${JSON.stringify(name)}\n    tenant: ${JSON.stringify(flags.tenant)}\n    sha256: ${keyDigest(key)}`);
  return 0;
}
