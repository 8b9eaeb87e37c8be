/**
 * The DNS half of `tlsrpt check`: MX, `_mta-sts` TXT and `_smtp._tls` TXT, each as found / none / error so
 * that the pure evaluation can tell "not published" (a fix for the administrator) from "DNS is failing".
 */
import { Resolver } from 'node:dns/promises';

export type Lookup<T> =
  | { status: 'found'; value: T }
  /** NXDOMAIN or no records of the type. */
  | { status: 'none'; code: string }
  | { status: 'error'; code: string; message: string };

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
    return { status: 'error', code, message: (err as Error).message };
  }
}
