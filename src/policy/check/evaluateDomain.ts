/**
 * The decisions of `tlsrpt check`, as a pure function of what DNS and the policy host answered: each RFC 8461 /
 * RFC 8460 requirement becomes one finding with a fix. No I/O here, so every case is tested from crafted facts
 * as well as end to end.
 */
import type { CheckFinding, CheckName, CheckStatus } from './checkFinding.js';
import type { PolicyFetch } from './fetchPolicy.js';
import { normaliseHostName } from '../syntax/hostName.js';
import type { DomainRecords, Lookup } from './lookupDomainRecords.js';
import { mxCovered } from '../syntax/matchMxPattern.js';
import { parseStsPolicy, type StsPolicy } from '../syntax/parseStsPolicy.js';
import { parseStsRecord, type StsRecord } from '../syntax/parseStsRecord.js';
import { parseTlsRptRecord } from '../syntax/parseTlsRptRecord.js';
import type { Problem } from '../syntax/problem.js';
import { findOurRua, type OurAddresses } from './ruaTargets.js';

export interface DomainFacts extends DomainRecords {
  domain: string;
  policyFetch: PolicyFetch;
  ours: OurAddresses;
  now: Date;
  /** The resolver that was asked, as messages name it (describeResolver); default "the configured resolver". */
  resolver?: string;
}

export interface DomainEvaluation {
  findings: CheckFinding[];
  /** The published policy as senders read it, when it could be fetched and parsed. */
  policy: StsPolicy | null;
  stsRecord: StsRecord | null;
}

/** Warn this long before the policy host's certificate expires. */
const CERT_EXPIRY_WARNING_DAYS = 14;
const STS_ID_CODES = new Set(['sts-id-invalid', 'sts-id-missing', 'sts-id-duplicate']);
const RESOLVER_FIX = 'See dns-resolver: fix the resolver of this machine, then run the check again.';
/** Fetch failures that follow from not getting the policy host's address. */
const RESOLVER_DEPENDENT_FETCH_FAILURES = new Set<string>(['policy-host-not-found', 'policy-host-unreachable', 'policy-fetch-timeout']);

