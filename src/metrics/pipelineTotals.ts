/**
 * The pipeline's numbers for /metrics (messages by channel and outcome, quarantine reasons, processing
 * delay, reports, sessions by policy domain and result type), read from Postgres when Prometheus scrapes.
 *
 * Why from Postgres and not from in-process counters: receivers and workers may run in separate processes
 * (`tlsrpt receiver`, `tlsrpt http`, several `tlsrpt worker`), and an event counter in one process would
 * see only its own share and restart at zero. The database sees everything, so every process that serves
 * /metrics reports the same totals, whatever the layout and however often processes restart.
 *
 * Why at constant cost: a scrape reads running totals that the rollup job of the worker processes keeps in
 * the database (src/rollup/, migrations/0012), plus what that job has not folded yet: the reports still in
 * rollup_queue (a few seconds' worth) and the raw messages past its mark (messages still pending, and rows
 * younger than FOLD_MARGIN_SECONDS: see messageTotals.ts). So the first scrape after a start costs what
 * every other costs, whatever the size of the history, and the totals keep the figures of rows that
 * retention has deleted since.
 *
 * Limits, by design: a message that is reprocessed after it was folded keeps its first outcome in these
 * totals (the series are counters: they never go down).
 */
import { withConnection, type Pool, type PoolClient } from '../db/pool.js';
import { ROLLUP_LAG_SQL } from '../rollup/rollupLag.js';
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
  /** Age of the oldest report not yet folded into the rollups (src/rollup/rollupLag.ts). */
  rollupLagSeconds: number;
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

/** An id that existed at a moment: the newest raw_messages id, on the monotonic clock (ms). */
export interface IdSample {
  at: number;
  id: number;
}

/**
 * Which sample holds the newest id already taken at least `marginMs` before `now` (samples in the order they
 * were taken); -1 when none is that old yet. That row was received before the margin, so the search for the
 * last message old enough to fold can start from it instead of walking back over every younger row.
 */
export function newestOldEnough(samples: readonly IdSample[], now: number, marginMs: number): number {
  let i = -1;
  while (i + 1 < samples.length && samples[i + 1]!.at <= now - marginMs) i++;
  return i;
}

/**
 * Which raw_messages may be folded past `mark` (rawFoldBoundary), in one query: $1 the mark, $2 the margin
 * (seconds), $3 an id at or past the last row old enough (newestOldEnough; the largest bigint when none is
 * known). Without $3 the search for that row walks the primary key back over every row of the margin: at
 * 2,000 messages/s, 240,000 rows a second. $3 only bounds the walk: too high, it walks further; too low,
 * the fold stops short and goes on at the next pass. `newest` is the next sample.
 */
export const RAW_BOUNDS_SQL = `
SELECT (SELECT min(id) FROM raw_messages WHERE status = 'pending' AND id > $1) AS first_pending,
       (SELECT max(id) FROM raw_messages
         WHERE id > $1 AND id <= $3 AND received_at < now() - make_interval(secs => $2)) AS raw_old,
       (SELECT max(id) FROM raw_messages) AS newest`;

/** $3 of RAW_BOUNDS_SQL when no id is known to be old enough: no bound. */
export const NO_ID_BOUND = '9223372036854775807';

/** raw_messages with an id above `from` (and up to `to`: SQL expressions), by channel, status and reason. */
function rawSql(from: string, to: string | null): string {
  const le = DELAY_BUCKETS_SECONDS.map((b, i) => `count(*) FILTER (WHERE delay <= ${b}) AS le${i}`).join(', ');
  return `
WITH m AS (
  SELECT channel, status, reason,
         CASE WHEN status <> 'pending' THEN extract(epoch FROM processed_at - received_at)::float8 END AS delay
  FROM raw_messages WHERE id > ${from} ${to === null ? '' : `AND id <= ${to}`}
)
SELECT channel, status, reason, count(*) AS n, count(delay) AS settled, coalesce(sum(delay), 0)::float8 AS delay_sum, ${le}
FROM m GROUP BY channel, status, reason`;
}

const RAW_BOUNDED_SQL = rawSql('$1', '$2');

/** Each part of a snapshot as a JSON array of rows. */
const rows = (sql: string) => `(SELECT coalesce(json_agg(x), '[]') FROM (${sql}) x)`;

// Everything a scrape reads, in ONE statement: one snapshot, so the folded and the live parts neither
// overlap nor leave a gap, and one round trip, which keeps a scrape quick on a busy machine.
// - the running totals the rollup job keeps (rollup_state, metric_session_totals, metric_failure_totals);
// - the reports stored and not yet folded (rollup_queue: a report is either there or in the totals);
//   deleted reports are not found;
// - the raw messages past the mark of the message totals (src/metrics/messageTotals.ts);
// - the messages pending, and the rollup lag (src/rollup/rollupLag.ts).
const SNAPSHOT_SQL = `
WITH state AS (SELECT reports_stored, message_mark, message_totals FROM rollup_state)
SELECT (SELECT row_to_json(s) FROM state s) AS state,
       ${rows(`SELECT policy_domain, policy_type, first_report_id AS first, successful_sessions AS ok, failed_sessions AS failed
               FROM metric_session_totals`)} AS folded_policies,
       ${rows(`SELECT policy_domain, policy_type, result_type, first_report_id AS first, failed_sessions AS n FROM metric_failure_totals`)}
         AS folded_failures,
       (SELECT count(*) FROM reports WHERE id IN (SELECT report_id FROM rollup_queue)) AS live_reports,
       ${rows(`SELECT policy_domain, policy_type, min(report_id) AS first,
                      sum(total_successful_session_count)::bigint AS ok, sum(total_failure_session_count)::bigint AS failed
               FROM policies WHERE report_id IN (SELECT report_id FROM rollup_queue) GROUP BY policy_domain, policy_type`)} AS live_policies,
       ${rows(`SELECT p.policy_domain, p.policy_type, d.result_type, min(d.report_id) AS first, sum(d.failed_session_count)::bigint AS n
               FROM failure_details d JOIN policies p ON p.id = d.policy_id
               WHERE d.report_id IN (SELECT report_id FROM rollup_queue) GROUP BY p.policy_domain, p.policy_type, d.result_type`)}
         AS live_failures,
       ${rows(rawSql('coalesce((SELECT message_mark FROM state), 0)', null))} AS raw_live,
       ${rows(`SELECT channel, count(*) AS n, extract(epoch FROM now() - min(received_at))::float8 AS oldest
               FROM raw_messages WHERE status = 'pending' GROUP BY channel`)} AS pending,
       (SELECT row_to_json(l) FROM (${ROLLUP_LAG_SQL}) l) AS lag`;

