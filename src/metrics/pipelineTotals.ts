/**
 * The pipeline's numbers for /metrics (messages by channel and outcome, quarantine reasons, processing
 * delay, reports, sessions by policy domain and result type), read from Postgres when Prometheus scrapes.
 *
 * Why from Postgres and not from in-process counters: receivers and workers may run in separate processes
 * (`tlsrpt receiver`, `tlsrpt http`, several `tlsrpt worker`), and an event counter in one process would
 * see only its own share and restart at zero. The database sees everything, so every process that serves
 * /metrics reports the same totals, whatever the layout and however often processes restart.
 *
 * Why incremental: the tables only grow, so re-aggregating them at every scrape would cost more each day.
 * Rows are folded once into running totals, in id order, through primary-key range scans. Only rows too young
 * to be final are read again at each scrape: messages still pending, and rows younger than FOLD_MARGIN_SECONDS
 * (an id is taken before its transaction commits, so a young row with a lower id may still appear). The first
 * scrape after start folds the whole history once.
 *
 * Limits, by design: a message that is reprocessed after it was folded keeps its first outcome in these
 * totals, and rows deleted later are not subtracted (the series are counters: they never go down).
 */
import type { Pool, PoolClient } from '../db/pool.js';
import { DomainLabels, POLICY_TYPES, policyTypeLabel, quarantineReasonLabel, resultTypeLabel } from './metricLabels.js';

/** Upper bounds of the processing-delay histogram, receipt to settlement (seconds). */
export const DELAY_BUCKETS_SECONDS = [0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600] as const;
/** Rows younger than this are re-read at every scrape rather than folded (see above). */
export const FOLD_MARGIN_SECONDS = 120;

export interface DelayTally {
  /** Cumulative counts, one per DELAY_BUCKETS_SECONDS bound (Prometheus "le"). */
  buckets: number[];
  sum: number;
  count: number;
}

export interface PipelineTotals {
  /** channel -> messages received. */
  received: Map<string, number>;
  /** channel \t outcome (stored, duplicate, conflict, quarantined) -> messages settled. */
  processed: Map<string, number>;
  /** reason -> messages quarantined. */
  quarantined: Map<string, number>;
  /** channel -> delay from receipt to settlement. */
  delay: Map<string, DelayTally>;
  reportsStored: number;
  /** policy_domain \t policy_type \t successful|failed -> sessions, from each policy's summary (RFC 8460 4.3). */
  sessions: Map<string, number>;
  /** policy_domain \t policy_type \t result_type -> failed sessions, from the failure details (RFC 8460 4.3). */
  failedSessions: Map<string, number>;
}

export interface PipelineSnapshot extends PipelineTotals {
  /** channel -> messages stored and not yet settled. */
  pending: Map<string, number>;
  oldestPendingAgeSeconds: number;
}

export interface RawRow {
  channel: string;
  status: string;
  reason: string | null;
  n: number;
  settled: number;
  delay_sum: number;
  le: number[];
}

export interface PolicyRow {
  policy_domain: string | null;
  policy_type: string;
  first: number;
  ok: number;
  failed: number;
}

export interface FailureRow {
  policy_domain: string | null;
  policy_type: string;
  result_type: string;
  first: number;
  n: number;
}

export const key = (...parts: string[]): string => parts.join('\t');

export function emptyTotals(): PipelineTotals {
  return {
    received: new Map(),
    processed: new Map(),
    quarantined: new Map(),
    delay: new Map(),
    reportsStored: 0,
    sessions: new Map(),
    failedSessions: new Map(),
  };
}

export function cloneTotals(t: PipelineTotals): PipelineTotals {
  return {
    received: new Map(t.received),
    processed: new Map(t.processed),
    quarantined: new Map(t.quarantined),
    delay: new Map([...t.delay].map(([k, d]) => [k, { buckets: [...d.buckets], sum: d.sum, count: d.count }])),
    reportsStored: t.reportsStored,
    sessions: new Map(t.sessions),
    failedSessions: new Map(t.failedSessions),
  };
}

function add(map: Map<string, number>, k: string, n: number): void {
  map.set(k, (map.get(k) ?? 0) + n);
}

