/**
 * Stores an RFC 8460 report the way the worker does (raw message -> processMessage), for the tests that run
 * a rule's cases through the SQL that reads the stored rows.
 */
import assert from 'node:assert/strict';
import type { Pool } from '../../src/db/pool.js';
import type { PolicySessions } from '../../src/rules/countedSessions.js';
import { processMessage } from '../../src/pipeline/processMessage.js';
import { foldRollups } from '../../src/rollup/foldRollups.js';
import { insertRawMessage } from '../../src/store/rawMessages.js';

export interface ReportPolicy {
  type: string;
  domain: string;
  policyString?: string[];
  ok: number;
  failed: number;
}

let serial = 0;

/** Returns the id of the stored report (table reports). */
export async function storeReport(
  pool: Pool,
  r: { organization?: string; start: string; end: string; policies: ReportPolicy[] },
): Promise<number> {
  const json = {
    'organization-name': r.organization ?? 'Example Reporter',
    'date-range': { 'start-datetime': r.start, 'end-datetime': r.end },
    'contact-info': 'tlsrpt@reporter.example',
    'report-id': `rules-${process.pid}-${++serial}`,
    policies: r.policies.map((p) => ({
      policy: {
        'policy-type': p.type,
        ...(p.policyString ? { 'policy-string': p.policyString } : {}),
        'policy-domain': p.domain,
      },
      summary: { 'total-successful-session-count': p.ok, 'total-failure-session-count': p.failed },
      'failure-details': [],
    })),
  };
  const id = await insertRawMessage(pool, Buffer.from(JSON.stringify(json)), { channel: 'ingest' });
  const result = await processMessage({ pool, reportMaxBytes: 1 << 20, maxAttempts: 1 }, id);
  if (result.outcome !== 'stored') assert.fail(`not stored: ${JSON.stringify(result)}`);
  // Into the daily totals now, as a worker's rollup job would within seconds (src/rollup/).
  await foldRollups(pool);
  return result.reportId;
}

/**
 * Writes a report and its policies with plain INSERTs, as an administrator's own load would: for policy
 * types the pipeline refuses (RFC 8460 4.3 knows three) but the SQL must still rank. One statement, so the
 * report is queued for the rollups with its policies, as the worker's are; then folded into them.
 */
export async function insertReportRows(pool: Pool, r: { day: string; domain: string; policies: PolicySessions[] }): Promise<number> {
  const res = await pool.query<{ id: string }>(
    `WITH raw AS (
       INSERT INTO raw_messages (channel, size_bytes, sha256, raw, status) VALUES ('ingest', 0, '\\x00', '', 'stored') RETURNING id
     ), report AS (
       INSERT INTO reports (raw_message_id, organization_name, report_id, start_at, end_at, payload_sha256, report_json)
       SELECT raw.id, 'Example Reporter', 'rows-' || raw.id, $1::date::timestamp AT TIME ZONE 'UTC', ($1::date + interval '1 day' - interval '1 second') AT TIME ZONE 'UTC',
              '\\x00', '{}'
       FROM raw RETURNING id
     ), policy AS (
       INSERT INTO policies (report_id, policy_index, policy_type, policy_domain, policy_string,
                             total_successful_session_count, total_failure_session_count)
       SELECT report.id, p.i, p.type, $2, '{}', p.ok, p.failed
       FROM report, unnest($3::text[], $4::bigint[], $5::bigint[]) WITH ORDINALITY AS p(type, ok, failed, i)
     )
     SELECT id FROM report`,
    [
      r.day,
      r.domain,
      r.policies.map((p) => p.policyType),
      r.policies.map((p) => p.successfulSessions),
      r.policies.map((p) => p.failedSessions),
    ],
  );
  await foldRollups(pool);
  return Number(res.rows[0]!.id);
}
