/**
 * Stores decoded reports with their policies and failure details, and settles each raw message's state,
 * atomically. Dedupe by (organization_name, report_id) (RFC 8460 4.4: report-id is unique per reporter):
 * - new identity           -> rows written, message `stored`
 * - same identity and data -> nothing written, message `duplicate` (a re-delivery never double-counts)
 * - same identity, new data-> nothing written, message `conflict`; the first report is kept, both raw mails are
 * A duplicate may complete the stored report with what only this copy says (README "Authentication (DKIM)"),
 * so that the stored figures do not depend on which copy came first: a policy domain recovered from the
 * mail's TLS-Report-Domain header when the stored copy (an HTTPS POST, say) lacked it, the mail headers, and
 * an authentication the stored copy did not have. Each copy keeps what its own verification found
 * (raw_messages.authentication).
 * Each is the `settle` transition of ./messageState.ts: only a message still pending is settled, and one that
 * another process settled or quarantined first gets MessageStateChanged (and no report rows are written).
 */
import type { Pool, PoolClient } from '../db/pool.js';
import { isServiceOutage } from '../errors.js';
import type { DecodedReport } from '../pipeline/decodeMessage.js';
import { sqlLeaving, stateChanged } from './messageState.js';

export type StoreOutcome = 'stored' | 'duplicate' | 'conflict';

export interface StoreResult {
  outcome: StoreOutcome;
  reportId: number;
}

export interface StoreItem {
  rawMessageId: number;
  decoded: DecodedReport;
}

/**
 * A pool, or a client outside any transaction: each statement commits on its own, which the fallback of
 * storeReports relies on (inside a failed transaction every retry would fail too).
 */
type Queryable = Pool | PoolClient;

