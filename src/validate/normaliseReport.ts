/**
 * Named fix-ups for the ways real senders deviate from RFC 8460 section 4, applied to the parsed JSON before
 * schema validation. Each fix-up handles one deviation, says where it was seen (the number is the item of
 * docs/real-world-quirks.md, summarised in README "Fix-ups"), and is recorded with the stored report so an
 * administrator can query which senders deviate and how.
 *
 * Rules: a fix-up only rewrites what is unambiguous. Anything that would have to guess at a number is left
 * for the schema to reject (quarantine `schema-violation`).
 * Pure: no I/O; input is not mutated (the caller gets a deep copy) unless the caller asks for `inPlace`.
 */
import { RESULT_TYPES } from '../resultTypes.js';
import { isDomainName, normaliseDomainName } from '../rules/domainName.js';

export interface NormaliseContext {
  /** TLS-Report-Domain header of the mail (RFC 8460 5.3), when there is one. */
  tlsReportDomain?: string | null;
  /** Attachment file name (RFC 8460 5.1 `sender!policy-domain!begin!end[!id].json[.gz]`), when there is one. */
  filename?: string | null;
}

export interface NormaliseResult {
  report: unknown;
  fixups: string[];
}

type Json = Record<string, unknown>;

/** Every fix-up this version knows, with what it does. README "Fix-ups" lists the same names. */
export const FIXUPS = {
  'datetime-without-zone': 'A date-time without a zone (Microsoft, quirk 1) is read as UTC.',
  'datetime-space-separator': 'A date-time with a space instead of "T" between date and time is read as RFC 3339.',
  'date-range-end-exclusive':
    "An end-datetime at the next midnight (Stalwart, Mail.ru, quirk 13) is moved back one second, so the report covers one UTC day like every other sender's.",
  'failure-details-missing': '"failure-details" left out (Microsoft on success-only policies, quirk 2) is read as an empty list.',
  'failure-detail-fields-missing':
    'A failure detail lacks sending-mta-ip, receiving-mx-hostname or receiving-ip (quirk 3); it is stored with those fields empty.',
  'failure-total-mismatch':
    'total-failure-session-count differs from the sum of the failure details (Mail.ru, quirk 4); both are kept as sent.',
  'tlsa-policy-string-json-encoded':
    'A TLSA policy-string element holds a JSON-encoded array of records (Microsoft, quirk 6); it is unpacked to one string per record.',
  'policy-string-trailing-cr': 'Policy-string lines end in "\\r"; the carriage returns are removed.',
  'contact-info-null': '"contact-info" is null (quirk 7); stored as empty.',
  'contact-info-missing': '"contact-info" is left out; stored as empty.',
  'policy-domain-from-mail-header':
    "A no-policy-found policy without policy-domain (sys4, quirk 8) takes the mail's TLS-Report-Domain header.",
  'policy-domain-from-filename':
    'A no-policy-found policy without policy-domain takes the domain from the attachment file name (RFC 8460 5.1).',
  'policy-domain-unknown': 'A no-policy-found policy without policy-domain, and nothing to take it from: stored with an empty domain.',
  'mx-host-string': '"mx-host" is a string, as in the RFC\'s own example (erratum 6241, quirk 9); read as a one-element list.',
  'mx-host-pattern-key': 'The key is "mx-host-pattern" (the RFC\'s value name) instead of "mx-host" (quirk 9).',
  'additional-info-uri-key': 'The key is "additional-info-uri" (the ABNF value name) instead of "additional-information" (quirk 10).',
  'failure-error-code-key': 'The key is "failure-error-code" (draft-23 name) instead of "failure-reason-code".',
  'misspelled-key': 'A count key is misspelled (e.g. "total-success-session-count"); read under the RFC name.',
  'counts-as-strings': 'Session counts are strings of digits (quirk 11); read as numbers.',
  'unknown-result-type': 'A result-type not in the IANA registry this version knows (quirk 12); kept verbatim.',
  'report-part-mislabelled': 'The report part is not labelled application/tlsrpt+gzip or +json; it was found by file name or content.',
  'plain-json-labelled-gzip': 'A part labelled gzip holds plain JSON (quirk 18); read as JSON.',
  'gzip-trailing-bytes': 'Bytes follow the end of the gzip stream (Mimecast CRLF, quirk 17); ignored.',
  'zip-attachment': 'The report is a zip file, which RFC 8460 5.1 does not allow (quirk 19); its .json member is read.',
  'report-in-mail-body': 'The report JSON is the body of the mail rather than an attachment.',
} as const;

