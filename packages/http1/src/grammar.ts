/**
 * The HTTP/1.1 grammar both sides check against, in one place (RFC 9110 §5.6.2
 * tokens, §5.5 field values; RFC 9112 for the message framing).
 */

/** A field name or method: an RFC 9110 token. */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/**
 * Anything a field value may not hold: field values are visible ASCII, SP,
 * HTAB and obs-text (0x80–0xFF). CR, LF, NUL and the other controls are out;
 * so is anything past 0xFF in a JS string (it cannot be written as one byte).
 */
export const BAD_FIELD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** A request target in origin form: `/` then visible ASCII. */
export const ORIGIN_FORM = /^\/[\x21-\x7e]*$/;
/** Characters a request path may not carry on the wire (controls, SP). */
export const BAD_PATH = /[^\x21-\xff]/;
/** A content-length: decimal digits only, at most 15 of them (below 2^53). */
export const DIGITS = /^\d{1,15}$/;
/** A chunk size. */
export const HEX = /^[0-9A-Fa-f]{1,12}$/;
/**
 * A Host value (RFC 9112 §3.2, RFC 3986 §3.2.2): an IP literal or a reg-name
 * (unreserved, sub-delims, percent-encoded), then an optional port; empty is
 * allowed (a target without authority).
 */
export const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::\d*)?$/;

/**
 * Header names seen before, validated and lower-cased once: an upstream (or a
 * client library) sends the same few names on every message, and the token
 * check and lower-casing were a measurable share of parsing a head. Bounded,
 * so that a peer sending endless new names cannot grow it.
 */
const knownNames = new Map<string, string>();
const KNOWN_NAMES_MAX = 512;

/** The lower-case form of a valid field name, or null when `raw` is not a token. */
export function fieldName(raw: string): string | null {
  const known = knownNames.get(raw);
  if (known !== undefined) return known;
  if (!TOKEN.test(raw)) return null;
  const name = raw.toLowerCase();
  if (knownNames.size < KNOWN_NAMES_MAX) knownNames.set(raw, name);
  return name;
}