// One statement for a whole batch of reports, so one round trip and one commit (one WAL flush) however many
// reports it holds, and atomic without BEGIN/COMMIT. $1 is a JSON array with one element per report: its
// metadata and the normalised report (RFC 8460 names, shape guaranteed by the schema). Postgres reads the
// policy and failure-detail rows out of that one document, so Node builds no per-row parameters and no
// second copy of a large report. Reports whose identity already exists (or repeats within the batch) are
// skipped by ON CONFLICT, and every dependent insert skips them too; they are settled by SETTLE_EXISTING.
// Only messages still pending are stored: their rows are locked first (FOR UPDATE waits for a concurrent
// transition and then sees its result), so no report is written for a message that another process settled
// or quarantined meanwhile. Those come back with a null id. The sort of the reports INSERT reads every item
// first, so all the locks are held before the first report row is written. The batch's messages are found
// by key (= ANY of an array): written IN (SELECT ...), the plan read every pending message for each batch,
// a cost that grew with the backlog (test/store/keyedLookups.test.ts).
// Prepared once per connection (named): the plan of this statement costs more than executing it for a
// small report.
const INSERT_REPORTS = {
  name: 'tlsrpt-insert-reports-v8',
  text: `
WITH input AS (
  SELECT x.value AS v, (x.value ->> 'rawMessageId')::bigint AS raw_message_id, x.ordinality AS k
  FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x
), live AS (
  SELECT id FROM raw_messages
  WHERE id = ANY (ARRAY(SELECT raw_message_id FROM input)) AND ${sqlLeaving('settle')}
  ORDER BY id -- locked in one order: two batches holding one message wait for each other, never deadlock
  FOR UPDATE
), item AS (
  -- The report id of each live message, drawn in batch order (a copy found to be a duplicate leaves a gap).
  SELECT input.*, nextval('reports_id_seq') AS new_id
  FROM input JOIN live ON live.id = input.raw_message_id
  ORDER BY input.k
), ident AS (
  -- Dedupe against every report ever stored, pruned or not (report_identities, migrations/0013).
  INSERT INTO report_identities (id, organization_name, report_id, payload_sha256, raw_message_id)
  SELECT new_id, v ->> 'organizationName', v ->> 'reportId', decode(v ->> 'payloadSha256', 'hex'), raw_message_id
  FROM item
  -- In identity order: two statements inserting the same identities (copies of a report in two workers'
  -- batches) then wait for each other in one order and cannot deadlock. Within a batch the first copy wins.
  ORDER BY v ->> 'organizationName', v ->> 'reportId', k
  ON CONFLICT (organization_name, report_id) DO NOTHING
  RETURNING id
), r AS (
  INSERT INTO reports (id, raw_message_id, organization_name, report_id, contact_info, start_at, end_at,
                       payload_sha256, report_json, fixups, tls_report_domain, tls_report_submitter,
                       subject_report_id, attachment_filename, authenticated, authenticated_by)
  SELECT item.new_id, item.raw_message_id, v ->> 'organizationName', v ->> 'reportId', v ->> 'contactInfo',
         (v ->> 'startAt')::timestamptz, (v ->> 'endAt')::timestamptz, decode(v ->> 'payloadSha256', 'hex'),
         v -> 'report', ARRAY(SELECT jsonb_array_elements_text(v -> 'fixups')), v ->> 'tlsReportDomain',
         v ->> 'tlsReportSubmitter', v ->> 'subjectReportId', v ->> 'attachmentFilename',
         coalesce((v -> 'authentication' ->> 'authenticated')::boolean, false), v -> 'authentication' ->> 'authenticatedBy'
  FROM item
  WHERE item.new_id IN (SELECT id FROM ident)
  ORDER BY item.new_id
  RETURNING id, raw_message_id
), src AS (
  SELECT item.new_id AS report_id, e.value AS e, (e.ordinality - 1)::int AS i
  FROM item
  CROSS JOIN LATERAL jsonb_array_elements(item.v -> 'report' -> 'policies') WITH ORDINALITY AS e
  WHERE item.new_id IN (SELECT id FROM r)
), p AS (
  INSERT INTO policies (report_id, policy_index, policy_type, policy_domain, policy_string, mx_host,
                        total_successful_session_count, total_failure_session_count)
  SELECT src.report_id, src.i,
         src.e -> 'policy' ->> 'policy-type',
         src.e -> 'policy' ->> 'policy-domain',
         ARRAY(SELECT jsonb_array_elements_text(coalesce(src.e -> 'policy' -> 'policy-string', '[]'))),
         ARRAY(SELECT jsonb_array_elements_text(coalesce(src.e -> 'policy' -> 'mx-host', '[]'))),
         (src.e -> 'summary' ->> 'total-successful-session-count')::bigint,
         (src.e -> 'summary' ->> 'total-failure-session-count')::bigint
  FROM src
  ORDER BY src.report_id, src.i
  RETURNING id, report_id, policy_index
), d AS (
  INSERT INTO failure_details (policy_id, report_id, result_type, sending_mta_ip, receiving_mx_hostname,
                               receiving_mx_helo, receiving_ip, failed_session_count, additional_information,
                               failure_reason_code)
  SELECT p.id, p.report_id,
         fd.value ->> 'result-type', fd.value ->> 'sending-mta-ip', fd.value ->> 'receiving-mx-hostname',
         fd.value ->> 'receiving-mx-helo', fd.value ->> 'receiving-ip', (fd.value ->> 'failed-session-count')::bigint,
         fd.value ->> 'additional-information', fd.value ->> 'failure-reason-code'
  FROM src
  JOIN p ON p.report_id = src.report_id AND p.policy_index = src.i
  CROSS JOIN LATERAL jsonb_array_elements(coalesce(src.e -> 'failure-details', '[]')) WITH ORDINALITY AS fd
  ORDER BY p.report_id, src.i, fd.ordinality -- ids in the order the report lists the details
  RETURNING 1
), m AS (
  UPDATE raw_messages SET status = 'stored', report_id = item.new_id, processed_at = now(), reason = NULL, detail = NULL,
                          authentication = item.v -> 'authentication'
  FROM item
  -- By key, as live: joined to item instead, the plan may read every pending message to find the batch's
  -- (the statistics of a table analyzed before a backlog say there are none).
  WHERE raw_messages.id = ANY (ARRAY(SELECT raw_message_id FROM item WHERE new_id IN (SELECT id FROM r)))
    AND raw_messages.id = item.raw_message_id
    AND ${sqlLeaving('settle', 'raw_messages.status')}
  RETURNING 1
)
SELECT raw_message_id, id FROM r
UNION ALL
SELECT raw_message_id, NULL FROM input WHERE raw_message_id NOT IN (SELECT id FROM live)`,
};

