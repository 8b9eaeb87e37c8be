/**
 * The HTTP(S) server every route family shares: TLS (its certificates: src/tls/httpsCertificates.ts) and its
 * reload, connection and body limits, timeouts, trustProxy, the request counter, the error handler and
 * graceful close. Routes come as fastify plugins,
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
import type { TlsReloadResult } from '../tls/certificateSource.js';
import type { HttpsCertificates } from '../tls/httpsCertificates.js';

export type { TlsReloadResult } from '../tls/certificateSource.js';

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
  /** How often the certificate files are checked for changes (default TLS_RELOAD_CHECK_SECONDS; tests go faster). */
  tlsWatchIntervalMs?: number;
}

export interface HttpServerDeps {
  log: Logger;
  metrics: Pick<Metrics, 'httpRequests' | 'httpRefused'>;
}

export interface ListenerOptions {
  /** Where to listen: HTTP_HOST/HTTP_PORT unless given (the METRICS_PORT listener). */
  listener?: { host: string; port: number };
  /** HTTPS with these certificates; null: plain HTTP. */
  tls: HttpsCertificates | null;
  tlsWatchIntervalMs?: number;
}

export interface HttpServer {
  /** The fastify app, for inject() in tests and for inspection. */
  app: FastifyInstance;
  /** Resolves with the port actually bound (useful with port 0). */
  listen(): Promise<number>;
  /** Stops accepting, answers 503 to new requests, and waits for requests in progress (up to SHUTDOWN_TIMEOUT_SECONDS). */
  close(): Promise<void>;
  /** Re-reads the certificate files and serves what changed and loads to new connections ('not-https' when plain). */
  reloadTls(): Promise<TlsReloadResult>;
}

export function createHttpServer(
  config: Config,
  deps: HttpServerDeps,
  routes: readonly HttpPlugin[],
  options: ListenerOptions,
): HttpServer {
  const { http } = config;
  const { log, metrics } = deps;
  const { tls } = options;
  const listener = options.listener ?? { host: http.host, port: http.port };
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
      if (tls) {
        const https = createHttpsServer({ ...common, ...tls.serverOptions }, handler);
        tls.attach(https);
        server = https;
      } else {
        server = createPlainServer(common, handler);
      }
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

  return {
    app,
    async listen() {
      await app.listen({ port: listener.port, host: listener.host });
      tls?.reloader.watch(options.tlsWatchIntervalMs ?? config.tlsReloadCheckMs);
      const addr = app.server.address();
      return typeof addr === 'object' && addr ? addr.port : listener.port;
    },
    async close() {
      tls?.reloader.unwatch();
      const force = setTimeout(() => server?.closeAllConnections(), config.shutdownTimeoutMs);
      force.unref();
      try {
        await app.close();
      } finally {
        clearTimeout(force);
      }
    },
    reloadTls: () => (tls ? tls.reloader.reload('signal') : Promise.resolve('not-https')),
  };
}

/** A hop count becomes the predicate proxy-addr builds for it (fastify's types admit no number). */
function trustProxyOption(value: Config['http']['trustProxy']): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof value === 'number') return (_address, hop) => hop < value;
  return typeof value === 'boolean' ? value : [...value];
}
