/**
 * What the dashboard's Domains and Domain pages show, read through the public views and functions
 * (daily_domain_stats, daily_policy_stats, failure_stats, enforce_readiness_for()) and the query builders of
 * `tlsrpt stats` and `tlsrpt readiness` (src/stats/), so a figure on the page is the figure psql and the CLI
 * give, and the pages get faster with the views. Only two questions the views cannot answer cheaply read the
 * core tables: the list of every policy domain ever reported and each domain's last report.
 */
import type { Pool } from '../db/pool.js';
import { explainResultType } from '../resultTypes.js';
import { buildStatsQuery } from '../stats/buildStatsQuery.js';
import { queryReadiness, type ReadinessOptions, type ReadinessRow } from '../stats/queryReadiness.js';
import { readRollupLag, rollupLagNotice } from '../rollup/rollupLag.js';
import { modeTimeline, type ModeObservation, type ModePeriod } from './modeTimeline.js';

export const DOMAIN_SORTS = [
  'policy_domain',
  'ready',
  'failure_rate',
  'sessions',
  'failed_sessions',
  'reporters',
  'last_report_at',
] as const;
export type DomainSort = (typeof DOMAIN_SORTS)[number];

export interface Thresholds {
  windowDays: number;
  maxFailureRate: number;
  minDays: number;
  minReporters: number;
  /** Count only authenticated reporters towards minReporters (tlsrpt readiness --authenticated-only). */
  authenticatedOnly: boolean;
}

export interface DomainListQuery extends Thresholds {
  /** Substring of the domain name (case-insensitive). */
  q: string;
  ready: boolean | null;
  sort: DomainSort;
  order: 'asc' | 'desc';
  limit: number;
  offset: number;
  /** Judge as if today were this UTC day (YYYY-MM-DD); null = today. */
  asOf: string | null;
}

export interface DomainListRow extends ReadinessRow {
  last_report_at: string | null;
  /** Sessions per day over the window, for the sparkline: [day, successful, failed]. */
  daily: Array<[string, number, number]>;
}

export interface DomainList {
  total: number;
  /** How far the daily totals are behind the stored reports (src/rollup/rollupLag.ts), and the note when it matters. */
  rollup: { lag_seconds: number; waiting: number; notice: string | null };
  window: { from: string; until: string };
  domains: DomainListRow[];
}

/** The UTC day `days` days before `day` (YYYY-MM-DD). */
export function daysBefore(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) - days * 86_400_000).toISOString().slice(0, 10);
}

export function todayUtc(): string {
  return new Date().toISOString().slice(0, 10);
}

/** Every policy domain ever reported, by a loose index scan of policies_domain_idx (one probe per domain). */
export async function allPolicyDomains(pool: Pool): Promise<string[]> {
  const res = await pool.query<{ d: string }>(
    `WITH RECURSIVE d(d) AS (
       (SELECT policy_domain FROM policies WHERE policy_domain IS NOT NULL ORDER BY policy_domain LIMIT 1)
       UNION ALL
       SELECT (SELECT p.policy_domain FROM policies p WHERE p.policy_domain > d.d ORDER BY p.policy_domain LIMIT 1)
       FROM d WHERE d.d IS NOT NULL)
     SELECT d FROM d WHERE d IS NOT NULL`,
  );
  return res.rows.map((r) => r.d);
}

/**
 * The verdicts of every domain, kept for the next page, sort or filter of the same list: the verdict over
 * thousands of domains is the one costly part of the list (a few hundred ms), paging and sorting are not.
 * The key holds the newest report id and the oldest one still waiting to be folded into the daily totals
 * (rollup_queue, src/rollup/), so a report stored or folded since makes a new list; READINESS_CACHE_MS bounds
 * the age of a list otherwise (reports deleted, the day turning).
 */
