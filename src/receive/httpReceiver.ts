/**
 * The HTTPS receiver: the endpoint of a `rua=https://...` address (RFC 8460 5.4), plus /metrics, /healthz
 * and /readyz, as one fastify app that other features extend with plugins (createHttpReceiver's `plugins`).
 *
 * GET /metrics answers only clients in METRICS_ALLOW (403 otherwise; private addresses by default).
 *
 * POST <HTTP_REPORT_PATH> replies (the refusals are decided in httpReplies.ts):
 *   200  {"status":"accepted","id":N} only after the body, byte for byte, is committed to Postgres
 *        (RFC 8460 5.4: "typically a 200 or 201"; 200 because nothing is created at a URL of its own)
 *   400  empty body; 405 not a POST; 408 not received in full within HTTP_BODY_TIMEOUT_SECONDS
 *   413  over HTTP_MAX_BODY_SIZE (declared or counted while streaming); 415 not a report media type
 *   429  over HTTP_RATE_LIMIT_PER_MINUTE for the client address; 503 + Retry-After when Postgres is down
 *        or while shutting down
 * The body then takes the same path as mail: queue -> worker -> dedupe -> rows. Bodies are decoded by the
 * worker, never here, so a broken or hostile body costs this process no more than its bytes.
 *
 * HTTPS is served with TLS_CERT/TLS_KEY when set; the pair is re-read when the files change (polled, so a
 * renewal that swaps a symlink is seen too) and on reloadTls() (SIGHUP), without dropping connections.
 */
import { X509Certificate } from 'node:crypto';
import { STATUS_CODES, createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createSecureContext } from 'node:tls';
import { readFile } from 'node:fs/promises';
import { unwatchFile, watchFile } from 'node:fs';
import type { Duplex } from 'node:stream';
import rateLimit from '@fastify/rate-limit';
import Fastify, { LogController, type FastifyInstance, type FastifyPluginAsync, type FastifyPluginCallback } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/loadConfig.js';
import { errorMessage } from '../errors.js';
import type { Readiness } from '../health/checkDependencies.js';
import type { Metrics } from '../metrics/createMetrics.js';
import { acceptRawMessage, type AcceptDeps } from './acceptRawMessage.js';
import { allowedAddresses } from './allowedAddresses.js';
import {
  HttpRefusal,
  REFUSALS,
  REPORT_MEDIA_TYPES,
  RETRY_AFTER_SECONDS,
  acceptsContentEncoding,
  refusalFor,
  type RefusalReason,
} from './httpReplies.js';

export interface HttpReceiverDeps extends AcceptDeps {
  log: Logger;
  metrics: Metrics;
  readiness: () => Promise<Readiness>;
}

/**
 * A fastify plugin to register beside the built-in routes (e.g. MTA-STS policy hosting): an async plugin, or
 * { plugin, options } for a callback-style one or one that takes options. Options are the plugin's own
 * business, hence `any`.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above: fastify's plugin option types vary per plugin
type PluginOptions = any;
export type HttpPlugin =
  | FastifyPluginAsync
  | { plugin: FastifyPluginAsync<PluginOptions> | FastifyPluginCallback<PluginOptions>; options?: Record<string, unknown> };

export interface HttpReceiverOptions {
  /** Registered after the built-in routes, each in its own encapsulated context. */
  plugins?: readonly HttpPlugin[];
  /** How often TLS_CERT/TLS_KEY are checked for changes (default 10 s). */
  tlsWatchIntervalMs?: number;
}

export type TlsReloadResult = 'reloaded' | 'unchanged' | 'failed' | 'not-https';

export interface HttpReceiver {
  /** The fastify app, for inject() in tests and for inspection. */
  app: FastifyInstance;
  /** Resolves with the port actually bound (useful with port 0). */
  listen(): Promise<number>;
  /** Stops accepting, answers 503 to new requests, and waits for requests in progress (up to SHUTDOWN_TIMEOUT_SECONDS). */
  close(): Promise<void>;
  /** Re-reads TLS_CERT/TLS_KEY and serves them to new connections if they changed and form a valid pair. */
  reloadTls(): Promise<TlsReloadResult>;
}

const TLS_MIN_VERSION = 'TLSv1.2';

