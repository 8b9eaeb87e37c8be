/**
 * `tlsrpt policy generate`: a policy and the two TXT records for a domain, checked by the same validators
 * that `tlsrpt policy validate` and `tlsrpt check` use, so what we print is what we accept.
 */
import { PolicyInputError } from '../policyErrors.js';
import { formatStsPolicy, parseStsPolicy, type StsMode } from '../syntax/parseStsPolicy.js';
import { stsIdFromTime } from '../syntax/parseStsRecord.js';
import { parseTlsRptRecord } from '../syntax/parseTlsRptRecord.js';
import { hostNameProblem, normaliseHostName } from '../syntax/hostName.js';
import type { Problem } from '../syntax/problem.js';

/**
 * Default max_age per mode. Testing: one to two weeks is the usual advice, short enough to move on to
 * enforce soon. Enforce: RFC 8461 3.2 expects "weeks or greater". None: one day, so that senders notice
 * quickly when MTA-STS is switched back on (RFC 8461 8.3 removal publishes mode none first).
 */
export const DEFAULT_MAX_AGE: Record<StsMode, number> = { testing: 604_800, enforce: 1_209_600, none: 86_400 };

export interface GenerateInput {
  domain: string;
  mx: readonly string[];
  mode?: StsMode;
  maxAge?: number;
  rua: readonly string[];
  now: Date;
}

export interface GeneratedPolicy {
  domain: string;
  policyUrl: string;
  policyText: string;
  stsRecord: { name: string; value: string };
  tlsrptRecord: { name: string; value: string };
  /** Warnings from the validators (e.g. a short max_age); errors are thrown instead. */
  warnings: Problem[];
}

export function generatePolicy(input: GenerateInput): GeneratedPolicy {
  const domain = normaliseHostName(input.domain);
  const domainProblem = hostNameProblem(domain);
  if (domainProblem) throw new PolicyInputError('domain-invalid', `--domain "${input.domain}" is not a domain name: ${domainProblem}`);
  if (!input.mx.length) throw new PolicyInputError('mx-missing', 'give at least one --mx host (the targets of "dig MX ' + domain + '")');
  if (!input.rua.length) {
    throw new PolicyInputError('rua-missing', 'no report address: set TLSRPT_RUA (e.g. mailto:tlsrpt@reports.example.com) or pass --rua');
  }
  const mode = input.mode ?? 'testing';
  const maxAge = input.maxAge ?? DEFAULT_MAX_AGE[mode];
  const mx = input.mx.map((m) => m.trim().replace(/\.$/, ''));

  const policyText = formatStsPolicy({ mode, maxAge, mx });
  const validation = parseStsPolicy(policyText);
  const errors = validation.problems.filter((p) => p.severity === 'error');
  if (errors.length) throw new PolicyInputError(errors[0]!.code, errors.map((e) => `${e.message}. ${e.fix}`).join('\n'));

  const tlsrptValue = `v=TLSRPTv1; rua=${input.rua.join(',')}`;
  const tlsrpt = parseTlsRptRecord([tlsrptValue], domain);
  const ruaErrors = tlsrpt.problems.filter((p) => p.severity === 'error');
  if (ruaErrors.length) throw new PolicyInputError(ruaErrors[0]!.code, ruaErrors.map((e) => `${e.message}. ${e.fix}`).join('\n'));

  return {
    domain,
    policyUrl: `https://mta-sts.${domain}/.well-known/mta-sts.txt`,
    policyText,
    stsRecord: { name: `_mta-sts.${domain}`, value: `v=STSv1; id=${stsIdFromTime(input.now)}` },
    tlsrptRecord: { name: `_smtp._tls.${domain}`, value: tlsrptValue },
    warnings: validation.problems,
  };
}
