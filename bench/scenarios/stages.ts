/**
 * Per stage, in-process, one report at a time: microseconds per report for each stage the worker and the
 * receiver run. The pure stages are the functions decodeMessage composes; the I/O stages run against the
 * bench database and Redis.
 */
import { generateKeyPairSync } from 'node:crypto';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import { verifyDkim } from '../../src/auth/verifyDkim.js';
import { decompressReport } from '../../src/decompress/decompressReport.js';
import { extractReportPart } from '../../src/parse/extractReportPart.js';
import { decodeMessage } from '../../src/pipeline/decodeMessage.js';
import { createProducerConnection, createReportQueue, enqueueRawMessages } from '../../src/queue/reportQueue.js';
import { insertRawMessage, insertRawMessages } from '../../src/store/rawMessages.js';
import { storeReport, storeReports } from '../../src/store/storeReport.js';
import { normaliseReport } from '../../src/validate/normaliseReport.js';
import { parseReportJson } from '../../src/validate/parseReportJson.js';
import { validateReport } from '../../src/validate/validateReport.js';
import { median } from '../lib/benchEnv.js';
import { buildReportMix } from '../lib/reportMix.js';
import type { Figure, Scenario } from '../lib/types.js';

const CEILING = 64 * 1024 * 1024;
/** The batch size of the batched figures: what a busy receiver or worker commits at once. */
const BATCH = 64;
const SINGLE_STAGES = [
  'MIME parse (extractReportPart)',
  'decompress',
  'JSON + normalise + validate',
  'DKIM verify (mailauth, RSA-2048, key cached)',
  'store raw mail (INSERT, receiver)',
  'enqueue (BullMQ add)',
  'store report (storeReport)',
] as const;
const BATCHED_STAGES = [
  `store raw mails, ${BATCH} per INSERT (receiver group commit)`,
  `store reports, ${BATCH} per statement (worker batch)`,
] as const;
const STAGES = [...SINGLE_STAGES, ...BATCHED_STAGES];

/**
 * The DKIM stage verifies each mail of the mix signed (untimed) with a key of the bench's own, and looks
 * the key up in memory: the worker's DNS cache answers all but the first lookup of each key, so the stage
 * is the parse, the body hash and the RSA verification.
 */
function createBenchSigner(): {
  sign: (mail: Buffer) => Promise<Buffer>;
  resolver: (name: string, rrtype: string) => Promise<string[][]>;
} {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const record = `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;
  const signature = { signingDomain: 'bench.example', selector: 'bench', privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) };
  return {
    async sign(mail) {
      // signTime: without it mailauth reads the clock twice (t= signed, t= written) and a second turning over
      // between the reads makes a bad signature, which the verification stage would time as a failure.
      const signed = await dkimSign(mail, { ...signature, signTime: new Date(), signatureData: [signature] });
      return Buffer.concat([Buffer.from(signed.signatures), mail]);
    },
    resolver: async () => [record.match(/.{1,255}/g)!],
  };
}

export const stagesScenario: Scenario = {
  name: 'stages',
  describe: 'per stage: microseconds per report, in-process, sequential',
  async run(ctx) {
    const totals: Record<string, number[]> = {};
    const redis = createProducerConnection(ctx.settings.redisUrl);
    const queue = createReportQueue(redis, `${ctx.queuePrefix}-stages`);
    await queue.waitUntilReady();
    const dkim = createBenchSigner();
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
          const signed = await dkim.sign(m.mail);
          await time('DKIM verify (mailauth, RSA-2048, key cached)', () => verifyDkim(signed, dkim.resolver));
          const id = await time('store raw mail (INSERT, receiver)', () => insertRawMessage(ctx.db.pool, m.mail, { channel: 'ingest' }));
          await time('enqueue (BullMQ add)', () => enqueueRawMessages(queue, [id]));
          const decoded = await decodeMessage(m.mail, { reportMaxBytes: CEILING });
          await time('store report (storeReport)', () => storeReport(ctx.db.pool, id, decoded));
        }
        // The same work batched as the services batch it under load (a second mix: new identities).
        const batchMix = buildReportMix(ctx.settings.stageReports, `stages-batch-${process.pid}-${run}`, 200 + run);
        for (let i = 0; i < batchMix.length; i += BATCH) {
          const chunk = batchMix.slice(i, i + BATCH);
          const ids = await time(BATCHED_STAGES[0], () =>
            insertRawMessages(
              ctx.db.pool,
              chunk.map((m) => ({ raw: m.mail, envelope: { channel: 'ingest' as const } })),
            ),
          );
          const items = await Promise.all(
            chunk.map(async (m, k) => ({ rawMessageId: ids[k]!, decoded: await decodeMessage(m.mail, { reportMaxBytes: CEILING }) })),
          );
          const results = await time(BATCHED_STAGES[1], () => storeReports(ctx.db.pool, items));
          const failed = results.find((r) => r instanceof Error);
          if (failed) throw failed;
        }
        for (const s of STAGES)
          (totals[s] ??= []).push((t[s]! * 1000) / ((BATCHED_STAGES as readonly string[]).includes(s) ? batchMix.length : mix.length));
      }
    } finally {
      await queue
        .obliterate({ force: true })
        .catch((err: unknown) => ctx.log(`could not empty the stages queue: ${(err as Error).message}`));
      await queue.close();
      redis.disconnect();
    }
    return STAGES.map((s): Figure => ({
      scenario: 'stages',
      name: s,
      unit: 'us/report',
      runs: totals[s]!,
      value: median(totals[s]!),
      extra: {},
      settings: { reports: ctx.settings.stageReports, mode: 'sequential, one report at a time (latency, not throughput)' },
    }));
  },
};
