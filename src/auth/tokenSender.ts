/**
 * The sender whose token (HTTP_REPORT_TOKENS) an HTTPS report POST bears in `Authorization: Bearer <token>`
 * (RFC 6750 2.1), or null. Compared in constant time, so the time a wrong guess takes says nothing of a token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export function tokenSender(authorization: string | undefined, tokens: ReadonlyArray<{ sender: string; token: string }>): string | null {
  if (!authorization || tokens.length === 0) return null;
  const m = /^Bearer +(\S+) *$/i.exec(authorization);
  if (!m) return null;
  // Hashes of equal length, so timingSafeEqual can compare tokens of any length.
  const given = createHash('sha256').update(m[1]!).digest();
  let found: string | null = null;
  for (const t of tokens) {
    if (timingSafeEqual(given, createHash('sha256').update(t.token).digest())) found = t.sender;
  }
  return found;
}
