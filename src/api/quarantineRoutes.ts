/**
 * The quarantine for the dashboard: GET /api/v1/quarantine (counts per reason and the messages, newest
 * first), GET /api/v1/quarantine/{id} (detail), GET .../raw (download), and POST .../reprocess (admin, CSRF):
 * the message through the current parser again, as `tlsrpt reprocess ID` does (src/pipeline/reprocessMessages.ts).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from '../db/pool.js';
import { QUARANTINE_REASONS } from '../errors.js';
import { HttpRefusal } from '../http/httpReplies.js';
import { reprocessMessages } from '../pipeline/reprocessMessages.js';
import { sendRaw } from './reportViewRoutes.js';
import { idParams, pageProperties, type IdParams, type Page } from './routeSchemas.js';

export interface QuarantineRoutesOptions {
  pool: Pool;
  reportMaxBytes: number;
}

export const quarantineRoutes: FastifyPluginAsync<QuarantineRoutesOptions> = async (app, o) => {
  app.get<{ Querystring: Page & { reason?: string } }>(
    '/quarantine',
    {
      schema: {
        summary: 'Quarantined messages per reason, and the messages newest first',
        tags: ['quarantine'],
        querystring: {
          type: 'object',
          properties: {
            reason: { type: 'string', enum: Object.keys(QUARANTINE_REASONS) },
            ...pageProperties,
          },
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      const { reason, limit, offset } = request.query;
      const [reasons, messages] = await Promise.all([
        o.pool.query<{ reason: string; messages: number }>(
          `SELECT reason, count(*)::int AS messages FROM raw_messages WHERE status = 'quarantined' GROUP BY reason ORDER BY messages DESC, reason`,
        ),
        o.pool.query(
          `SELECT id, received_at, channel, coalesce(mail_from, remote_address) AS sender, reason, left(detail, 300) AS detail, size_bytes
           FROM raw_messages WHERE status = 'quarantined' AND ($1::text IS NULL OR reason = $1)
           ORDER BY id DESC LIMIT $2 OFFSET $3`,
          [reason ?? null, limit, offset],
        ),
      ]);
      return {
        reasons: reasons.rows.map((r) => ({ ...r, meaning: QUARANTINE_REASONS[r.reason as keyof typeof QUARANTINE_REASONS] ?? null })),
        messages: messages.rows,
      };
    },
  );

  app.get<{ Params: IdParams }>(
    '/quarantine/:id',
    { schema: { summary: 'One raw message: its state, reason and detail', tags: ['quarantine'], params: idParams } },
    async (request) => {
      const res = await o.pool.query(
        `SELECT id, channel, received_at, remote_address, helo, mail_from, rcpt_to, size_bytes, status, reason, detail, attempts,
                last_error, report_id, processed_at
         FROM raw_messages WHERE id = $1`,
        [request.params.id],
      );
      if (!res.rows[0]) throw new HttpRefusal('not-found', `There is no message ${request.params.id}.`);
      return res.rows[0];
    },
  );

  app.get<{ Params: IdParams }>(
    '/quarantine/:id/raw',
    { schema: { summary: 'The message exactly as received, for download', tags: ['quarantine'], params: idParams } },
    async (request, reply) => {
      const res = await o.pool.query<{ raw: Buffer; channel: string }>(`SELECT raw, channel FROM raw_messages WHERE id = $1`, [
        request.params.id,
      ]);
      const row = res.rows[0];
      if (!row) throw new HttpRefusal('not-found', `There is no message ${request.params.id}.`);
      return sendRaw(reply, row.raw, row.channel, request.params.id);
    },
  );

  app.post<{ Params: IdParams }>(
    '/quarantine/:id/reprocess',
    {
      config: { admin: true },
      schema: {
        summary: 'Run the message through the current parser again (admin; needs X-CSRF-Token)',
        tags: ['quarantine'],
        params: idParams,
        response: {
          200: {
            type: 'object',
            properties: {
              id: { type: 'integer' },
              outcome: {
                type: 'string',
                description: 'stored, duplicate, conflict, quarantined, or skipped (<state>) when settled already',
              },
              reason: { type: ['string', 'null'] },
            },
          },
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const exists = await o.pool.query(`SELECT 1 FROM raw_messages WHERE id = $1`, [id]);
      if (!exists.rowCount) throw new HttpRefusal('not-found', `There is no message ${id}.`);
      let outcome = 'skipped';
      let reason: string | null = null;
      const summary = await reprocessMessages(
        { pool: o.pool, reportMaxBytes: o.reportMaxBytes, maxAttempts: 1 },
        { ids: [id] },
        (_d, _t, _id, result) => {
          outcome = result.outcome === 'skipped' ? `skipped (${result.status})` : result.outcome;
          if (result.outcome === 'quarantined') reason = result.reason;
        },
      );
      if (summary.leftAlone.length) outcome = 'skipped (already stored)';
      request.log.info({ id, outcome, user: request.apiUser?.name }, 'message reprocessed from the dashboard');
      return { id, outcome, reason };
    },
  );
};
