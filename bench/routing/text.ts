/**
 * Deterministic prompt text of an exact token length. The simulator counts
 * one token per 4 characters (src/sim/text.ts), so N tokens are 4·N
 * characters. Text is English-like words from a fixed corpus built once;
 * a piece of text is a tagged window into it, so two pieces with different
 * tags never share a 64-character block by accident, and equal tags give
 * equal text (which is how prompts share prefixes).
 */
import { CHARS_PER_TOKEN } from '../../src/sim/text.ts';
import { seeded } from '../lib/rand.ts';

const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were her ' +
  'she there been one all would their we him has when who will more if no out so said what up its about into than them can ' +
  'only other new some could time these two may then do first any my now such like our over man me even most made after also ' +
  'did many before must through back years where much your way well down should because each just those people how too little ' +
  'state good very make world still own see men work long get here between both life being under never day same another know ' +
  'while last might us great old year off come since against go came right used take three model cache request server token ' +
  'prompt answer question system user assistant context memory queue batch latency throughput route gateway pod cluster'
).split(' ');

const CORPUS_CHARS = 1 << 20;
let corpus: string | undefined;

function getCorpus(): string {
  if (corpus !== undefined) return corpus;
  const random = seeded(20261124, 99);
  const parts: string[] = [];
  let len = 0;
  let sentence = 0;
  while (len < CORPUS_CHARS + 65536) {
    let w = WORDS[Math.floor(random() * WORDS.length)]!;
    if (sentence === 0) w = w[0]!.toUpperCase() + w.slice(1);
    sentence++;
    const end = sentence > 6 && random() < 0.15;
    if (end) sentence = 0;
    const piece = w + (end ? '. ' : ' ');
    parts.push(piece);
    len += piece.length;
  }
  corpus = parts.join('');
  return corpus;
}

/** Characters for `tokens` tokens. */
export function charsFor(tokens: number): number {
  return Math.max(1, Math.round(tokens)) * CHARS_PER_TOKEN;
}

/**
 * Text of exactly `chars` characters, determined by `tag` (any string, e.g.
 * "sys-7" or "req-123"); the tag opens the text so distinct tags differ from
 * their first block on.
 */
export function textOfChars(tag: string, chars: number): string {
  const c = getCorpus();
  const head = `[${tag}] `;
  if (chars <= head.length) return head.slice(0, chars);
  let h = 2166136261;
  for (let i = 0; i < tag.length; i++) h = Math.imul(h ^ tag.charCodeAt(i), 16777619);
  const rest = chars - head.length;
  let out = head;
  let off = (h >>> 0) % (CORPUS_CHARS - 1);
  while (out.length < chars) {
    const take = Math.min(rest - (out.length - head.length), c.length - off);
    out += c.slice(off, off + take);
    off = 0;
  }
  return out;
}

/** Text of exactly `tokens` tokens (4 characters each). */
export function textOfTokens(tag: string, tokens: number): string {
  return textOfChars(tag, charsFor(tokens));
}
