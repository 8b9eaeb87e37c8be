/**
 * One BullMQ job per group of messages (decision 8 of issue 13): the job id names the messages it carries,
 * the sweep reads from those ids which messages are queued, and the worker settles each message of a job on
 * its own (state, outcome, quarantine), against the real Redis, PostgreSQL and worker.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Queue, Worker } from 'bullmq';
import { createLogger } from '../../src/log/createLogger.js';
import {
  JOB_MAX_MESSAGES,
  REPORT_QUEUE,
  createProducerConnection,
  createReportQueue,
  enqueueMissing,
  enqueueRawMessages,
  jobIdFor,
  messageIdsOf,
  messageRunsOf,
  queuedMessageIds,
} from '../../src/queue/reportQueue.js';
import { startSweeper } from '../../src/queue/sweepStranded.js';
import { startWorkerService } from '../../src/services/workerService.js';
import { insertRawMessages } from '../../src/store/rawMessages.js';
import { realFixture } from '../helpers/fixtures.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { REDIS_URL } from '../helpers/services.js';
import { clearQueuePrefix, testConfig } from '../helpers/testConfig.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { waitFor } from '../helpers/waitFor.js';

const log = createLogger('silent');

describe('job ids name the messages a job carries', () => {
  it('one message keeps the id it had when a job carried one message', () => {
    assert.equal(jobIdFor(17), 'raw-17');
    assert.equal(jobIdFor([17]), 'raw-17');
  });

  it('runs of consecutive ids, in ascending order, with gaps', () => {
    assert.equal(jobIdFor([17, 18, 19, 20]), 'raw-17..20');
    assert.equal(jobIdFor([20, 17, 18, 30, 31, 40]), 'raw-17..18,20,30..31,40');
    assert.equal(jobIdFor([5, 5, 6]), 'raw-5..6');
  });

  it('reads back into the runs it was made from; other ids name nothing', () => {
    assert.deepEqual(messageRunsOf(jobIdFor([20, 17, 18, 30, 31, 40])), [
      [17, 18],
      [20, 20],
      [30, 31],
      [40, 40],
    ]);
    assert.deepEqual(messageRunsOf('raw-7'), [[7, 7]]);
    assert.deepEqual(messageRunsOf('alert-7'), []);
    assert.deepEqual(messageRunsOf('raw-7..x'), []);
  });

  it('a job queued by the previous release (one rawMessageId) is read as one message', () => {
    assert.deepEqual(messageIdsOf({ rawMessageId: 9 }), [9]);
    assert.deepEqual(messageIdsOf({ rawMessageIds: [9, 10] }), [9, 10]);
  });
});

describe('queue of message groups (real Redis)', () => {
  const prefix = `test-batched-${process.pid}`;
  const redis = createProducerConnection(REDIS_URL);
  const queue = createReportQueue(redis, prefix);
  after(async () => {
    await queue.close();
    redis.disconnect();
    await clearQueuePrefix(prefix);
  });

  it(`splits ids into jobs of ${JOB_MAX_MESSAGES}, each named by its ids`, async () => {
    const ids = Array.from({ length: JOB_MAX_MESSAGES * 2 + 3 }, (_, i) => 1000 + i);
    await enqueueRawMessages(queue, ids);
    const jobs = await queue.getJobs(['waiting']);
    assert.equal(jobs.length, 3);
    const carried = jobs.flatMap((j) => j.data.rawMessageIds).sort((a, b) => a - b);
    assert.deepEqual(carried, ids);
    for (const j of jobs) assert.equal(j.id, jobIdFor(j.data.rawMessageIds));
  });

  it('queuedMessageIds covers exactly the ids of live jobs, and enqueueMissing adds only the others', async () => {
    await enqueueRawMessages(queue, [2000, 2001, 2002, 2005]);
    const queued = await queuedMessageIds(queue);
    for (const id of [1000, 1066, 2000, 2001, 2002, 2005]) assert.ok(queued.has(id), `${id} is queued`);
    for (const id of [999, 1067, 2003, 2004, 2006]) assert.ok(!queued.has(id), `${id} is not queued`);
    assert.equal(await enqueueMissing(queue, queued, [2001, 2003, 2004, 2005, 2006]), 3);
    const again = await queuedMessageIds(queue);
    assert.ok(again.has(2003) && again.has(2004) && again.has(2006));
  });

  it('enqueueing the same messages twice leaves one job, for one job (add) as for several (addBulk)', async () => {
    const waiting = async () => (await queue.getJobs(['waiting', 'prioritized', 'delayed'])).map((j) => j.id).sort();
    const before = await waiting();
    const many = Array.from({ length: JOB_MAX_MESSAGES + 1 }, (_, i) => 3000 + i);
    for (let round = 0; round < 2; round++) {
      await enqueueRawMessages(queue, [2900, 2901]);
      await enqueueRawMessages(queue, many);
    }
    const added = (await waiting()).filter((id) => !before.includes(id));
    assert.deepEqual(added.sort(), ['raw-2900..2901', `raw-3000..${3000 + JOB_MAX_MESSAGES - 1}`, `raw-${3000 + JOB_MAX_MESSAGES}`].sort());
  });
});

describe('the worker settles each message of a job on its own', () => {
  let db: TestDatabase;
  /** Waits until the message is no longer pending; its status then. */
  const settledStatus = async (id: number): Promise<string> => {
    const row = await waitFor('the message to settle', async () => {
      const r = await db.pool.query<{ status: string }>(`SELECT status FROM raw_messages WHERE id = $1`, [id]);
      return r.rows[0]?.status !== 'pending' ? r.rows[0] : null;
    });
    return row.status;
  };
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db?.drop());

  it('one job: stored, quarantined and duplicate side by side, each with its own outcome', async () => {
    const config = testConfig(db.url, { SWEEP_INTERVAL_SECONDS: '3600' });
    const good = realFixture('mox--example.eml');
    const junk = buildReportMail({ report: Buffer.from('{"not": "closed"') });
    const ids = await insertRawMessages(db.pool, [
      { raw: good, envelope: { channel: 'ingest' } },
      { raw: junk, envelope: { channel: 'ingest' } },
      { raw: good, envelope: { channel: 'ingest' } },
    ]);
    const redis = createProducerConnection(config.redisUrl);
    const queue = createReportQueue(redis, config.queuePrefix);
    // Queued before the worker starts: its start-up sweep would otherwise queue the pending messages itself.
    await enqueueRawMessages(queue, ids);
    const worker = await startWorkerService(config, log);
    try {
      // Fetched once completed: a job fetched before it completes keeps returnvalue null, even if it completes
      // before isCompleted() asks (seen once in a full run).
      const job = await waitFor('the job to complete', async () =>
        (await queue.getJobState(jobIdFor(ids))) === 'completed' ? queue.getJob(jobIdFor(ids)) : null,
      );
      assert.deepEqual(job.returnvalue, { stored: 1, quarantined: 1, duplicate: 1 });
      const rows = (await db.pool.query(`SELECT id, status, reason FROM raw_messages WHERE id = ANY($1) ORDER BY id`, [ids])).rows;
      assert.deepEqual(
        rows.map((r) => [r.status, r.reason]),
        [
          ['stored', null],
          ['quarantined', 'json-invalid'],
          ['duplicate', null],
        ],
      );
    } finally {
      await worker.stop();
      await queue.close();
      redis.disconnect();
      await clearQueuePrefix(config.queuePrefix);
    }
  });

  it('a worker holds several jobs at once, so their reports share store statements', async () => {
    // 16 jobs of 2 messages, queued before the worker starts. The first store is held (rollup_queue locked:
    // the store's trigger inserts into it) until every job is active, as happens whenever PostgreSQL is the
    // slower side. A worker that fetched its next job only once a job was done never had two active.
    const config = testConfig(db.url, { SWEEP_INTERVAL_SECONDS: '3600', WORKER_CONCURRENCY: '64' });
    const report = (i: number) => ({
      'organization-name': 'Held Jobs Org',
      'date-range': { 'start-datetime': '2026-11-01T00:00:00Z', 'end-datetime': '2026-11-01T23:59:59Z' },
      'contact-info': 'tlsrpt@held.example',
      'report-id': `held-${process.pid}-${i}`,
      policies: [
        {
          policy: { 'policy-type': 'no-policy-found', 'policy-domain': 'held.example' },
          summary: { 'total-successful-session-count': 1, 'total-failure-session-count': 0 },
        },
      ],
    });
    const ids = await insertRawMessages(
      db.pool,
      Array.from({ length: 32 }, (_, i) => ({ raw: buildReportMail({ report: report(i) }), envelope: { channel: 'ingest' as const } })),
    );
    const redis = createProducerConnection(config.redisUrl);
    const queue = createReportQueue(redis, config.queuePrefix);
    for (let i = 0; i < ids.length; i += 2) await enqueueRawMessages(queue, ids.slice(i, i + 2));
    const lock = await db.pool.connect();
    await lock.query('BEGIN');
    await lock.query('LOCK TABLE rollup_queue IN EXCLUSIVE MODE');
    const worker = await startWorkerService(config, log);
    try {
      await waitFor('every job to be active at once', async () => (await queue.getActiveCount()) === 16);
      await lock.query('COMMIT');
      await waitFor('every message to settle', async () => {
        const r = await db.pool.query(`SELECT count(*)::int AS n FROM raw_messages WHERE id = ANY($1) AND status = 'stored'`, [ids]);
        return r.rows[0].n === ids.length;
      });
      // Each store statement is one transaction: its reports share an xmin.
      const r = await db.pool.query(`SELECT count(DISTINCT xmin::text)::int AS n FROM reports WHERE raw_message_id = ANY($1)`, [ids]);
      assert.ok(r.rows[0].n < 16, `${r.rows[0].n} store statements for 16 jobs`);
    } finally {
      await lock.query('ROLLBACK').catch(() => undefined);
      lock.release();
      await worker.stop();
      await queue.close();
      redis.disconnect();
      await clearQueuePrefix(config.queuePrefix);
    }
  });

  it('a job left by the previous release ({rawMessageId}) is processed', async () => {
    const config = testConfig(db.url, { SWEEP_INTERVAL_SECONDS: '3600' });
    const [id] = await insertRawMessages(db.pool, [{ raw: realFixture('mox--microsoft.eml'), envelope: { channel: 'ingest' } }]);
    const queue = new Queue(REPORT_QUEUE, { connection: { url: REDIS_URL }, prefix: config.queuePrefix });
    const worker = await startWorkerService(config, log);
    try {
      await queue.add('process', { rawMessageId: id }, { jobId: jobIdFor(id!) });
      assert.equal(await settledStatus(id!), 'stored');
    } finally {
      await worker.stop();
      await queue.close();
      await clearQueuePrefix(config.queuePrefix);
    }
  });

  it('a pending message is processed although Redis keeps a finished job of its name from an earlier database', async () => {
    const config = testConfig(db.url);
    const report = JSON.parse(realFixture('dmarc-report-viewer--google.json').toString());
    report['report-id'] = 'earlier-database@example.com';
    const [id] = await insertRawMessages(db.pool, [{ raw: buildReportMail({ report }), envelope: { channel: 'smtp' } }]);
    // Old enough for the sweep the worker makes as it starts.
    await db.pool.query(`UPDATE raw_messages SET received_at = now() - interval '1 hour' WHERE id = $1`, [id]);
    // The job of that name ran, for the message that had this id before the database was dropped and made
    // again (or restored from a backup) while Redis kept its data: BullMQ keeps it among the completed jobs.
    const redis = createProducerConnection(config.redisUrl);
    const queue = createReportQueue(redis, config.queuePrefix);
    const earlier = new Worker(REPORT_QUEUE, async () => 'stored', { connection: { url: REDIS_URL }, prefix: config.queuePrefix });
    await queue.add('process', { rawMessageIds: [id!] }, { jobId: jobIdFor(id!) });
    await waitFor('the earlier job to complete', async () => (await queue.getJobState(jobIdFor(id!))) === 'completed');
    await earlier.close();
    const worker = await startWorkerService(config, log);
    try {
      assert.equal(await settledStatus(id!), 'stored');
    } finally {
      await worker.stop();
      await queue.close();
      redis.disconnect();
      await clearQueuePrefix(config.queuePrefix);
    }
  });

  it('the sweep re-enqueues, in groups, the pending messages no job carries, and leaves queued ones alone', async () => {
    const config = testConfig(db.url);
    const mails = Array.from({ length: 5 }, () => ({
      raw: buildReportMail({ report: Buffer.from('{') }),
      envelope: { channel: 'ingest' as const },
    }));
    const ids = await insertRawMessages(db.pool, mails);
    await db.pool.query(`UPDATE raw_messages SET received_at = now() - interval '1 hour' WHERE id = ANY($1)`, [ids]);
    const redis = createProducerConnection(config.redisUrl);
    const queue = createReportQueue(redis, config.queuePrefix);
    await queue.pause(); // nothing is processed: what the sweep adds stays visible
    await enqueueRawMessages(queue, [ids[1]!]);
    const sweeper = startSweeper({ pool: db.pool, queue, redis, log }, 3_600_000);
    try {
      // The sweeper also sweeps when it starts (and its Redis connection is ready): this pass and that one
      // add the 4 stranded messages between them, one pass after the other.
      const first = await sweeper.sweepOnce();
      await sweeper.settled();
      assert.ok(first === 4 || first === 0, `the first explicit pass added ${first}`);
      assert.equal(await sweeper.sweepOnce(), 0, 'a second sweep finds every message queued');
      const jobs = await queue.getJobs(['waiting']);
      const carried = jobs.flatMap((j) => j.data.rawMessageIds).sort((a, b) => a - b);
      assert.deepEqual(
        carried,
        [...ids].sort((a, b) => a - b),
        'each message in one job',
      );
      assert.ok(jobs.length <= 3, `the stranded messages went in groups (${jobs.length} jobs)`);
    } finally {
      sweeper.stop();
      await queue.close();
      redis.disconnect();
      await clearQueuePrefix(config.queuePrefix);
    }
  });
});
