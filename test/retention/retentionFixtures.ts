/**
 * Reports for the retention tests: stored through the worker's own path (mail -> decodeMessage ->
 * storeReports), then, where a test needs history, moved to the month they would have been stored in.
 */
import type { Pool } from '../../src/db/pool.js';
import { decodeMessage } from '../../src/pipeline/decodeMessage.js';
import { insertRawMessage } from '../../src/store/rawMessages.js';
import { storeReports, type StoreItem, type StoreResult } from '../../src/store/storeReport.js';
import { buildReportMail } from '../helpers/reportMail.js';

export interface ReportSpec {
  org: string;
  reportId: string;
  /** The report's UTC day, "YYYY-MM-DD". */
  day: string;
  domain: string;
  ok: number;
  /** Failed sessions by result type. */
  failures: Record<string, number>;
  /** sts policy mode, quoted in policy-string. */
  mode?: string;
}

export function reportJson(s: ReportSpec): unknown {
  const details = Object.entries(s.failures).map(([type, n], i) => ({
    'result-type': type,
    'sending-mta-ip': `198.51.100.${i + 1}`,
    'receiving-mx-hostname': `mx.${s.domain}`,
    'receiving-ip': `192.0.2.${i + 1}`,
    'failed-session-count': n,
  }));
  const failed = details.reduce((sum, d) => sum + d['failed-session-count'], 0);
  return {
    'organization-name': s.org,
    'date-range': { 'start-datetime': `${s.day}T00:00:00Z`, 'end-datetime': `${s.day}T23:59:59Z` },
    'contact-info': `tlsrpt@${s.org.toLowerCase().replace(/\W/g, '')}.example`,
    'report-id': s.reportId,
    policies: [
      {
        policy: {
          'policy-type': 'sts',
          'policy-string': ['version: STSv1', `mode: ${s.mode ?? 'testing'}`, `mx: mx.${s.domain}`, 'max_age: 86400'],
          'policy-domain': s.domain,
          'mx-host': [`mx.${s.domain}`],
        },
        summary: { 'total-successful-session-count': s.ok, 'total-failure-session-count': failed },
        ...(details.length > 0 ? { 'failure-details': details } : {}),
      },
    ],
  };
}

export function reportMail(s: ReportSpec): Buffer {
  const submitter = `${s.org.toLowerCase().replace(/\W/g, '')}.example`;
  return buildReportMail({ report: reportJson(s), policyDomain: s.domain, submitter, reportId: s.reportId });
}

/** Receives and stores each report as the worker does; returns each message's id and outcome. */
export async function storeSpecs(pool: Pool, specs: ReportSpec[]): Promise<Array<{ rawMessageId: number } & StoreResult>> {
  const items: StoreItem[] = [];
  for (const s of specs) {
    const raw = reportMail(s);
    items.push({
      rawMessageId: await insertRawMessage(pool, raw, { channel: 'ingest' }),
      decoded: await decodeMessage(raw, { reportMaxBytes: 1 << 20 }),
    });
  }
  const results = await storeReports(pool, items);
  return results.map((r, i) => {
    if (r instanceof Error) throw r;
    return { rawMessageId: items[i]!.rawMessageId, ...r };
  });
}

/**
 * Files reports (and their messages) as stored/received at `at`: their rows move to that month's
 * partitions, as if they had arrived then.
 */
export async function moveToPast(pool: Pool, reportIds: number[], rawMessageIds: number[], at: string): Promise<void> {
  await pool.query(
    `SELECT create_month_partition(t::regclass, $1::date) FROM unnest(ARRAY['reports', 'policies', 'failure_details']) AS t`,
    [at],
  );
  for (const table of ['failure_details', 'policies']) {
    await pool.query(`UPDATE ${table} SET stored_at = $2 WHERE report_id = ANY ($1::bigint[])`, [reportIds, at]);
  }
  await pool.query(`UPDATE reports SET stored_at = $2 WHERE id = ANY ($1::bigint[])`, [reportIds, at]);
  await pool.query(`UPDATE report_identities SET stored_at = $2 WHERE id = ANY ($1::bigint[])`, [reportIds, at]);
  await pool.query(`UPDATE raw_messages SET received_at = $2 WHERE id = ANY ($1::bigint[])`, [rawMessageIds, at]);
}

/**
 * Folds stored reports into the daily totals where this version folds them in a job (a rollup queue)
 * rather than in the write; a no-op where triggers keep the totals.
 */
export async function foldRollups(pool: Pool): Promise<void> {
  const fold = await pool.query<{ f: string | null }>(`SELECT to_regprocedure('fold_rollups(integer)') AS f`);
  if (!fold.rows[0]?.f) return;
  for (let i = 0; i < 100; i++) {
    const left = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM rollup_queue`);
    if (left.rows[0]!.n === 0) return;
    await pool.query(`SELECT fold_rollups(10000)`);
  }
  throw new Error('the rollup queue did not empty');
}

/** Every row of a query, as JSON text, in a stable order: for before/after equality. */
export async function rowsOf(pool: Pool, sql: string, values: unknown[] = []): Promise<string[]> {
  const res = await pool.query(sql, values);
  return res.rows.map((r) => JSON.stringify(r)).sort();
}
