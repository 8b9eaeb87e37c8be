/**
 * The sessions of one report for one policy domain, each counted once: the TypeScript side of the SQL that
 * every total across policy types reads (view report_domain_sessions and function add_to_daily_totals() in
 * migrations/definitions/, with policy_type_precedence() in 10_rules.sql). test/rules/countedSessions.cases.ts
 * holds the cases both sides are run over.
 *
 * A sender that checks both DANE and MTA-STS for a domain reports the same sessions twice, once under
 * "tlsa" and once under "sts" (quirk 5; RFC 8460 4.3 has one "policies" entry per policy evaluated). Adding
 * them up would double the traffic and the failures, so one policy type counts per report and domain: the
 * type with the most sessions (successful + failed, its policies added up); on a tie sts, then tlsa, then
 * no-policy-found, then any other type in alphabetical order. Its totals are taken as the report states them
 * (total-successful-session-count, total-failure-session-count), whatever its failure details add up to
 * (quirk 4: both are kept as sent).
 */

export interface PolicySessions {
  policyType: string;
  successfulSessions: number;
  failedSessions: number;
}

export interface CountedSessions {
  policyType: string;
  successfulSessions: number;
  failedSessions: number;
}

/** The tie order, as SQL function policy_type_precedence() numbers it. */
export const POLICY_TYPE_PRECEDENCE: readonly string[] = ['sts', 'tlsa', 'no-policy-found'];

export function policyTypePrecedence(policyType: string): number {
  const i = POLICY_TYPE_PRECEDENCE.indexOf(policyType);
  return i === -1 ? POLICY_TYPE_PRECEDENCE.length : i;
}

/** The counted type and its sessions; null for a report without policies for the domain. */
export function countedSessions(policies: readonly PolicySessions[]): CountedSessions | null {
  const byType = new Map<string, CountedSessions>();
  for (const p of policies) {
    const t = byType.get(p.policyType) ?? { policyType: p.policyType, successfulSessions: 0, failedSessions: 0 };
    t.successfulSessions += p.successfulSessions;
    t.failedSessions += p.failedSessions;
    byType.set(p.policyType, t);
  }
  let counted: CountedSessions | null = null;
  for (const t of byType.values()) {
    if (!counted || countsBefore(t, counted)) counted = t;
  }
  return counted;
}

function countsBefore(a: CountedSessions, b: CountedSessions): boolean {
  const sessions = a.successfulSessions + a.failedSessions - (b.successfulSessions + b.failedSessions);
  if (sessions !== 0) return sessions > 0;
  const precedence = policyTypePrecedence(a.policyType) - policyTypePrecedence(b.policyType);
  if (precedence !== 0) return precedence < 0;
  return byteOrder(a.policyType, b.policyType) < 0;
}

/**
 * Alphabetical by code unit, as the database compares text under the C collation. Only other types than the
 * three RFC 8460 names reach this, which no sender is known to send; under another collation the two sides
 * may order them differently.
 */
function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
