import { ReportInputError } from '../errors.js';

/**
 * Deepest nesting of arrays and objects a report may have. An RFC 8460 report nests five levels
 * (report > policies > [] > policy > policy-string []); a sender's extensions may add a few. Anything deeper
 * is refused before JSON.parse: a value nested 100,000 levels passes the schema (unknown keys are allowed)
 * and then overflows the stack in JSON.stringify when stored (issue 15 finding 4).
 */
export const MAX_JSON_DEPTH = 64;

/** Report JSON bytes -> value. Strips a UTF-8 byte order mark, which JSON.parse refuses. */
export function parseReportJson(bytes: Buffer): unknown {
  let text = bytes.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const head = text.trimStart().slice(0, 64);
  if (/^<(\?xml|feedback)/i.test(head)) {
    // A DMARC aggregate report sent to the TLS-RPT address (quirk 25).
    throw new ReportInputError('not-a-tls-report', 'the attachment is XML (a DMARC aggregate report?), not a TLS report');
  }
  const tooDeep = openingsAtMost(text, MAX_JSON_DEPTH) ? null : nestingPastLimit(text, MAX_JSON_DEPTH);
  if (tooDeep !== null) {
    throw new ReportInputError(
      'json-too-deep',
      `the report nests arrays or objects more than ${MAX_JSON_DEPTH} levels deep (at position ${tooDeep}); an RFC 8460 report nests five`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    const pos = /position (\d+)/.exec(msg);
    const where = pos ? ` near ${JSON.stringify(text.slice(Math.max(0, Number(pos[1]) - 20), Number(pos[1]) + 20))}` : '';
    throw new ReportInputError('json-invalid', `the report is not valid JSON: ${msg}${where}`, { cause: err });
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/**
 * Whether `text` has at most `limit` opening brackets and braces (inside strings or not), so that it cannot
 * nest deeper than `limit`: most reports, whose depth is then known without nestingPastLimit's pass over
 * every character in JavaScript (indexOf runs natively and stops past the limit).
 */
export function openingsAtMost(text: string, limit: number): boolean {
  let count = 0;
  for (const open of ['{', '[']) {
    for (let i = text.indexOf(open); i >= 0; i = text.indexOf(open, i + 1)) if (++count > limit) return false;
  }
  return true;
}

/**
 * The position where nesting first passes `limit`, or null. One pass, no allocation; brackets inside strings
 * do not count, and strings are skipped by indexOf (natively: most of a report is strings). It does not check
 * the syntax: JSON.parse does that next.
 */
export function nestingPastLimit(text: string, limit: number): number | null {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = closingQuote(text, i);
      if (i < 0) return null; // an unterminated string: JSON.parse names it
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > limit) return i;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return null;
}

/** The position of the quote that closes the string opened at `open`: the next one not escaped; or -1. */
function closingQuote(text: string, open: number): number {
  for (let q = text.indexOf('"', open + 1); q >= 0; q = text.indexOf('"', q + 1)) {
    // Escaped when an odd number of backslashes precede it (the opening quote stops the count).
    let backslashes = 0;
    while (text.charCodeAt(q - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return q;
  }
  return -1;
}
