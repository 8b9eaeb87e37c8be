/**
 * Parses and validates an MTA-STS policy file (RFC 8461 3.2), reporting every problem with its line rather
 * than stopping at the first: an administrator fixing a policy wants the whole list at once.
 *
 * Strictness follows the ABNF, because senders' parsers do (mox rejects blank lines and unknown mode values;
 * Postfix resolvers and Google differ in leniency). What the RFC allows but is risky is a warning.
 *
 * Two rule sets: `rfc` checks what RFC 8461 requires; `google` adds what Google's MTA-STS policy guide for
 * Google Workspace (the guide this project starts from, GOOGLE_GUIDE) requires on top: `version` on the first
 * line, and max_age from 86400 to 31557600. Under `google` those two are errors; under `rfc` they stay warnings.
 */
import { hostNameProblem } from './hostName.js';
import type { Problem } from './problem.js';

/** RFC 8461 3.3: senders may refuse policies over 64 KB ("a reasonable maximum"). */
export const POLICY_MAX_BYTES = 64 * 1024;
/** RFC 8461 3.2: max_age is at most 31557600 seconds (one year). */
export const MAX_AGE_LIMIT = 31_557_600;
/** Below a day, senders refetch so often that an attacker on the path gets a window at every refresh. */
export const MAX_AGE_MIN_RECOMMENDED = 86_400;

/** The guide whose rules `google` adds, as named in messages and README "MTA-STS". */
export const GOOGLE_GUIDE = "Google's MTA-STS policy guide for Google Workspace (support.google.com/a/answer/9276511)";

export const POLICY_RULES = ['google', 'rfc'] as const;
export type PolicyRules = (typeof POLICY_RULES)[number];

/** The problems that are errors under `google` and warnings under `rfc`. */
export const GUIDE_PROBLEM_CODES: readonly string[] = ['version-not-first', 'max-age-short'];

export interface ParseStsPolicyOptions {
  /** `rfc` (the default: what senders accept) or `google` (the guide's stricter rules as errors). */
  rules?: PolicyRules;
}

export const STS_MODES = ['enforce', 'testing', 'none'] as const;
export type StsMode = (typeof STS_MODES)[number];

export interface StsPolicy {
  version: 'STSv1';
  mode: StsMode;
  /** Seconds. */
  maxAge: number;
  /** mx patterns in file order, as written (RFC 8461 4.1 matching ignores case). */
  mx: string[];
  /** Fields this version does not define; senders ignore them (RFC 8461 3.2). */
  extensions: Array<{ name: string; value: string }>;
}

export interface PolicyValidation {
  /** The policy as senders would read it; null when any problem is an error. */
  policy: StsPolicy | null;
  problems: Problem[];
}

const KNOWN_FIELDS = ['version', 'mode', 'max_age', 'mx'] as const;
/** Names people write for the known fields, each with the name meant. */
const MISSPELLED_FIELDS: Record<string, string> = { 'max-age': 'max_age', maxage: 'max_age', 'max age': 'max_age', v: 'version' };
// RFC 8461 3.2 sts-policy-ext-name.
const FIELD_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;