// The identity exists: a re-delivery, or a different report reusing the identity (or the message that
// stored it, being reprocessed). Settles the message only if it is still pending. A duplicate (the same
// report JSON) then completes the stored report, in the same statement, with what this copy adds:
// - $6, this copy's normalised report, given only when a fix-up recovered a policy domain from the mail
//   (quirk 8): each stored policy without a domain gets this copy's, and report_json becomes this copy's,
//   which is what the report would hold had this copy come first. The rollups do not see an UPDATE
//   (migrations/0012), so the report's day goes into rollup_refresh_days (migrations/0014) in the same
//   statement, and the next fold recomputes that day: the daily totals, the stats and readiness then hold
//   what they would had this copy come first, whether the report was folded before or not;
// - the mail headers the stored copy did not have (an HTTPS POST has none), and the fix-ups it did not make;
// - authentication: authenticated when either copy is, by the least name of the two, so that the order in
//   which copies arrive does not change the row.
// A report whose month was pruned (its identity outlives it, migrations/0013) has no rows left to complete.
const SETTLE_EXISTING = {
  name: 'tlsrpt-settle-existing-v6',
  text: `
WITH existing AS (
  SELECT id, CASE WHEN raw_message_id = $1 THEN 'stored' -- reprocessing the message that stored it
                  WHEN payload_sha256 = $4 THEN 'duplicate' ELSE 'conflict' END AS outcome
  FROM report_identities WHERE organization_name = $2 AND report_id = $3
), settled AS (
  UPDATE raw_messages SET status = existing.outcome, report_id = existing.id, processed_at = now(),
                          reason = NULL,
                          detail = CASE WHEN existing.outcome = 'conflict'
                                        THEN 'a different report with the same organization-name and report-id was stored first; kept the first'
                                   END,
                          authentication = $5::jsonb
  FROM existing WHERE raw_messages.id = $1 AND ${sqlLeaving('settle', 'raw_messages.status')}
  RETURNING existing.id AS report_id, existing.outcome AS outcome
), completing AS (
  SELECT s.report_id FROM settled s WHERE s.outcome = 'duplicate'
), completed_policies AS (
  UPDATE policies p SET policy_domain = x.domain
  FROM completing c,
       (SELECT (e.ordinality - 1)::int AS i, e.value -> 'policy' ->> 'policy-domain' AS domain
        FROM jsonb_array_elements($6::jsonb -> 'policies') WITH ORDINALITY AS e) x
  WHERE p.report_id = c.report_id AND p.policy_index = x.i AND p.policy_domain IS NULL AND x.domain IS NOT NULL
  RETURNING p.id
), completed_report AS (
  UPDATE reports r SET
    report_json = CASE WHEN EXISTS (SELECT 1 FROM completed_policies) THEN $6::jsonb ELSE r.report_json END,
    fixups = r.fixups || ARRAY(SELECT f.name FROM unnest($7::text[]) WITH ORDINALITY AS f(name, k)
                               WHERE f.name <> ALL (r.fixups) ORDER BY f.k),
    tls_report_domain = coalesce(r.tls_report_domain, $8::text),
    tls_report_submitter = coalesce(r.tls_report_submitter, $9::text),
    subject_report_id = coalesce(r.subject_report_id, $10::text),
    attachment_filename = coalesce(r.attachment_filename, $11::text),
    authenticated = r.authenticated OR $12::boolean,
    authenticated_by = CASE WHEN NOT $12::boolean THEN r.authenticated_by
                            WHEN r.authenticated THEN least(r.authenticated_by, $13::text)
                            ELSE $13::text END
  FROM completing c
  WHERE r.id = c.report_id
    -- Only when this copy adds something: a re-delivery of what is stored writes nothing.
    AND (EXISTS (SELECT 1 FROM completed_policies)
         OR NOT ($7::text[] <@ r.fixups)
         OR (r.tls_report_domain IS NULL AND $8::text IS NOT NULL)
         OR (r.tls_report_submitter IS NULL AND $9::text IS NOT NULL)
         OR (r.subject_report_id IS NULL AND $10::text IS NOT NULL)
         OR (r.attachment_filename IS NULL AND $11::text IS NOT NULL)
         OR ($12::boolean AND (NOT r.authenticated OR $13::text < r.authenticated_by)))
  RETURNING r.id
), refresh_day AS (
  INSERT INTO rollup_refresh_days (day)
  SELECT report_day(r.start_at, r.end_at) FROM reports r
  WHERE r.id IN (SELECT report_id FROM completing) AND EXISTS (SELECT 1 FROM completed_policies)
  ON CONFLICT (day) DO NOTHING
  RETURNING 1
)
SELECT report_id, outcome FROM settled`,
};

/** Fix-ups that recover a policy domain from the mail rather than the report (quirk 8). */
const DOMAIN_RECOVERIES = new Set(['policy-domain-from-mail-header', 'policy-domain-from-filename']);

