/**
 * DKIM verification of one report mail (RFC 6376, with mailauth), and the one rule that says which mails are
 * authenticated: RFC 8460 section 3 asks senders to DKIM-sign reports and lets receivers ignore the reports
 * that are not. A mail is authenticated when one of its signatures
 * - verifies (result `pass`),
 * - has a signing domain aligned with the From domain (same organisational domain, as DMARC's relaxed
 *   alignment: anyone can sign with their own domain, so only a signature of the From domain says who sent it),
 * - and was made with a key that may be used for TLS reports: a key record whose `s=` tag lists service types
 *   (RFC 6376 3.6.1) must list `*` or `tlsrpt` (RFC 8460 section 3 registers the `tlsrpt` service type).
 * dkimAuthentication() decides from mailauth's result and is pure; verifyDkim() does the DNS lookups.
 */
import { createRequire } from 'node:module';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import type { DKIMResult, DKIMVerifyResult } from 'mailauth';
import type { DkimResolver } from './dkimResolver.js';

/** RFC 8601 2.7.1's DKIM results: one per signature, `none` for a mail without any. */
export type DkimResult = 'pass' | 'fail' | 'neutral' | 'temperror' | 'permerror' | 'none';

export interface DkimSignature {
  result: DkimResult;
  /** The d= tag. */
  domain: string;
  selector: string | null;
  /** The signing domain and the From domain have the same organisational domain. */
  aligned: boolean;
  /** The key's s= tag allows the tlsrpt service type; null when no key was read. */
  tlsrptService: boolean | null;
  /** Why it did not pass, in mailauth's words ("bad signature", "no key", "DNS failure: ETIMEOUT"). */
  comment: string | null;
}

/** What one copy of a report (one raw message) proved about its sender. Stored in raw_messages.authentication. */
export interface MessageAuthentication {
  /**
   * `dkim` for mail (SMTP, IMAP, ingest); `https` for a POST, which cannot carry DKIM (RFC 8460 5.4); `file`
   * for a bare report file backfilled by `tlsrpt ingest` (.json, .json.gz), which has no mail to verify.
   */
  method: 'dkim' | 'https' | 'file';
  /** The best signature's result (pass, temperror, fail, permerror, neutral, in that order); `not-applicable` for https. */
  result: DkimResult | 'not-applicable';
  authenticated: boolean;
  /** Who vouched: the aligned signing domain that passed ("google.com"), or how a POST was trusted. */
  authenticatedBy: string | null;
  /** The domain of the From header, when the mail has one. */
  fromDomain: string | null;
  signatures: DkimSignature[];
}

const SUMMARY_ORDER: readonly DkimResult[] = ['pass', 'temperror', 'fail', 'permerror', 'neutral'];

/** mailauth's result for one signature as an RFC 8601 result. */
function signatureResult(status: DKIMResult['status']): DkimResult {
  const comment = typeof status.comment === 'string' ? status.comment : '';
  switch (status.result) {
    case 'pass':
    case 'fail':
    case 'temperror':
    case 'permerror':
      return status.result;
    case 'policy': // a key shorter than 1024 bits (RFC 8301 3.2: verifiers must not consider it valid)
      return 'permerror';
    case 'neutral':
      // A body that does not match its hash was changed after signing (RFC 6376 3.7: the signature fails).
      if (comment === 'body hash did not verify') return 'fail';
      // No key, or a key record that cannot be used (RFC 6376 6.1.2: PERMFAIL, RFC 8601's permerror).
      if (/key/.test(comment)) return 'permerror';
      return 'neutral';
    default:
      return 'neutral';
  }
}

/** The s= tag of a key record ("v=DKIM1;k=rsa;s=email:tlsrpt;p=...") allows tlsrpt: absent, `*` or `tlsrpt`. */
export function keyAllowsTlsrpt(record: string): boolean {
  for (const tag of record.split(';')) {
    const eq = tag.indexOf('=');
    if (eq < 0 || tag.slice(0, eq).trim().toLowerCase() !== 's') continue;
    const services = tag
      .slice(eq + 1)
      .split(':')
      .map((s) => s.trim().toLowerCase());
    return services.includes('*') || services.includes('tlsrpt');
  }
  return true;
}

export function dkimAuthentication(verified: Pick<DKIMVerifyResult, 'headerFrom' | 'results'>): MessageAuthentication {
  const from = verified.headerFrom?.[0];
  const fromDomain = from ? (from.split('@').pop() ?? '').toLowerCase() || null : null;
  const signatures: DkimSignature[] = (verified.results ?? [])
    .filter((r) => r.signingDomain) // mailauth reports a mail without signatures as one entry without a domain
    .map((r) => {
      const rr = (r as { rr?: unknown }).rr;
      return {
        result: signatureResult(r.status),
        domain: r.signingDomain.toLowerCase(),
        selector: r.selector ?? null,
        aligned: Boolean(r.status.aligned),
        tlsrptService: typeof rr === 'string' ? keyAllowsTlsrpt(rr) : null,
        comment: typeof r.status.comment === 'string' && r.status.comment ? r.status.comment : null,
      };
    });
  const vouching = signatures.filter((s) => s.result === 'pass' && s.aligned && s.tlsrptService !== false).map((s) => s.domain);
  const result = signatures.length === 0 ? 'none' : (SUMMARY_ORDER.find((r) => signatures.some((s) => s.result === r)) ?? 'neutral');
  return {
    method: 'dkim',
    result,
    authenticated: vouching.length > 0,
    // The least name, so that the same signatures give the same answer whatever order they are in.
    authenticatedBy: vouching.length ? [...vouching].sort()[0]! : null,
    fromDomain,
    signatures,
  };
}