const READINESS_CACHE_MS = 60_000;
/** Per pool, so that two databases served by one process (tests) never share a list. */
const readinessCaches = new WeakMap<Pool, Map<string, { at: number; rows: Promise<ReadinessRow[]> }>>();

async function allVerdicts(pool: Pool, t: Thresholds, until: string): Promise<ReadinessRow[]> {
  const { newest, waiting } = (
    await pool.query<{ newest: number | null; waiting: number | null }>(
      `SELECT (SELECT max(id) FROM reports) AS newest, (SELECT report_id FROM rollup_queue ORDER BY report_id LIMIT 1) AS waiting`,
    )
  ).rows[0]!;
  const key = JSON.stringify([thresholdOptions(t), until, newest, waiting]);
  let readinessCache = readinessCaches.get(pool);
  if (!readinessCache) readinessCaches.set(pool, (readinessCache = new Map()));
  const now = Date.now();
  for (const [k, v] of readinessCache) if (now - v.at > READINESS_CACHE_MS) readinessCache.delete(k);
  const hit = readinessCache.get(key);
  if (hit) return hit.rows;
  const rows = (async () => {
    const readinessOptions: ReadinessOptions = { ...thresholdOptions(t), asOf: until, domains: await allPolicyDomains(pool) };
    // queryReadiness adds a "no reports in the window" verdict for each listed domain without reports in it.
    return queryReadiness(pool, readinessOptions);
  })();
  if (readinessCache.size >= 16) readinessCache.delete(readinessCache.keys().next().value!);
  readinessCache.set(key, { at: now, rows });
  // A failed query is not kept: the next request tries again.
  rows.catch(() => readinessCache.delete(key));
  return rows;
}

export async function listDomains(pool: Pool, o: DomainListQuery): Promise<DomainList> {
  const until = o.asOf ?? todayUtc();
  const from = daysBefore(until, o.windowDays);
  let rows = [...(await allVerdicts(pool, o, until))];
  const q = o.q.trim().toLowerCase();
  if (q) rows = rows.filter((r) => r.policy_domain.includes(q));
  if (o.ready !== null) rows = rows.filter((r) => r.ready === o.ready);
  const total = rows.length;

  const needsLastReport = o.sort === 'last_report_at';
  const lastReports = needsLastReport
    ? await lastReportTimes(
        pool,
        rows.map((r) => r.policy_domain),
      )
    : null;
  rows.sort(compareBy(o.sort, o.order, lastReports));
  const page = rows.slice(o.offset, o.offset + o.limit);
  const names = page.map((r) => r.policy_domain);
  const last = lastReports ?? (await lastReportTimes(pool, names));
  const daily = await dailyTotals(pool, names, from, until);
  const lag = await readRollupLag(pool);
  return {
    total,
    rollup: { lag_seconds: lag.seconds, waiting: lag.waiting, notice: rollupLagNotice(lag) },
    window: { from, until },
    domains: page.map((r) => ({ ...r, last_report_at: last.get(r.policy_domain) ?? null, daily: daily.get(r.policy_domain) ?? [] })),
  };
}

function thresholdOptions(t: Thresholds) {
  return {
    windowDays: t.windowDays,
    maxFailureRate: t.maxFailureRate,
    minDays: t.minDays,
    minReporters: t.minReporters,
    authenticatedOnly: t.authenticatedOnly,
  };
}

function compareBy(
  sort: DomainSort,
  order: 'asc' | 'desc',
  last: Map<string, string> | null,
): (a: ReadinessRow, b: ReadinessRow) => number {
  const key = (r: ReadinessRow): number | string => {
    switch (sort) {
      case 'policy_domain':
        return r.policy_domain;
      case 'ready':
        return r.ready ? 1 : 0;
      case 'failure_rate':
        return r.failure_rate ?? -1;
      case 'sessions':
        return r.successful_sessions + r.failed_sessions;
      case 'failed_sessions':
        return r.failed_sessions;
      case 'reporters':
        return r.reporters;
      case 'last_report_at':
        return last?.get(r.policy_domain) ?? '';
    }
  };
  const sign = order === 'asc' ? 1 : -1;
  return (a, b) => {
    const ka = key(a);
    const kb = key(b);
    const c = ka < kb ? -1 : ka > kb ? 1 : 0;
    // Ties keep the domain order, whichever way the sort goes.
    return c !== 0 ? c * sign : a.policy_domain < b.policy_domain ? -1 : 1;
  };
}