/** The $1 element of INSERT_REPORTS for one report. */
function batchElement({ rawMessageId, decoded }: StoreItem): Record<string, unknown> {
  const { report, mail } = decoded;
  return {
    rawMessageId,
    organizationName: report.organizationName,
    reportId: report.reportId,
    contactInfo: report.contactInfo,
    startAt: report.startAt.toISOString(),
    endAt: report.endAt.toISOString(),
    payloadSha256: decoded.payloadSha256.toString('hex'),
    fixups: decoded.fixups,
    tlsReportDomain: mail.tlsReportDomain,
    tlsReportSubmitter: mail.tlsReportSubmitter,
    subjectReportId: mail.subjectReportId,
    attachmentFilename: decoded.filename,
    report: decoded.normalised,
    // Left out when not verified, so the column stays NULL.
    authentication: decoded.authentication ?? undefined,
  };
}

/**
 * Several reports in one statement (one commit). Returns one result per item, in order: its outcome, or
 * the Error that storing it alone gave. If the batch statement fails for a reason other than a service
 * outage, each report is stored on its own, so one bad report never fails the others. A service outage
 * rejects the whole call: nothing was written, and every caller retries.
 */
export async function storeReports(db: Queryable, items: StoreItem[]): Promise<Array<StoreResult | Error>> {
  if (items.length === 0) return [];
  // Each raw message once per statement (the same job twice in one batch would insert its report twice).
  const unique = [...new Map(items.map((it) => [it.rawMessageId, it])).values()];
  let inserted: Map<number, number | null>;
  try {
    const res = await db.query<{ raw_message_id: number; id: number | null }>({
      ...INSERT_REPORTS,
      values: [JSON.stringify(unique.map(batchElement))],
    });
    inserted = new Map(res.rows.map((row) => [row.raw_message_id, row.id]));
  } catch (err) {
    if (isServiceOutage(err) || unique.length === 1) throw err;
    // One at a time, in batch order: the first copy of a repeated identity is the one stored, as in the batch.
    const results: Array<StoreResult | Error> = [];
    for (const it of items) {
      results.push(await storeReport(db, it.rawMessageId, it.decoded).catch(asError));
    }
    return results;
  }
  const settled = new Map<number, StoreResult | Error>();
  for (const it of unique) {
    const reportId = inserted.get(it.rawMessageId);
    if (reportId === null) settled.set(it.rawMessageId, await stateChanged(db, it.rawMessageId, 'settle'));
    else if (reportId !== undefined) settled.set(it.rawMessageId, { outcome: 'stored', reportId });
    else settled.set(it.rawMessageId, await settleExisting(db, it).catch(asError));
  }
  return items.map((it) => settled.get(it.rawMessageId)!);
}

/** A caught value as the Error a caller of storeReports receives for its item. */
function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** One report: the batch statement with one element. */
export async function storeReport(db: Queryable, rawMessageId: number, decoded: DecodedReport): Promise<StoreResult> {
  const [result] = await storeReports(db, [{ rawMessageId, decoded }]);
  if (result instanceof Error) throw result;
  return result!;
}

async function settleExisting(db: Queryable, { rawMessageId, decoded }: StoreItem): Promise<StoreResult> {
  const { report, mail } = decoded;
  const authentication = decoded.authentication ?? null;
  const recoversDomain = decoded.fixups.some((f) => DOMAIN_RECOVERIES.has(f));
  const settled = await db.query<{ report_id: number; outcome: StoreOutcome }>({
    ...SETTLE_EXISTING,
    values: [
      rawMessageId,
      report.organizationName,
      report.reportId,
      decoded.payloadSha256,
      authentication === null ? null : JSON.stringify(authentication),
      recoversDomain ? JSON.stringify(decoded.normalised) : null,
      decoded.fixups,
      mail.tlsReportDomain,
      mail.tlsReportSubmitter,
      mail.subjectReportId,
      decoded.filename,
      authentication?.authenticated === true,
      authentication?.authenticatedBy ?? null,
    ],
  });
  const row = settled.rows[0];
  if (!row) {
    const lost = await stateChanged(db, rawMessageId, 'settle');
    if (lost.found !== 'pending') throw lost;
    // The existing report was deleted between the two statements: rare; let the job retry.
    throw new Error(`report (${report.organizationName}, ${report.reportId}) vanished while settling message ${rawMessageId}`);
  }
  return { outcome: row.outcome, reportId: row.report_id };
}
