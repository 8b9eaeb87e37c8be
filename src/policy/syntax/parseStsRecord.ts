/**
 * Validates the TXT records at `_mta-sts.<domain>` (RFC 8461 3.1) as a sender reads them:
 *   sts-text-record = "v=STSv1" 1*(sts-field-delim sts-field) [sts-field-delim]
 *   sts-field-delim = *WSP ";" *WSP,  sts-id = "id=" 1*32(ALPHA / DIGIT)
 * Records that do not begin with "v=STSv1" are discarded; more than one that does means "no MTA-STS".
 */
import type { Problem } from './problem.js';

export interface StsRecord {
  id: string;
  extensions: Array<{ name: string; value: string }>;
}

export interface RecordValidation<T> {
  /** The record a sender would use; null when there is none or it has errors. */
  record: T | null;
  /** The text of the record examined (TXT strings joined), when one was found. */
  text: string | null;
  problems: Problem[];
}

const EXT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const EXT_VALUE = /^[\x21-\x3a\x3c\x3e-\x7e]+$/;

/** `texts` are the domain's TXT records, each with its character-strings already joined. */
export function parseStsRecord(texts: readonly string[], domain: string): RecordValidation<StsRecord> {
  const name = `_mta-sts.${domain}`;
  const problems: Problem[] = [];
  const candidates = texts.filter((t) => t.startsWith('v=STSv1'));
  const nearMisses = texts.filter((t) => !t.startsWith('v=STSv1') && /^\s*v\s*=\s*s\w*v\s*1/i.test(t));

  for (const t of nearMisses) {
    problems.push({
      severity: candidates.length ? 'warning' : 'error',
      code: 'sts-version-invalid',
      message: `"${t}" does not begin with exactly "v=STSv1" (case and spacing matter), so senders discard it`,
      fix: `Publish ${name} TXT "v=STSv1; id=${suggestId(t)}".`,
    });
  }
  if (candidates.length === 0) {
    if (!nearMisses.length) {
      problems.push({
        severity: 'error',
        code: 'sts-record-missing',
        message: `no TXT record at ${name} begins with "v=STSv1", so senders do not look for a policy`,
        fix: `Publish ${name} TXT "v=STSv1; id=<1-32 letters or digits>" ("tlsrpt policy generate" prints one).`,
      });
    }
    return { record: null, text: nearMisses[0] ?? null, problems };
  }
  if (candidates.length > 1) {
    problems.push({
      severity: 'error',
      code: 'sts-record-multiple',
      message: `${candidates.length} TXT records at ${name} begin with "v=STSv1"; senders then assume the domain has no MTA-STS policy (RFC 8461 3.1)`,
      fix: 'Keep exactly one record: delete the old one when you change the id.',
    });
    return { record: null, text: candidates.join(' | '), problems };
  }

  const text = candidates[0]!;
  const fields = text.slice('v=STSv1'.length);
  if (fields.trim() !== '' && !/^[ \t]*;/.test(fields)) {
    problems.push({
      severity: 'error',
      code: 'sts-record-syntax',
      message: `"${text}": "v=STSv1" must be followed by ";" before the next field`,
      fix: `Write "v=STSv1; id=${suggestId(text)}".`,
    });
    return { record: null, text, problems };
  }
  let id: string | undefined;
  const extensions: StsRecord['extensions'] = [];
  for (const raw of fields.split(';').slice(1)) {
    const field = raw.trim();
    if (field === '') continue; // a trailing ";" is allowed
    const eq = field.indexOf('=');
    const key = eq < 0 ? field : field.slice(0, eq);
    const value = eq < 0 ? '' : field.slice(eq + 1);
    if (eq < 0 || !EXT_NAME.test(key)) {
      problems.push({
        severity: 'error',
        code: 'sts-record-syntax',
        message: `"${field}" is not a "name=value" field`,
        fix: 'Separate fields with ";" and write them as name=value.',
      });
      continue;
    }
    if (key === 'id') {
      if (id !== undefined) {
        problems.push({
          severity: 'warning',
          code: 'sts-id-duplicate',
          message: `id appears twice; senders use the first ("${id}")`,
          fix: 'Keep one id field.',
        });
        continue;
      }
      id = value;
      const problem = stsIdProblem(value);
      if (problem)
        problems.push({
          severity: 'error',
          code: 'sts-id-invalid',
          message: `id "${value}" ${problem} (RFC 8461 3.1: 1 to 32 letters and digits)`,
          fix: `Use e.g. "id=${suggestId(value)}" (a timestamp works well).`,
        });
      continue;
    }
    if (key.toLowerCase() === 'id') {
      problems.push({
        severity: 'error',
        code: 'sts-record-syntax',
        message: `"${key}" is not "id" (field names are case-sensitive)`,
        fix: `Write "id=${value}".`,
      });
      continue;
    }
    if (!EXT_VALUE.test(value)) {
      problems.push({
        severity: 'error',
        code: 'sts-record-syntax',
        message: `the value of "${key}" is empty or contains spaces, "=" or ";"`,
        fix: `Remove "${field}" or fix its value.`,
      });
      continue;
    }
    extensions.push({ name: key, value });
  }
  if (id === undefined) {
    problems.push({
      severity: 'error',
      code: 'sts-id-missing',
      message: `"${text}" has no id field`,
      fix: `Write "v=STSv1; id=${suggestId('')}" and change the id whenever the policy changes.`,
    });
  }
  const ok = !problems.some((p) => p.severity === 'error');
  return { record: ok && id !== undefined ? { id, extensions } : null, text, problems };
}

export function stsIdProblem(id: string): string | null {
  if (id === '') return 'is empty';
  if (id.length > 32) return `is ${id.length} characters long`;
  const bad = id.replace(/[A-Za-z0-9]/g, '');
  if (bad) return `contains ${JSON.stringify([...new Set(bad)].join(''))}`;
  return null;
}

/** An id a sender accepts, derived from what the administrator wrote (its letters and digits) or from the time. */
function suggestId(text: string): string {
  const m = /id\s*=\s*([^;\s]*)/i.exec(text);
  const cleaned = (m ? m[1]! : text.includes('=') ? '' : text).replace(/[^A-Za-z0-9]/g, '').slice(0, 32);
  return cleaned || stsIdFromTime(new Date());
}

/** "20240301120000Z": ids made from the time sort in order and change with every policy (RFC 8461 3.1 example "20160831085700Z"). */
export function stsIdFromTime(now: Date): string {
  return now
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/[-:T]/g, '');
}