export function parseStsPolicy(input: string | Uint8Array, options: ParseStsPolicyOptions = {}): PolicyValidation {
  const guide = options.rules === 'google';
  const problems: Problem[] = [];
  const add = (severity: Problem['severity'], code: Problem['code'], line: number | undefined, message: string, fix: string): void => {
    problems.push(line === undefined ? { severity, code, message, fix } : { severity, code, line, message, fix });
  };

  let text: string;
  const bytes = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.byteLength;
  if (bytes > POLICY_MAX_BYTES) {
    add(
      'error',
      'policy-too-large',
      undefined,
      `the policy is ${bytes} bytes; senders may refuse policies over ${POLICY_MAX_BYTES} bytes (RFC 8461 3.3)`,
      'A policy needs only version, mode, max_age and one mx line per MX host: remove everything else.',
    );
  }
  if (typeof input === 'string') {
    text = input;
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch {
      add(
        'error',
        'policy-not-utf8',
        undefined,
        'the policy is not valid UTF-8 (RFC 8461 3.2)',
        'Save the file as plain ASCII or UTF-8 text.',
      );
      return { policy: null, problems };
    }
  }
  if (text.startsWith('\uFEFF')) {
    add(
      'error',
      'byte-order-mark',
      1,
      'the file starts with a byte-order mark, so the first field name is not "version" to a sender',
      'Save the file as UTF-8 without BOM (plain ASCII is enough for a policy).',
    );
    text = text.slice(1);
  }
  if (text.trim() === '') {
    add(
      'error',
      'policy-empty',
      undefined,
      'the policy is empty',
      'Write the four fields: version: STSv1, mode, mx (one line per MX), max_age.',
    );
    return { policy: null, problems };
  }

  // RFC 8461 3.2 sts-policy-term is LF or CRLF (erratum 6253); one terminator after the last field is allowed.
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();

  const seen = new Map<string, number>();
  let version: string | undefined;
  let mode: StsMode | undefined;
  let maxAge: number | undefined;
  const mx: string[] = [];
  const mxLines = new Map<string, number>();
  const extensions: StsPolicy['extensions'] = [];
  let firstFieldLine: { line: number; name: string } | undefined;

  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.includes('\r')) {
      add(
        'error',
        'line-syntax',
        n,
        'the line contains a carriage return that does not end a line (old Mac line endings?)',
        'End lines with LF or CRLF.',
      );
      return;
    }
    if (line.trim() === '') {
      add(
        'error',
        'blank-line',
        n,
        'blank line; the RFC 8461 3.2 grammar has no blank lines, and strict senders reject the whole policy',
        'Remove the blank line (and any blank lines at the end of the file).',
      );
      return;
    }
    if (/^[ \t]/.test(line)) {
      add('error', 'line-syntax', n, `the line starts with whitespace: "${show(line)}"`, 'Start every line with the field name.');
      return;
    }
    if (line.startsWith('#')) {
      add(
        'error',
        'line-syntax',
        n,
        `comments are not part of the policy format: "${show(line)}"`,
        'Remove the comment line; keep notes elsewhere.',
      );
      return;
    }
    const colon = line.indexOf(':');
    if (colon < 0) {
      add('error', 'line-syntax', n, `no "name: value" pair: "${show(line)}"`, 'Write each field as "name: value", e.g. "mode: testing".');
      return;
    }
    const rawName = line.slice(0, colon);
    const value = line
      .slice(colon + 1)
      .replace(/^[ \t]+/, '')
      .replace(/[ \t]+$/, '');
    if (/[ \t]$/.test(rawName) && FIELD_NAME.test(rawName.trimEnd())) {
      add('error', 'line-syntax', n, `space before the colon in "${show(line)}"`, `Write "${rawName.trimEnd()}: ${value}".`);
      return;
    }
    const meant = MISSPELLED_FIELDS[rawName.toLowerCase()];
    if (meant) {
      add('error', 'field-name', n, `"${rawName}" is not a policy field, so senders ignore this line`, `Write "${meant}: ${value}".`);
      return;
    }
    if (!FIELD_NAME.test(rawName)) {
      add(
        'error',
        'line-syntax',
        n,
        `"${show(rawName)}" is not a valid field name`,
        'Field names are letters, digits, "_", "-" and "." (e.g. "max_age").',
      );
      return;
    }
    const lower = rawName.toLowerCase();
    if (lower !== rawName && (KNOWN_FIELDS as readonly string[]).includes(lower)) {
      // RFC 8461 3.2 uses %s"..." (case-sensitive) for every field name.
      add(
        'error',
        'field-name',
        n,
        `field names are case-sensitive: "${rawName}" is not "${lower}", so senders ignore this line`,
        `Write "${lower}: ${value}".`,
      );
      return;
    }
    firstFieldLine ??= { line: n, name: rawName };
    const previous = seen.get(rawName);
    seen.set(rawName, previous ?? n);
    if (previous !== undefined && rawName !== 'mx' && (KNOWN_FIELDS as readonly string[]).includes(rawName)) {
      // RFC 8461 3.2: for every field except mx, only the first occurrence counts.
      add(
        'warning',
        'field-duplicate',
        n,
        `"${rawName}" already appears on line ${previous}; senders use only the first one`,
        `Remove line ${n} or line ${previous}.`,
      );
      return;
    }

    switch (rawName) {
      case 'version':
        if (value !== 'STSv1') {
          add(
            'error',
            'version-invalid',
            n,
            `version is "${show(value)}"; the only version is "STSv1" (RFC 8461 3.2)`,
            'Write "version: STSv1".',
          );
        } else version = value;
        return;
      case 'mode':
        if ((STS_MODES as readonly string[]).includes(value)) mode = value as StsMode;
        else {
          const lowerValue = value.toLowerCase();
          const fix = (STS_MODES as readonly string[]).includes(lowerValue)
            ? `Write "mode: ${lowerValue}" (values are case-sensitive).`
            : 'Use one of "mode: testing", "mode: enforce" or "mode: none".';
          add('error', 'mode-invalid', n, `mode is "${show(value)}"; it must be testing, enforce or none (RFC 8461 3.2)`, fix);
        }
        return;
      case 'max_age':
        if (!/^\d{1,10}$/.test(value)) {
          add(
            'error',
            'max-age-invalid',
            n,
            `max_age "${show(value)}" is not a number of seconds (RFC 8461 3.2: up to 10 digits)`,
            'Write the lifetime in seconds, e.g. "max_age: 604800" for one week.',
          );
        } else if (Number(value) > MAX_AGE_LIMIT) {
          add(
            'error',
            'max-age-too-large',
            n,
            `max_age ${value} exceeds the RFC 8461 3.2 maximum of ${MAX_AGE_LIMIT} seconds (one year); senders reject the policy`,
            `Use at most ${MAX_AGE_LIMIT}.`,
          );
        } else {
          maxAge = Number(value);
          if (maxAge < MAX_AGE_MIN_RECOMMENDED) {
            const risk = 'senders refetch the policy that often, and each refetch is a chance for an attacker to block it';
            add(
              guide ? 'error' : 'warning',
              'max-age-short',
              n,
              guide
                ? `max_age ${value} is outside ${MAX_AGE_MIN_RECOMMENDED}..${MAX_AGE_LIMIT}, the range ${GOOGLE_GUIDE} requires: ${risk}`
                : `max_age ${value} is under one day: ${risk}`,
              'Use 604800 (one week) to 1209600 (two weeks) while testing, and weeks or more once enforcing (RFC 8461 3.2).',
            );
          }
        }
        return;
      case 'mx': {
        const problem = mxPatternProblem(value);
        if (problem) {
          add('error', problem.code, n, `mx "${show(value)}": ${problem.message}`, problem.fix);
          return;
        }
        const key = value.toLowerCase();
        const dup = mxLines.get(key);
        if (dup !== undefined) {
          add('warning', 'mx-duplicate', n, `mx "${value}" is already listed on line ${dup}`, `Remove line ${n}.`);
          return;
        }
        mxLines.set(key, n);
        mx.push(value);
        return;
      }
      default:
        if (value === '' || /\p{Cc}/u.test(value)) {
          add(
            'error',
            'extension-invalid',
            n,
            `the value of "${rawName}" is empty or has control characters`,
            `Give "${rawName}" a value or remove the line.`,
          );
          return;
        }
        extensions.push({ name: rawName, value });
        add(
          'warning',
          'field-unknown',
          n,
          `"${rawName}" is not an RFC 8461 field; senders ignore it`,
          'Remove the line unless a sender you care about documents it.',
        );
    }
  });

  if (firstFieldLine && firstFieldLine.name !== 'version' && version !== undefined) {
    add(
      guide ? 'error' : 'warning',
      'version-not-first',
      firstFieldLine.line,
      guide
        ? `the policy starts with "${firstFieldLine.name}", not "version"; ${GOOGLE_GUIDE} requires "version: STSv1" on the first line`
        : `the policy starts with "${firstFieldLine.name}", not "version"`,
      'Put "version: STSv1" on the first line: the RFC examples do, and some senders\' parsers expect it.',
    );
  }
  const missing = (field: string, fix: string): void => {
    if (!seen.has(field)) add('error', 'field-missing', undefined, `the "${field}" field is missing (RFC 8461 3.2 requires it)`, fix);
  };
  missing('version', 'Add "version: STSv1" as the first line.');
  missing('mode', 'Add "mode: testing" (switch to enforce once reports show no failures).');
  missing('max_age', 'Add "max_age: 604800" (one week).');
  if (mx.length === 0 && !seen.has('mx') && mode !== 'none') {
    add(
      'error',
      'mx-missing',
      undefined,
      'no "mx" line; every mode except none needs at least one (RFC 8461 3.2)',
      'Add one "mx: <host>" line per MX host of the domain (see "dig MX <domain>"), or "mx: *.<suffix>" for a group.',
    );
  }

  const ok = !problems.some((p) => p.severity === 'error');
  return {
    policy:
      ok && version !== undefined && mode !== undefined && maxAge !== undefined ? { version: 'STSv1', mode, maxAge, mx, extensions } : null,
    problems: problems.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER)),
  };
}