export type FixupName = keyof typeof FIXUPS;

/** Misspellings seen in the wild and in drafts -> the RFC 8460 key; each maps to the fix-up it records. */
const RENAMED_KEYS: Record<string, { to: string; fixup: FixupName }> = {
  'mx-host-pattern': { to: 'mx-host', fixup: 'mx-host-pattern-key' },
  'additional-info-uri': { to: 'additional-information', fixup: 'additional-info-uri-key' },
  'failure-error-code': { to: 'failure-reason-code', fixup: 'failure-error-code-key' },
  'total-success-session-count': { to: 'total-successful-session-count', fixup: 'misspelled-key' },
  'total-successful-sessions-count': { to: 'total-successful-session-count', fixup: 'misspelled-key' },
  'total-failed-session-count': { to: 'total-failure-session-count', fixup: 'misspelled-key' },
  'total-failure-sessions-count': { to: 'total-failure-session-count', fixup: 'misspelled-key' },
  'failure-session-count': { to: 'failed-session-count', fixup: 'misspelled-key' },
  'failed-sessions-count': { to: 'failed-session-count', fixup: 'misspelled-key' },
};

export interface NormaliseOptions {
  /**
   * Rewrite `input` itself instead of a copy. For a caller that owns a freshly parsed value and drops it
   * (decodeMessage): a report with 100,000 failure details then exists once in memory, not twice.
   */
  inPlace?: boolean;
}

export function normaliseReport(input: unknown, ctx: NormaliseContext = {}, options: NormaliseOptions = {}): NormaliseResult {
  const fixups = new Set<FixupName>();
  const add = (name: FixupName) => fixups.add(name);
  if (!isObject(input)) return { report: input, fixups: [] };
  const report = (options.inPlace ? input : structuredClone(input)) as Json;

  // Quirk 7: contact-info null or missing.
  if (report['contact-info'] === null) add('contact-info-null');
  else if (!('contact-info' in report)) add('contact-info-missing');

  const range = report['date-range'];
  if (isObject(range)) {
    for (const key of ['start-datetime', 'end-datetime'] as const) {
      const fixed = fixDateTime(range[key]);
      if (fixed) {
        range[key] = fixed.value;
        fixed.applied.forEach(add);
      }
    }
    // Quirk 13: an end at the next midnight would put the report on two UTC days.
    const start = typeof range['start-datetime'] === 'string' ? Date.parse(range['start-datetime']) : NaN;
    const end = typeof range['end-datetime'] === 'string' ? Date.parse(range['end-datetime']) : NaN;
    if (Number.isFinite(start) && Number.isFinite(end) && end > start && end % 86_400_000 === 0) {
      range['end-datetime'] = new Date(end - 1000).toISOString().replace('.000Z', 'Z');
      add('date-range-end-exclusive');
    }
  }

  const policies = report.policies;
  if (Array.isArray(policies)) {
    for (const entry of policies) {
      if (!isObject(entry)) continue;
      normalisePolicyEntry(entry, ctx, add);
    }
  }
  return { report, fixups: [...fixups] };
}

