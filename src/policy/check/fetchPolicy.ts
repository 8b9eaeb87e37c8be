/**
 * The HTTPS half of `tlsrpt check` and `tlsrpt policy validate URL`: fetch a policy the way RFC 8461 3.3
 * tells senders to, and say precisely why when that fails.
 * - The certificate must be valid for the policy host name (mta-sts.<domain>) and chain to a trusted root.
 * - No redirects; only status 200 counts; at most 64 KB (POLICY_MAX_BYTES) is read.
 * Where to connect can be overridden (connectTo) while the name validated stays the URL's host name: that is
 * how tests reach a loopback server, and how an administrator checks a new policy host before moving DNS.
 */
import { lookup as systemLookup, type LookupAddress } from 'node:dns';
import type { Resolver } from 'node:dns/promises';
import { request } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { connect, rootCertificates, type PeerCertificate, type TLSSocket } from 'node:tls';
import { POLICY_MAX_BYTES } from '../syntax/parseStsPolicy.js';

export interface FetchPolicyOptions {
  /** Resolves the policy host; null = the system resolver (getaddrinfo). */
  resolver?: Resolver | null;
  /** PEM CA certificates trusted in addition to the public roots (MTA_STS_CA_FILE). */
  extraCa?: readonly Buffer[];
  /** Connect here instead of the resolved host / port 443; the certificate is still checked for the URL's host. */
  connectTo?: { host?: string; port?: number };
  timeoutMs?: number;
  maxBytes?: number;
}

export interface CertificateSummary {
  subject: string | null;
  /** DNS names of the subjectAltName extension. */
  names: string[];
  issuer: string | null;
  validFrom: string | null;
  validTo: string | null;
}

export type PolicyFetchFailure =
  | 'policy-url-invalid'
  | 'policy-host-not-found'
  | 'policy-host-unreachable'
  | 'policy-fetch-timeout'
  | 'certificate-invalid'
  | 'tls-handshake-failed'
  | 'policy-redirect'
  | 'policy-http-status'
  | 'policy-too-large';

export type PolicyFetch =
  | {
      ok: true;
      url: string;
      address: string | null;
      contentType: string | null;
      body: Buffer;
      certificate: CertificateSummary | null;
    }
  | {
      ok: false;
      url: string;
      failure: PolicyFetchFailure;
      message: string;
      address?: string | null;
      status?: number;
      location?: string;
      /**
       * For certificate-invalid: the certificate the host presented (unverified) and the verifier's code.
       * For failures after the TLS handshake (redirect, status, size): the verified certificate.
       */
      certificate?: CertificateSummary | null;
      certificateError?: string;
    };

const CERTIFICATE_ERROR =
  /^(CERT_|ERR_TLS_CERT_ALTNAME_INVALID|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|INVALID_CA|HOSTNAME_MISMATCH)/;

export function policyUrl(domain: string): string {
  return `https://mta-sts.${domain}/.well-known/mta-sts.txt`;
}

export async function fetchPolicy(url: string, options: FetchPolicyOptions = {}): Promise<PolicyFetch> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { ok: false, url, failure: 'policy-url-invalid', message: `"${url}" is not a URL` };
  }
  if (u.protocol !== 'https:') {
    return {
      ok: false,
      url,
      failure: 'policy-url-invalid',
      message: `"${url}" is not https: senders fetch policies only over HTTPS (RFC 8461 3.3)`,
    };
  }
  const hostname = u.hostname.replace(/^\[|\]$/g, '');
  const port = options.connectTo?.port ?? (u.port ? Number(u.port) : 443);
  const maxBytes = options.maxBytes ?? POLICY_MAX_BYTES;
  const ca = options.extraCa?.length ? [...rootCertificates, ...options.extraCa.map((b) => b.toString('utf8'))] : undefined;
  let address: string | null = null;
  const lookup = createLookup(options.resolver ?? null, options.connectTo?.host, (a) => (address = a));

  const outcome = await new Promise<PolicyFetch>((resolve) => {
    const req = request(
      {
        hostname,
        port,
        path: `${u.pathname}${u.search}`,
        method: 'GET',
        agent: false,
        servername: isIP(hostname) ? undefined : hostname,
        ca,
        lookup,
        headers: { accept: 'text/plain', 'user-agent': 'tlsrpt-check (MTA-STS policy check)' },
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      },
      (res) => {
        const certificate = summarise((res.socket as TLSSocket).getPeerCertificate?.());
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400) {
          res.resume();
          const location = res.headers.location ?? '';
          resolve({
            ok: false,
            url,
            failure: 'policy-redirect',
            status,
            location,
            address,
            certificate,
            message: `the host answered ${status} redirecting to "${location}"; senders must not follow redirects (RFC 8461 3.3)`,
          });
          return;
        }
        if (status !== 200) {
          res.resume();
          resolve({
            ok: false,
            url,
            failure: 'policy-http-status',
            status,
            address,
            certificate,
            message: `the host answered HTTP ${status}; senders accept only 200 (RFC 8461 3.3)`,
          });
          return;
        }
        const declared = Number(res.headers['content-length'] ?? NaN);
        const chunks: Buffer[] = [];
        let size = 0;
        // With a Content-Length the size is known up front; otherwise reading stops at the limit, so the
        // message can only say "over".
        const tooLarge = (declaredBytes: number | null): void => {
          const size = declaredBytes === null ? `over ${maxBytes}` : String(declaredBytes);
          resolve({
            ok: false,
            url,
            failure: 'policy-too-large',
            status,
            address,
            certificate,
            message: `the policy is ${size} bytes; senders may refuse policies over ${maxBytes} bytes (RFC 8461 3.3)`,
          });
          res.destroy();
        };
        if (declared > maxBytes) return tooLarge(declared);
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) return tooLarge(null);
          chunks.push(chunk);
        });
        res.on('end', () =>
          resolve({ ok: true, url, address, contentType: res.headers['content-type'] ?? null, body: Buffer.concat(chunks), certificate }),
        );
        res.on('error', (err) => resolve(failureFor(url, err, address)));
      },
    );
    req.on('error', (err) => resolve(failureFor(url, err, address)));
    req.end();
  });

  if (!outcome.ok && outcome.failure === 'certificate-invalid' && address) {
    outcome.certificate = await presentedCertificate(address, port, hostname, options.timeoutMs ?? 10_000);
  }
  return outcome;
}

