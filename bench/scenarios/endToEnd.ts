/**
 * End to end: reports/s from the first MAIL FROM (or POST) to the last report queryable in SQL (its raw
 * message settled), and the latency from each `250` (or 200) to its row, per sender x topology.
 * A sender is a way reports arrive (SMTP reused or new connections, STARTTLS, HTTPS POST); a topology is a
 * process layout. Every sender runs against every topology.
 */
import { runHttpLoad } from '../lib/httpLoad.js';
import { buildReportMix, type MixedReport } from '../lib/reportMix.js';
import { encodeData, runSmtpLoad, type LoadResult } from '../lib/smtpLoad.js';
import {
  machineCpuMs,
  median,
  percentile,
  processCpuMs,
  selfCpuMs,
  serviceCpuFor,
  serviceCpuSince,
  startTlsrpt,
  type TlsrptProcess,
} from '../lib/benchEnv.js';
import type { Layout } from '../lib/settings.js';
import type { BenchContext, Figure, Scenario } from '../lib/types.js';
import { createProducerConnection, createReportQueue, messageRunsOf, type ReportJob } from '../../src/queue/reportQueue.js';
import type { Queue } from 'bullmq';

/** The listeners of a topology: several when it has several receivers (each its own process and port). */
export interface Ports {
  smtp: number[];
  http: number[];
}

export interface Sender {
  name: string;
  target?: string;
  /** Whether it posts over HTTPS (a layout starts its `tlsrpt http` processes only for such a sender). */
  https?: boolean;
  /** Prepares the bodies once per run (not timed). */
  prepare(mix: MixedReport[]): Buffer[];
  send(ctx: BenchContext, ports: Ports, bodies: Buffer[]): Promise<LoadResult>;
  settings(ctx: BenchContext): Record<string, string | number>;
}

const smtpSender = (name: string, mode: 'reuse' | 'new' | 'new-starttls', target?: string): Sender => ({
  name,
  target,
  prepare: (mix) => mix.map((m) => encodeData(m.mail)),
  send: (ctx, ports, bodies) =>
    runSmtpLoad({
      ports: ports.smtp,
      mails: bodies,
      mode,
      connections: mode === 'reuse' ? ctx.settings.reusedConnections : ctx.settings.newConnections,
    }),
  settings: (ctx) => ({
    client: 'bench/lib/smtpLoad.ts (pipelined, net.Socket)',
    connections: mode === 'reuse' ? ctx.settings.reusedConnections : ctx.settings.newConnections,
    connectionUse: mode === 'reuse' ? 'reused for many messages' : mode === 'new' ? 'one per message' : 'one per message, STARTTLS',
  }),
});

const httpsSender: Sender = {
  name: 'HTTPS POST, kept-alive connections',
  https: true,
  prepare: (mix) => mix.map((m) => m.gzipped),
  send: (ctx, ports, bodies) => runHttpLoad({ ports: ports.http, bodies, connections: ctx.settings.reusedConnections }),
  settings: (ctx) => ({
    client: 'bench/lib/httpLoad.ts (node:https, keep-alive agent)',
    connections: ctx.settings.reusedConnections,
    body: 'application/tlsrpt+gzip (RFC 8460 5.4)',
  }),
};

export const SENDERS: Sender[] = [
  // Targets of issue 13, for `serve`: CPU per report (steadier than throughput on a shared machine) first.
  smtpSender('SMTP reused connections', 'reuse', 'total CPU <= 0.8 ms/report; >= 1.5x 1,205/s'),
  smtpSender('SMTP new connection per message', 'new'),
  smtpSender('SMTP new STARTTLS connection per message', 'new-starttls', 'pipeline CPU <= 1.0 ms/report; >= 800'),
  httpsSender,
];

/** What a process of a topology runs, for the CPU per report of each kind. */
type ProcessKind = 'serve' | 'receiver' | 'http' | 'worker';

