/** Objects named the way kubectl names them. */

/** `inferencepool.inference.networking.k8s.io/gemma3` (`kind.group/name`; core kinds without the group). */
export function objectName(o: { kind: string; apiVersion: string; name: string }): string {
  const slash = o.apiVersion.indexOf('/');
  const group = slash >= 0 ? o.apiVersion.slice(0, slash) : '';
  return `${o.kind.toLowerCase()}${group ? `.${group}` : ''}/${o.name}`;
}

/** One line with every condition of an object: `inferencepool.inference.networking.k8s.io/gemma3 Accepted=True (Accepted)`. */
export function objectStatusLine(o: { kind: string; apiVersion: string; name: string; namespace: string; conditions: readonly { type: string; status: string; reason: string; message: string }[]; ignored?: string }): string {
  const name = objectName(o);
  const where = o.namespace && o.namespace !== 'default' ? ` -n ${o.namespace}` : '';
  if (o.ignored) return `${name}${where} ignored: ${o.ignored}`;
  const conditions = o.conditions.map((c) => `${c.type}=${c.status} (${c.reason}${c.message ? `: ${c.message}` : ''})`);
  return `${name}${where} ${conditions.join(', ')}`;
}
