/**
 * Evaluation windows in PostgreSQL (migrations/0003): which reports a window covers, and loading a window
 * for evaluateWindow. Every change to a domain's windows happens under a per-domain advisory lock, so a
 * report joining a window and the window being evaluated never interleave, whatever the number of workers.
 */
import type { Pool, PoolClient } from '../../db/pool.js';
import { withTransaction } from '../../db/pool.js';
import type { CooldownState, WindowDetail, WindowReport } from '../decide/evaluateWindow.js';

export interface OpenedWindow {
  windowId: number;
  closesAt: Date;
}

/** The domain key of a policy: RFC 8460 domains are case-insensitive; a missing domain is ''. */
const DOMAIN_OF_POLICY = `lower(coalesce(p.policy_domain, ''))`;

/**
 * Its details are looked up from the policy's month on (migrations/0013: stored with their report, or later
 * by hand, never earlier): PostgreSQL prunes the earlier months as it runs, where a lookup by policy id
 * alone went to every month kept.
 */
const FAILING_POLICY = `(p.total_failure_session_count > 0
  OR EXISTS (SELECT 1 FROM failure_details d WHERE d.policy_id = p.id AND d.stored_at >= p.stored_at))`;

/**
 * ALERT_MAX_REPORT_AGE: a report whose date range ended longer than $N milliseconds before it was stored is
 * history (a backfill, an export of old mail), not news, and joins no window; it still counts in every view.
 * One definition for attaching, the periodic check and the count `tlsrpt ingest` prints. A null limit is none.
 * `r` is the reports row.
 */
function recentEnoughToAlert(maxAgeParam: string): string {
  return `(${maxAgeParam}::float8 IS NULL OR r.end_at >= r.stored_at - ${maxAgeParam}::float8 * interval '1 millisecond')`;
}

/** The advisory-lock key of a domain's windows is hashtextextended(LOCK_KEY_PREFIX || domain, 0). */
const LOCK_KEY_PREFIX = 'tlsrpt-alerts:';

export async function lockDomain(client: PoolClient, domain: string): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`${LOCK_KEY_PREFIX}${domain}`]);
}

/**
 * Puts stored reports into the open window of each of their policy domains. A domain with failed sessions
 * and no open window gets a new one, closing `groupWaitMs` from now; a domain without failures joins an
 * open window (its sessions count in the failure rate) but never opens one. Reports attached together
 * behave as if the failing ones came first: a window opened by one of them is joined by the others of its
 * domain. A report already in a window for a domain is left where it is: that is what keeps a reprocessed
 * report from alerting twice. A report older than `maxReportAgeMs` (recentEnoughToAlert) joins nothing.
 * One transaction and four statements for the whole batch (the worker's hook and the periodic check each
 * attach their reports together), whatever the number of reports and domains.
 * Returns the windows opened, for the caller to schedule their evaluation.
 */
export async function attachReports(
  pool: Pool,
  reportIds: number[],
  groupWaitMs: number,
  maxReportAgeMs: number | null = null,
): Promise<OpenedWindow[]> {
  if (reportIds.length === 0) return [];
  return withTransaction(
    pool,
    async (c) => {
      // Every domain of the batch locked, in domain order, so two batches with domains in common cannot
      // deadlock, and a window being evaluated is never joined meanwhile. (DISTINCT keeps the sorted
      // subquery from being flattened: the locks are taken in its order.)
      await c.query({ ...LOCK_DOMAINS_OF_REPORTS, values: [reportIds] });
      const opened = await c.query<{ id: number; closes_at: Date }>({
        ...ATTACH_REPORTS,
        values: [reportIds, groupWaitMs, maxReportAgeMs],
      });
      return opened.rows.map((r) => ({ windowId: r.id, closesAt: r.closes_at }));
    },
    { keyedLookups: true },
  );
}

/**
 * The policies of the reports i.id = ANY($1), read from the month partition that holds each report only.
 * A report id says nothing about its month (policies are partitioned by stored_at, migrations/0013), so a
 * lookup by report id alone went to every month's index: a year of them and the two created ahead.
 * report_identities (one table, keyed by report id) holds each report's stored_at, and one statement writes
 * a report's identity and policies, so both carry the same now() (src/store/storeReport.ts). Equal to a
 * value from the identity's row, stored_at lets PostgreSQL prune every other month as it runs, report by
 * report, and it stays a condition on the index that starts with report_id. A range on stored_at would not
 * do: to a plan made on statistics gathered while the tables were empty (the retention job's ANALYZE at
 * start-up), an index read of the whole month looks cheap, and such a plan read it for every report.
 * `i` is the report's identity, `p` the policy.
 */
const POLICIES_OF_REPORTS = `report_identities i JOIN policies p ON p.report_id = i.id AND p.stored_at = i.stored_at`;

const LOCK_DOMAINS_OF_REPORTS = {
  name: 'tlsrpt-lock-alert-domains-v2',
  text: `SELECT pg_advisory_xact_lock(hashtextextended('${LOCK_KEY_PREFIX}' || s.domain, 0))
         FROM (SELECT DISTINCT ${DOMAIN_OF_POLICY} AS domain FROM ${POLICIES_OF_REPORTS} WHERE i.id = ANY($1::bigint[]) ORDER BY 1) s`,
};

