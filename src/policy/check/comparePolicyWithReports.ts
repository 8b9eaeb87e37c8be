/**
 * What reporters saw versus what is published (pure). RFC 8460 4.3 makes each sts report carry the policy
 * the sender applied as `policy-string` (one line per element), and failure details name the MX it tried.
 * Three questions, one finding each:
 * - reports-policy: is anyone still on a different policy? Senders refetch only when the _mta-sts id changes
 *   (RFC 8461 3.1, 5.1), so an old policy long after a change usually means the id was not bumped.
 * - reports-mode: did anyone apply another mode than the published one (testing vs enforce)?
 * - reports-mx: did senders fail against an MX host that no published mx pattern covers?
 */
import type { CheckFinding } from './checkFinding.js';
import { parseWholeNumber } from '../../rules/wholeNumber.js';
import { stsMode } from '../../rules/stsMode.js';
import { normaliseHostName } from '../syntax/hostName.js';
import { mxCovered } from '../syntax/matchMxPattern.js';
import type { StsPolicy } from '../syntax/parseStsPolicy.js';

/** One reporter's use of one policy string for the domain, summed over the window. */
export interface ReportedPolicy {
  organizationName: string;
  policyString: string[];
  reports: number;
  firstSeen: Date;
  lastSeen: Date;
  successfulSessions: number;
  failedSessions: number;
}

/** Failures one reporter had against one receiving MX host. */
export interface ReportedFailureMx {
  hostname: string;
  organizationName: string;
  failedSessions: number;
  resultTypes: string[];
}

export interface ComparedPolicy extends ReportedPolicy {
  matches: boolean;
  mode: string | null;
  /** Human-readable differences from the published policy, e.g. "mode testing (published: enforce)". */
  differences: string[];
}

export interface PolicyComparison {
  days: number;
  findings: CheckFinding[];
  reported: ComparedPolicy[];
  uncoveredMx: ReportedFailureMx[];
}

export function comparePolicyWithReports(
  domain: string,
  published: StsPolicy,
  reported: readonly ReportedPolicy[],
  failures: readonly ReportedFailureMx[],
  days: number,
): PolicyComparison {
  const compared: ComparedPolicy[] = reported.map((r) => {
    const seen = readPolicyString(r.policyString);
    const differences = differencesFrom(published, seen);
    return { ...r, mode: seen.mode, differences, matches: differences.length === 0 };
  });
  const findings: CheckFinding[] = [];
  const window = `the last ${days} day${days === 1 ? '' : 's'}`;

  if (!compared.length) {
    findings.push({
      check: 'reports-policy',
      status: 'pass',
      summary: `no report in ${window} carries an sts policy for ${domain}; nothing to compare (reporters that delivered no mail send nothing)`,
    });
  } else {
    const stale = compared.filter((c) => !c.matches);
    const orgs = [...new Set(compared.map((c) => c.organizationName))];
    if (!stale.length) {
      findings.push({
        check: 'reports-policy',
        status: 'pass',
        summary: `${orgs.length} reporter(s) in ${window} applied the published policy: ${orgs.join(', ')}`,
      });
    } else {
      findings.push({
        check: 'reports-policy',
        status: 'warn',
        summary: `${[...new Set(stale.map((c) => c.organizationName))].join(', ')} applied a policy that differs from the published one in ${window}`,
        fix:
          'Senders cache a policy for max_age and refetch it only when the _mta-sts id changes: if you changed the policy, publish a new id. ' +
          'Reports dated before the change are expected to show the old policy.',
        details: stale.map((c) => `${c.organizationName}, ${c.reports} report(s), last ${isoDay(c.lastSeen)}: ${c.differences.join('; ')}`),
      });
    }
    const modeDiffers = compared.filter((c) => c.mode !== published.mode);
    if (modeDiffers.length) {
      findings.push({
        check: 'reports-mode',
        status: 'warn',
        summary: `reporters applied mode ${[...new Set(modeDiffers.map((c) => c.mode ?? '(unreadable)'))].join(', ')} while the published mode is ${published.mode}`,
        fix:
          published.mode === 'enforce'
            ? 'Until those senders refetch, they do not enforce TLS: check that the _mta-sts id changed when you switched to enforce.'
            : 'Those senders still apply an older mode: change the _mta-sts id so they refetch the policy.',
        details: modeDiffers.map((c) => `${c.organizationName}: mode ${c.mode ?? '(unreadable)'}, last ${isoDay(c.lastSeen)}`),
      });
    } else {
      findings.push({ check: 'reports-mode', status: 'pass', summary: `every reporter applied mode ${published.mode}` });
    }
  }

  const uncovered = published.mode === 'none' ? [] : failures.filter((f) => !mxCovered(published.mx, f.hostname));
  if (uncovered.length) {
    const hosts = [...new Set(uncovered.map((f) => normaliseHostName(f.hostname)))];
    findings.push({
      check: 'reports-mx',
      status: 'fail',
      summary: `reporters failed delivering to ${hosts.join(', ')}, which no published mx pattern covers (${published.mx.join(', ')})`,
      fix: `If ${hosts.length > 1 ? 'these are' : 'this is'} your MX, add ${hosts.map((h) => `"mx: ${h}"`).join(', ')} to the policy and change the _mta-sts id; if not, remove ${hosts.length > 1 ? 'them' : 'it'} from the MX records.`,
      details: uncovered.map(
        (f) =>
          `${normaliseHostName(f.hostname)}: ${f.failedSessions} failed session(s) reported by ${f.organizationName} (${f.resultTypes.join(', ')})`,
      ),
    });
  } else if (failures.length) {
    findings.push({
      check: 'reports-mx',
      status: 'pass',
      summary: `every MX named in failure reports is covered by the published mx patterns`,
    });
  } else {
    findings.push({ check: 'reports-mx', status: 'pass', summary: `no failure in ${window} names a receiving MX` });
  }
  return { days, findings, reported: compared, uncoveredMx: uncovered };
}

