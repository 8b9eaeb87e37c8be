/**
 * The Prometheus registry behind GET /metrics (README "Metrics" lists every series).
 *
 * Two kinds of series:
 * - read at scrape time from Postgres (pipelineTotals.ts: running totals the rollup job keeps, at constant
 *   cost) and Redis (BullMQ job counts): the pipeline's numbers, the same in every process whatever the
 *   process layout;
 * - counted in this process: HTTP requests and refusals, the certificates it serves and their reloads (read
 *   from the certificate sets at scrape time), and Node's own process metrics.
 * When Postgres or Redis cannot be read, the scrape still succeeds: the last values read are served and
 * tlsrpt_metrics_source_up says which source failed.
 */
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import type { Pool } from '../db/pool.js';
import { QUARANTINE_REASONS, errorMessage } from '../errors.js';
import type { ReportJob } from '../queue/reportQueue.js';
import type { CertificateSource } from '../tls/certificateSource.js';
import type { Channel } from '../store/rawMessages.js';
import { OTHER } from './metricLabels.js';
import { DELAY_BUCKETS_SECONDS, createPipelineTally, key, type PipelineSnapshot } from './pipelineTotals.js';
import { SnapshotMetric, type Sample } from './snapshotMetric.js';

export interface Metrics {
  registry: Registry;
  /** Every HTTP response, by route pattern ("unmatched" for 404s), method and status code. */
  httpRequests: Counter<'route' | 'method' | 'status'>;
  /** Report POSTs refused before storage, by reason code (README "What a sender gets back"). */
  httpRefused: Counter<'reason'>;
}

export interface MetricsDeps {
  pool: Pool;
  queue: Queue<ReportJob>;
  log: Logger;
  /** METRICS_DOMAINS and METRICS_MAX_DOMAINS. */
  domains: readonly string[];
  maxDomains: number;
  /** The certificates this process serves (STARTTLS, HTTPS, MTA_STS_CERT_DIR), for the certificate series. */
  certificates?: readonly CertificateSource[];
}

const CHANNELS: readonly Channel[] = ['smtp', 'http', 'ingest', 'imap'];
const OUTCOMES = ['stored', 'duplicate', 'conflict', 'quarantined'] as const;
/** BullMQ job states worth watching; "completed" is left out because completed jobs are trimmed. */
const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed'] as const;
/** A scrape must answer even when a source hangs: Prometheus's own default timeout is 10 s. */
const SOURCE_TIMEOUT_MS = 5000;

interface Gathered {
  pipeline: PipelineSnapshot | null;
  queue: Record<string, number> | null;
  up: { postgres: boolean; redis: boolean };
}

