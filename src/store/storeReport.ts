/**
 * Stores a decoded report with its policies and failure details, and settles the raw message's state,
 * atomically. Dedupe by (organization_name, report_id) (RFC 8460 4.4: report-id is unique per reporter):
 * - new identity           -> rows written, message `stored`
 * - same identity and data -> nothing written, message `duplicate` (a re-delivery never double-counts)
 * - same identity, new data-> nothing written, message `conflict`; the first report is kept, both raw mails are
 */
import { withTransaction, type Pool, type PoolClient } from '../db/pool.js';
import type { DecodedReport } from '../pipeline/decodeMessage.js';

export type StoreOutcome = 'stored' | 'duplicate' | 'conflict';

export interface StoreResult {
  outcome: StoreOutcome;
  reportId: number;
}

// One statement, so one round trip and atomic without BEGIN/COMMIT: the report row, then its policies
// and failure details read from the report JSON itself, then the raw message's state.
// When the identity already exists, ON CONFLICT makes `r` empty and every dependent insert a no-op.
const INSERT_REPORT = `
WITH r AS (
  INSERT INTO reports (raw_message_id, organization_name, report_id, contact_info, start_at, end_at,
                       payload_sha256, report_json, fixups, tls_report_domain, tls_report_submitter,
                       subject_report_id, attachment_filename)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
  ON CONFLICT (organization_name, report_id) DO NOTHING
  RETURNING id
), src AS (
  -- The policies of the normalised report ($8, RFC 8460 names, shape guaranteed by the schema): Postgres
  -- reads the rows out of the one JSON document, so no second copy of a large report is built in Node.
  SELECT e.value AS e, (e.ordinality - 1)::int AS i
  FROM jsonb_array_elements($8::jsonb -> 'policies') WITH ORDINALITY AS e
), p AS (
  INSERT INTO policies (report_id, policy_index, policy_type, policy_domain, policy_string, mx_host,
                        total_successful_session_count, total_failure_session_count)
  SELECT r.id, src.i,
         src.e -> 'policy' ->> 'policy-type',
         src.e -> 'policy' ->> 'policy-domain',
         ARRAY(SELECT jsonb_array_elements_text(coalesce(src.e -> 'policy' -> 'policy-string', '[]'))),
         ARRAY(SELECT jsonb_array_elements_text(coalesce(src.e -> 'policy' -> 'mx-host', '[]'))),
         (src.e -> 'summary' ->> 'total-successful-session-count')::bigint,
         (src.e -> 'summary' ->> 'total-failure-session-count')::bigint
  FROM r, src
  RETURNING id, policy_index
), d AS (
  INSERT INTO failure_details (policy_id, report_id, result_type, sending_mta_ip, receiving_mx_hostname,
                               receiving_mx_helo, receiving_ip, failed_session_count, additional_information,
                               failure_reason_code)
  SELECT p.id, r.id,
         fd.value ->> 'result-type', fd.value ->> 'sending-mta-ip', fd.value ->> 'receiving-mx-hostname',
         fd.value ->> 'receiving-mx-helo', fd.value ->> 'receiving-ip', (fd.value ->> 'failed-session-count')::bigint,
         fd.value ->> 'additional-information', fd.value ->> 'failure-reason-code'
  FROM r, src
  JOIN p ON p.policy_index = src.i
  CROSS JOIN LATERAL jsonb_array_elements(coalesce(src.e -> 'failure-details', '[]')) WITH ORDINALITY AS fd
  ORDER BY src.i, fd.ordinality -- ids in the order the report lists the details
  RETURNING 1
), m AS (
  UPDATE raw_messages SET status = 'stored', report_id = r.id, processed_at = now(), reason = NULL, detail = NULL
  FROM r WHERE raw_messages.id = $1
  RETURNING 1
)
SELECT id FROM r`;

/** A pool, or a client inside a transaction (storeReports). */
type Queryable = Pool | PoolClient;

export interface StoreItem {
  rawMessageId: number;
  decoded: DecodedReport;
}

/**
 * Several reports in one transaction: one commit (one disk flush) for the batch. If any report fails, the
 * transaction rolls back and each is stored on its own, so one bad report never fails the others and each
 * caller sees its own outcome or error.
 */
export async function storeReports(pool: Pool, items: StoreItem[]): Promise<Array<StoreResult | Error>> {
  if (items.length > 1) {
    try {
      return await withTransaction(pool, async (client) => {
        const out: StoreResult[] = [];
        for (const it of items) out.push(await storeReport(client, it.rawMessageId, it.decoded));
        return out;
      });
    } catch {
      // fall through: one at a time
    }
  }
  return Promise.all(items.map((it) => storeReport(pool, it.rawMessageId, it.decoded).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))))));
}

export async function storeReport(pool: Queryable, rawMessageId: number, decoded: DecodedReport): Promise<StoreResult> {
  const { report } = decoded;
  const inserted = await pool.query<{ id: number }>(INSERT_REPORT, [
    rawMessageId,
    report.organizationName,
    report.reportId,
    report.contactInfo,
    report.startAt,
    report.endAt,
    decoded.payloadSha256,
    JSON.stringify(decoded.normalised),
    decoded.fixups,
    decoded.mail.tlsReportDomain,
    decoded.mail.tlsReportSubmitter,
    decoded.mail.subjectReportId,
    decoded.filename,
  ]);
  if (inserted.rows[0]) return { outcome: 'stored', reportId: inserted.rows[0].id };

  // The identity exists: a re-delivery, or a different report reusing the identity.
  const settled = await pool.query<{ report_id: number; outcome: StoreOutcome }>(
    `WITH existing AS (
       SELECT id, CASE WHEN raw_message_id = $1 THEN 'stored' -- reprocessing the message that stored it
                       WHEN payload_sha256 = $4 THEN 'duplicate' ELSE 'conflict' END AS outcome
       FROM reports WHERE organization_name = $2 AND report_id = $3
     )
     UPDATE raw_messages SET status = existing.outcome, report_id = existing.id, processed_at = now(),
                             reason = NULL,
                             detail = CASE WHEN existing.outcome = 'conflict'
                                           THEN 'a different report with the same organization-name and report-id was stored first; kept the first'
                                      END
     FROM existing WHERE raw_messages.id = $1
     RETURNING existing.id AS report_id, existing.outcome AS outcome`,
    [rawMessageId, report.organizationName, report.reportId, decoded.payloadSha256],
  );
  const row = settled.rows[0];
  if (!row) {
    // The existing report was deleted between the two statements: rare; let the job retry.
    throw new Error(`report (${report.organizationName}, ${report.reportId}) vanished while settling message ${rawMessageId}`);
  }
  return { outcome: row.outcome, reportId: row.report_id };
}