interface Running {
  ports: Ports;
  processes: Array<{ kind: ProcessKind; process: TlsrptProcess }>;
}

interface Topology {
  name: string;
  /** `https`: an HTTPS sender will run against it (a split layout starts its `tlsrpt http` processes only then). */
  start(ctx: BenchContext, https: boolean): Promise<Running>;
}

const SMTP_LISTENING = 'SMTP receiver listening';
const HTTPS_LISTENING = 'HTTPS server listening';
const CONSUMING = 'worker consuming the queue';

const serveTopology: Topology = {
  name: 'serve (receivers + worker in 1 process)',
  async start(ctx) {
    const p = await startTlsrpt('serve', ctx.tlsrptEnv, [SMTP_LISTENING, HTTPS_LISTENING]);
    return { ports: { smtp: [p.ports[SMTP_LISTENING]!], http: [p.ports[HTTPS_LISTENING]!] }, processes: [{ kind: 'serve', process: p }] };
  },
};

/**
 * Scale out as a deployment would: `receivers` SMTP receivers (the load generator spreads its connections
 * over them, as senders spread over MX records of equal preference), as many `tlsrpt http` processes when
 * an HTTPS sender runs, and `workers` worker processes, all on one PostgreSQL and Redis.
 */
export function layoutTopology({ receivers, workers }: Layout): Topology {
  const front = receivers === 1 ? 'receiver + https' : `${receivers} receivers + ${receivers} https`;
  return {
    name: `${front} + ${workers} worker process${workers > 1 ? 'es' : ''} (${receivers}r+${workers}w)`,
    async start(ctx, https) {
      const times = (n: number, kind: ProcessKind, ready: string) =>
        Array.from({ length: n }, async () => ({ kind, process: await startTlsrpt(kind, ctx.tlsrptEnv, ready) }));
      const processes = await Promise.all([
        ...times(receivers, 'receiver', SMTP_LISTENING),
        ...times(https ? receivers : 0, 'http', HTTPS_LISTENING),
        ...times(workers, 'worker', CONSUMING),
      ]);
      const portsOf = (kind: ProcessKind, msg: string) => processes.filter((p) => p.kind === kind).map((p) => p.process.ports[msg]!);
      return { ports: { smtp: portsOf('receiver', SMTP_LISTENING), http: portsOf('http', HTTPS_LISTENING) }, processes };
    },
  };
}

/** The split layout measured by default since issue 8; BENCH_LAYOUTS replaces it with the layouts it names. */
export const DEFAULT_LAYOUT: Layout = { receivers: 1, workers: 2 };

export function topologies(layouts: Layout[]): Topology[] {
  return [serveTopology, ...(layouts.length ? layouts : [DEFAULT_LAYOUT]).map(layoutTopology)];
}

/**
 * Polls until no raw message is pending, then returns each one's processed_at (epoch ms). Call it once every
 * message to wait for is committed (the senders have their 250s). The poll reads the partial index of
 * pending messages: counting settled rows instead would scan every stored mail 20 times a second and take
 * a share of Postgres from the pipeline being measured.
 */
export async function waitSettled(ctx: BenchContext, count: number, timeoutMs: number): Promise<Map<number, number>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Whether one is pending, not how many: counting them visited every pending row 20 times a second, in
    // PostgreSQL time that the bench charges to the pipeline.
    const r = await ctx.db.pool.query<{ pending: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM raw_messages WHERE status = 'pending') AS pending`,
    );
    if (!r.rows[0]!.pending) break;
    if (Date.now() > deadline) {
      const left = await ctx.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM raw_messages WHERE status = 'pending'`);
      throw new Error(`${left.rows[0]!.n} messages still pending after ${timeoutMs} ms`);
    }
    await new Promise((res) => setTimeout(res, 50));
  }
  const rows = await ctx.db.pool.query<{ id: number; t: number; status: string }>(
    `SELECT id, extract(epoch FROM processed_at) * 1000 AS t, status FROM raw_messages`,
  );
  if (rows.rows.length < count) throw new Error(`expected ${count} messages, found ${rows.rows.length}`);
  const bad = rows.rows.filter((x) => x.status !== 'stored');
  if (bad.length) throw new Error(`${bad.length} messages were not stored (first: ${bad[0]!.status}); the mix must store cleanly`);
  return new Map(rows.rows.map((x) => [x.id, Number(x.t)]));
}