/** Adds aggregated raw_messages rows (one per channel, status, reason) to `t`. */
export function addRawRows(t: PipelineTotals, rows: readonly RawRow[]): void {
  for (const r of rows) {
    add(t.received, r.channel, r.n);
    if (r.status === 'pending') continue;
    add(t.processed, key(r.channel, r.status), r.n);
    if (r.status === 'quarantined') add(t.quarantined, quarantineReasonLabel(r.reason), r.n);
    const d = t.delay.get(r.channel) ?? { buckets: DELAY_BUCKETS_SECONDS.map(() => 0), sum: 0, count: 0 };
    r.le.forEach((n, i) => (d.buckets[i] = (d.buckets[i] ?? 0) + n));
    d.sum += r.delay_sum;
    d.count += r.settled;
    t.delay.set(r.channel, d);
  }
}

/**
 * Adds aggregated policy and failure-detail rows to `t`. Domains are labelled in the order their first report
 * was stored, so the domains that get a series of their own are the same in every process.
 */
export function addReportRows(
  t: PipelineTotals,
  rows: { reports: number; policies: readonly PolicyRow[]; failures: readonly FailureRow[] },
  labels: DomainLabels,
): void {
  t.reportsStored += rows.reports;
  const firstSeen = new Map<string, number>();
  for (const r of [...rows.policies, ...rows.failures]) {
    if (r.policy_domain === null) continue;
    firstSeen.set(r.policy_domain, Math.min(firstSeen.get(r.policy_domain) ?? Infinity, r.first));
  }
  [...firstSeen].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0])).forEach(([domain]) => labels.label(domain));

  for (const p of rows.policies) {
    const d = labels.label(p.policy_domain);
    const type = policyTypeLabel(p.policy_type);
    add(t.sessions, key(d, type, 'successful'), p.ok);
    add(t.sessions, key(d, type, 'failed'), p.failed);
  }
  for (const f of rows.failures) {
    add(t.failedSessions, key(labels.label(f.policy_domain), policyTypeLabel(f.policy_type), resultTypeLabel(f.result_type)), f.n);
  }
}

/**
 * Up to where raw_messages can be folded: past `mark`, not past the first message still pending (its outcome
 * is not known), and not into rows younger than the margin.
 */
export function rawFoldBoundary(mark: number, firstPending: number | null, lastOldEnough: number | null): number {
  if (lastOldEnough === null) return mark;
  const to = firstPending === null ? lastOldEnough : Math.min(lastOldEnough, firstPending - 1);
  return Math.max(mark, to);
}

/** Zero series for the configured domains, so that alerts see the first failure as an increase. */
export function withConfiguredDomains(t: PipelineTotals, domains: readonly string[]): void {
  for (const d of domains) {
    for (const type of POLICY_TYPES) {
      for (const result of ['successful', 'failed']) {
        const k = key(d, type, result);
        if (!t.sessions.has(k)) t.sessions.set(k, 0);
      }
    }
  }
}

const BOUNDS_SQL = `
SELECT (SELECT min(id) FROM raw_messages WHERE status = 'pending' AND id > $1) AS first_pending,
       (SELECT max(id) FROM raw_messages WHERE id > $1 AND received_at < now() - make_interval(secs => $3)) AS raw_old,
       (SELECT max(id) FROM reports WHERE id > $2 AND stored_at < now() - make_interval(secs => $3)) AS report_old`;

function rawSql(bounded: boolean): string {
  const le = DELAY_BUCKETS_SECONDS.map((b, i) => `count(*) FILTER (WHERE delay <= ${b}) AS le${i}`).join(', ');
  return `
WITH m AS (
  SELECT channel, status, reason,
         CASE WHEN status <> 'pending' THEN extract(epoch FROM processed_at - received_at)::float8 END AS delay
  FROM raw_messages WHERE id > $1 ${bounded ? 'AND id <= $2' : ''}
)
SELECT channel, status, reason, count(*) AS n, count(delay) AS settled, coalesce(sum(delay), 0)::float8 AS delay_sum, ${le}
FROM m GROUP BY channel, status, reason`;
}

function reportSql(bounded: boolean): { reports: string; policies: string; failures: string } {
  const range = (col: string) => `${col} > $1 ${bounded ? `AND ${col} <= $2` : ''}`;
  return {
    reports: `SELECT count(*) AS n FROM reports WHERE ${range('id')}`,
    policies: `
SELECT policy_domain, policy_type, min(report_id) AS first,
       sum(total_successful_session_count)::bigint AS ok, sum(total_failure_session_count)::bigint AS failed
FROM policies WHERE ${range('report_id')} GROUP BY policy_domain, policy_type`,
    failures: `
SELECT p.policy_domain, p.policy_type, d.result_type, min(d.report_id) AS first, sum(d.failed_session_count)::bigint AS n
FROM failure_details d JOIN policies p ON p.id = d.policy_id
WHERE ${range('d.report_id')} GROUP BY p.policy_domain, p.policy_type, d.result_type`,
  };
}

