/**
 * What the policy and record validators, the policy fetch and the MTA-STS commands report. A problem has a
 * stable kebab-case code (the same word in the CLI output, the JSON output and README "MTA-STS"), a message
 * that names the offending text, and a fix. An `error` makes senders ignore or reject the policy or record; a
 * `warning` works but is risky or unusual.
 */
export type Severity = 'error' | 'warning';

/**
 * Every problem code, with what it means: the one registry of the family. README "MTA-STS" lists exactly these
 * codes (test/errors/readmeCodes.test.ts).
 */
export const POLICY_PROBLEMS = {
  // The policy file (RFC 8461 3.2, 3.3).
  'policy-too-large': 'The policy is over 64 KB, and senders may refuse it (RFC 8461 3.3).',
  'policy-empty': 'The policy is empty.',
  'policy-not-utf8': 'The policy is not UTF-8 text.',
  'byte-order-mark': 'The policy starts with a byte-order mark, so its first field is no longer "version".',
  'line-syntax': 'A line is not "name: value": leading whitespace, a comment, a space before the colon, or a stray CR.',
  'blank-line': 'The policy has a blank line; strict senders reject the whole policy.',
  'field-name': 'A field name is misspelt (max-age) or in the wrong case (Mode); senders ignore that line.',
  'field-missing': 'version, mode or max_age is absent.',
  'mx-missing': 'No mx is given while the mode is not none (in a policy, or to "tlsrpt policy generate").',
  'version-invalid': 'The version is not STSv1.',
  'mode-invalid': 'The mode is not testing, enforce or none (case matters).',
  'max-age-invalid': 'max_age is not a number of seconds.',
  'max-age-too-large': 'max_age is above 31557600 (one year).',
  'mx-wildcard': 'A "*" appears anywhere except as a whole left-most label "*.".',
  'mx-invalid': 'An mx value is not a host name (an IP address, a trailing dot, a bad label).',
  'mx-u-label': 'An mx name is Unicode where the A-label (xn--...) is needed.',
  'extension-invalid': 'An extra field has an empty value or one with control characters.',
  'max-age-short': 'max_age is under one day: each refetch gives an attacker a chance to block the policy.',
  'field-duplicate': 'A field other than mx is repeated; senders use only the first.',
  'mx-duplicate': 'The same mx pattern is listed twice.',
  'field-unknown': 'A field that senders ignore.',
  'version-not-first': 'The policy does not start with "version: STSv1".',
  // The _mta-sts TXT record (RFC 8461 3.1).
  'sts-record-missing': 'No TXT record at _mta-sts.DOMAIN begins with "v=STSv1", so senders do not look for a policy.',
  'sts-record-multiple': 'Two or more records begin with "v=STSv1"; senders then assume the domain has no MTA-STS.',
  'sts-record-syntax': 'The record is not "v=STSv1" followed by ";"-separated name=value fields.',
  'sts-version-invalid': 'A near miss such as "v=STSV1" is published; senders discard it.',
  'sts-id-missing': 'The record has no id field.',
  'sts-id-invalid': 'The id is not 1 to 32 letters and digits (e.g. 2024-03-01).',
  'sts-id-duplicate': 'The id field appears twice; senders use the first.',
  // The _smtp._tls TXT record (RFC 8460 3).
  'tlsrpt-record-missing': 'No TXT record at _smtp._tls.DOMAIN begins with "v=TLSRPTv1", so nobody sends you reports.',
  'tlsrpt-record-multiple': 'Two or more records begin with "v=TLSRPTv1"; senders then send no reports.',
  'tlsrpt-version-invalid': 'A near miss such as "v=TSLRPTv1", or a DMARC record, sits where the TLS-RPT record belongs.',
  'tlsrpt-record-syntax': 'The record is not "v=TLSRPTv1" followed by ";"-separated name=value fields.',
  'rua-missing': 'No report address: the record has no rua=, or "tlsrpt policy generate" got neither TLSRPT_RUA nor --rua.',
  'rua-missing-mailto': 'A rua is a bare e-mail address without "mailto:".',
  'rua-scheme-unsupported': 'A rua uses a scheme other than mailto: or https:.',
  'rua-invalid': 'A rua is not a valid mailto: or https: URI.',
  'rua-duplicate': 'The same rua is listed twice.',
  // Fetching the policy the way a sender does (RFC 8461 3.3).
  'policy-url-invalid': 'The URL given to "tlsrpt policy validate" is not a URL.',
  'policy-host-not-found': 'mta-sts.DOMAIN has no A or AAAA record.',
  'policy-host-unreachable': 'The policy host refuses the connection or cannot be reached.',
  'policy-fetch-timeout': 'The policy host did not answer in time.',
  'certificate-invalid': 'The certificate of the policy host is for another name, self-signed, from an untrusted CA or expired.',
  'tls-handshake-failed': 'The TLS handshake with the policy host failed for another reason than its certificate.',
  'policy-redirect': 'The policy host answers with a redirect; senders do not follow it.',
  'policy-http-status': 'The policy host answers with a status other than 200.',
  // The input of the MTA-STS commands.
  'domain-invalid': 'The domain given to "tlsrpt check" or "tlsrpt policy generate --domain" is not a domain name.',
  'policy-unreadable': 'The file given to "tlsrpt policy validate" cannot be read.',
} as const;

export type PolicyProblemCode = keyof typeof POLICY_PROBLEMS;

export interface Problem {
  severity: Severity;
  code: PolicyProblemCode;
  /** 1-based line of a policy file; absent for DNS records and whole-file problems. */
  line?: number;
  message: string;
  fix: string;
}
