/**
 * The HTTP(S) server every route family shares: TLS and its reload, connection and body limits, timeouts,
 * trustProxy, the request counter, the error handler and graceful close. Routes come as fastify plugins,
 * each registered in its own encapsulated context, in the order given (src/services/httpService.ts lists
 * them: reports, metrics, health, MTA-STS hosting). A new route family is one plugin file and one line there.
 *
 * Errors raised before a request could be routed (the slow-body timeout, oversized headers, bad HTTP) and
 * errors no route answered itself get the refusals of ./httpReplies.ts, with a reason code in the JSON body.
 */
import { STATUS_CODES, createServer as createPlainServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import Fastify, { LogController, type FastifyInstance, type FastifyPluginAsync, type FastifyPluginCallback } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/loadConfig.js';
import { errorMessage } from '../errors.js';
import type { Metrics } from '../metrics/createMetrics.js';
import { HttpRefusal, REFUSALS, refusalFor, type RefusalReason } from './httpReplies.js';
import { TLS_MIN_VERSION, createTlsReloader, type TlsReloadResult, type TlsReloader } from './tlsReloader.js';

export type { TlsReloadResult } from './tlsReloader.js';

/**
 * A route family: an async plugin, or { plugin, options } for one that takes options or is callback-style.
 * Options are the plugin's own business, hence `any`.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each plugin types its own options
type PluginOptions = any;
export type HttpPlugin =
  | FastifyPluginAsync
  | { plugin: FastifyPluginAsync<PluginOptions> | FastifyPluginCallback<PluginOptions>; options?: Record<string, unknown> };

export interface HttpServerOptions {
  /** Registered after the service's own route families, each in its own encapsulated context. */
  plugins?: readonly HttpPlugin[];
  /** How often TLS_CERT/TLS_KEY are checked for changes (default 10 s). */
  tlsWatchIntervalMs?: number;
}

export interface HttpServerDeps {
  log: Logger;
  metrics: Pick<Metrics, 'httpRequests' | 'httpRefused' | 'tlsReloads' | 'setCertificateExpiry'>;
}

export interface HttpServer {
  /** The fastify app, for inject() in tests and for inspection. */
  app: FastifyInstance;
  /** Resolves with the port actually bound (useful with port 0). */
  listen(): Promise<number>;
  /** Stops accepting, answers 503 to new requests, and waits for requests in progress (up to SHUTDOWN_TIMEOUT_SECONDS). */
  close(): Promise<void>;
  /** Re-reads TLS_CERT/TLS_KEY and serves them to new connections if they changed and form a valid pair. */
  reloadTls(): Promise<TlsReloadResult>;
}

export function createHttpServer(
  config: Config,
  deps: HttpServerDeps,
  routes: readonly HttpPlugin[],
  options: Pick<HttpServerOptions, 'tlsWatchIntervalMs'> = {},
): HttpServer {
  const { http } = config;
  const { log, metrics } = deps;
  const tls = http.tls ? config.smtp.tls : null;
  let server: Server | HttpsServer | undefined;

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
        : createPlainServer(common, handler);
      server.maxConnections = http.maxConnections;
      return server as Server;
    },
    loggerInstance: log,
    // One log line per report, written by the report route, instead of fastify's two per request.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: http.maxBodyBytes,
    trustProxy: trustProxyOption(http.trustProxy),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex) {
      // Errors before a request could be routed: the slow-body timeout, oversized headers, bad HTTP.
      // A client that reset the connection is gone: there is no one to answer.
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const reason: RefusalReason =
        err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'body-timeout' : err.code === 'HPE_HEADER_OVERFLOW' ? 'header-too-large' : 'bad-request';
      metrics.httpRefused.inc({ reason });
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

  for (const route of routes) {
    if (typeof route === 'function') app.register(route);
    else app.register(route.plugin, route.options ?? {});
  }

  const reloader: TlsReloader | null = tls ? createTlsReloader(tls, () => server as HttpsServer | undefined, { log, metrics }) : null;

  return {
    app,
    async listen() {
      await app.listen({ port: http.port, host: http.host });
      reloader?.watch(options.tlsWatchIntervalMs ?? 10_000);
      const addr = app.server.address();
      return typeof addr === 'object' && addr ? addr.port : http.port;
    },
    async close() {
      reloader?.unwatch();
      const force = setTimeout(() => server?.closeAllConnections(), config.shutdownTimeoutMs);
      force.unref();
      try {
        await app.close();
      } finally {
        clearTimeout(force);
      }
    },
    reloadTls: () => (reloader ? reloader.reload() : Promise.resolve('not-https')),
  };
}

/** A hop count becomes the predicate proxy-addr builds for it (fastify's types admit no number). */
function trustProxyOption(value: Config['http']['trustProxy']): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof value === 'number') return (_address, hop) => hop < value;
  return typeof value === 'boolean' ? value : [...value];
}
