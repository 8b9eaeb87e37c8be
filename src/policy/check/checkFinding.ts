/**
 * One line of `tlsrpt check`: a named check (stable kebab-case, README "MTA-STS"), pass / warn / fail, what
 * was found, and for warn and fail what to do about it.
 */
export type CheckStatus = 'pass' | 'warn' | 'fail';

/**
 * Every check `tlsrpt check` runs, with when it fails or warns: the one registry of the family. README
 * "`tlsrpt check DOMAIN`" lists exactly these (test/errors/readmeCodes.test.ts).
 */
export const CHECKS = {
  'dns-resolver':
    'The resolver this tool asks (DNS_SERVERS, or the system resolver) did not answer: nothing about the domain was checked through it.',
  'mx-records': 'The domain has no MX records, has a null MX, or its MX lookup fails.',
  'sts-record': 'There is no v=STSv1 record, there are two, the delimiters are wrong, or a near miss is published.',
  'sts-id': 'The id of the _mta-sts record is missing, repeated, or not 1-32 letters and digits.',
  'tlsrpt-record': 'There is no v=TLSRPTv1 record, there are two, a near miss is published, or a rua is missing or wrong.',
  'rua-target': 'This deployment is not a rua target (fails), or is not the first one (warns).',
  'policy-host-certificate': 'The certificate of mta-sts.DOMAIN is not valid for senders, or expires within 14 days (warns).',
  'policy-fetch': 'The policy cannot be fetched the way senders fetch it, or is served as another type than text/plain (warns).',
  'policy-syntax': 'The fetched policy has a problem (POLICY_PROBLEMS).',
  'mx-coverage': 'An MX host matches no mx: pattern of the policy.',
  'reports-policy': 'A reporter applied a policy that differs from the published one.',
  'reports-mode': 'A reporter applied a mode other than the published one.',
  'reports-mx': 'A failure report names a receiving MX that no published mx: pattern covers.',
} as const;

export type CheckName = keyof typeof CHECKS;

export interface CheckFinding {
  check: CheckName;
  status: CheckStatus;
  summary: string;
  fix?: string;
  /** Further lines: each record or policy problem, each reporter, each uncovered MX. */
  details?: string[];
}