// Named, so it is planned once per connection: planning this statement costs more than running it.
// The LATERAL ... LIMIT 1 lookups keep the "already attached" and "open window" checks on their indexes;
// written as NOT EXISTS, the planner may hash the whole alert_window_reports table for every batch.
const ATTACH_REPORTS = {
  name: 'tlsrpt-attach-reports-v4',
  text: `
WITH todo AS (
  SELECT p.report_id, ${DOMAIN_OF_POLICY} AS domain, bool_or(${FAILING_POLICY}) AS failing
  FROM ${POLICIES_OF_REPORTS}
  -- The report from its own month, as its policies (POLICIES_OF_REPORTS).
  JOIN reports r ON r.id = p.report_id AND r.stored_at = i.stored_at AND ${recentEnoughToAlert('$3')}
  LEFT JOIN LATERAL (
    SELECT true AS attached FROM alert_window_reports w
    WHERE w.report_id = p.report_id AND w.policy_domain = ${DOMAIN_OF_POLICY} LIMIT 1
  ) a ON true
  WHERE i.id = ANY($1::bigint[]) AND a.attached IS NULL
  GROUP BY 1, 2
), open_window AS (
  SELECT d.domain, w.id
  FROM (SELECT DISTINCT domain FROM todo) d
  CROSS JOIN LATERAL (SELECT id FROM alert_windows aw WHERE aw.policy_domain = d.domain AND aw.evaluated_at IS NULL LIMIT 1) w
), opened AS (
  INSERT INTO alert_windows (policy_domain, closes_at)
  SELECT DISTINCT todo.domain, now() + $2 * interval '1 millisecond' FROM todo
  WHERE todo.failing AND todo.domain NOT IN (SELECT domain FROM open_window)
  RETURNING id, policy_domain, closes_at
), target AS (
  -- One or the other per domain: the statement does not see the windows it opens.
  SELECT id, policy_domain AS domain FROM opened
  UNION ALL
  SELECT id, domain FROM open_window
), attached AS (
  INSERT INTO alert_window_reports (report_id, policy_domain, window_id)
  SELECT todo.report_id, todo.domain, target.id FROM todo JOIN target ON target.domain = todo.domain
  RETURNING 1
)
SELECT id, closes_at FROM opened ORDER BY id`,
};

/**
 * Reports with failed sessions that are in no window: stored while the alert hook could not reach the
 * database. The periodic check attaches them, so no failing report is missed. Only recent ones: reports
 * stored before alerting existed are history, not news; so are reports too old to alert (which would
 * otherwise be listed again on every check, ahead of newer ones).
 */
export async function listUnattachedFailingReports(
  pool: Pool,
  minAgeMs: number,
  maxAgeMs: number,
  maxReportAgeMs: number | null = null,
  limit = 500,
): Promise<number[]> {
  const res = await pool.query<{ id: number }>(
    `SELECT r.id FROM reports r
     WHERE r.stored_at < now() - $1 * interval '1 millisecond'
       AND r.stored_at > now() - $2 * interval '1 millisecond'
       AND ${recentEnoughToAlert('$4')}
       AND EXISTS (
         SELECT 1 FROM policies p
         WHERE p.report_id = r.id AND p.stored_at >= r.stored_at AND ${FAILING_POLICY}
           AND NOT EXISTS (SELECT 1 FROM alert_window_reports w WHERE w.report_id = r.id AND w.policy_domain = ${DOMAIN_OF_POLICY}))
     ORDER BY r.id LIMIT $3`,
    [minAgeMs, maxAgeMs, limit, maxReportAgeMs],
  );
  return res.rows.map((r) => r.id);
}

/** How many of these stored reports are too old to join an alert window (what `tlsrpt ingest` reports). */
export async function countReportsTooOldToAlert(pool: Pool, reportIds: number[], maxReportAgeMs: number | null): Promise<number> {
  if (reportIds.length === 0) return 0;
  const res = await pool.query<{ n: number }>({
    name: 'tlsrpt-count-too-old-to-alert-v1',
    text: `SELECT count(*)::int AS n FROM reports r WHERE r.id = ANY($1::bigint[]) AND NOT ${recentEnoughToAlert('$2')}`,
    values: [reportIds, maxReportAgeMs],
  });
  return res.rows[0]!.n;
}

/** Windows whose evaluation is overdue by `graceMs`: their job was lost (Redis without persistence). */
export async function listOverdueWindows(pool: Pool, graceMs: number): Promise<OpenedWindow[]> {
  const res = await pool.query<{ id: number; closes_at: Date }>(
    `SELECT id, closes_at FROM alert_windows
     WHERE evaluated_at IS NULL AND closes_at < now() - $1 * interval '1 millisecond' ORDER BY id LIMIT 1000`,
    [graceMs],
  );
  return res.rows.map((r) => ({ windowId: r.id, closesAt: r.closes_at }));
}

