/**
 * The HTTP(S) service: the server (src/http/createHttpServer.ts) with its route families, its own pool and
 * queue producer. A new route family is one plugin file and one line in `routes` below. With METRICS_PORT, a
 * second listener, always plain HTTP, serves the monitoring routes (metrics, health) of the same registry, so
 * probes and Prometheus need no certificate while reports and policies are served over HTTPS.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/loadConfig.js';
import { createPool, type Pool } from '../db/pool.js';
import {
  createHttpServer,
  type HttpPlugin,
  type HttpServer,
  type HttpServerOptions,
  type TlsReloadResult,
} from '../http/createHttpServer.js';
import { apiRoutes } from '../api/apiRoutes.js';
import { uiRoutes } from '../api/uiRoutes.js';
import { createMonitoring } from '../http/monitoring.js';
import { loadHostedPolicies, compareHostedPolicies, type HostedPolicy } from '../policy/host/loadHostedPolicies.js';
import { policyHostPlugin } from '../policy/host/policyHostPlugin.js';
import { summariseList } from '../config/summariseList.js';
import { ConfigError, errorMessage } from '../errors.js';
import { createProducerConnection, createReportQueue } from '../queue/reportQueue.js';
import { createRawIntake } from '../receive/rawIntake.js';
import { reportRoutes } from '../receive/reportRoutes.js';
import type { CertificateSource } from '../tls/certificateSource.js';
import { loadHttpsCertificates } from '../tls/httpsCertificates.js';

export interface HttpServiceOptions extends HttpServerOptions {
  /** Certificates served by other parts of this process (`serve`: STARTTLS), for the certificate series of /metrics. */
  certificates?: readonly CertificateSource[];
}

export interface HttpService {
  pool: Pool;
  port: number;
  /** The port of the METRICS_PORT listener, or null when there is none. */
  metricsPort: number | null;
  server: HttpServer;
  /** Re-reads the certificate files (SIGHUP does, through reload); reloads run one after another. */
  reloadTls(): Promise<TlsReloadResult>;
  /** SIGHUP: serves the hosted MTA-STS policies of `next` (files re-read) and re-reads the certificate. */
  reload(next: Config): Promise<void>;
  /** Stops accepting, finishes requests in progress, closes connections. */
  stop(): Promise<void>;
}

