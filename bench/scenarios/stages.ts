/**
 * Per stage, in-process, one report at a time: microseconds per report for each stage the worker and the
 * receiver run. The pure stages are the functions decodeMessage composes; the I/O stages run against the
 * bench database and Redis.
 */
import { decompressReport } from '../../src/decompress/decompressReport.js';
import { extractReportPart } from '../../src/parse/extractReportPart.js';
import { decodeMessage } from '../../src/pipeline/decodeMessage.js';
import { createProducerConnection, createReportQueue, enqueueRawMessages } from '../../src/queue/reportQueue.js';
import { insertRawMessage } from '../../src/store/rawMessages.js';
import { storeReport } from '../../src/store/storeReport.js';
import { normaliseReport } from '../../src/validate/normaliseReport.js';
import { parseReportJson } from '../../src/validate/parseReportJson.js';
import { validateReport } from '../../src/validate/validateReport.js';
import { median } from '../lib/benchEnv.js';
import { buildReportMix } from '../lib/reportMix.js';
import type { Figure, Scenario } from '../lib/types.js';

const CEILING = 64 * 1024 * 1024;
const STAGES = ['MIME parse (extractReportPart)', 'decompress', 'JSON + normalise + validate', 'store raw mail (INSERT, receiver)', 'enqueue (BullMQ add)', 'store report (storeReport)'] as const;

export const stagesScenario: Scenario = {
  name: 'stages',
  describe: 'per stage: microseconds per report, in-process, sequential',
  async run(ctx) {
    const totals: Record<string, number[]> = {};
    const redis = createProducerConnection(ctx.settings.redisUrl);
    const queue = createReportQueue(redis, `${ctx.queuePrefix}-stages`);
    await queue.waitUntilReady();
    try {
      // Warm-up (JIT, schema compile, connections) on a separate mix, not timed.
      for (const m of buildReportMix(50, `stages-warm-${process.pid}`, 1)) await decodeMessage(m.mail, { reportMaxBytes: CEILING });
      for (let run = 0; run < ctx.settings.runs; run++) {
        await ctx.db.truncate();
        const mix = buildReportMix(ctx.settings.stageReports, `stages-${process.pid}-${run}`, 100 + run);
        const t: Record<string, number> = Object.fromEntries(STAGES.map((s) => [s, 0]));
        const time = async <T>(stage: (typeof STAGES)[number], fn: () => Promise<T> | T): Promise<T> => {
          const t0 = performance.now();
          const v = await fn();
          t[stage]! += performance.now() - t0;
          return v;
        };
        for (const m of mix) {
          const part = await time('MIME parse (extractReportPart)', () => extractReportPart(m.mail));
          const dec = await time('decompress', () => decompressReport(part.bytes, CEILING));
          await time('JSON + normalise + validate', () => {
            const n = normaliseReport(parseReportJson(dec.json), { tlsReportDomain: part.mail.tlsReportDomain, filename: part.filename });
            validateReport(n.report);
          });
          const id = await time('store raw mail (INSERT, receiver)', () => insertRawMessage(ctx.db.pool, m.mail, { channel: 'ingest' }));
          await time('enqueue (BullMQ add)', () => enqueueRawMessages(queue, [id]));
          const decoded = await decodeMessage(m.mail, { reportMaxBytes: CEILING });
          await time('store report (storeReport)', () => storeReport(ctx.db.pool, id, decoded));
        }
        for (const s of STAGES) (totals[s] ??= []).push((t[s]! * 1000) / mix.length);
      }
    } finally {
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
      redis.disconnect();
    }
    return STAGES.map(
      (s): Figure => ({
        scenario: 'stages',
        name: s,
        unit: 'us/report',
        runs: totals[s]!,
        value: median(totals[s]!),
        extra: {},
        settings: { reports: ctx.settings.stageReports, mode: 'sequential, one report at a time (latency, not throughput)' },
      }),
    );
  },
};