export function evaluateDomain(facts: DomainFacts): DomainEvaluation {
  const { domain } = facts;
  const findings: CheckFinding[] = [];
  const resolver = facts.resolver ?? 'the configured resolver';

  // The resolver itself did not answer: say so first, and do not blame the domain for what was not checked.
  const resolverFailures = [facts.mx, facts.stsTxt, facts.tlsrptTxt].filter(
    (l): l is Extract<Lookup<unknown>, { status: 'error' }> => l.status === 'error' && l.source === 'resolver',
  );
  if (resolverFailures.length) {
    findings.push({
      check: 'dns-resolver',
      status: 'fail',
      summary: `your local resolver did not answer: ${resolver} gave ${[...new Set(resolverFailures.map((l) => l.code))].join(', ')}, so ${domain} could not be checked`,
      fix: 'This is a problem of this machine, not of the domain: check that the resolver runs and is reachable (DNS_SERVERS, or /etc/resolv.conf when unset), then run the check again.',
    });
  }

  // MX: what the policy's mx patterns must cover.
  const mxHosts = facts.mx.status === 'found' ? facts.mx.value.filter((m) => m.exchange !== '' && m.exchange !== '.') : [];
  if (facts.mx.status === 'error') {
    findings.push(dnsError('mx-records', `MX ${domain}`, facts.mx));
  } else if (facts.mx.status === 'none') {
    findings.push({
      check: 'mx-records',
      status: 'fail',
      summary: `${domain} has no MX record`,
      fix: `Publish the MX records of ${domain}; MTA-STS protects delivery to MX hosts (RFC 8461 4.1).`,
    });
  } else if (!mxHosts.length) {
    findings.push({
      check: 'mx-records',
      status: 'warn',
      summary: `${domain} publishes a null MX (RFC 7505): it receives no mail`,
      fix: 'MTA-STS and TLS reports are pointless for a domain without mail; remove them, or publish real MX records.',
    });
  } else {
    const sorted = [...mxHosts].sort((a, b) => a.priority - b.priority);
    findings.push({
      check: 'mx-records',
      status: 'pass',
      summary: `${sorted.length} MX: ${sorted.map((m) => `${normaliseHostName(m.exchange)} (${m.priority})`).join(', ')}`,
    });
  }

  // _mta-sts TXT (RFC 8461 3.1).
  let stsRecord: StsRecord | null = null;
  if (facts.stsTxt.status === 'error') {
    findings.push(dnsError('sts-record', `TXT _mta-sts.${domain}`, facts.stsTxt));
  } else {
    const v = parseStsRecord(facts.stsTxt.status === 'found' ? facts.stsTxt.value : [], domain);
    stsRecord = v.record;
    const recordProblems = v.problems.filter((p) => !STS_ID_CODES.has(p.code));
    findings.push(fromProblems('sts-record', recordProblems, `_mta-sts.${domain}: "${v.text ?? ''}"`));
    const single =
      v.text !== null &&
      !v.problems.some((p) => p.code === 'sts-record-multiple' || p.code === 'sts-record-missing' || p.code === 'sts-record-syntax') &&
      v.text.startsWith('v=STSv1');
    if (single) {
      const idProblems = v.problems.filter((p) => STS_ID_CODES.has(p.code));
      findings.push(
        fromProblems('sts-id', idProblems, `id "${v.record?.id ?? ''}" is 1-32 letters and digits; change it whenever the policy changes`),
      );
    }
  }

  // _smtp._tls TXT (RFC 8460 3) and our place among its rua targets.
  if (facts.tlsrptTxt.status === 'error') {
    findings.push(dnsError('tlsrpt-record', `TXT _smtp._tls.${domain}`, facts.tlsrptTxt));
  } else {
    const v = parseTlsRptRecord(facts.tlsrptTxt.status === 'found' ? facts.tlsrptTxt.value : [], domain);
    findings.push(fromProblems('tlsrpt-record', v.problems, `_smtp._tls.${domain}: "${v.text ?? ''}"`));
    if (v.record) findings.push(ruaFinding(v.record.rua, facts.ours));
  }

  // The policy host: certificate, HTTP, size, then the policy itself.
  const fetch = facts.policyFetch;
  let policy: StsPolicy | null = null;
  findings.push(...certificateFindings(fetch, domain, facts.now));
  if (!fetch.ok) {
    if (resolverFailures.length && RESOLVER_DEPENDENT_FETCH_FAILURES.has(fetch.failure)) {
      // The policy host's address comes from the same resolver: its failure says nothing about the host.
      findings.push({
        check: 'policy-fetch',
        status: 'warn',
        summary: `${fetch.url} not checked: the resolver did not answer (${fetch.message})`,
        fix: RESOLVER_FIX,
      });
    } else if (fetch.failure !== 'certificate-invalid')
      findings.push({ check: 'policy-fetch', status: 'fail', summary: `${fetch.url}: ${fetch.message}`, fix: fetchFix(fetch, domain) });
  } else {
    const type = (fetch.contentType ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'text/plain') {
      findings.push({
        check: 'policy-fetch',
        status: 'warn',
        summary: `${fetch.url} is served as "${fetch.contentType ?? '(no Content-Type)'}", not text/plain (RFC 8461 3.2)`,
        fix: 'Configure the web server to send "Content-Type: text/plain" for /.well-known/mta-sts.txt; some senders reject other types.',
      });
    } else {
      findings.push({ check: 'policy-fetch', status: 'pass', summary: `fetched ${fetch.body.length} bytes from ${fetch.url}` });
    }
    const v = parseStsPolicy(fetch.body);
    policy = v.policy;
    findings.push(
      fromProblems(
        'policy-syntax',
        v.problems,
        v.policy ? `mode ${v.policy.mode}, max_age ${v.policy.maxAge}, ${v.policy.mx.length} mx pattern(s)` : '',
        (p) => `line ${p.line ?? '-'}: ${p.code}: ${p.message}. Fix: ${p.fix}`,
      ),
    );
  }

  // Every MX must match an mx pattern, or enforcing senders refuse to deliver to it (RFC 8461 4.1, 5).
  if (policy && mxHosts.length) {
    if (policy.mode === 'none') {
      findings.push({
        check: 'mx-coverage',
        status: 'pass',
        summary: 'mode none: the policy withdraws MTA-STS, no MX needs to be covered',
      });
    } else {
      const uncovered = mxHosts.map((m) => normaliseHostName(m.exchange)).filter((h) => !mxCovered(policy!.mx, h));
      const unused = policy.mx.filter((p) => !mxHosts.some((m) => mxCovered([p], m.exchange)));
      if (uncovered.length) {
        findings.push({
          check: 'mx-coverage',
          status: 'fail',
          summary: `MX ${uncovered.join(', ')} ${uncovered.length > 1 ? 'match' : 'matches'} no mx pattern of the policy (${policy.mx.join(', ')})`,
          fix:
            `Add ${uncovered.map((h) => `"mx: ${h}"`).join(', ')} to the policy and change the _mta-sts id. ` +
            (policy.mode === 'enforce'
              ? 'While this lasts, enforcing senders refuse to deliver to that MX.'
              : 'With mode enforce, senders would refuse to deliver to that MX.'),
        });
      } else {
        findings.push({
          check: 'mx-coverage',
          status: 'pass',
          summary: `every MX is covered by an mx pattern`,
          details: unused.length ? [`pattern(s) ${unused.join(', ')} match no current MX (fine for a planned or backup MX)`] : undefined,
        });
      }
    }
  }
  return { findings, policy, stsRecord };
}