const SQL = {
  rawBounded: rawSql(true),
  rawOpen: rawSql(false),
  reportBounded: reportSql(true),
  reportOpen: reportSql(false),
  pending: `
SELECT channel, count(*) AS n, extract(epoch FROM now() - min(received_at))::float8 AS oldest
FROM raw_messages WHERE status = 'pending' GROUP BY channel`,
};

async function readRaw(c: PoolClient, from: number, to: number | null): Promise<RawRow[]> {
  const res = to === null ? await c.query(SQL.rawOpen, [from]) : await c.query(SQL.rawBounded, [from, to]);
  return res.rows.map((r) => ({
    channel: r.channel,
    status: r.status,
    reason: r.reason,
    n: r.n,
    settled: r.settled,
    delay_sum: r.delay_sum,
    le: DELAY_BUCKETS_SECONDS.map((_, i) => r[`le${i}`] as number),
  }));
}

async function readReports(c: PoolClient, from: number, to: number | null) {
  const sql = to === null ? SQL.reportOpen : SQL.reportBounded;
  const params = to === null ? [from] : [from, to];
  const reports = (await c.query<{ n: number }>(sql.reports, params)).rows[0]?.n ?? 0;
  const policies = (await c.query<PolicyRow>(sql.policies, params)).rows;
  const failures = (await c.query<FailureRow>(sql.failures, params)).rows;
  return { reports, policies, failures };
}

export interface PipelineTally {
  /** Totals as of now. Concurrent calls share one read. */
  snapshot(): Promise<PipelineSnapshot>;
}

export interface PipelineTallyOptions {
  domains: readonly string[];
  maxDomains: number;
  /** Default FOLD_MARGIN_SECONDS. */
  foldMarginSeconds?: number;
}

export function createPipelineTally(pool: Pool, options: PipelineTallyOptions): PipelineTally {
  const margin = options.foldMarginSeconds ?? FOLD_MARGIN_SECONDS;
  const folded = emptyTotals();
  const labels = new DomainLabels(options.domains, options.maxDomains);
  let rawMark = 0;
  let reportMark = 0;
  let inflight: Promise<PipelineSnapshot> | null = null;

  const read = async (): Promise<PipelineSnapshot> => {
    const client = await pool.connect();
    let broken = false;
    try {
      // One snapshot for every query, so the folded and the live parts neither overlap nor leave a gap.
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await client.query(`SET LOCAL statement_timeout = '10s'`);
      const b = (await client.query(BOUNDS_SQL, [rawMark, reportMark, margin])).rows[0];
      const rawTo = rawFoldBoundary(rawMark, b.first_pending, b.raw_old);
      const reportTo = Math.max(reportMark, b.report_old ?? reportMark);
      const rawFold = rawTo > rawMark ? await readRaw(client, rawMark, rawTo) : [];
      const rawLive = await readRaw(client, rawTo, null);
      const reportFold = reportTo > reportMark ? await readReports(client, reportMark, reportTo) : null;
      const reportLive = await readReports(client, reportTo, null);
      const pending = (await client.query<{ channel: string; n: number; oldest: number }>(SQL.pending)).rows;
      await client.query('COMMIT');

      addRawRows(folded, rawFold);
      if (reportFold) addReportRows(folded, reportFold, labels);
      rawMark = rawTo;
      reportMark = reportTo;

      const now = cloneTotals(folded);
      addRawRows(now, rawLive);
      addReportRows(now, reportLive, labels.clone());
      withConfiguredDomains(now, options.domains);
      return {
        ...now,
        pending: new Map(pending.map((p) => [p.channel, p.n])),
        oldestPendingAgeSeconds: Math.max(0, ...pending.map((p) => p.oldest)),
      };
    } catch (err) {
      broken = true;
      await client.query('ROLLBACK').catch(() => {
        // The client is destroyed below (release(true)), which ends the transaction with its connection anyway.
      });
      throw err;
    } finally {
      client.release(broken);
    }
  };

  return {
    snapshot: () =>
      (inflight ??= read().finally(() => {
        inflight = null;
      })),
  };
}