/** A row of rawSql(): the histogram's buckets in columns le0, le1, ... */
interface RawSqlRow extends Omit<RawRow, 'le'> {
  [le: `le${number}`]: number;
}

function rawRow(r: RawSqlRow): RawRow {
  return {
    channel: r.channel,
    status: r.status,
    reason: r.reason,
    n: r.n,
    settled: r.settled,
    delay_sum: r.delay_sum,
    le: DELAY_BUCKETS_SECONDS.map((_, i) => r[`le${i}`] ?? 0),
  };
}

/** raw_messages with an id above `from` and up to `to`, aggregated by channel, status and reason. */
export async function readRaw(c: PoolClient, from: number, to: number): Promise<RawRow[]> {
  const res = await c.query<RawSqlRow>(RAW_BOUNDED_SQL, [from, to]);
  return res.rows.map(rawRow);
}

interface SnapshotRow {
  state: { reports_stored: number; message_mark: number; message_totals: unknown } | null;
  folded_policies: PolicyRow[];
  folded_failures: FailureRow[];
  live_reports: number;
  live_policies: PolicyRow[];
  live_failures: FailureRow[];
  raw_live: RawSqlRow[];
  pending: Array<{ channel: string; n: number; oldest: number }>;
  lag: { lag: number; waiting: number } | null;
}

export interface PipelineTally {
  /** Totals as of now. Concurrent calls share one read. */
  snapshot(): Promise<PipelineSnapshot>;
}

export interface PipelineTallyOptions {
  domains: readonly string[];
  maxDomains: number;
}

export function createPipelineTally(pool: Pool, options: PipelineTallyOptions): PipelineTally {
  let inflight: Promise<PipelineSnapshot> | null = null;

  const read = (): Promise<PipelineSnapshot> =>
    withConnection(pool, async (client) => {
      // One round trip: the statement timeout applies to this read only.
      const results = (await client.query(
        `BEGIN READ ONLY; SET LOCAL statement_timeout = '10s'; ${SNAPSHOT_SQL}; COMMIT`,
      )) as unknown as Array<{ rows: SnapshotRow[] }>;
      const row = results[2]!.rows[0]!;
      const now = decodeMessageTotals(row.state?.message_totals);
      addRawRows(now, row.raw_live.map(rawRow));
      addReportRows(
        now,
        {
          reports: (row.state?.reports_stored ?? 0) + row.live_reports,
          policies: [...row.folded_policies, ...row.live_policies],
          failures: [...row.folded_failures, ...row.live_failures],
        },
        new DomainLabels(options.domains, options.maxDomains),
      );
      withConfiguredDomains(now, options.domains);
      return {
        ...now,
        pending: new Map(row.pending.map((p) => [p.channel, p.n])),
        oldestPendingAgeSeconds: Math.max(0, ...row.pending.map((p) => p.oldest)),
        rollupLagSeconds: Math.max(0, row.lag?.lag ?? 0),
      };
    });

  return {
    snapshot: () =>
      (inflight ??= read().finally(() => {
        inflight = null;
      })),
  };
}

/** The JSON kept in rollup_state.message_totals: the raw-message part of PipelineTotals. */
export interface MessageTotalsJson {
  received: Record<string, number>;
  processed: Record<string, number>;
  quarantined: Record<string, number>;
  delay: Record<string, DelayTally>;
}

export function encodeMessageTotals(t: PipelineTotals): MessageTotalsJson {
  return {
    received: Object.fromEntries(t.received),
    processed: Object.fromEntries(t.processed),
    quarantined: Object.fromEntries(t.quarantined),
    delay: Object.fromEntries(t.delay),
  };
}

/** Totals holding the raw-message part of `json` (empty when NULL: nothing folded yet). */
export function decodeMessageTotals(json: unknown): PipelineTotals {
  const t = emptyTotals();
  if (json === null || json === undefined) return t;
  const j = json as MessageTotalsJson;
  for (const [k, n] of Object.entries(j.received ?? {})) t.received.set(k, n);
  for (const [k, n] of Object.entries(j.processed ?? {})) t.processed.set(k, n);
  for (const [k, n] of Object.entries(j.quarantined ?? {})) t.quarantined.set(k, n);
  for (const [k, d] of Object.entries(j.delay ?? {})) {
    // Buckets by position: a change of DELAY_BUCKETS_SECONDS needs the totals folded again from the start
    // (refresh_daily_totals() resets them; retention's deleted rows are then no longer counted).
    t.delay.set(k, { buckets: DELAY_BUCKETS_SECONDS.map((_, i) => d.buckets[i] ?? 0), sum: d.sum, count: d.count });
  }
  return t;
}
