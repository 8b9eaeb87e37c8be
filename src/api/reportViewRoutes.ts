/**
 * Stored reports for the dashboard: GET /api/v1/reports (a domain's reports, newest first), GET
 * /api/v1/reports/{id} (the normalised JSON, the fix-ups applied, how it arrived, the DKIM result
 * (README "Authentication (DKIM)")) and GET /api/v1/reports/{id}/raw (the mail or POST body exactly as received, for download).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from '../db/pool.js';
import { HttpRefusal } from '../http/httpReplies.js';
import { domainPageQuery, queriedDomain, type DomainPageQuery } from './domainPageQuery.js';
import { idParams, type IdParams } from './routeSchemas.js';

export interface ReportViewRoutesOptions {
  pool: Pool;
}

export const reportViewRoutes: FastifyPluginAsync<ReportViewRoutesOptions> = async (app, o) => {
  app.get<{ Querystring: DomainPageQuery }>(
    '/reports',
    {
      schema: {
        summary: "Stored reports, newest first; with domain, that policy domain's",
        tags: ['reports'],
        querystring: domainPageQuery,
      },
    },
    async (request) => {
      const { limit, offset } = request.query;
      const domain = queriedDomain(request.query);
      // Newest first by id, through policies_domain_idx when a domain is given.
      const res = await o.pool.query(
        `SELECT r.id, r.organization_name, r.report_id, r.start_at, r.end_at, r.stored_at, m.channel, r.fixups,
                (SELECT sum(p.total_successful_session_count)::bigint FROM policies p WHERE p.report_id = r.id
                   AND ($1::text IS NULL OR p.policy_domain = $1)) AS successful_sessions,
                (SELECT sum(p.total_failure_session_count)::bigint FROM policies p WHERE p.report_id = r.id
                   AND ($1::text IS NULL OR p.policy_domain = $1)) AS failed_sessions,
                (SELECT string_agg(DISTINCT p.policy_type, ',') FROM policies p WHERE p.report_id = r.id
                   AND ($1::text IS NULL OR p.policy_domain = $1)) AS policy_types
         FROM reports r JOIN raw_messages m ON m.id = r.raw_message_id
         WHERE $1::text IS NULL OR r.id IN (SELECT p.report_id FROM policies p WHERE p.policy_domain = $1)
         ORDER BY r.id DESC LIMIT $2 OFFSET $3`,
        [domain, limit, offset],
      );
      return { reports: res.rows };
    },
  );

  app.get<{ Params: IdParams }>(
    '/reports/:id',
    { schema: { summary: 'One stored report: normalised JSON, fix-ups, how it arrived, DKIM', tags: ['reports'], params: idParams } },
    async (request) => {
      const res = await o.pool.query(
        `SELECT r.id, r.organization_name, r.report_id, r.contact_info, r.start_at, r.end_at, r.stored_at, r.fixups,
                r.tls_report_domain, r.tls_report_submitter, r.subject_report_id, r.attachment_filename, r.report_json,
                m.id AS raw_message_id, m.channel, m.received_at, m.remote_address, m.helo, m.mail_from, m.rcpt_to, m.size_bytes,
                -- README "Authentication (DKIM)": the report's summary over its copies, and what this copy proved.
                r.authenticated, r.authenticated_by, m.authentication
         FROM reports r JOIN raw_messages m ON m.id = r.raw_message_id WHERE r.id = $1`,
        [request.params.id],
      );
      if (!res.rows[0]) throw new HttpRefusal('not-found', `There is no report ${request.params.id}.`);
      return res.rows[0];
    },
  );

  app.get<{ Params: IdParams }>(
    '/reports/:id/raw',
    { schema: { summary: 'The report as received (mail or POST body), for download', tags: ['reports'], params: idParams } },
    async (request, reply) => {
      const res = await o.pool.query<{ raw: Buffer; channel: string; raw_message_id: number }>(
        `SELECT m.raw, m.channel, m.id AS raw_message_id FROM reports r JOIN raw_messages m ON m.id = r.raw_message_id WHERE r.id = $1`,
        [request.params.id],
      );
      const row = res.rows[0];
      if (!row) throw new HttpRefusal('not-found', `There is no report ${request.params.id}.`);
      return sendRaw(reply, row.raw, row.channel, row.raw_message_id);
    },
  );
};

/** A raw message as a download: .eml for mail, .bin for an HTTPS body or an ingested file. */
export function sendRaw(reply: import('fastify').FastifyReply, raw: Buffer, channel: string, id: number) {
  const mail = channel === 'smtp' || channel === 'imap';
  return reply
    .header('content-type', mail ? 'message/rfc822' : 'application/octet-stream')
    .header('content-disposition', `attachment; filename="raw-message-${id}.${mail ? 'eml' : 'bin'}"`)
    .header('x-content-type-options', 'nosniff')
    .send(raw);
}
