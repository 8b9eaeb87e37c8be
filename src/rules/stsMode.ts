/**
 * The mode of an MTA-STS policy as a report quotes it: the one reading behind the alert, `tlsrpt check` and
 * the SQL (function sts_mode() in migrations/definitions/10_rules.sql; test/rules/stsMode.cases.ts holds the
 * cases both sides are run over).
 *
 * RFC 8461 3.2: the policy file is "key: value" lines, "mode: enforce" among them. RFC 8460 4.4 asks the
 * reporter to copy the policy into policy-string, one line per element; some reporters put the whole file
 * in one element, line breaks included. So the elements are read as lines, split at "\n" (a "\r" left
 * before it is white space): the first line whose key is "mode" gives the mode, the first run of
 * non-space characters after the colon, in lower case. No mode line, or one without a value: null.
 * Whether the value is a mode RFC 8461 knows (enforce, testing, none) is for the caller to judge.
 */

/** Written with the same characters as the SQL pattern: ASCII white space only, in both languages. */
const MODE_LINE = /\n[ \t]*mode[ \t]*:[ \t]*([^ \t\n\r\v\f]*)/i;

export function stsMode(policyString: readonly string[]): string | null {
  const value = MODE_LINE.exec(`\n${policyString.join('\n')}`)?.[1];
  return value ? value.toLowerCase() : null;
}

/** The modes RFC 8461 5 defines. */
export const STS_MODES = ['enforce', 'testing', 'none'] as const;
export type KnownStsMode = (typeof STS_MODES)[number];

export function isKnownStsMode(mode: string | null): mode is KnownStsMode {
  return (STS_MODES as readonly (string | null)[]).includes(mode);
}
