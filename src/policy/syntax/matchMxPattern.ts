import { normaliseHostName } from './hostName.js';

/**
 * RFC 8461 4.1: an mx pattern is a host name, or "*." and a host name, where the wildcard stands for exactly
 * one left-most label: "*.example.com" matches "mx1.example.com" but neither "example.com" nor
 * "a.b.example.com". Comparison ignores case and a trailing dot.
 */
export function matchMxPattern(pattern: string, host: string): boolean {
  const p = normaliseHostName(pattern);
  const h = normaliseHostName(host);
  if (!p.startsWith('*.')) return p === h;
  const dot = h.indexOf('.');
  return dot > 0 && h.slice(dot + 1) === p.slice(2);
}

/** True when some pattern of the policy covers `host`. */
export function mxCovered(patterns: readonly string[], host: string): boolean {
  return patterns.some((p) => matchMxPattern(p, host));
}
