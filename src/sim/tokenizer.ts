/**
 * The simulator's tokenizer: one token per 4 UTF-16 code units of text (as
 * text.ts counts them), with token ids every pod computes alike, so the block
 * hashes a gateway computes from `/tokenize` match the ones in the pods' KV
 * events.
 *
 * A chunk of printable-or-control ASCII (1..127) packs its 7-bit codes into
 * the id (`c0 | c1<<7 | c2<<14 | c3<<21`, 1..2^28-1) and decodes exactly.
 * Any other chunk (non-ASCII, NUL) gets an id in [2^28, 2^31) from a hash of
 * its code units; `/detokenize` can only give such a chunk back while this
 * process remembers it (a bounded table), else U+FFFD, as a real tokenizer
 * turns an id it cannot decode into the replacement character. No special
 * tokens (BOS) are added: usage counts stay ceil(chars / 4).
 */
import { CHARS_PER_TOKEN } from './text.ts';

const ASCII_LIMIT = 1 << 28;
const HASHED_SPAN = 2 ** 31 - ASCII_LIMIT;
const REMEMBERED = 65_536;

/** Hashed chunks seen by this process, for /detokenize (oldest forgotten first). */
const remembered = new Map<number, string>();

export function tokenize(text: string): Uint32Array {
  const n = Math.ceil(text.length / CHARS_PER_TOKEN);
  const out = new Uint32Array(n);
  for (let t = 0; t < n; t++) {
    const start = t * CHARS_PER_TOKEN;
    const end = Math.min(start + CHARS_PER_TOKEN, text.length);
    let id = 0;
    let ascii = true;
    for (let i = start; i < end; i++) {
      const c = text.charCodeAt(i);
      if (c === 0 || c > 127) {
        ascii = false;
        break;
      }
      id |= c << (7 * (i - start));
    }
    out[t] = ascii ? id : hashedId(text, start, end);
  }
  return out;
}

function hashedId(text: string, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  const id = ASCII_LIMIT + ((h >>> 0) % HASHED_SPAN);
  if (!remembered.has(id)) {
    if (remembered.size >= REMEMBERED) remembered.delete(remembered.keys().next().value!);
    remembered.set(id, text.slice(start, end));
  }
  return id;
}

/** Text of token ids; an id this process cannot decode reads as U+FFFD. */
export function detokenize(ids: ArrayLike<number>): string {
  let out = '';
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t]!;
    if (id > 0 && id < ASCII_LIMIT) {
      for (let k = 0; k < CHARS_PER_TOKEN; k++) {
        const c = (id >>> (7 * k)) & 0x7f;
        if (c === 0) break;
        out += String.fromCharCode(c);
      }
    } else out += remembered.get(id) ?? '\ufffd';
  }
  return out;
}

/** The largest id this tokenizer produces, plus one (its "vocabulary size"). */
export const VOCAB_SIZE = 2 ** 31;