/** Verifies every DKIM signature of `raw`, looking the keys up through `resolver`. */
export async function verifyDkim(raw: Buffer, resolver: DkimResolver): Promise<MessageAuthentication> {
  const unsigned = unsignedMail(raw);
  if (unsigned) return dkimAuthentication(unsigned);
  const verified = await dkimVerify(raw, { resolver });
  return dkimAuthentication(verified);
}

/**
 * mailauth's own header reading, taken from where mailauth takes it, so that a mail read here and a mail
 * read by dkimVerify give the same From addresses (mailauth carries its own nodemailer, not ours).
 */
const requireFromMailauth = createRequire(createRequire(import.meta.url).resolve('mailauth'));
const { parseHeaders } = requireFromMailauth('./tools.js') as {
  parseHeaders: (buf: Buffer) => { parsed: Array<{ key: string | null; line: Buffer }> };
};
const addressparser = requireFromMailauth('nodemailer/lib/addressparser') as (value: string) => Array<{ address?: string }>;

/**
 * A header field mailauth takes for a signature: a line (not a folded continuation) whose name, trimmed, is
 * DKIM-Signature, with or without a colon. Google's X-Google-DKIM-Signature is not one.
 */
const DKIM_SIGNATURE = /(?:^|\n)\s*dkim-signature\s*(?::|\r?\n|$)/i;

/**
 * dkimVerify's answer for a mail without a DKIM-Signature header, without its byte-by-byte pass over the
 * whole mail (about 70 us per bench report mail, most of its cost for an unsigned one); null for a mail
 * that may be signed, which dkimVerify reads. The header block ends where mailauth ends it: at the first
 * empty line, CRLF or bare LF (it rewrites a bare LF as CRLF before looking). Held to dkimVerify's answer
 * over every real sample and crafted variants (test/auth/unsignedMail.test.ts).
 */
export function unsignedMail(raw: Buffer): Pick<DKIMVerifyResult, 'headerFrom' | 'results'> | null {
  const ends = [raw.indexOf('\n\n'), raw.indexOf('\n\r\n')].filter((i) => i >= 0);
  const header = ends.length ? raw.subarray(0, Math.min(...ends) + 1) : raw;
  if (DKIM_SIGNATURE.test(header.toString('latin1'))) return null;
  const headerFrom: string[] = [];
  for (const h of parseHeaders(header).parsed) {
    if (h.key !== 'from') continue;
    const line = h.line.toString();
    const colon = line.indexOf(':');
    for (const addr of addressparser((colon >= 0 ? line.slice(colon + 1) : line).trim())) if (addr?.address) headerFrom.push(addr.address);
  }
  return { headerFrom, results: [] };
}

/** A POST to the HTTPS endpoint: no DKIM possible; trusted when `trustedBy` names why (the client address). */
export function httpsAuthentication(trustedBy: string | null): MessageAuthentication {
  return {
    method: 'https',
    result: 'not-applicable',
    authenticated: trustedBy !== null,
    authenticatedBy: trustedBy,
    fromDomain: null,
    signatures: [],
  };
}

/** A report file without its mail (`tlsrpt ingest` of a .json or .json.gz file): nothing to verify. */
export function fileAuthentication(): MessageAuthentication {
  return { method: 'file', result: 'not-applicable', authenticated: false, authenticatedBy: null, fromDomain: null, signatures: [] };
}

/** One line for logs, quarantine details and the CLI: "dkim=fail (google.com: bad signature); dkim=none". */
export function describeAuthentication(a: MessageAuthentication): string {
  if (a.method === 'file') return 'a report file without its mail: nothing to verify';
  if (a.method === 'https') return a.authenticated ? `https, trusted (${a.authenticatedBy})` : 'https, not trusted (no DKIM over HTTPS)';
  if (a.signatures.length === 0) return `dkim=none (the mail is not signed${a.fromDomain ? `; From domain ${a.fromDomain}` : ''})`;
  return a.signatures
    .map((s) => {
      const notes = [
        s.comment,
        s.result === 'pass' && !s.aligned ? `not aligned with From domain ${a.fromDomain ?? '(none)'}` : null,
        s.tlsrptService === false ? 'key s= tag does not allow tlsrpt' : null,
      ].filter(Boolean);
      return `dkim=${s.result} d=${s.domain}${s.selector ? ` s=${s.selector}` : ''}${notes.length ? ` (${notes.join('; ')})` : ''}`;
    })
    .join('; ');
}