/** RFC 8461 3.2 sts-policy-mx-value = ["*."] Domain, with 4.1 limiting the wildcard to the left-most label. */
export function mxPatternProblem(value: string): { code: Problem['code']; message: string; fix: string } | null {
  if (value === '') return { code: 'mx-invalid', message: 'the pattern is empty', fix: 'Write the MX host name after "mx: ".' };
  const wildcard = value.startsWith('*.');
  const host = wildcard ? value.slice(2) : value;
  if (host.includes('*') || value === '*' || (value.startsWith('*') && !wildcard)) {
    return {
      code: 'mx-wildcard',
      message: 'a wildcard may only be a whole left-most label "*." (RFC 8461 3.2, 4.1)',
      fix: 'Write "*.example.com" to allow any one label before example.com, or list each MX host on its own line.',
    };
  }
  const problem = hostNameProblem(host);
  if (problem) {
    // Decided from the name itself, not from the wording of hostNameProblem's message.
    const unicode = /[^\p{ASCII}]/u.test(host);
    let fix = 'Write the MX host name exactly as in the MX record, without a trailing dot.';
    if (unicode) fix = `Write the A-label form, e.g. "${safeToAscii(host)}" (RFC 8461 3.2).`;
    else if (host.endsWith('.')) fix = `Write "${value.replace(/\.+$/, '')}".`;
    return { code: unicode ? 'mx-u-label' : 'mx-invalid', message: `${problem}`, fix };
  }
  return null;
}

function safeToAscii(host: string): string {
  try {
    return new URL(`http://${host}`).hostname;
  } catch {
    return 'xn--...';
  }
}

/** A value as it may be quoted in a message: control characters made visible, long values cut. */
function show(s: string): string {
  const visible = s.replace(/[\p{Cc}]/gu, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return visible.length > 80 ? `${visible.slice(0, 77)}...` : visible;
}

/** The policy as served text: the generator's form, which parseStsPolicy reads back unchanged. */
export function formatStsPolicy(policy: Pick<StsPolicy, 'mode' | 'maxAge' | 'mx'>): string {
  // LF line ends: the grammar allows LF or CRLF (RFC 8461 3.2, erratum 6253), and LF is what editors keep.
  return ['version: STSv1', `mode: ${policy.mode}`, ...policy.mx.map((m) => `mx: ${m}`), `max_age: ${policy.maxAge}`, ''].join('\n');
}