function failureFor(url: string, err: unknown, address: string | null): PolicyFetch {
  const e = err as NodeJS.ErrnoException & { hostname?: string };
  const code = e.code ?? '';
  const host = new URL(url).hostname;
  if (e.name === 'AbortError' || e.name === 'TimeoutError' || code === 'ABORT_ERR' || code === 'ETIMEDOUT') {
    return { ok: false, url, failure: 'policy-fetch-timeout', address, message: `no answer from ${host} in time` };
  }
  if (code === 'ENOTFOUND' || code === 'ENODATA') {
    return { ok: false, url, failure: 'policy-host-not-found', address, message: `${host} has no A or AAAA record` };
  }
  if (CERTIFICATE_ERROR.test(code)) {
    return {
      ok: false,
      url,
      failure: 'certificate-invalid',
      address,
      certificateError: code,
      message: `the certificate of ${host} is not valid: ${e.message} (${code})`,
    };
  }
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ECONNRESET') {
    return {
      ok: false,
      url,
      failure: 'policy-host-unreachable',
      address,
      message: `cannot connect to ${host}${address ? ` (${address})` : ''}: ${code}`,
    };
  }
  return {
    ok: false,
    url,
    failure: 'tls-handshake-failed',
    address,
    message: `HTTPS to ${host} failed: ${e.message}${code ? ` (${code})` : ''}`,
  };
}

/**
 * The lookup https uses for the policy host: the configured resolver (DNS_SERVERS) rather than getaddrinfo,
 * so `tlsrpt check` sees the same DNS for every name, or a fixed connect address.
 */
function createLookup(resolver: Resolver | null, connectHost: string | undefined, seen: (address: string) => void): LookupFunction {
  return (hostname, options, callback) => {
    const target = connectHost ?? hostname;
    const deliver = (list: LookupAddress[]): void => {
      seen(list[0]!.address);
      if (options.all) callback(null, list);
      else callback(null, list[0]!.address, list[0]!.family);
    };
    const family = isIP(target);
    if (family) return deliver([{ address: target, family }]);
    if (!resolver) {
      systemLookup(target, { all: true }, (err, list) => (err ? callback(err, '') : deliver(list)));
      return;
    }
    // allSettled never rejects; void says the lookup callback, not a promise, carries the answer.
    void Promise.allSettled([resolver.resolve4(target), resolver.resolve6(target)]).then(([v4, v6]) => {
      const list: LookupAddress[] = [
        ...(v4.status === 'fulfilled' ? v4.value.map((address) => ({ address, family: 4 })) : []),
        ...(v6.status === 'fulfilled' ? v6.value.map((address) => ({ address, family: 6 })) : []),
      ];
      if (list.length) return deliver(list);
      const reason = (v4.status === 'rejected' ? v4.reason : null) as NodeJS.ErrnoException | null;
      const err = Object.assign(new Error(`${target} has no A or AAAA record`), {
        code: reason?.code === 'ENOTFOUND' || !reason ? 'ENOTFOUND' : reason.code,
      });
      callback(err, '');
    });
  };
}

/** Connects again without verification to describe what the host presented, for the fix text. */
function presentedCertificate(address: string, port: number, servername: string, timeoutMs: number): Promise<CertificateSummary | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port, servername, rejectUnauthorized: false });
    const finish = (value: CertificateSummary | null): void => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(timeoutMs, () => finish(null));
    socket.once('secureConnect', () => finish(summarise(socket.getPeerCertificate())));
    socket.once('error', () => finish(null));
  });
}

function summarise(cert: PeerCertificate | undefined): CertificateSummary | null {
  if (!cert || !Object.keys(cert).length) return null;
  const names = (cert.subjectaltname ?? '')
    .split(/,\s*/)
    .filter((n) => n.startsWith('DNS:'))
    .map((n) => n.slice(4));
  const text = (v: string | string[] | undefined): string | null => (v === undefined ? null : Array.isArray(v) ? v.join(' ') : v);
  const cn = text(cert.issuer?.CN);
  const org = text(cert.issuer?.O);
  const issuer = org ? `${cn ?? ''} (${org})`.trim() : cn;
  return { subject: text(cert.subject?.CN), names, issuer, validFrom: cert.valid_from ?? null, validTo: cert.valid_to ?? null };
}