export interface WindowRow {
  id: number;
  policyDomain: string;
  openedAt: Date;
  closesAt: Date;
  evaluatedAt: Date | null;
}

export async function loadWindow(c: PoolClient, windowId: number, forUpdate = false): Promise<WindowRow | null> {
  const res = await c.query<{ id: number; policy_domain: string; opened_at: Date; closes_at: Date; evaluated_at: Date | null }>(
    `SELECT id, policy_domain, opened_at, closes_at, evaluated_at FROM alert_windows WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
    [windowId],
  );
  const r = res.rows[0];
  return r ? { id: r.id, policyDomain: r.policy_domain, openedAt: r.opened_at, closesAt: r.closes_at, evaluatedAt: r.evaluated_at } : null;
}

/**
 * The window's reports with only the policies (and failure details) of the window's domain; with
 * authenticatedOnly, only the authenticated reports (ALERT_AUTHENTICATED_ONLY): a forged report then cannot
 * raise an alert, and a window with no authenticated report evaluates to no alert.
 */
export async function loadWindowReports(c: PoolClient, windowId: number, authenticatedOnly = false): Promise<WindowReport[]> {
  const rows = (
    await c.query<{
      report_id: number;
      organization_name: string;
      contact_info: string | null;
      start_at: Date;
      end_at: Date;
      policy_id: number;
      policy_type: string;
      policy_string: string[];
      ok: number;
      failed: number;
    }>(
      `SELECT r.id AS report_id, r.organization_name, r.contact_info, r.start_at, r.end_at,
              p.id AS policy_id, p.policy_type, p.policy_string,
              p.total_successful_session_count AS ok, p.total_failure_session_count AS failed
       FROM alert_window_reports w
       JOIN reports r ON r.id = w.report_id
       JOIN policies p ON p.report_id = r.id AND ${DOMAIN_OF_POLICY} = w.policy_domain
       WHERE w.window_id = $1 AND (NOT $2::boolean OR r.authenticated)
       ORDER BY r.id, p.policy_index`,
      [windowId, authenticatedOnly],
    )
  ).rows;
  const details = (
    await c.query<{
      policy_id: number;
      result_type: string;
      sending_mta_ip: string | null;
      receiving_mx_hostname: string | null;
      receiving_ip: string | null;
      failed_session_count: number;
      failure_reason_code: string | null;
      additional_information: string | null;
    }>(
      `SELECT policy_id, result_type, sending_mta_ip, receiving_mx_hostname, receiving_ip, failed_session_count,
              failure_reason_code, additional_information
       FROM failure_details WHERE policy_id = ANY($1::bigint[]) ORDER BY id`,
      [rows.map((r) => r.policy_id)],
    )
  ).rows;
  const detailsByPolicy = new Map<number, WindowDetail[]>();
  for (const d of details) {
    const list = detailsByPolicy.get(d.policy_id) ?? [];
    list.push({
      resultType: d.result_type,
      sendingMtaIp: d.sending_mta_ip,
      receivingMxHostname: d.receiving_mx_hostname,
      receivingIp: d.receiving_ip,
      failedSessions: d.failed_session_count,
      failureReasonCode: d.failure_reason_code,
      additionalInformation: d.additional_information,
    });
    detailsByPolicy.set(d.policy_id, list);
  }
  const reports = new Map<number, WindowReport>();
  for (const r of rows) {
    const report = reports.get(r.report_id) ?? {
      organizationName: r.organization_name,
      contactInfo: r.contact_info,
      startAt: r.start_at,
      endAt: r.end_at,
      policies: [],
    };
    report.policies.push({
      policyType: r.policy_type,
      policyString: r.policy_string,
      successfulSessions: r.ok,
      failedSessions: r.failed,
      details: detailsByPolicy.get(r.policy_id) ?? [],
    });
    reports.set(r.report_id, report);
  }
  return [...reports.values()];
}

/** Per result type, the latest alert for the domain that announced it, from windows opened before `before`. */
export async function loadCooldownHistory(c: PoolClient, domain: string, before: Date): Promise<CooldownState[]> {
  const res = await c.query<{ result_type: string; failed_sessions: number; critical: boolean; opened_at: Date }>(
    `SELECT DISTINCT ON (i.result_type) i.result_type, i.failed_sessions, i.critical, w.opened_at
     FROM alert_items i
     JOIN alerts a ON a.id = i.alert_id
     JOIN alert_windows w ON w.id = a.window_id
     WHERE a.policy_domain = $1 AND i.triggered AND w.opened_at < $2
     ORDER BY i.result_type, w.opened_at DESC`,
    [domain, before],
  );
  return res.rows.map((r) => ({
    resultType: r.result_type,
    alertedAt: r.opened_at,
    failedSessions: r.failed_sessions,
    critical: r.critical,
  }));
}

export async function markWindowEvaluated(c: PoolClient, windowId: number, outcome: string): Promise<void> {
  await c.query(`UPDATE alert_windows SET evaluated_at = now(), outcome = $2 WHERE id = $1`, [windowId, outcome]);
}