/** When each domain's most recently stored report arrived (ISO time): reports that stop coming show here. */
async function lastReportTimes(pool: Pool, domains: string[]): Promise<Map<string, string>> {
  if (domains.length === 0) return new Map();
  const res = await pool.query<{ policy_domain: string; stored_at: Date }>(
    `SELECT d.policy_domain, r.stored_at
     FROM unnest($1::text[]) AS d(policy_domain)
     CROSS JOIN LATERAL (SELECT p.report_id FROM policies p WHERE p.policy_domain = d.policy_domain ORDER BY p.report_id DESC LIMIT 1) p
     JOIN reports r ON r.id = p.report_id`,
    [domains],
  );
  return new Map(res.rows.map((r) => [r.policy_domain, r.stored_at.toISOString()]));
}

/** Sessions per day and domain from daily_domain_stats (each session once across policy types). */
async function dailyTotals(
  pool: Pool,
  domains: string[],
  from: string,
  until: string,
): Promise<Map<string, Array<[string, number, number]>>> {
  const out = new Map<string, Array<[string, number, number]>>();
  if (domains.length === 0) return out;
  const res = await pool.query<{ policy_domain: string; day: string; ok: number; failed: number }>(
    `SELECT policy_domain, day::text AS day, sum(successful_sessions)::bigint AS ok, sum(failed_sessions)::bigint AS failed
     FROM daily_domain_stats WHERE policy_domain = ANY($1::text[]) AND day >= $2::date AND day < $3::date
     GROUP BY policy_domain, day ORDER BY policy_domain, day`,
    [domains, from, until],
  );
  for (const r of res.rows) {
    let list = out.get(r.policy_domain);
    if (!list) out.set(r.policy_domain, (list = []));
    list.push([r.day, r.ok, r.failed]);
  }
  return out;
}

export const DAILY_BY = ['reporter', 'policy-type'] as const;
export type DailyBy = (typeof DAILY_BY)[number];

export interface DomainDetailQuery extends Thresholds {
  domain: string;
  /** First UTC day of the charts and tables (the CLI's --since). */
  since: string;
  by: DailyBy;
  asOf: string | null;
}

export interface FailureRow {
  key: string | null;
  failed_sessions: number;
  reporters?: number;
  result_types?: string;
  meaning?: string;
  fix?: string;
}

export interface DomainDetail {
  policy_domain: string;
  since: string;
  readiness: ReadinessRow;
  /** Per day: what `tlsrpt stats --domain D --by day --since S` prints. */
  daily: Array<{
    day: string;
    reporters: number;
    reports: number;
    successful_sessions: number;
    failed_sessions: number;
    failure_rate: number | null;
  }>;
  /** Per day and reporter (daily_domain_stats) or policy type as reported (daily_policy_stats). */
  daily_by: Array<{ day: string; key: string; successful_sessions: number; failed_sessions: number }>;
  failures: {
    result_type: FailureRow[];
    receiving_mx: FailureRow[];
    receiving_ip: FailureRow[];
    sending_ip: FailureRow[];
  };
  modes: ModePeriod[];
}

