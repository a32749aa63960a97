/**
 * What `infergate apply -f` reads, as kubectl does: a file, every
 * `.yaml`/`.yml`/`.json` file of a directory (not its subdirectories, in
 * name order), or `-` for standard input.
 */
export interface ManifestSource {
  name: string;
  text: string;
}

export class ManifestSourceError extends Error {}

export async function readManifestSources(path: string): Promise<ManifestSource[]> {
  if (path === '-') return [{ name: '<stdin>', text: await readStdin() }];
  const { readFile, readdir, stat } = await import('node:fs/promises');
  const { join } = await import('node:path');
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ManifestSourceError(`${path} does not exist`);
    throw err;
  }
  if (!info.isDirectory()) return [{ name: path, text: await readFile(path, 'utf8') }];
  const names = (await readdir(path)).filter((n) => /\.(ya?ml|json)$/i.test(n)).sort();
  if (names.length === 0) throw new ManifestSourceError(`${path} holds no .yaml, .yml or .json file`);
  return Promise.all(names.map(async (n) => ({ name: join(path, n), text: await readFile(join(path, n), 'utf8') })));
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