function ruaFinding(rua: readonly string[], ours: OurAddresses): CheckFinding {
  const position = findOurRua(rua, ours);
  switch (position.status) {
    case 'first':
      return { check: 'rua-target', status: 'pass', summary: `this deployment (${position.uri}) is the first rua target` };
    case 'listed':
      return {
        check: 'rua-target',
        status: 'warn',
        summary: `this deployment (${position.uri}) is rua target ${position.position} of ${rua.length}; Microsoft sends reports only to the first (${position.first})`,
        fix: `Put ${position.uri} first in the rua list, or publish it alone.`,
      };
    case 'absent':
      return {
        check: 'rua-target',
        status: 'fail',
        summary: `this deployment is not among the rua targets (${rua.join(', ')}), so its reports go elsewhere`,
        fix: `Add ${ours.rua[0] ?? 'your TLSRPT_RUA address'} to the rua field, first in the list.`,
      };
    case 'unknown':
      return {
        check: 'rua-target',
        status: 'warn',
        summary: `cannot tell whether reports reach this deployment: TLSRPT_RUA and ACCEPTED_RECIPIENTS are not set (rua: ${rua.join(', ')})`,
        fix: 'Set TLSRPT_RUA to the address(es) this deployment receives reports at.',
      };
  }
}

function certificateFindings(fetch: PolicyFetch, domain: string, now: Date): CheckFinding[] {
  const host = `mta-sts.${domain}`;
  const verified = fetch.ok || (fetch.failure !== 'certificate-invalid' && fetch.certificate) ? fetch.certificate : null;
  if (verified) {
    const c = verified;
    const expires = c.validTo ? new Date(c.validTo) : null;
    const daysLeft = expires ? Math.floor((expires.getTime() - now.getTime()) / 86_400_000) : null;
    const summary = `valid for ${host}${c.issuer ? `, issued by ${c.issuer}` : ''}${c.validTo ? `, expires ${c.validTo}` : ''}`;
    if (daysLeft !== null && daysLeft < CERT_EXPIRY_WARNING_DAYS) {
      return [
        {
          check: 'policy-host-certificate',
          status: 'warn',
          summary: `${summary} (in ${daysLeft} day${daysLeft === 1 ? '' : 's'})`,
          fix: `Renew the certificate of ${host}; when it expires senders stop reading the policy.`,
        },
      ];
    }
    return [{ check: 'policy-host-certificate', status: 'pass', summary }];
  }
  if (!fetch.ok && fetch.failure === 'certificate-invalid') {
    const c = fetch.certificate;
    const presented = c
      ? `presented: ${c.names.length ? c.names.join(', ') : `CN ${c.subject ?? '?'}`}, issued by ${c.issuer ?? '?'}, valid ${c.validFrom ?? '?'} to ${c.validTo ?? '?'}`
      : undefined;
    return [
      {
        check: 'policy-host-certificate',
        status: 'fail',
        summary: `${host}: ${fetch.message}`,
        fix: certificateFix(fetch.certificateError ?? '', host),
        details: presented ? [presented] : undefined,
      },
    ];
  }
  return [];
}

