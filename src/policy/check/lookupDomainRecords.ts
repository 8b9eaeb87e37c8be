/**
 * The DNS half of `tlsrpt check`: MX, `_mta-sts` TXT and `_smtp._tls` TXT, each as found / none / error so
 * that the pure evaluation can tell "not published" (a fix for the administrator) from "DNS is failing", and
 * a failure of the domain's zone (SERVFAIL: its name servers or DNSSEC) from the configured resolver itself
 * not answering (refused, timed out: a problem of this machine, which says nothing about the domain).
 */
import { Resolver } from 'node:dns/promises';

export type Lookup<T> =
  | { status: 'found'; value: T }
  /** NXDOMAIN or no records of the type. */
  | { status: 'none'; code: string }
  /** `source` absent: the zone (dnsFailureSource decides it for every lookup made here). */
  | { status: 'error'; code: string; message: string; source?: DnsFailureSource };

/** Who failed: the resolver we asked (DNS_SERVERS or the system's), or the domain's zone behind it. */
export type DnsFailureSource = 'resolver' | 'zone';

/**
 * c-ares codes (node:dns) that mean the resolver itself did not give an answer: nothing reached it, it
 * refused to recurse for us, or it stayed silent. A recursive resolver that reached the zone's servers and
 * failed answers SERVFAIL instead (ESERVFAIL), which is the zone's problem.
 */
const RESOLVER_FAILURES = new Set([
  'ECONNREFUSED',
  'ETIMEOUT',
  'EREFUSED',
  'ECONNRESET',
  'EOF',
  'EFILE',
  'ENOMEM',
  'ECANCELLED',
  'EDESTRUCTION',
  'ENOTINITIALIZED',
  'EBADRESP',
]);

export function dnsFailureSource(code: string): DnsFailureSource {
  return RESOLVER_FAILURES.has(code) ? 'resolver' : 'zone';
}

/** How messages name the resolver: "DNS_SERVERS 127.0.0.1:5353" or "the system resolver (/etc/resolv.conf)". */
export function describeResolver(servers: readonly string[]): string {
  return servers.length ? `DNS_SERVERS ${servers.join(', ')}` : 'the system resolver (/etc/resolv.conf)';
}

export interface MxHost {
  exchange: string;
  priority: number;
}

export interface DomainRecords {
  mx: Lookup<MxHost[]>;
  /** TXT records with each record's character-strings joined (RFC 8461 3.1, RFC 8460 3). */
  stsTxt: Lookup<string[]>;
  tlsrptTxt: Lookup<string[]>;
}

/** A resolver for DNS_SERVERS ("127.0.0.1:5353", "[::1]:53"); with none, the system's servers. */
export function createDnsResolver(servers: readonly string[], timeoutMs = 4000): Resolver {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
  if (servers.length) resolver.setServers([...servers]);
  return resolver;
}

export async function lookupDomainRecords(resolver: Resolver, domain: string): Promise<DomainRecords> {
  const [mx, stsTxt, tlsrptTxt] = await Promise.all([
    settle(resolver.resolveMx(domain)),
    settle(resolver.resolveTxt(`_mta-sts.${domain}`).then(joinTxt)),
    settle(resolver.resolveTxt(`_smtp._tls.${domain}`).then(joinTxt)),
  ]);
  return { mx, stsTxt, tlsrptTxt };
}

function joinTxt(records: string[][]): string[] {
  return records.map((chunks) => chunks.join(''));
}

async function settle<T>(p: Promise<T>): Promise<Lookup<T>> {
  try {
    const value = await p;
    if (Array.isArray(value) && value.length === 0) return { status: 'none', code: 'ENODATA' };
    return { status: 'found', value };
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'EUNKNOWN';
    if (code === 'ENOTFOUND' || code === 'ENODATA') return { status: 'none', code };
    return { status: 'error', code, message: (err as Error).message, source: dnsFailureSource(code) };
  }
}
