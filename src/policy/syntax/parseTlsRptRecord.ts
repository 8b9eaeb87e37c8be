/**
 * Validates the TXT records at `_smtp._tls.<domain>` (RFC 8460 3):
 *   tlsrpt-record  = "v=TLSRPTv1" 1*(field-delim tlsrpt-field) [field-delim]
 *   tlsrpt-rua     = "rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)     ; mailto: or https:
 * Records not beginning with "v=TLSRPTv1" are discarded; unless exactly one remains and it parses, senders
 * assume the domain does not want reports. Mistakes seen in the wild get their own codes: a "TSLRPTv1" typo
 * (real-world quirk 27) and rua=<address> without "mailto:", which crashed a sender (sys4 #54).
 */
import type { Problem } from './problem.js';
import type { RecordValidation } from './parseStsRecord.js';
import { isDomainName } from '../../rules/domainName.js';

export interface TlsRptRecord {
  /** rua URIs in published order: Microsoft reports only to the first (real-world quirk 22). */
  rua: string[];
  extensions: Array<{ name: string; value: string }>;
}

const VERSION = 'v=TLSRPTv1';
const EXT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const EXT_VALUE = /^[\x21-\x3a\x3c\x3e-\x7e]+$/;

export function parseTlsRptRecord(texts: readonly string[], domain: string): RecordValidation<TlsRptRecord> {
  const name = `_smtp._tls.${domain}`;
  const problems: Problem[] = [];
  const candidates = texts.filter((t) => t.startsWith(VERSION));
  const nearMisses = texts.filter((t) => !t.startsWith(VERSION) && looksLikeTlsRpt(t));

  for (const t of nearMisses) {
    const version = /^\s*v\s*=\s*([^;\s]*)/i.exec(t)?.[1] ?? t.split(';')[0]!.trim();
    const dmarc = /^v=DMARC1/i.test(t.trim());
    problems.push({
      severity: candidates.length ? 'warning' : 'error',
      code: 'tlsrpt-version-invalid',
      message: dmarc
        ? `"${t}" is a DMARC record; TLS reporting needs its own record at ${name}`
        : `"${t}" begins with "v=${version}" instead of exactly "${VERSION}" (a typo or wrong case), so senders discard it`,
      fix: `Publish ${name} TXT "${VERSION}; rua=${fixedRua(t)}".`,
    });
  }
  if (candidates.length === 0) {
    if (!nearMisses.length) {
      problems.push({
        severity: 'error',
        code: 'tlsrpt-record-missing',
        message: `no TXT record at ${name} begins with "${VERSION}", so senders send no TLS reports`,
        fix: `Publish ${name} TXT "${VERSION}; rua=mailto:<your report address>" ("tlsrpt policy generate" prints one).`,
      });
    }
    return { record: null, text: nearMisses[0] ?? null, problems };
  }
  if (candidates.length > 1) {
    problems.push({
      severity: 'error',
      code: 'tlsrpt-record-multiple',
      message: `${candidates.length} TXT records at ${name} begin with "${VERSION}"; senders then send no reports at all (RFC 8460 3)`,
      fix: 'Merge them into one record listing every address in one rua field, separated by commas.',
    });
    return { record: null, text: candidates.join(' | '), problems };
  }

  const text = candidates[0]!;
  const rest = text.slice(VERSION.length);
  if (!/^[ \t]*;/.test(rest)) {
    problems.push({
      severity: 'error',
      code: 'tlsrpt-record-syntax',
      message: `"${text}": "${VERSION}" must be followed by ";" and the rua field`,
      fix: `Write "${VERSION}; rua=${fixedRua(text)}".`,
    });
    return { record: null, text, problems };
  }
  let rua: string[] | undefined;
  const extensions: TlsRptRecord['extensions'] = [];
  for (const raw of rest.split(';').slice(1)) {
    const field = raw.trim();
    if (field === '') continue;
    const eq = field.indexOf('=');
    const key = eq < 0 ? field : field.slice(0, eq).trim();
    const value = eq < 0 ? '' : field.slice(eq + 1).trim();
    if (eq < 0 || !EXT_NAME.test(key)) {
      problems.push({
        severity: 'error',
        code: 'tlsrpt-record-syntax',
        message: `"${field}" is not a "name=value" field`,
        fix: 'Separate fields with ";" and write them as name=value.',
      });
      continue;
    }
    if (key === 'rua') {
      if (rua !== undefined) {
        problems.push({
          severity: 'error',
          code: 'rua-duplicate',
          message: 'the record has more than one rua field',
          fix: `Put every address in one field: rua=${[...rua, ...value.split(',').map((u) => u.trim())].join(',')}.`,
        });
        continue;
      }
      rua = value.split(',').map((u) => u.trim());
      for (const uri of rua) {
        const problem = ruaProblem(uri);
        if (problem) problems.push(problem);
      }
      continue;
    }
    if (key.toLowerCase() === 'rua') {
      problems.push({
        severity: 'error',
        code: 'tlsrpt-record-syntax',
        message: `"${key}" is not "rua" (field names are case-sensitive)`,
        fix: `Write "rua=${value}".`,
      });
      continue;
    }
    if (!EXT_VALUE.test(value)) {
      problems.push({
        severity: 'error',
        code: 'tlsrpt-record-syntax',
        message: `the value of "${key}" is empty or contains spaces, "=" or ";"`,
        fix: `Remove "${field}" or fix its value.`,
      });
      continue;
    }
    extensions.push({ name: key, value });
  }
  if (rua === undefined) {
    problems.push({
      severity: 'error',
      code: 'rua-missing',
      message: `"${text}" has no rua field, so senders do not know where to send reports`,
      fix: `Write "${VERSION}; rua=mailto:<your report address>".`,
    });
  }
  const ok = !problems.some((p) => p.severity === 'error');
  return { record: ok && rua ? { rua, extensions } : null, text, problems };
}

