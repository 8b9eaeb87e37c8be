/**
 * Nothing lost when services fail, and bad input quarantined with its own reason, never an unhandled error.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { createLogger } from '../../src/log/createLogger.js';
import { REPORT_QUEUE, jobIdFor } from '../../src/queue/reportQueue.js';
import { REDIS_URL } from '../helpers/services.js';
import { makeCertificate } from '../helpers/certificates.js';
import { startReceiverService } from '../../src/services/receiverService.js';
import { startWorkerService } from '../../src/services/workerService.js';
import { realFixture, realJson } from '../helpers/fixtures.js';
import { startHarness, type Harness } from '../helpers/pipelineHarness.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { queuedId, smtpSend } from '../helpers/smtpSend.js';
import { smtpEhlo } from '../helpers/smtpEhlo.js';
import { startTcpProxy } from '../helpers/tcpProxy.js';
import { createTestDatabase } from '../helpers/testDatabase.js';
import { clearQueuePrefix, testConfig } from '../helpers/testConfig.js';
import { waitFor } from '../helpers/waitFor.js';

const log = createLogger('silent');
const goodReport = realJson('parsedmarc--smtp_tls.json');

describe('hostile and broken input is quarantined with its own reason', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ REPORT_MAX_BYTES: '1MiB' });
  });
  after(() => h?.close());

  const gz = gzipSync(Buffer.from(JSON.stringify(goodReport)));
  const cases: Array<[string, Buffer, string, RegExp]> = [
    [
      'a truncated gzip attachment',
      buildReportMail({ report: goodReport, attachment: gz.subarray(0, gz.length - 20) }),
      'gzip-corrupt',
      /truncated|corrupt/,
    ],
    [
      'a gzip bomb (50 MB of zeros in ~50 KB)',
      buildReportMail({ report: goodReport, attachment: gzipSync(Buffer.alloc(50 * 1024 * 1024)) }),
      'decompression-limit',
      /ceiling/,
    ],
    [
      'a corrupt gzip header',
      buildReportMail({ report: goodReport, attachment: Buffer.concat([Buffer.from([0x1f, 0x8b, 0x63]), Buffer.alloc(40, 7)]) }),
      'gzip-corrupt',
      /corrupt/,
    ],
    [
      'invalid JSON',
      buildReportMail({ report: Buffer.from('{"organization-name": "x", "policies": [') }),
      'json-invalid',
      /not valid JSON/,
    ],
    [
      'JSON that is not a report',
      buildReportMail({ report: { hello: 'world' } }),
      'schema-violation',
      /missing required key "organization-name"/,
    ],
    [
      'a negative session count',
      buildReportMail({ report: withCount(-5) }),
      'schema-violation',
      /policies\[0\]\.summary\["total-successful-session-count"\]: -5 is negative/,
    ],
    [
      'a mail with no attachment',
      Buffer.from('From: someone@example.org\r\nTo: tlsrpt@reports.example.com\r\nSubject: hello\r\n\r\nJust a note, no report.\r\n'),
      'not-a-tls-report',
      /no TLS report part/,
    ],
    [
      'a DMARC aggregate report sent to the TLS-RPT address',
      buildReportMail({
        report: Buffer.from('<?xml version="1.0"?><feedback></feedback>'),
        contentType: 'application/gzip',
        filename: 'google.com!example.com!1!2.xml.gz',
      }),
      'not-a-tls-report',
      /no TLS report part/,
    ],
    [
      'an attachment that is neither JSON nor compressed',
      buildReportMail({ report: goodReport, attachment: Buffer.from('%PDF-1.4 hello') }),
      'unsupported-compression',
      /neither JSON, gzip/,
    ],
  ];
  for (const [name, mail, reason, detail] of cases) {
    it(`${name} -> ${reason}`, async () => {
      const sent = await smtpSend(h.receiver.port, mail);
      assert.equal(sent.code, 250, sent.response);
      const msg = await h.settled(queuedId(sent.response));
      assert.equal(msg.status, 'quarantined');
      assert.equal(msg.reason, reason);
      assert.match(msg.detail ?? '', detail);
    });
  }

  it('answers 552 to a mail over MAX_MESSAGE_SIZE, counted while streaming, and stores nothing', async () => {
    const small = await startHarness({ MAX_MESSAGE_SIZE: '64KiB' }, { worker: false });
    try {
      const big = buildReportMail({ report: goodReport, attachment: Buffer.alloc(200 * 1024, 0x41) });
      const sent = await smtpSend(small.receiver.port, big);
      assert.equal(sent.code, 552, sent.response);
      const n = await small.db.pool.query('SELECT count(*)::int AS n FROM raw_messages');
      assert.equal(n.rows[0].n, 0);
    } finally {
      await small.close();
    }
  });
});

function withCount(n: number): unknown {
  const r = structuredClone(goodReport) as { policies: Array<{ summary: Record<string, unknown> }> };
  r.policies[0]!.summary['total-successful-session-count'] = n;
  return r;
}

describe('service outages', () => {
  it('answers 451 while Postgres is unreachable, writes nothing, and 250 once it is back', async () => {
    const db = await createTestDatabase();
    const proxy = await startTcpProxy(5432);
    const url = new URL(db.url);
    url.port = String(proxy.port);
    const config = testConfig(url.toString());
    const receiver = await startReceiverService(config, log);
    try {
      proxy.cut();
      const refused = await smtpSend(receiver.port, realFixture('mox--example.eml'));
      assert.equal(refused.code, 451, refused.response);
      const none = await db.pool.query('SELECT count(*)::int AS n FROM raw_messages');
      assert.equal(none.rows[0].n, 0, 'nothing half-written');

      proxy.restore();
      const accepted = await waitFor('a 250 after Postgres returns', async () => {
        const r = await smtpSend(receiver.port, realFixture('mox--example.eml'));
        return r.code === 250 ? r : null;
      });
      const row = await db.pool.query('SELECT status FROM raw_messages WHERE id = $1', [queuedId(accepted.response)]);
      assert.equal(row.rows[0].status, 'pending');
    } finally {
      await receiver.stop();
      await proxy.close();
      await clearQueuePrefix(config.queuePrefix);
      await db.drop();
    }
  });

  it('processes a message stored while Redis was unreachable once the sweep finds it', async () => {
    const db = await createTestDatabase();
    const workerConfig = testConfig(db.url, { SWEEP_INTERVAL_SECONDS: '1' });
    // The receiver's Redis is a closed port: the row is committed, the enqueue fails.
    const receiverConfig = testConfig(db.url, { REDIS_URL: 'redis://127.0.0.1:1', QUEUE_PREFIX: workerConfig.queuePrefix });
    const receiver = await startReceiverService(receiverConfig, log);
    let worker: Awaited<ReturnType<typeof startWorkerService>> | undefined;
    try {
      const sent = await smtpSend(receiver.port, realFixture('mox--microsoft.eml'));
      assert.equal(sent.code, 250, sent.response);
      const id = queuedId(sent.response);
      worker = await startWorkerService(workerConfig, log);
      const row = await waitFor('the swept message to be stored', async () => {
        const r = await db.pool.query(`SELECT status FROM raw_messages WHERE id = $1`, [id]);
        return r.rows[0]?.status === 'stored' ? r.rows[0] : null;
      });
      assert.equal(row.status, 'stored');
    } finally {
      await receiver.stop();
      await worker?.stop();
      await clearQueuePrefix(workerConfig.queuePrefix);
      await db.drop();
    }
  });

  it('keeps a message pending and retries it while Postgres is down for the worker, then stores it', async () => {
    const db = await createTestDatabase();
    const proxy = await startTcpProxy(5432);
    const url = new URL(db.url);
    url.port = String(proxy.port);
    const config = testConfig(db.url);
    const workerConfig = testConfig(url.toString(), { QUEUE_PREFIX: config.queuePrefix, SWEEP_INTERVAL_SECONDS: '1' });
    const receiver = await startReceiverService(config, log);
    proxy.cut();
    const worker = await startWorkerService(workerConfig, log);
    try {
      const sent = await smtpSend(receiver.port, realFixture('mox--example.eml'));
      const id = queuedId(sent.response);
      // The job must fail at least once against the cut connection (and the message stay pending).
      const queue = new Queue(REPORT_QUEUE, { connection: { url: REDIS_URL }, prefix: config.queuePrefix });
      try {
        await waitFor('a failed attempt', async () => ((await queue.getJob(jobIdFor(id)))?.attemptsMade ?? 0) >= 1);
      } finally {
        await queue.close();
      }
      const pending = await db.pool.query(`SELECT status FROM raw_messages WHERE id = $1`, [id]);
      assert.equal(pending.rows[0].status, 'pending');
      proxy.restore();
      const row = await waitFor(
        'the message to be stored after Postgres returns',
        async () => {
          const r = await db.pool.query(`SELECT status, reason FROM raw_messages WHERE id = $1`, [id]);
          return r.rows[0]?.status !== 'pending' ? r.rows[0] : null;
        },
        30_000,
      );
      assert.equal(row.status, 'stored', `got ${row.status} ${row.reason}`);
    } finally {
      await receiver.stop();
      await worker.stop();
      await proxy.close();
      await clearQueuePrefix(config.queuePrefix);
      await db.drop();
    }
  });
});

describe('STARTTLS', () => {
  it('is offered when TLS_CERT and TLS_KEY are set, and a report sent over it is stored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-tls-'));
    const pair = makeCertificate('tlsrpt.test');
    writeFileSync(join(dir, 'cert.pem'), pair.cert);
    writeFileSync(join(dir, 'key.pem'), pair.key);
    const h = await startHarness({ TLS_CERT: join(dir, 'cert.pem'), TLS_KEY: join(dir, 'key.pem') });
    try {
      assert.ok((await smtpEhlo(h.receiver.port)).includes('STARTTLS'));
      const sent = await smtpSend(h.receiver.port, realFixture('mox--example.eml'), {}, { starttls: true });
      assert.equal(sent.code, 250, sent.response);
      const msg = await h.settled(queuedId(sent.response));
      assert.equal(msg.status, 'stored');
    } finally {
      await h.close();
    }
  });

  it('is not offered without a certificate, and AUTH never is', async () => {
    const h = await startHarness({ MAX_MESSAGE_SIZE: '2MiB' }, { worker: false });
    try {
      const caps = await smtpEhlo(h.receiver.port);
      assert.ok(!caps.includes('STARTTLS'), caps.join(', '));
      assert.ok(!caps.some((c) => c.startsWith('AUTH')), caps.join(', '));
      assert.ok(caps.includes(`SIZE ${2 * 1024 * 1024}`), `SIZE advertised: ${caps.join(', ')}`);
    } finally {
      await h.close();
    }
  });
});