export async function startHttpService(config: Config, log: Logger, options: HttpServiceOptions = {}): Promise<HttpService> {
  // MTA-STS policies hosted at https://mta-sts.<domain>/.well-known/mta-sts.txt (README "MTA-STS"). Loaded and
  // validated before anything listens: an invalid policy stops start-up with its file and line.
  // The map is the plugin's: reload replaces its contents in one synchronous step, so a request sees the old
  // set or the new one. Registered whenever hosting is configured, even with no policy yet, so that a SIGHUP
  // can add the first one to an empty MTA_STS_POLICY_DIR.
  const hosting = config.mtaSts.policyDir !== null || config.mtaSts.policyFile !== null;
  const hosted = new Map(loadHostedPolicies(config.mtaSts));
  logPolicyWarnings(log, hosted.values());
  if (hosting) log.info({ domains: summariseList([...hosted.keys()]) }, 'hosting MTA-STS policies');
  const { metricsListener } = config.http;
  // Checked here, not in loadConfig: a worker's METRICS_PORT may well be the HTTP_PORT it never listens on.
  if (metricsListener && metricsListener.port !== 0 && metricsListener.port === config.http.port) {
    throw new ConfigError(
      'METRICS_PORT',
      `is the same port as HTTP_PORT (${metricsListener.port}): choose another, or unset it to serve /metrics on HTTP_PORT only`,
    );
  }
  // Before anything listens: a pair that does not load, or a certificate folder with nothing usable in it,
  // stops start-up with the reason.
  const tls = await loadHttpsCertificates(config.http, log);
  if (config.values.MTA_STS_CERT_DIR && config.values.HTTP_TLS === 'off') {
    log.warn('MTA_STS_CERT_DIR is set but HTTP_TLS=off: the proxy in front serves the certificates, the folder is not read');
  }
  // A short connect timeout: while Postgres is unreachable the sender gets 503 within seconds.
  const pool = createPool(config.databaseUrl, { max: 10, connectionTimeoutMillis: 3000, applicationName: 'tlsrpt-http', log });
  const redis = createProducerConnection(config.redisUrl, log);
  const queue = createReportQueue(redis, config.queuePrefix, log);
  const { metrics, plugins: monitoring } = createMonitoring(config, {
    pool,
    redis,
    queue,
    log,
    certificates: [...(tls?.sources ?? []), ...(options.certificates ?? [])],
  });

  const { http } = config;
  const intake = createRawIntake(pool, queue);
  const routes: HttpPlugin[] = [
    {
      plugin: reportRoutes,
      options: {
        pool,
        log,
        metrics,
        reportPath: http.reportPath,
        rateLimitPerMinute: http.rateLimitPerMinute,
        reportTokens: http.reportTokens,
        insert: intake.insert,
        enqueue: intake.enqueue,
      },
    },
    ...monitoring,
    {
      plugin: apiRoutes,
      options: {
        pool,
        ...dashboardAccess(config),
        reportMaxBytes: config.worker.reportMaxBytes,
        publishedMode: (domain: string) => hosted.get(domain)?.policy.mode ?? null,
      },
    },
    { plugin: uiRoutes, options: { allow: config.values.UI_ALLOW } },
    ...(hosting ? [{ plugin: policyHostPlugin, options: { policies: hosted } }] : []),
    ...(options.plugins ?? []),
  ];
  const server = createHttpServer(config, { log, metrics }, routes, { tls, tlsWatchIntervalMs: options.tlsWatchIntervalMs });
  const monitor = http.metricsListener
    ? createHttpServer(config, { log, metrics }, monitoring, { tls: null, listener: http.metricsListener })
    : null;

  const release = async () => {
    await intake.drain();
    await queue.close().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'closing the report queue failed'));
    redis.disconnect();
    await pool.end();
  };
  const closeAll = async () => {
    await Promise.all(
      [server, monitor].map((s) =>
        s?.close().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'closing the HTTP server failed')),
      ),
    );
  };
  let port: number;
  let metricsPort: number | null = null;
  try {
    port = await listenOn(server, `${http.host}:${http.port} (HTTP_HOST, HTTP_PORT)`);
    if (monitor && http.metricsListener) {
      const { host: mHost, port: mPort } = http.metricsListener;
      metricsPort = await listenOn(monitor, `${mHost}:${mPort} (METRICS_HOST, METRICS_PORT)`);
    }
  } catch (err) {
    await closeAll();
    await release();
    throw err;
  }
  log.info(
    { host: http.host, port, https: http.tls, reportPath: http.reportPath, certificateDir: http.certificateDir ?? undefined },
    `${http.tls ? 'HTTPS' : 'HTTP'} server listening`,
  );
  if (metricsPort !== null)
    log.info({ host: http.metricsListener?.host, port: metricsPort }, 'metrics and health checks listening (plain HTTP)');
  return {
    pool,
    port,
    metricsPort,
    server,
    reloadTls: () => server.reloadTls(),
    async reload(next) {
      if (hosting) reloadHostedPolicies(log, hosted, next);
      else if (next.mtaSts.policyDir !== null || next.mtaSts.policyFile !== null) {
        log.warn('MTA-STS policy hosting was not configured at start: restart the process to serve policies');
      }
      await server.reloadTls();
    },
    async stop() {
      await closeAll();
      await release();
    },
  };
}

async function listenOn(server: HttpServer, where: string): Promise<number> {
  try {
    return await server.listen();
  } catch (err) {
    throw new Error(`cannot listen on ${where}: ${(err as Error).message}`, { cause: err });
  }
}

/** UI_ALLOW, UI_TRUSTED_PROXY_HEADER and UI_SESSION_HOURS, for the dashboard API (README "Dashboard"). */
function dashboardAccess(config: Config) {
  const v = config.values;
  return { allow: v.UI_ALLOW, proxyHeader: v.UI_TRUSTED_PROXY_HEADER, sessionHours: v.UI_SESSION_HOURS };
}

function logPolicyWarnings(log: Logger, policies: Iterable<HostedPolicy>): void {
  const seen = new Set<string>(); // a policy file shared by many domains is warned about once
  for (const p of policies) {
    if (seen.has(p.source)) continue;
    seen.add(p.source);
    for (const w of p.warnings) log.warn({ source: p.source, line: w.line, code: w.code }, `MTA-STS policy: ${w.message}`);
  }
}

/** Replaces `hosted` with the policies of `next`; an invalid set is refused whole and the old one kept. */
function reloadHostedPolicies(log: Logger, hosted: Map<string, HostedPolicy>, next: Config): void {
  let fresh: Map<string, HostedPolicy>;
  try {
    fresh = new Map(loadHostedPolicies(next.mtaSts));
  } catch (err) {
    log.error({ err: errorMessage(err) }, 'MTA-STS policies not reloaded; still serving the previous ones');
    return;
  }
  const { added, removed, changed } = compareHostedPolicies(hosted, fresh);
  if (!added.length && !removed.length && !changed.length) {
    log.info({ hosted: hosted.size }, 'MTA-STS policies unchanged');
    return;
  }
  logPolicyWarnings(log, fresh.values());
  hosted.clear();
  for (const [domain, p] of fresh) hosted.set(domain, p);
  log.info(
    { hosted: hosted.size, added: summariseList(added), removed: summariseList(removed), changed: summariseList(changed) },
    'MTA-STS policies reloaded',
  );
}
