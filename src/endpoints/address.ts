/**
 * Addresses in URLs. An IPv6 address goes in brackets in a URL's authority
 * (RFC 3986 §3.2.2: `http://[::1]:8000`); a name or an IPv4 address as is.
 */

/** The host as a URL's authority writes it: an IPv6 address (it has a colon) in brackets. */
export function urlHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/** `http://address:port`, with an IPv6 address in brackets. */
export function httpOrigin(address: string, port: number): string {
  return `http://${urlHost(address)}:${port}`;
}
