/**
 * Worker only: raw messages already stored and queued, the queue paused while the workers start, then
 * resumed; reports/s from the resume to the last message settled (processed_at in Postgres).
 * One worker runs in the bench process (the worker and alert services, as `tlsrpt worker` runs them: the
 * bench only polls meanwhile); two run as `tlsrpt worker` processes.
 */
import { loadConfig } from '../../src/config/loadConfig.js';
import { createLogger } from '../../src/log/createLogger.js';
import { startWorkerService } from '../../src/services/workerService.js';
import { startAlertService } from '../../src/services/alertService.js';
import { selfCpuMs, serviceCpuFor, serviceCpuSince } from '../lib/benchEnv.js';
import { createProducerConnection, createReportQueue, enqueueRawMessages } from '../../src/queue/reportQueue.js';
import { insertRawMessage } from '../../src/store/rawMessages.js';
import { median, processCpuMs, startTlsrpt } from '../lib/benchEnv.js';
import { buildReportMix } from '../lib/reportMix.js';
import type { BenchContext, Figure, Scenario } from '../lib/types.js';
import { waitRolledUp, waitSettled } from './endToEnd.js';

export interface WorkerOnlyRun {
  reportsPerS: number;
  cpuMsPerReport: number;
  postgresCpuMsPerReport: number;
  redisCpuMsPerReport: number;
  /** Seconds from the last message settled to the last report rolled up (NaN without rollups). */
  rollupLagS: number;
}

/** Stores `count` mails, then times `workers` worker processes draining them. Does not truncate. */
/** onStart: called as the timed part begins (the queue resumes), for work measured alongside (a prune). */
/** inBenchProcess: one worker in the bench process (default for one worker), else `tlsrpt worker` processes. */
export async function measureWorkerOnly(
  ctx: BenchContext,
  workers: number,
  count: number,
  tag: string,
  onStart?: () => void,
  inBenchProcess = workers === 1,
): Promise<WorkerOnlyRun> {
  const mix = buildReportMix(count, tag);
  const before = (await ctx.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM raw_messages`)).rows[0]!.n;
  const ids: number[] = [];
  // Stored 8 at a time: setup, not timed.
  for (let i = 0; i < mix.length; i += 8) {
    ids.push(...(await Promise.all(mix.slice(i, i + 8).map((m) => insertRawMessage(ctx.db.pool, m.mail, { channel: 'ingest' })))));
  }
  const redis = createProducerConnection(ctx.settings.redisUrl);
  const queue = createReportQueue(redis, ctx.queuePrefix);
  await queue.waitUntilReady();
  await queue.pause();
  await enqueueRawMessages(queue, ids);
  // In process, wired as `tlsrpt worker` wires it: the alert service's hook attaches each stored report.
  const config = loadConfig({ ...process.env, ...ctx.tlsrptEnv, LOG_LEVEL: 'silent' });
  const alerts = inBenchProcess ? await startAlertService(config, createLogger('silent')) : null;
  const inProcess = alerts ? await startWorkerService(config, createLogger('silent'), { onProcessed: alerts.onProcessed }) : null;
  const processes = inProcess
    ? []
    : await Promise.all(Array.from({ length: workers }, () => startTlsrpt('worker', ctx.tlsrptEnv, 'worker consuming the queue')));
  try {
    const cpu0 = processes.map((p) => processCpuMs(p.pid));
    const self0 = selfCpuMs();
    const services0 = await serviceCpuFor(ctx.db);
    const start = Date.now();
    await queue.resume();
    onStart?.();
    const settled = await waitSettled(ctx, before + count, 120_000 + count * 20);
    const rolledUpAt = await waitRolledUp(ctx, 120_000);
    const cpu = inProcess ? selfCpuMs() - self0 : processes.reduce((s, p, i) => s + processCpuMs(p.pid) - cpu0[i]!, 0);
    const services = await serviceCpuSince(ctx.db, services0);
    const last = Math.max(...ids.map((id) => settled.get(id)!));
    return {
      reportsPerS: count / ((last - start) / 1000),
      cpuMsPerReport: cpu / count,
      postgresCpuMsPerReport: services.postgres / count,
      redisCpuMsPerReport: services.redis / count,
      rollupLagS: rolledUpAt === null ? NaN : Math.max(0, rolledUpAt - last) / 1000,
    };
  } finally {
    await inProcess?.stop();
    await alerts?.stop();
    for (const p of processes) await p.stop();
    await queue.close();
    redis.disconnect();
  }
}

export const workerOnlyScenario: Scenario = {
  name: 'worker',
  describe: 'worker only: draining already-stored raw messages',
  async run(ctx) {
    const figures: Figure[] = [];
    // One worker in the bench process (the figure kept since issue 8), then 1 and 2 `tlsrpt worker` processes:
    // those two start alike (cold JIT, own pools), so they compare one process with two fairly.
    const cases = ctx.settings.smoke
      ? [{ workers: 1, inBenchProcess: true }]
      : [
          { workers: 1, inBenchProcess: true },
          { workers: 1, inBenchProcess: false },
          { workers: 2, inBenchProcess: false },
        ];
    for (const { workers, inBenchProcess } of cases) {
      const runs: WorkerOnlyRun[] = [];
      for (let run = 0; run < ctx.settings.runs; run++) {
        await ctx.db.truncate();
        runs.push(
          await measureWorkerOnly(
            ctx,
            workers,
            ctx.settings.reports,
            `worker-${process.pid}-${figures.length}-${run}`,
            undefined,
            inBenchProcess,
          ),
        );
        ctx.log(`  worker only, ${workers} process(es), run ${run + 1}: ${runs[runs.length - 1]!.reportsPerS.toFixed(0)} reports/s`);
      }
      figures.push({
        scenario: 'worker',
        name: inBenchProcess
          ? 'worker only, 1 worker (in the bench process)'
          : `worker only, ${workers} worker process${workers > 1 ? 'es' : ''}`,
        unit: 'reports/s',
        runs: runs.map((r) => r.reportsPerS),
        value: median(runs.map((r) => r.reportsPerS)),
        extra: {
          cpuMsPerReport: median(runs.map((r) => r.cpuMsPerReport)),
          postgresCpuMsPerReport: median(runs.map((r) => r.postgresCpuMsPerReport)),
          redisCpuMsPerReport: median(runs.map((r) => r.redisCpuMsPerReport)),
          totalCpuMsPerReport: median(runs.map((r) => r.cpuMsPerReport + r.postgresCpuMsPerReport + r.redisCpuMsPerReport)),
          ...(runs.some((r) => Number.isFinite(r.rollupLagS)) ? { rollupLagS: median(runs.map((r) => r.rollupLagS)) } : {}),
        },
        settings: { reports: ctx.settings.reports, workers, inBenchProcess, database: 'empty at start' },
        // Targets of issue 13: CPU per report (Node + PostgreSQL + Redis), and two processes no slower than one.
        target: inBenchProcess ? 'total CPU <= 0.6 ms/report; >= 2500' : workers === 2 ? 'not slower than 1 process' : undefined,
      });
    }
    const [, one, two] = figures;
    if (one && two) two.extra.pctOfOneProcess = (100 * two.value) / one.value;
    return figures;
  },
};
