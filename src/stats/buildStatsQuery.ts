/**
 * `tlsrpt stats` options -> one parameterised query over the public views (migrations/definitions/30_stats_views.sql), so the command
 * prints exactly the numbers a person gets from psql. Pure: no I/O, tested by running its output.
 *
 * Totals across policy types come from daily_domain_stats and failure_stats, which count sessions reported
 * under both tlsa and sts once (quirk 5); only --by policy-type reads daily_policy_stats, per type.
 */
import type { Column } from './formatRows.js';

export const STATS_GROUPINGS = ['domain', 'day', 'reporter', 'policy-type', 'result-type', 'mx'] as const;
export type StatsGrouping = (typeof STATS_GROUPINGS)[number];

export interface StatsOptions {
  by: StatsGrouping;
  /** Policy domains to show (lower-case); empty = all. */
  domains: readonly string[];
  /** First UTC day included, YYYY-MM-DD. */
  since: string;
}

export interface StatsQuery {
  text: string;
  values: unknown[];
  columns: Column[];
}

const RATE = (ok: string, failed: string) =>
  `CASE WHEN ${ok} + ${failed} > 0 THEN round(${failed}::numeric / (${ok} + ${failed}), 6)::float8 END`;

const SESSIONS = `sum(successful_sessions)::bigint AS successful_sessions,
       sum(failed_sessions)::bigint AS failed_sessions,
       ${RATE('sum(successful_sessions)', 'sum(failed_sessions)')} AS failure_rate`;

const SESSION_COLUMNS: Column[] = [
  { name: 'successful_sessions', kind: 'count' },
  { name: 'failed_sessions', kind: 'count' },
  { name: 'failure_rate', kind: 'rate' },
];

export function buildStatsQuery(o: StatsOptions): StatsQuery {
  const values: unknown[] = [o.since];
  let where = `day >= $1::date`;
  if (o.domains.length > 0) {
    values.push(o.domains);
    where += ` AND policy_domain = ANY($2::text[])`;
  }
  switch (o.by) {
    case 'domain':
      return {
        text: `SELECT policy_domain, count(DISTINCT day)::int AS days, count(DISTINCT organization_name)::int AS reporters,
       sum(reports)::bigint AS reports, ${SESSIONS}
FROM daily_domain_stats WHERE ${where}
GROUP BY policy_domain ORDER BY policy_domain NULLS LAST`,
        values,
        columns: [text('policy_domain'), count('days'), count('reporters'), count('reports'), ...SESSION_COLUMNS],
      };
    case 'day':
      return {
        text: `SELECT day::text AS day, policy_domain, count(DISTINCT organization_name)::int AS reporters,
       sum(reports)::bigint AS reports, ${SESSIONS}
FROM daily_domain_stats WHERE ${where}
GROUP BY day, policy_domain ORDER BY day, policy_domain NULLS LAST`,
        values,
        columns: [text('day'), text('policy_domain'), count('reporters'), count('reports'), ...SESSION_COLUMNS],
      };
    case 'reporter':
      return {
        text: `SELECT policy_domain, organization_name, count(DISTINCT day)::int AS days,
       sum(reports)::bigint AS reports, ${SESSIONS}
FROM daily_domain_stats WHERE ${where}
GROUP BY policy_domain, organization_name ORDER BY policy_domain NULLS LAST, organization_name`,
        values,
        columns: [text('policy_domain'), text('organization_name'), count('days'), count('reports'), ...SESSION_COLUMNS],
      };
    case 'policy-type':
      return {
        text: `SELECT policy_domain, policy_type, count(DISTINCT organization_name)::int AS reporters,
       sum(reports)::bigint AS reports, ${SESSIONS}
FROM daily_policy_stats WHERE ${where}
GROUP BY policy_domain, policy_type ORDER BY policy_domain NULLS LAST, policy_type`,
        values,
        columns: [text('policy_domain'), text('policy_type'), count('reporters'), count('reports'), ...SESSION_COLUMNS],
      };
    case 'result-type':
      return {
        text: `SELECT policy_domain, result_type, count(DISTINCT organization_name)::int AS reporters,
       sum(failed_sessions)::bigint AS failed_sessions
FROM failure_stats WHERE ${where}
GROUP BY policy_domain, result_type ORDER BY policy_domain NULLS LAST, failed_sessions DESC, result_type`,
        values,
        columns: [text('policy_domain'), text('result_type'), count('reporters'), count('failed_sessions')],
      };
    case 'mx':
      return {
        text: `SELECT policy_domain, receiving_mx_hostname, sum(failed_sessions)::bigint AS failed_sessions,
       string_agg(DISTINCT result_type, ',' ORDER BY result_type) AS result_types
FROM failure_stats WHERE ${where}
GROUP BY policy_domain, receiving_mx_hostname
ORDER BY policy_domain NULLS LAST, failed_sessions DESC, receiving_mx_hostname NULLS LAST`,
        values,
        columns: [text('policy_domain'), text('receiving_mx_hostname'), count('failed_sessions'), text('result_types')],
      };
  }
}

function text(name: string): Column {
  return { name, kind: 'text' };
}

function count(name: string): Column {
  return { name, kind: 'count' };
}
