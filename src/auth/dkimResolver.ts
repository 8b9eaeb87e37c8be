/**
 * The DNS lookups of DKIM verification (the selector's key record, RFC 6376 3.6.2.2): through the configured
 * resolvers (DNS_SERVERS, or the system's), time-limited, and cached, because one reporter signs every
 * report with the same few keys and a worker verifies many reports a minute.
 * Answers (records, and "no such record") are cached for cacheTtlMs; failures (timeouts, SERVFAIL, refused)
 * are not, so the retry after an outage asks again. Concurrent lookups of one name share one query.
 */
import { Resolver } from 'node:dns/promises';

/** The resolver signature mailauth calls: (name, 'TXT') -> the TXT records, each as its character-strings. */
export type DkimResolver = (name: string, rrtype: string) => Promise<string[][]>;

export interface DkimResolverOptions {
  /** "host" or "host:port" / "[v6]:port"; empty = the system resolver (/etc/resolv.conf). */
  servers: readonly string[];
  /** Time limit of one query attempt; two attempts are made. */
  timeoutMs: number;
  /** How long an answer is kept. */
  cacheTtlMs: number;
  /** Names kept at most; the oldest go first. */
  maxEntries?: number;
}

/** Node's codes for "the name has no such record": a definite answer, cached like a record. */
const NO_RECORD = new Set(['ENOTFOUND', 'ENODATA']);

interface Entry {
  expires: number;
  answer: Promise<string[][]>;
}

export function createDkimResolver(o: DkimResolverOptions): DkimResolver {
  const resolver = new Resolver({ timeout: o.timeoutMs, tries: 2 });
  if (o.servers.length) resolver.setServers([...o.servers]);
  const maxEntries = o.maxEntries ?? 10_000;
  const cache = new Map<string, Entry>();

  return async (name, rrtype) => {
    if (rrtype !== 'TXT') throw Object.assign(new Error(`DKIM asks only for TXT records, not ${rrtype}`), { code: 'ENOTIMP' });
    const key = name.toLowerCase();
    const now = Date.now();
    const hit = cache.get(key);
    if (hit && hit.expires > now) return hit.answer;
    const answer = resolver.resolveTxt(key);
    cache.delete(key);
    cache.set(key, { expires: now + o.cacheTtlMs, answer });
    if (cache.size > maxEntries) cache.delete(cache.keys().next().value!);
    try {
      return await answer;
    } catch (err) {
      // A failure is not an answer: the next lookup (the retry after an outage) asks again.
      const code = (err as { code?: unknown }).code;
      if (typeof code !== 'string' || !NO_RECORD.has(code)) {
        if (cache.get(key)?.answer === answer) cache.delete(key);
      }
      throw err;
    }
  };
}