export async function domainDetail(pool: Pool, o: DomainDetailQuery): Promise<DomainDetail | null> {
  if (!(await isKnownDomain(pool, o.domain))) return null;
  const domains = [o.domain];
  // The verdict of the list (kept by allVerdicts): the same row queryReadiness gives for this domain alone,
  // whose function judges every domain anyway, and free when the user came from the list.
  const readiness = (await allVerdicts(pool, o, o.asOf ?? todayUtc())).find((r) => r.policy_domain === o.domain);
  const day = buildStatsQuery({ by: 'day', domains, since: o.since });
  const resultType = buildStatsQuery({ by: 'result-type', domains, since: o.since });
  const mx = buildStatsQuery({ by: 'mx', domains, since: o.since });
  const [dailyRes, byRes, rtRes, mxRes, recvRes, sendRes, modeRes] = await Promise.all([
    pool.query(day.text, day.values),
    o.by === 'reporter'
      ? pool.query(
          `SELECT day::text AS day, organization_name AS key, sum(successful_sessions)::bigint AS successful_sessions,
                  sum(failed_sessions)::bigint AS failed_sessions
           FROM daily_domain_stats WHERE policy_domain = $1 AND day >= $2::date GROUP BY 1, 2 ORDER BY 1, 2`,
          [o.domain, o.since],
        )
      : pool.query(
          `SELECT day::text AS day, policy_type AS key, sum(successful_sessions)::bigint AS successful_sessions,
                  sum(failed_sessions)::bigint AS failed_sessions
           FROM daily_policy_stats WHERE policy_domain = $1 AND day >= $2::date GROUP BY 1, 2 ORDER BY 1, 2`,
          [o.domain, o.since],
        ),
    pool.query(resultType.text, resultType.values),
    pool.query(mx.text, mx.values),
    failuresBy(pool, 'receiving_ip', o.domain, o.since),
    failuresBy(pool, 'sending_mta_ip', o.domain, o.since),
    pool.query<ModeObservation>(
      `SELECT report_day(r.start_at, r.end_at)::text AS day, r.organization_name, sts_mode(p.policy_string) AS mode
       FROM policies p JOIN reports r ON r.id = p.report_id
       WHERE p.policy_domain = $1 AND p.policy_type = 'sts' AND report_day(r.start_at, r.end_at) >= $2::date
       GROUP BY 1, 2, 3 ORDER BY 1, 2`,
      [o.domain, o.since],
    ),
  ]);
  return {
    policy_domain: o.domain,
    since: o.since,
    readiness: readiness!,
    daily: dailyRes.rows.map(({ policy_domain: _d, ...r }) => r) as DomainDetail['daily'],
    daily_by: byRes.rows as DomainDetail['daily_by'],
    failures: {
      result_type: rtRes.rows.map((r) => {
        const info = explainResultType(r.result_type);
        return { key: r.result_type, failed_sessions: r.failed_sessions, reporters: r.reporters, meaning: info.meaning, fix: info.fix };
      }),
      receiving_mx: mxRes.rows.map((r) => ({
        key: r.receiving_mx_hostname,
        failed_sessions: r.failed_sessions,
        result_types: r.result_types,
      })),
      receiving_ip: recvRes,
      sending_ip: sendRes,
    },
    modes: modeTimeline(modeRes.rows),
  };
}

async function isKnownDomain(pool: Pool, domain: string): Promise<boolean> {
  return ((await pool.query(`SELECT 1 FROM policies WHERE policy_domain = $1 LIMIT 1`, [domain])).rowCount ?? 0) > 0;
}

/** Failed sessions by one address column of failure_stats, most first. */
async function failuresBy(pool: Pool, column: 'receiving_ip' | 'sending_mta_ip', domain: string, since: string): Promise<FailureRow[]> {
  const res = await pool.query<FailureRow>(
    `SELECT ${column} AS key, sum(failed_sessions)::bigint AS failed_sessions,
            string_agg(DISTINCT result_type, ',' ORDER BY result_type) AS result_types
     FROM failure_stats WHERE policy_domain = $1 AND day >= $2::date
     GROUP BY ${column} ORDER BY failed_sessions DESC, key NULLS LAST LIMIT 100`,
    [domain, since],
  );
  return res.rows;
}