/** RFC 8460 3: each rua is a mailto: or https: URI; "," and "!" inside it must be percent-encoded. */
export function ruaProblem(uri: string): Problem | null {
  if (uri === '')
    return {
      severity: 'error',
      code: 'rua-invalid',
      message: 'the rua list has an empty entry (a stray comma?)',
      fix: 'Remove the extra comma.',
    };
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(uri)?.[1];
  if (!scheme) {
    if (/^[^@\s]+@[^@\s]+$/.test(uri)) {
      return {
        severity: 'error',
        code: 'rua-missing-mailto',
        message: `rua "${uri}" is an address without "mailto:"; senders cannot use it, and at least one crashed on it`,
        fix: `Write "rua=mailto:${uri}".`,
      };
    }
    return {
      severity: 'error',
      code: 'rua-invalid',
      message: `rua "${uri}" is not a URI`,
      fix: 'Write rua=mailto:<address> or rua=https://<report endpoint>.',
    };
  }
  const lower = scheme.toLowerCase();
  if (lower === 'mailto') {
    const address = safeDecode(uri.slice(scheme.length + 1).split('?')[0]!);
    if (!isMailAddress(address)) {
      return {
        severity: 'error',
        code: 'rua-invalid',
        message: `rua "${uri}" does not hold one mail address`,
        fix: 'Write rua=mailto:<local>@<domain>.',
      };
    }
    return null;
  }
  if (lower === 'https') {
    try {
      new URL(uri);
      return null;
    } catch {
      return {
        severity: 'error',
        code: 'rua-invalid',
        message: `rua "${uri}" is not a valid https URL`,
        fix: 'Write rua=https://<host>/<path>.',
      };
    }
  }
  return {
    severity: 'error',
    code: 'rua-scheme-unsupported',
    message: `rua "${uri}" uses "${scheme}:"; RFC 8460 3 allows only mailto: and https:`,
    fix: lower === 'http' ? `Use "${uri.replace(/^http:/i, 'https:')}" (reports must travel over TLS).` : 'Use a mailto: or https: URI.',
  };
}

function looksLikeTlsRpt(text: string): boolean {
  const t = text.trim();
  if (/^v\s*=\s*spf1\b/i.test(t) || /^v\s*=\s*STSv1\b/i.test(t)) return false;
  return /^v\s*=\s*\w*rpt\w*/i.test(t) || /^v\s*=\s*t\w*v\s*1/i.test(t) || /(^|;)\s*rua\s*=/i.test(t);
}

/** The record's rua with "mailto:" added where it was left out: the value to suggest in a fix. */
function fixedRua(text: string): string {
  const m = /rua\s*=\s*([^;]*)/i.exec(text);
  if (!m) return 'mailto:<your report address>';
  return m[1]!
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean)
    .map((u) => (/^[^:@\s]+@[^@\s]+$/.test(u) ? `mailto:${u}` : u))
    .join(',');
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** One address: a local part without "@" or white space, and a domain by the project's one domain-name rule. */
function isMailAddress(address: string): boolean {
  const at = address.lastIndexOf('@');
  const local = address.slice(0, at);
  return at > 0 && !/[@\s]/.test(local) && isDomainName(address.slice(at + 1));
}
