/**
 * `tlsrpt readiness`: the enforce_readiness_for() SQL function (migrations/definitions/40_readiness.sql, the
 * one definition of its rule and of the wording of its reasons) with the thresholds the command was given,
 * plus a row for every domain asked for by name that has no reports in the window, so a domain that went
 * silent is reported as not ready instead of being left out.
 */
import type { Pool } from '../db/pool.js';
import type { Column } from './formatRows.js';

export interface ReadinessOptions {
  windowDays: number;
  maxFailureRate: number;
  minDays: number;
  minReporters: number;
  /** The window is the windowDays whole UTC days before this day (YYYY-MM-DD); null = today (UTC). */
  asOf: string | null;
  /** Policy domains to judge (lower-case); empty = every domain with reports in the window. */
  domains: readonly string[];
  /** Judge the reporter minimum by authenticated reporters only (README "Authentication (DKIM)"). */
  authenticatedOnly?: boolean;
}

/** Defaults of enforce_readiness_for(); the enforce_readiness view uses the same. */
export const READINESS_DEFAULTS = { windowDays: 14, maxFailureRate: 0.001, minDays: 7, minReporters: 2 } as const;

export interface ReadinessRow {
  policy_domain: string;
  policy_mode: string | null;
  days_with_reports: number;
  reporters: number;
  /** Reporters with an authenticated report for the domain in the window. */
  authenticated_reporters: number;
  successful_sessions: number;
  failed_sessions: number;
  failure_rate: number | null;
  top_result_type: string | null;
  ready: boolean;
  reason: string;
}

export const READINESS_COLUMNS: Column[] = [
  { name: 'policy_domain', kind: 'text' },
  { name: 'policy_mode', kind: 'text' },
  { name: 'ready', kind: 'flag' },
  { name: 'days_with_reports', kind: 'count' },
  { name: 'reporters', kind: 'count' },
  { name: 'successful_sessions', kind: 'count' },
  { name: 'failed_sessions', kind: 'count' },
  { name: 'failure_rate', kind: 'rate' },
  { name: 'top_result_type', kind: 'text' },
  { name: 'reason', kind: 'text' },
];

/** The columns with --authenticated-only: the authenticated reporters beside the reporters. */
export const AUTHENTICATED_READINESS_COLUMNS: Column[] = READINESS_COLUMNS.flatMap((c) =>
  c.name === 'reporters' ? [c, { name: 'authenticated_reporters', kind: 'count' as const }] : [c],
);

export async function queryReadiness(pool: Pool, o: ReadinessOptions): Promise<ReadinessRow[]> {
  const res = await pool.query<ReadinessRow>(
    `SELECT policy_domain, policy_mode, days_with_reports, reporters, authenticated_reporters, successful_sessions,
            failed_sessions, failure_rate::float8 AS failure_rate, top_result_type, ready, reason
     FROM enforce_readiness_for($1::integer, $2::numeric, $3::integer, $4::integer, $5::date, $7::boolean)
     WHERE cardinality($6::text[]) = 0 OR policy_domain = ANY($6::text[])`,
    [o.windowDays, o.maxFailureRate, o.minDays, o.minReporters, o.asOf, o.domains, o.authenticatedOnly ?? false],
  );
  const found = new Set(res.rows.map((r) => r.policy_domain));
  const silent: ReadinessRow[] = o.domains
    .filter((d) => !found.has(d))
    .map((d) => ({
      policy_domain: d,
      policy_mode: null,
      days_with_reports: 0,
      reporters: 0,
      authenticated_reporters: 0,
      successful_sessions: 0,
      failed_sessions: 0,
      failure_rate: null,
      top_result_type: null,
      ready: false,
      reason: `No reports in the last ${o.windowDays} day${o.windowDays === 1 ? '' : 's'}: check the domain's TLS-RPT record (_smtp._tls.${d}) and that reports reach this service.`,
    }));
  return [...res.rows, ...silent].sort((a, b) => (a.policy_domain < b.policy_domain ? -1 : a.policy_domain > b.policy_domain ? 1 : 0));
}
