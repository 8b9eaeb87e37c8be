/**
 * The HTTPS report endpoint: POST <HTTP_REPORT_PATH>, the target of a `rua=https://...` address (RFC 8460
 * 5.4), as a route plugin of the HTTP server (src/http/createHttpServer.ts). Replies (the refusals are
 * decided in src/http/httpReplies.ts):
 *   200  {"status":"accepted","id":N} only after the body, byte for byte, is committed to Postgres
 *        (RFC 8460 5.4: "typically a 200 or 201"; 200 because nothing is created at a URL of its own)
 *   400  empty body; 405 not a POST; 408 not received in full within HTTP_BODY_TIMEOUT_SECONDS
 *   413  over HTTP_MAX_BODY_SIZE (declared or counted while streaming); 415 not a report media type
 *   429  over HTTP_RATE_LIMIT_PER_MINUTE for the client address; 503 + Retry-After when Postgres is down
 *        or while shutting down
 * The body then takes the same path as mail: queue -> worker -> dedupe -> rows. Bodies are decoded by the
 * worker, never here, so a broken or hostile body costs this process no more than its bytes.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import {
  HttpRefusal,
  REPORT_MEDIA_TYPES,
  RETRY_AFTER_SECONDS,
  acceptsContentEncoding,
  refusalFor,
  type RefusalReason,
} from '../http/httpReplies.js';
import type { Metrics } from '../metrics/createMetrics.js';
import { acceptRawMessage, type AcceptDeps } from './acceptRawMessage.js';
import { tokenSender } from '../auth/tokenSender.js';
import { httpsAuthentication } from '../auth/verifyDkim.js';

export interface ReportRoutesOptions extends AcceptDeps {
  log: Logger;
  metrics: Pick<Metrics, 'httpRefused'>;
  /** HTTP_REPORT_PATH */
  reportPath: string;
  /** HTTP_RATE_LIMIT_PER_MINUTE per client address; 0 = no limit. */
  rateLimitPerMinute: number;
  /** HTTP_REPORT_TOKENS: a POST bearing one of these is recorded as authenticated by its sender. */
  reportTokens?: ReadonlyArray<{ readonly sender: string; readonly token: string }>;
}

export const reportRoutes: FastifyPluginAsync<ReportRoutesOptions> = async (scope, deps) => {
  const { log, metrics, reportPath } = deps;
  const refuse = (reason: RefusalReason) => metrics.httpRefused.inc({ reason });

  // Only report media types are read at all; any other Content-Type gets 415 before its body is read.
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser([...REPORT_MEDIA_TYPES], { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  // Refusals counted here, before they are answered.
  scope.setErrorHandler((err, request, reply) => {
    if (request.raw.socket?.destroyed) {
      // The client went away mid-body, or the slow-body timeout cut it off (counted as body-timeout there).
      log.debug({ remote: request.ip, err: errorMessage(err) }, 'report POST abandoned before its body arrived');
      return;
    }
    const refusal = refusalFor(err);
    refuse(refusal.reason);
    if (refusal.reason === 'internal-error' || refusal.reason === 'storage-unavailable') {
      log.error({ err: errorMessage(refusal.cause ?? err), remote: request.ip }, `report POST refused: ${refusal.reason}`);
    } else {
      log.info({ remote: request.ip, reason: refusal.reason }, 'report POST refused');
    }
    reply.code(refusal.statusCode).headers(refusal.headers).send(refusal.body());
  });

  if (deps.rateLimitPerMinute > 0) {
    await scope.register(rateLimit, {
      max: deps.rateLimitPerMinute,
      timeWindow: 60_000,
      // An LRU of client addresses: memory stays bounded however many addresses send.
      cache: 10_000,
      keyGenerator: (request) => request.ip,
      errorResponseBuilder: (_request, context) =>
        new HttpRefusal(
          'rate-limited',
          `Too many reports from this address (limit ${context.max} per minute); try again in ${context.after}.`,
        ),
    });
  }

  scope.addHook('onRequest', async (request) => {
    if (request.method === 'POST' && !acceptsContentEncoding(request.headers['content-encoding'])) {
      throw new HttpRefusal('unsupported-content-encoding');
    }
  });

  scope.post(reportPath, async (request, reply) => {
    const body = request.body;
    if (!Buffer.isBuffer(body) || body.length === 0) throw new HttpRefusal('empty-body');
    let id: number;
    try {
      // RFC 8460 5.4 POSTs carry no DKIM: a sender's token (HTTP_REPORT_TOKENS) is what can vouch for one. A
      // POST without a known token is accepted all the same (senders do not send tokens unless asked to).
      const sender = tokenSender(request.headers.authorization, deps.reportTokens ?? []);
      id = await acceptRawMessage(deps, body, {
        channel: 'http',
        remoteAddress: request.ip,
        authentication: sender === null ? null : httpsAuthentication(`token of ${sender}`),
      });
    } catch (err) {
      throw new HttpRefusal('storage-unavailable', undefined, { 'retry-after': String(RETRY_AFTER_SECONDS) }, { cause: err });
    }
    log.info(
      { rawMessageId: id, remote: request.ip, bytes: body.length, contentType: request.headers['content-type'] },
      'report received over HTTPS',
    );
    reply.code(200).send({ status: 'accepted', id });
  });

  scope.route({
    method: ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE'],
    url: reportPath,
    handler: async (_request, reply) => {
      reply.header('allow', 'POST');
      throw new HttpRefusal('method-not-allowed');
    },
  });
};