/**
 * Once every message is settled: polls until the rollup job has folded every stored report into the daily
 * totals (its queue, rollup_queue, is empty), and returns the epoch ms when it had; null when this schema
 * has no rollups (totals kept inside the write). Measuring CPU up to that moment puts the rollup job's own
 * CPU (its Node time in the worker processes, its PostgreSQL time) into the per-report totals.
 */
export async function waitRolledUp(ctx: BenchContext, timeoutMs: number): Promise<number | null> {
  const has = await ctx.db.pool.query<{ q: string | null }>(`SELECT to_regclass('rollup_queue')::text AS q`);
  if (!has.rows[0]!.q) return null;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await ctx.db.pool.query<{ waiting: boolean }>(`SELECT EXISTS (SELECT 1 FROM rollup_queue) AS waiting`);
    if (!r.rows[0]!.waiting) return Date.now();
    if (Date.now() > deadline) throw new Error(`reports still waiting to be rolled up after ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

/**
 * The batch sizes a run reached, which decide the round trips per report: messages per BullMQ job (what
 * the receivers' enqueue groups gathered; from the ids of the jobs completed since `before`, of the last
 * 1,000 BullMQ keeps) and reports per store statement (the worker's group commit: each statement is one
 * transaction, so one xmin).
 */
async function groupSizes(
  ctx: BenchContext,
  queue: Queue<ReportJob>,
  before: Set<string>,
): Promise<{ messagesPerJob: number; reportsPerStore: number }> {
  const jobs = (await queue.getRanges(['completed'], 0, -1)).filter((id) => !before.has(id));
  const messages = jobs.reduce((sum, id) => sum + messageRunsOf(id).reduce((s, [first, last]) => s + last - first + 1, 0), 0);
  const r = await ctx.db.pool.query<{ per: number }>(
    `SELECT count(*)::float8 / greatest(count(DISTINCT xmin::text), 1) AS per FROM reports`,
  );
  return { messagesPerJob: jobs.length ? messages / jobs.length : NaN, reportsPerStore: r.rows[0]!.per };
}

export const endToEndScenario: Scenario = {
  name: 'e2e',
  describe: 'end to end (SMTP and HTTPS): first MAIL FROM or POST to last report queryable in SQL',
  async run(ctx) {
    const figures: Figure[] = [];
    // The smoke run (inside npm test) keeps to one topology: each extra process costs seconds of start-up.
    const wanted = (sender: Sender, topology: Topology) =>
      !ctx.settings.e2eCases.length || ctx.settings.e2eCases.some((c) => `${sender.name}; ${topology.name}`.includes(c));
    const all = topologies(ctx.settings.layouts);
    // Completed jobs are read for their sizes (messages per job: the receivers' enqueue groups).
    const redis = createProducerConnection(ctx.settings.redisUrl);
    const queue = createReportQueue(redis, ctx.queuePrefix);
    try {
      for (const topology of ctx.settings.smoke ? all.slice(0, 1) : all) {
        const senders = SENDERS.filter((s) => wanted(s, topology));
        if (!senders.length) continue;
        ctx.log(`e2e: starting ${topology.name}`);
        await ctx.db.truncate();
        const { ports, processes } = await topology.start(
          ctx,
          senders.some((s) => s.https),
        );
        try {
          for (const sender of senders) {
            const runs: number[] = [];
            const extras: Record<string, number[]> = {};
            const add = (k: string, v: number) => (extras[k] ??= []).push(v);
            for (let run = 0; run < ctx.settings.runs; run++) {
              await ctx.db.truncate();
              const mix = buildReportMix(ctx.settings.reports, `e2e-${process.pid}-${figures.length}-${run}`, 8460 + run);
              const bodies = sender.prepare(mix);
              const jobs0 = new Set(await queue.getRanges(['completed'], 0, -1));
              const cpu0 = processes.map((p) => processCpuMs(p.process.pid));
              const machine0 = machineCpuMs();
              const self0 = selfCpuMs();
              const services0 = await serviceCpuFor(ctx.db);
              const load = await sender.send(ctx, ports, bodies);
              const selfMs = selfCpuMs() - self0;
              if (load.failures.length) throw new Error(`${load.failures.length} deliveries failed; first: ${load.failures[0]}`);
              const settled = await waitSettled(ctx, load.deliveries.length, 120_000 + bodies.length * 20);
              const rolledUpAt = await waitRolledUp(ctx, 120_000);
              const machine1 = machineCpuMs();
              const services = await serviceCpuSince(ctx.db, services0);
              const cpuMs = processes.map((p, i) => processCpuMs(p.process.pid) - cpu0[i]!);
              const pipelineMs = cpuMs.reduce((a, b) => a + b, 0);
              const groups = await groupSizes(ctx, queue, jobs0);
              const startEpoch = performance.timeOrigin + load.startedAt;
              const lastSettled = Math.max(...settled.values());
              const n = load.deliveries.length;
              // How far the daily totals were behind the last report stored (0.05 s resolution: the poll).
              if (rolledUpAt !== null) add('rollupLagS', Math.max(0, rolledUpAt - lastSettled) / 1000);
              runs.push(n / ((lastSettled - startEpoch) / 1000));
              const latencies = load.deliveries.map((d) => settled.get(d.rawMessageId)! - (performance.timeOrigin + d.ackedAt));
              add('latencyP50Ms', percentile(latencies, 50));
              add('latencyP99Ms', percentile(latencies, 99));
              add('acceptedPerS', n / ((load.finishedAt - load.startedAt) / 1000));
              add('pipelineCpuMsPerReport', pipelineMs / n);
              // Per process kind, summed over the processes of that kind (a split layout's figures).
              for (const kind of new Set(processes.map((p) => p.kind))) {
                if (kind !== 'serve')
                  add(`${kind}CpuMsPerReport`, cpuMs.filter((_, i) => processes[i]!.kind === kind).reduce((a, b) => a + b, 0) / n);
              }
              add('messagesPerJob', groups.messagesPerJob);
              add('reportsPerStore', groups.reportsPerStore);
              add('loadGenCpuMsPerReport', selfMs / n);
              add('postgresCpuMsPerReport', services.postgres / n);
              add('redisCpuMsPerReport', services.redis / n);
              add('totalCpuMsPerReport', (pipelineMs + services.postgres + services.redis) / n);
              add('machineBusyPct', (100 * (machine1.busy - machine0.busy)) / (machine1.total - machine0.total));
              ctx.log(`  ${sender.name} / ${topology.name} run ${run + 1}: ${runs[runs.length - 1]!.toFixed(0)} reports/s`);
            }
            figures.push({
              scenario: 'e2e',
              name: `${sender.name}; ${topology.name}`,
              unit: 'reports/s',
              runs,
              value: median(runs),
              extra: Object.fromEntries(Object.entries(extras).map(([k, v]) => [k, median(v)])),
              settings: { reports: ctx.settings.reports, ...sender.settings(ctx), topology: topology.name },
              ...(sender.target ? { target: sender.target } : {}),
            });
          }
        } finally {
          for (const p of processes) await p.process.stop();
        }
      }
    } finally {
      await queue.close();
      redis.disconnect();
    }
    return figures;
  },
};