function normalisePolicyEntry(entry: Json, ctx: NormaliseContext, add: (n: FixupName) => void): void {
  const policy = entry.policy;
  if (isObject(policy)) {
    renameKeys(policy, add);
    // Quirk 9: mx-host as a string.
    if (typeof policy['mx-host'] === 'string') {
      policy['mx-host'] = [policy['mx-host']];
      add('mx-host-string');
    }
    const ps = policy['policy-string'];
    if (Array.isArray(ps)) {
      policy['policy-string'] = fixPolicyStrings(ps, policy['policy-type'], add);
    }
    if (typeof policy['policy-domain'] === 'string') {
      policy['policy-domain'] = policy['policy-domain'].trim().toLowerCase().replace(/\.$/, '');
    }
    // Quirk 8: no-policy-found without policy-domain.
    if (policy['policy-type'] === 'no-policy-found' && !(typeof policy['policy-domain'] === 'string' && policy['policy-domain'])) {
      const fromFile = domainFromFilename(ctx.filename);
      if (ctx.tlsReportDomain) {
        policy['policy-domain'] = ctx.tlsReportDomain.toLowerCase();
        add('policy-domain-from-mail-header');
      } else if (fromFile) {
        policy['policy-domain'] = fromFile;
        add('policy-domain-from-filename');
      } else {
        delete policy['policy-domain'];
        add('policy-domain-unknown');
      }
    }
  }

  const summary = entry.summary;
  if (isObject(summary)) {
    renameKeys(summary, add);
    for (const key of ['total-successful-session-count', 'total-failure-session-count']) {
      if (fixCount(summary, key)) add('counts-as-strings');
    }
  }

  if (!('failure-details' in entry) || entry['failure-details'] === null) {
    entry['failure-details'] = [];
    add('failure-details-missing');
  }
  const details = entry['failure-details'];
  if (Array.isArray(details)) {
    let sum = 0;
    let allCounted = true;
    for (const d of details) {
      if (!isObject(d)) continue;
      renameKeys(d, add);
      if (fixCount(d, 'failed-session-count')) add('counts-as-strings');
      if (typeof d['failed-session-count'] === 'number') sum += d['failed-session-count'];
      else allCounted = false;
      if (!('sending-mta-ip' in d) || !('receiving-ip' in d) || !('receiving-mx-hostname' in d)) add('failure-detail-fields-missing');
      if (typeof d['result-type'] === 'string' && !(d['result-type'] in RESULT_TYPES)) add('unknown-result-type');
    }
    // Quirk 4: keep both numbers; the flag tells the reader they disagree.
    const total = isObject(summary) ? summary['total-failure-session-count'] : undefined;
    if (details.length > 0 && allCounted && typeof total === 'number' && total !== sum) add('failure-total-mismatch');
  }
}

/** RENAMED_KEYS as a list, made once: renameKeys runs for every failure detail of every report. */
const RENAMED_KEY_LIST = Object.entries(RENAMED_KEYS);

function renameKeys(o: Json, add: (n: FixupName) => void): void {
  for (const [from, { to, fixup }] of RENAMED_KEY_LIST) {
    if (from in o) {
      if (!(to in o)) o[to] = o[from];
      delete o[from];
      add(fixup);
    }
  }
}

/** Digits in a string -> number. Anything else is left for the schema to reject. */
function fixCount(o: Json, key: string): boolean {
  const v = o[key];
  if (typeof v === 'string' && /^\s*\d+\s*$/.test(v)) {
    o[key] = Number(v.trim());
    return true;
  }
  return false;
}

function fixPolicyStrings(ps: unknown[], policyType: unknown, add: (n: FixupName) => void): unknown[] {
  let out = ps;
  // Quirk 6: ["[\"3 1 1 ...\",\"3 1 1 ...\"]"] from Microsoft for TLSA.
  if (policyType === 'tlsa' && out.length >= 1 && out.every((s) => typeof s === 'string' && s.trim().startsWith('['))) {
    try {
      const unpacked = out.flatMap((s) => JSON.parse(s as string) as unknown);
      if (unpacked.every((s) => typeof s === 'string')) {
        out = unpacked;
        add('tlsa-policy-string-json-encoded');
      }
    } catch {
      // Not JSON after all: keep the strings as sent.
    }
  }
  if (out.some((s) => typeof s === 'string' && /\r$/.test(s))) {
    out = out.map((s) => (typeof s === 'string' ? s.replace(/\r+$/, '') : s));
    add('policy-string-trailing-cr');
  }
  return out;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

function fixDateTime(v: unknown): { value: string; applied: FixupName[] } | null {
  if (typeof v !== 'string' || RFC3339.test(v)) return null;
  let value = v.trim();
  const applied: FixupName[] = [];
  if (/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}/.test(value)) {
    value = value.replace(' ', 'T');
    applied.push('datetime-space-separator');
  }
  // Quirk 1: "2023-01-10T00:00:00" (Microsoft). RFC 8460 reports are in UTC, as Microsoft's file names confirm.
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$/.test(value)) {
    value += 'Z';
    applied.push('datetime-without-zone');
  }
  return applied.length && RFC3339.test(value) ? { value, applied } : null;
}

/** RFC 8460 5.1: `sender!policy-domain!begin-timestamp!end-timestamp[!unique-id].json[.gz]`. */
export function domainFromFilename(filename: string | null | undefined): string | null {
  if (!filename) return null;
  const parts = filename.split('!');
  if (parts.length < 4) return null;
  const domain = normaliseDomainName(parts[1]!);
  return isDomainName(domain) ? domain : null;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
