/**
 * The simulator's tokenizer approximation: one token per 4 characters of
 * prompt text (UTF-16 code units), counted from the start. A KV block of 16
 * tokens is therefore 64 characters, and a block's identity is a chained hash
 * of those characters, seeded by the adapter (vLLM puts the LoRA id in its
 * block-hash extra keys, so an adapter never hits the base model's blocks).
 */

export const CHARS_PER_TOKEN = 4;

/** Prompt tokens for a text: ceil(chars / 4), at least 1. */
export function countTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / CHARS_PER_TOKEN));
}

/** A chat message as the simulator reads it (text parts only). */
export interface ChatMessageLike {
  role: string;
  content?: unknown;
}

/** The text a chat prompt is tokenized and hashed from: role + content of each message, concatenated. */
export function chatPromptText(messages: readonly ChatMessageLike[]): string {
  let out = '';
  for (const m of messages) out += m.role + contentText(m.content);
  return out;
}

export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let out = '';
  for (const part of content) {
    if (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') out += (part as { text: string }).text;
  }
  return out;
}

/**
 * Chained hashes of the full blocks of a prompt: hash(i) covers characters
 * [0, (i+1)·blockChars). Two 32-bit FNV-1a lanes are folded into a 53-bit
 * number so it can key a Map without collisions in practice.
 */
export function blockHashes(text: string, blockSize: number, seed = ''): number[] {
  const blockChars = blockSize * CHARS_PER_TOKEN;
  const full = Math.floor(text.length / blockChars);
  const out = new Array<number>(full);
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < seed.length; i++) {
    a = Math.imul(a ^ seed.charCodeAt(i), 0x01000193);
    b = Math.imul(b ^ seed.charCodeAt(i), 0x01000193) ^ (b >>> 15);
  }
  for (let blk = 0; blk < full; blk++) {
    const end = (blk + 1) * blockChars;
    for (let i = blk * blockChars; i < end; i++) {
      const c = text.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 13);
    }
    out[blk] = (b & 0x1fffff) * 0x100000000 + (a >>> 0);
  }
  return out;
}

/** Filler output: each token is a 4-character word, chosen from the request's seed and position. */
const VOCAB = [' the', ' sim', ' ran', ' a', ' lot', ' of', ' fun', ' and', ' GPU', ' KV', ' is', ' ok', ' new', ' big', ' to', ' go'];

export function fillerToken(seed: number, index: number): string {
  return VOCAB[((seed + index * 7) >>> 0) % VOCAB.length]!;
}

/** `count` filler tokens from position `from` (a continued answer starts past what it already holds). */
export function fillerText(seed: number, count: number, from = 0): string {
  let out = '';
  for (let i = from; i < from + count; i++) out += fillerToken(seed, i);
  return out;
}

/**
 * How many tokens of the simulator's output a text holds: its filler words
 * when it is made of them (a continued answer), else ceil(chars / 4).
 */
export function outputTokens(text: string): number {
  const words = text.match(/ [^ ]+/g);
  if (words && words.join('') === text && words.every((w) => VOCAB_SET.has(w))) return words.length;
  return text.length === 0 ? 0 : countTokens(text);
}

const VOCAB_SET: ReadonlySet<string> = new Set(VOCAB);

/** A 16-bit seed from a text (FNV-1a), for answers that depend on the prompt alone. */
export function textSeed(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0) & 0xffff;
}

/** A small deterministic PRNG (mulberry32) for fault draws and request seeds. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