function certificateFix(code: string, host: string): string {
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return `Get a certificate whose subject alternative names include ${host} and install it on the policy host (SNI for ${host}).`;
  if (code === 'CERT_HAS_EXPIRED') return `Renew the certificate of ${host} and make the web server reload it; automate renewal.`;
  if (code === 'CERT_NOT_YET_VALID')
    return `The certificate of ${host} is not valid yet: check the server clock and the certificate dates.`;
  return `Install a certificate for ${host} from a publicly trusted CA, with the full chain (intermediates included); senders do not accept self-signed or private-CA certificates (RFC 8461 3.3).`;
}

function fetchFix(fetch: Extract<PolicyFetch, { ok: false }>, domain: string): string {
  const host = `mta-sts.${domain}`;
  switch (fetch.failure) {
    case 'policy-host-not-found':
      return `Publish an A/AAAA (or CNAME) record for ${host} pointing at the web server that hosts the policy.`;
    case 'policy-host-unreachable':
    case 'policy-fetch-timeout':
      return `Make ${host} answer HTTPS on port 443 from the internet (firewall, listener, TLS for that name).`;
    case 'policy-redirect':
      return `Serve the policy directly at https://${host}/.well-known/mta-sts.txt with status 200, without redirecting.`;
    case 'policy-http-status':
      return `Serve the policy at https://${host}/.well-known/mta-sts.txt with status 200 (is the file in place, and does the server know the host name ${host}?).`;
    case 'policy-too-large':
      return 'Shrink the policy to its fields (version, mode, mx lines, max_age); it must stay under 64 KB.';
    default:
      return `Check the TLS set-up of ${host}: it must offer TLS 1.2 or later with a certificate for ${host}.`;
  }
}

function dnsError(check: CheckName, what: string, lookup: Extract<Lookup<unknown>, { status: 'error' }>): CheckFinding {
  if (lookup.source === 'resolver') {
    return {
      check,
      status: 'warn',
      summary: `${what} not checked: the resolver did not answer (${lookup.code})`,
      fix: RESOLVER_FIX,
    };
  }
  return {
    check,
    status: 'fail',
    summary: `looking up ${what} failed: ${lookup.code} in the domain's zone (${lookup.message})`,
    fix: "Senders treat a failing lookup like a missing record; check that the zone's name servers answer and its DNSSEC signatures are valid (SERVFAIL).",
  };
}

function fromProblems(
  check: CheckName,
  problems: readonly Problem[],
  okSummary: string,
  detail: (p: Problem) => string = (p) => `${p.code}: ${p.message}. Fix: ${p.fix}`,
): CheckFinding {
  if (!problems.length) return { check, status: 'pass', summary: okSummary };
  const errors = problems.filter((p) => p.severity === 'error');
  const status: CheckStatus = errors.length ? 'fail' : 'warn';
  const first = errors[0] ?? problems[0]!;
  const finding: CheckFinding = { check, status, summary: first.message, fix: first.fix };
  if (problems.length > 1 || first.line !== undefined) finding.details = problems.map(detail);
  return finding;
}
