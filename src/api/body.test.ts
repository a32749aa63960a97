import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GatewayError } from './errors.ts';
import { MAX_DEPTH, parseJsonBody, withModel } from './body.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function refused(text: string | Uint8Array): GatewayError {
  try {
    parseJsonBody(typeof text === 'string' ? enc(text) : text);
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error(`accepted: ${String(text)}`);
}

describe('parseJsonBody', () => {
  it.each([
    ['{"model":"a","max_tokens":1e400}', 400, 'invalid_value', 'max_tokens'],
    ['{"model":"a","n":-1E999}', 400, 'invalid_value', 'n'],
    ['{"messages":[{"role":"user","content":"x","x":1e309}]}', 400, 'invalid_value', 'messages[0].x'],
    ['{"model":"a","model":"b"}', 400, 'duplicate_key', 'model'],
    ['{"messages":[{"role":"user","role":"system"}]}', 400, 'duplicate_key', 'messages[0].role'],
    ['{"a":{"b\\u0022":1,"b\\"":2}}', 400, 'duplicate_key', 'a.b"'],
    ['[1,2]', 400, 'invalid_json', null],
    ['{"a":', 400, 'invalid_json', null],
    ['', 400, 'invalid_json', null],
  ])('%s → %i %s', (text, status, code, param) => {
    const err = refused(text);
    expect([err.status, err.code, err.param]).toEqual([status, code, param]);
    expect(err.message).not.toContain('undefined');
  });

  it('refuses nesting deeper than MAX_DEPTH, and accepts exactly MAX_DEPTH', () => {
    const deep = (n: number) => `{"x":${'['.repeat(n - 1)}${']'.repeat(n - 1)}}`;
    expect(parseJsonBody(enc(deep(MAX_DEPTH))).value).toBeTruthy();
    expect(refused(deep(MAX_DEPTH + 1)).code).toBe('too_deep');
    expect(refused(`{"x":${'['.repeat(5000)}${']'.repeat(5000)}}`).code).toBe('too_deep');
  });

  it('refuses invalid UTF-8, naming the offset', () => {
    const bytes = new Uint8Array([...enc('{"model":"'), 0xff, ...enc('"}')]);
    const err = refused(bytes);
    expect([err.status, err.code]).toEqual([400, 'invalid_encoding']);
    expect(err.message).toContain('offset 10');
    expect(refused(new Uint8Array([...enc('{"a":"'), 0xe2, 0x82, ...enc('"}')])).code).toBe('invalid_encoding');
  });

  it('keeps the same key in different objects, and keys that only look alike', () => {
    expect(parseJsonBody(enc('{"a":{"k":1},"b":{"k":2},"K":3,"k":4}')).value).toEqual({ a: { k: 1 }, b: { k: 2 }, K: 3, k: 4 });
    expect(parseJsonBody(enc('{"s":"{\\"model\\":1,\\"model\\":2}"}')).value.s).toBe('{"model":1,"model":2}');
  });
});

describe('withModel', () => {
  it('edits only the top-level model value, leaving every other byte as sent', () => {
    const text = '{ "stream" : true,\n "model" : "bot", "messages":[{"role":"user","content":"say \\"model\\": \\"x\\" é","model":"inner"}], "max_tokens": 10.50 }';
    const out = dec(withModel(parseJsonBody(enc(text)), 'lora/v1"x'));
    expect(out).toBe(text.replace('"bot"', JSON.stringify('lora/v1"x')));
  });

  it('adds the model when the body names none (the header did)', () => {
    expect(dec(withModel(parseJsonBody(enc('{"messages":[]}')), 'm'))).toBe('{"model":"m","messages":[]}');
    expect(dec(withModel(parseJsonBody(enc(' { } ')), 'm'))).toBe(' {"model":"m" } ');
  });

  it('any accepted body, rewritten, parses to the same value with only the model changed', () => {
    const key = fc.string({ maxLength: 6 });
    const json = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, fc.string(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(key, tie('value'), { maxKeys: 3 })),
    }));
    fc.assert(
      fc.property(fc.dictionary(key, json.value, { maxKeys: 5 }), fc.option(fc.string(), { nil: undefined }), fc.string(), (obj, model, target) => {
        const body = model === undefined ? obj : { ...obj, model };
        const parsed = parseJsonBody(enc(JSON.stringify(body, null, 1)));
        expect(JSON.parse(dec(withModel(parsed, target)))).toEqual({ ...body, model: target });
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});