export function createHttpReceiver(config: Config, deps: HttpReceiverDeps, options: HttpReceiverOptions = {}): HttpReceiver {
  const { http } = config;
  const { log, metrics } = deps;
  const tls = http.tls ? config.smtp.tls : null;
  let server: Server | HttpsServer | undefined;

  const refuse = (reason: RefusalReason) => metrics.httpRefused.inc({ reason });

  // Typed as the plain HTTP server: an HTTPS server is one for everything fastify does with it.
  const app: FastifyInstance = Fastify<Server>({
    serverFactory: (handler) => {
      const common = {
        requestTimeout: http.bodyTimeoutMs,
        headersTimeout: Math.min(http.bodyTimeoutMs, 60_000),
        // Node checks the timeouts above on this period: a fraction of the timeout keeps them close to exact.
        connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(http.bodyTimeoutMs / 4))),
        keepAliveTimeout: 5000,
      };
      server = tls
        ? createHttpsServer({ ...common, cert: tls.cert, key: tls.key, minVersion: TLS_MIN_VERSION }, handler)
        : createHttpServer(common, handler);
      server.maxConnections = http.maxConnections;
      return server as Server;
    },
    loggerInstance: log,
    // One log line per report, written below, instead of fastify's two per request.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: http.maxBodyBytes,
    trustProxy: trustProxyOption(http.trustProxy),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex) {
      // Errors before a request could be routed: the slow-body timeout, oversized headers, bad HTTP.
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const reason: RefusalReason =
        err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'body-timeout' : err.code === 'HPE_HEADER_OVERFLOW' ? 'header-too-large' : 'bad-request';
      refuse(reason);
      const body = JSON.stringify(new HttpRefusal(reason).body());
      const status = REFUSALS[reason].status;
      if (socket.writable) {
        socket.write(
          `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
      }
      socket.destroy();
    },
  });

  app.addHook('onResponse', async (request, reply) => {
    metrics.httpRequests.inc({
      route: request.routeOptions.url ?? 'unmatched',
      method: ['GET', 'HEAD', 'POST'].includes(request.method) ? request.method : 'other',
      status: String(reply.statusCode),
    });
  });

  app.setErrorHandler((err, request, reply) => {
    const refusal = refusalFor(err);
    if (refusal.reason === 'internal-error') log.error({ err: errorMessage(err), url: request.url }, 'HTTP request failed');
    reply.code(refusal.statusCode).headers(refusal.headers).send(refusal.body());
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const readiness = await deps.readiness();
    reply.code(readiness.ready ? 200 : 503).send(readiness);
  });

  // The per-domain numbers are for the operator, not for whoever can reach the report endpoint.
  const mayScrape = allowedAddresses(http.metrics.allow);
  app.get('/metrics', async (request, reply) => {
    if (!mayScrape(request.ip)) {
      throw new HttpRefusal('metrics-forbidden', `GET /metrics is not allowed from ${request.ip}: add it to METRICS_ALLOW.`);
    }
    reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.register(async (scope) => {
    // Only report media types are read at all; any other Content-Type gets 415 before its body is read.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser([...REPORT_MEDIA_TYPES], { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

    // Refusals counted here, before the app's error handler answers them.
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

    if (http.rateLimitPerMinute > 0) {
      await scope.register(rateLimit, {
        max: http.rateLimitPerMinute,
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

    scope.post(http.reportPath, async (request, reply) => {
      const body = request.body;
      if (!Buffer.isBuffer(body) || body.length === 0) throw new HttpRefusal('empty-body');
      let id: number;
      try {
        id = await acceptRawMessage(deps, body, { channel: 'http', remoteAddress: request.ip });
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
      url: http.reportPath,
      handler: async (_request, reply) => {
        reply.header('allow', 'POST');
        throw new HttpRefusal('method-not-allowed');
      },
    });
  });

  for (const p of options.plugins ?? []) {
    if (typeof p === 'function') app.register(p);
    else app.register(p.plugin, p.options ?? {});
  }

  // TLS certificate reloading.
  let served = tls ? { cert: tls.cert, key: tls.key } : null;
  if (served) setCertificateExpiry(served.cert);

  function setCertificateExpiry(cert: Buffer): void {
    try {
      metrics.setCertificateExpiry(Math.floor(Date.parse(new X509Certificate(cert).validTo) / 1000));
    } catch {
      // Not a parseable certificate: the TLS context would have refused it first.
    }
  }

  const reloadOnce = async (): Promise<TlsReloadResult> => {
    if (!tls || !served || !server) return 'not-https';
    let cert: Buffer;
    let key: Buffer;
    try {
      [cert, key] = await Promise.all([readFile(tls.certPath), readFile(tls.keyPath)]);
      if (cert.equals(served.cert) && key.equals(served.key)) return 'unchanged';
      // Builds a context first: a key that does not match the certificate (one file renewed, the other not
      // yet) throws here, and the pair in service stays.
      createSecureContext({ cert, key, minVersion: TLS_MIN_VERSION });
    } catch (err) {
      metrics.tlsReloads.inc({ result: 'failed' });
      log.warn(
        { err: errorMessage(err), cert: tls.certPath, key: tls.keyPath },
        'TLS certificate not reloaded; still serving the previous one',
      );
      return 'failed';
    }
    (server as HttpsServer).setSecureContext({ cert, key, minVersion: TLS_MIN_VERSION });
    served = { cert, key };
    setCertificateExpiry(cert);
    metrics.tlsReloads.inc({ result: 'reloaded' });
    log.info({ cert: tls.certPath }, 'TLS certificate reloaded');
    return 'reloaded';
  };
  // One reload at a time, each after the one before: a call then reads the files as they are when its turn
  // comes, never a result read before its caller's change (the file watcher racing a SIGHUP).
  let lastReload: Promise<TlsReloadResult> = Promise.resolve('unchanged');
  const reloadTls = (): Promise<TlsReloadResult> => (lastReload = lastReload.then(reloadOnce, reloadOnce));

  const onFileChange = () => void reloadTls();
  const watchInterval = options.tlsWatchIntervalMs ?? 10_000;
  let watching = false;

  return {
    app,
    async listen() {
      await app.listen({ port: http.port, host: http.host });
      if (tls) {
        // Polling (stat) rather than fs.watch: it also sees a renewal that repoints a symlink (certbot's live/).
        watchFile(tls.certPath, { interval: watchInterval, persistent: false }, onFileChange);
        watchFile(tls.keyPath, { interval: watchInterval, persistent: false }, onFileChange);
        watching = true;
      }
      const addr = app.server.address();
      return typeof addr === 'object' && addr ? addr.port : http.port;
    },
    async close() {
      if (tls && watching) {
        unwatchFile(tls.certPath, onFileChange);
        unwatchFile(tls.keyPath, onFileChange);
      }
      const force = setTimeout(() => server?.closeAllConnections(), config.shutdownTimeoutMs);
      force.unref();
      try {
        await app.close();
      } finally {
        clearTimeout(force);
      }
    },
    reloadTls,
  };
}

/** A hop count becomes the predicate proxy-addr builds for it (fastify's types admit no number). */
function trustProxyOption(value: Config['http']['trustProxy']): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof value === 'number') return (_address, hop) => hop < value;
  return typeof value === 'boolean' ? value : [...value];
}