interface SeenPolicy {
  version: string | null;
  mode: string | null;
  maxAge: number | null;
  mx: string[];
}

/**
 * Reads a report's policy-string leniently: reporters differ in whitespace, "\r", empty elements, and one
 * line per element or the whole policy in one. The mode is read by the one sts-mode rule
 * (src/rules/stsMode.ts) that the alert and the SQL use too.
 */
export function readPolicyString(lines: readonly string[]): SeenPolicy {
  const seen: SeenPolicy = { version: null, mode: stsMode(lines), maxAge: null, mx: [] };
  for (const raw of lines.flatMap((l) => l.split(/\r?\n/))) {
    const m = /^\s*([A-Za-z0-9_.-]+)\s*:\s*(.*?)\s*$/.exec(raw);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    const value = m[2]!;
    if (key === 'mx') seen.mx.push(value);
    else if (key === 'version') seen.version ??= value;
    else if (key === 'max_age') seen.maxAge ??= maxAgeOf(value);
  }
  return seen;
}

/**
 * A reported max_age in seconds (RFC 8461 3.2: digits only), or null when it is not a whole number. Any size
 * is read: one above the RFC's year is still a value to compare with the published one.
 */
function maxAgeOf(value: string): number | null {
  const n = parseWholeNumber(value, 0, Number.MAX_SAFE_INTEGER);
  return n.ok ? n.value : null;
}

function differencesFrom(published: StsPolicy, seen: SeenPolicy): string[] {
  if (seen.version === null && seen.mode === null && seen.mx.length === 0) return ['policy-string is empty or unreadable'];
  const out: string[] = [];
  if (seen.mode !== published.mode) out.push(`mode ${seen.mode ?? '(missing)'} (published: ${published.mode})`);
  if (seen.maxAge !== published.maxAge) out.push(`max_age ${seen.maxAge ?? '(missing)'} (published: ${published.maxAge})`);
  const key = (p: string): string => normaliseHostName(p);
  const pub = new Set(published.mx.map(key));
  const rep = new Set(seen.mx.map(key));
  const onlyReported = [...rep].filter((m) => !pub.has(m));
  const onlyPublished = [...pub].filter((m) => !rep.has(m));
  if (onlyReported.length) out.push(`mx ${onlyReported.join(', ')} no longer published`);
  if (onlyPublished.length) out.push(`mx ${onlyPublished.join(', ')} missing`);
  return out;
}

function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}