export function createMetrics(deps: MetricsDeps): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const tally = createPipelineTally(deps.pool, { domains: deps.domains, maxDomains: deps.maxDomains });
  let lastPipeline: PipelineSnapshot | null = null;

  const gatherOnce = async (): Promise<Gathered> => {
    const [pipeline, queue] = await Promise.allSettled([
      withTimeout(tally.snapshot(), 'reading the totals from Postgres'),
      withTimeout(deps.queue.getJobCounts(...QUEUE_STATES), 'reading the job counts from Redis'),
    ]);
    if (pipeline.status === 'fulfilled') lastPipeline = pipeline.value;
    else deps.log.warn({ err: errorMessage(pipeline.reason) }, 'metrics: Postgres not readable; serving the last totals read');
    if (queue.status === 'rejected')
      deps.log.warn({ err: errorMessage(queue.reason) }, 'metrics: Redis not readable; queue depth left out');
    return {
      pipeline: lastPipeline,
      queue: queue.status === 'fulfilled' ? queue.value : null,
      up: { postgres: pipeline.status === 'fulfilled', redis: queue.status === 'fulfilled' },
    };
  };
  // Every series of one scrape reads from one gathering (the registry asks all metrics at once).
  let inflight: Promise<Gathered> | null = null;
  const gather = () =>
    (inflight ??= gatherOnce().finally(() => {
      inflight = null;
    }));
  const fromPipeline = (f: (p: PipelineSnapshot) => Sample[]) => async () => {
    const p = (await gather()).pipeline;
    return p ? f(p) : [];
  };

  new SnapshotMetric('tlsrpt_metrics_source_up', 'Whether the last scrape could read the source (1) or not (0).', 'gauge', async () => {
    const { up } = await gather();
    return [
      { labels: { source: 'postgres' }, value: up.postgres ? 1 : 0 },
      { labels: { source: 'redis' }, value: up.redis ? 1 : 0 },
    ];
  }).registerIn(registry);

  new SnapshotMetric(
    'tlsrpt_messages_received_total',
    'Messages (mails, HTTPS POST bodies, ingested files) committed to the database, by channel.',
    'counter',
    fromPipeline((p) => CHANNELS.map((channel) => ({ labels: { channel }, value: p.received.get(channel) ?? 0 }))),
  ).registerIn(registry);

  new SnapshotMetric(
    'tlsrpt_messages_processed_total',
    'Messages settled by the worker, by channel and outcome (stored, duplicate, conflict, quarantined).',
    'counter',
    fromPipeline((p) =>
      CHANNELS.flatMap((channel) =>
        OUTCOMES.map((outcome) => ({ labels: { channel, outcome }, value: p.processed.get(key(channel, outcome)) ?? 0 })),
      ),
    ),
  ).registerIn(registry);

  new SnapshotMetric(
    'tlsrpt_messages_quarantined_total',
    'Messages quarantined, by reason code (README "Quarantine reasons").',
    'counter',
    fromPipeline((p) => {
      const reasons = [...Object.keys(QUARANTINE_REASONS), OTHER];
      return reasons.map((reason) => ({ labels: { reason }, value: p.quarantined.get(reason) ?? 0 }));
    }),
  ).registerIn(registry);

  new SnapshotMetric(
    'tlsrpt_messages_pending',
    'Messages stored and not yet settled (queued, being processed, or retrying), by channel.',
    'gauge',
    fromPipeline((p) => CHANNELS.map((channel) => ({ labels: { channel }, value: p.pending.get(channel) ?? 0 }))),
  ).registerIn(registry);

  new SnapshotMetric(
    'tlsrpt_oldest_pending_message_age_seconds',
    'Age of the oldest message not yet settled (0 when none is pending): a stuck worker makes it grow.',
    'gauge',
    fromPipeline((p) => [{ value: p.oldestPendingAgeSeconds }]),
  ).registerIn(registry);

  new SnapshotMetric(
    'tlsrpt_rollup_lag_seconds',
    'Age of the oldest stored report not yet counted in the daily totals and the report series here (0 when none waits): ' +
      'a few seconds while a worker runs; growing means no worker folds them.',
    'gauge',
    fromPipeline((p) => [{ value: p.rollupLagSeconds }]),
  ).registerIn(registry);

  new SnapshotMetric(
    'tlsrpt_message_processing_seconds',
    'Time from receipt (the raw message committed) to settlement (stored, duplicate, conflict or quarantined), by channel.',
    'histogram',
    fromPipeline((p) =>
      [...p.delay].flatMap(([channel, d]): Sample[] => [
        ...DELAY_BUCKETS_SECONDS.map((le, i): Sample => ({ labels: { channel, le }, value: d.buckets[i] ?? 0, suffix: '_bucket' })),
        { labels: { channel, le: '+Inf' }, value: d.count, suffix: '_bucket' },
        { labels: { channel }, value: d.sum, suffix: '_sum' },
        { labels: { channel }, value: d.count, suffix: '_count' },
      ]),
    ),
  ).registerIn(registry);

  new SnapshotMetric(
    'tlsrpt_reports_stored_total',
    'Distinct reports stored (a duplicate or conflicting delivery is not counted again).',
    'counter',
    fromPipeline((p) => [{ value: p.reportsStored }]),
  ).registerIn(registry);

  new SnapshotMetric(
    'tlsrpt_sessions_total',
    'TLS sessions reported in the policy summaries, by policy domain, policy type and result (successful, failed). ' +
      'Do not add up policy types: a sender may report the same sessions under both tlsa and sts.',
    'counter',
    fromPipeline((p) => labelled(p.sessions, ['policy_domain', 'policy_type', 'result'])),
  ).registerIn(registry);

  new SnapshotMetric(
    'tlsrpt_failed_sessions_total',
    'Failed TLS sessions in the failure details, by policy domain, policy type and result type (unknown types as "other").',
    'counter',
    fromPipeline((p) => labelled(p.failedSessions, ['policy_domain', 'policy_type', 'result_type'])),
  ).registerIn(registry);

  const certificates = deps.certificates ?? [];
  new SnapshotMetric(
    'tlsrpt_tls_certificate_expiry_timestamp_seconds',
    'When each certificate this process serves expires (Unix time), by use (smtp, https, mta-sts) and certificate (file or certbot folder).',
    'gauge',
    async () =>
      certificates.flatMap((source) =>
        source.served().map(({ certificate, notAfter }) => ({ labels: { use: source.use, certificate }, value: notAfter })),
      ),
  ).registerIn(registry);

  new SnapshotMetric(
    'tlsrpt_tls_certificate_reloads_total',
    'Changed certificate files read again, by use and result (reloaded: in service; failed: refused, the previous one kept).',
    'counter',
    async () =>
      certificates.flatMap((source) =>
        (['reloaded', 'failed'] as const).map((result) => ({ labels: { use: source.use, result }, value: source.reloads[result] })),
      ),
  ).registerIn(registry);

  // The two series from before certificates per use, kept for the alerts and dashboards written against them.
  const https = certificates.filter((source) => source.use !== 'smtp');
  new SnapshotMetric(
    'tlsrpt_https_certificate_expiry_timestamp_seconds',
    'When the HTTPS pair (HTTP_TLS_CERT, else TLS_CERT) expires (Unix time); absent when it serves none. See tlsrpt_tls_certificate_expiry_timestamp_seconds for every certificate.',
    'gauge',
    async () => https.filter((source) => source.use === 'https').flatMap((source) => source.served().map((c) => ({ value: c.notAfter }))),
  ).registerIn(registry);

  new SnapshotMetric(
    'tlsrpt_https_certificate_reloads_total',
    'Changed HTTPS certificate files (the pair and MTA_STS_CERT_DIR) read again, by result (reloaded, failed).',
    'counter',
    async () =>
      https.length
        ? (['reloaded', 'failed'] as const).map((result) => ({
            labels: { result },
            value: https.reduce((sum, source) => sum + source.reloads[result], 0),
          }))
        : [],
  ).registerIn(registry);

  new SnapshotMetric('tlsrpt_queue_jobs', 'Jobs in the BullMQ queue, by state.', 'gauge', async () => {
    const counts = (await gather()).queue;
    return counts ? QUEUE_STATES.map((state) => ({ labels: { state }, value: counts[state] ?? 0 })) : [];
  }).registerIn(registry);

  return {
    registry,
    httpRequests: new Counter({
      name: 'tlsrpt_http_requests_total',
      help: 'HTTP responses sent by this process, by route ("unmatched" for unknown paths), method and status code.',
      labelNames: ['route', 'method', 'status'] as const,
      registers: [registry],
    }),
    httpRefused: new Counter({
      name: 'tlsrpt_http_reports_refused_total',
      help: 'Report POSTs refused by this process before anything was stored, by reason code.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
  };
}

function labelled(map: Map<string, number>, names: readonly string[]): Sample[] {
  return [...map]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([k, value]) => {
      const parts = k.split('\t');
      return { labels: Object.fromEntries(names.map((n, i) => [n, parts[i] ?? ''])), value };
    });
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${SOURCE_TIMEOUT_MS} ms ${what}`)), SOURCE_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
