/**
 * Issue 15 finding 6: after Redis lost its jobs, stranded messages waited for the next sweep (60-120 s), and a
 * worker did not sweep at start-up. A worker now sweeps when it starts and whenever its Redis connection is
 * ready again, so recovery takes seconds. The sweep interval here is an hour: only those prompt sweeps can
 * pick the messages up within the test's time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log/createLogger.js';
import { startWorkerService, type WorkerService } from '../../src/services/workerService.js';
import { insertRawMessage, type Envelope } from '../../src/store/rawMessages.js';
import { realJson } from '../helpers/fixtures.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcpProxy.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { clearQueuePrefix, testConfig } from '../helpers/testConfig.js';
import { waitFor } from '../helpers/waitFor.js';

const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
const ENVELOPE: Envelope = {
  channel: 'smtp',
  mailFrom: 'reporter@example.org',
  rcptTo: ['tlsrpt@reports.example.com'],
  remoteAddress: '127.0.0.1',
};

describe('sweep at start-up and on Redis reconnection', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let worker: WorkerService | undefined;
  let prefix: string;
  let reports = 0;

  before(async () => {
    db = await createTestDatabase();
    proxy = await startTcpProxy(6379);
  });
  after(async () => {
    await worker?.stop();
    await proxy.close();
    if (prefix) await clearQueuePrefix(prefix);
    await db.drop();
  });

  /** A stored message with no job, as after Redis lost its data; received `ageSeconds` ago. */
  async function stranded(ageSeconds: number): Promise<number> {
    const report = { ...(realJson('parsedmarc--smtp_tls.json') as object), 'report-id': `sweep-${++reports}` };
    const id = await insertRawMessage(db.pool, buildReportMail({ report }), ENVELOPE);
    await db.pool.query(`UPDATE raw_messages SET received_at = now() - make_interval(secs => $2) WHERE id = $1`, [id, ageSeconds]);
    return id;
  }
  const status = async (id: number) =>
    (await db.pool.query(`SELECT status FROM raw_messages WHERE id = $1`, [id])).rows[0].status as string;

  it('a worker that starts enqueues stranded messages at once, not after an interval', async () => {
    const id = await stranded(30);
    const config = testConfig(db.url, { SWEEP_INTERVAL_SECONDS: '3600', REDIS_URL: `redis://127.0.0.1:${proxy.port}` });
    prefix = config.queuePrefix;
    worker = await startWorkerService(config, log);
    await waitFor(`message ${id} to be processed`, async () => (await status(id)) !== 'pending', 10_000);
    assert.equal(await status(id), 'stored');
  });

  it('when Redis comes back (jobs lost), the worker sweeps again', async () => {
    assert.ok(worker);
    await worker.sweeper.settled();
    const id = await stranded(30);
    proxy.cut();
    await new Promise((r) => setTimeout(r, 300));
    proxy.restore();
    await waitFor(`message ${id} to be processed after the reconnection`, async () => (await status(id)) !== 'pending', 15_000);
    assert.equal(await status(id), 'stored');
  });
});
