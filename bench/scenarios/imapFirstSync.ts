/**
 * IMAP first sync: a local Dovecot (test/helpers/dovecot.ts) with BENCH_IMAP_MESSAGES report mails in one
 * INBOX (10,000; 100 in the smoke run), read by one `tlsrpt imap --once` pass (pullOnce, in process) with
 * IMAP_PROCESSED=move:Processed: messages/s from the connect to the last batch committed and moved.
 * Each run reads a fresh mailbox with mails of its own, so no run finds the previous one's mails stored.
 * Run it alone with BENCH_ONLY=imap. Needs dovecot-imapd (see .ci/run).
 */
import { loadConfig } from '../../src/config/loadConfig.js';
import { pullOnce } from '../../src/imap/mailboxReader.js';
import { createLogger } from '../../src/log/createLogger.js';
import { createProducerConnection, createReportQueue, enqueueRawMessages } from '../../src/queue/reportQueue.js';
import { startDovecot } from '../../test/helpers/dovecot.js';
import { median, selfCpuMs } from '../lib/benchEnv.js';
import { buildReportMix } from '../lib/reportMix.js';
import type { BenchContext, Figure, Scenario } from '../lib/types.js';

export const imapFirstSyncScenario: Scenario = {
  name: 'imap',
  describe: 'IMAP first sync of a mailbox from a local Dovecot (messages/s)',
  async run(ctx: BenchContext): Promise<Figure[]> {
    const count = Number(process.env.BENCH_IMAP_MESSAGES ?? (ctx.settings.smoke ? 100 : 10_000));
    const dovecot = await startDovecot();
    const redis = createProducerConnection(ctx.settings.redisUrl);
    const queue = createReportQueue(redis, ctx.queuePrefix);
    const rates: number[] = [];
    const cpuPerMessage: number[] = [];
    try {
      for (let run = 0; run < ctx.settings.runs; run++) {
        const user = `bench${run}`;
        dovecot.addUser(user, 'bench');
        dovecot.deliver(
          user,
          'INBOX',
          buildReportMix(count, `imap${run}-${process.pid}`).map((m) => m.mail),
        );
        const config = loadConfig({
          ...ctx.tlsrptEnv,
          IMAP_URL: `imap://${user}:bench@127.0.0.1:${dovecot.port}/INBOX`,
          IMAP_PROCESSED: 'move:Processed',
        });
        const deps = {
          pool: ctx.db.pool,
          log: createLogger('silent'),
          enqueue: (ids: number[]) => enqueueRawMessages(queue, ids),
          maxMessageBytes: config.smtp.maxMessageBytes,
          processed: config.imap.processed,
          nonReport: config.imap.nonReport,
          imap: config.imap,
          tokens: null,
        };
        const cpu0 = selfCpuMs();
        const t0 = performance.now();
        const summary = await pullOnce(deps, config.imap.mailboxes[0]!);
        const seconds = (performance.now() - t0) / 1000;
        if (summary.stored !== count) throw new Error(`imap bench: stored ${summary.stored} of ${count} messages`);
        rates.push(count / seconds);
        cpuPerMessage.push((selfCpuMs() - cpu0) / count);
        ctx.log(`  run ${run + 1}: ${count} messages in ${seconds.toFixed(1)} s`);
      }
    } finally {
      await queue.close();
      redis.disconnect();
      await dovecot.stop();
    }
    return [
      {
        scenario: 'imap',
        name: `IMAP first sync, ${count} messages, move after commit`,
        unit: 'messages/s',
        runs: rates,
        value: median(rates),
        extra: { benchCpuMsPerMessage: median(cpuPerMessage) },
        settings: { messages: count, batch: 250 },
      },
    ];
  },
};
