/**
 * Issue 15 finding 1: memory across reports decoded at once is bounded by WORKER_MEMORY_BUDGET; a report
 * that can never fit is refused as `memory-limit`; and a message whose processing keeps stopping the worker
 * is counted before decoding and ends quarantined instead of crashing the worker after every restart.
 * (The 16-mails-at-once RSS figure of a real `serve` is in test/workers/memoryUnderLoad.test.ts.)
 */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { ReportInputError } from '../../src/errors.js';
import { BYTES_PER_JSON_BYTE, createMemoryBudget, estimateInflatedBytes } from '../../src/pipeline/memoryBudget.js';
import { processMessage } from '../../src/pipeline/processMessage.js';
import { insertRawMessage } from '../../src/store/rawMessages.js';
import { realJson } from '../helpers/fixtures.js';
import { startHarness, type Harness } from '../helpers/pipelineHarness.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { queuedId, smtpSend } from '../helpers/smtpSend.js';

const MiB = 1 << 20;
const base = realJson('parsedmarc--smtp_tls.json') as { policies: Array<Record<string, unknown>> };

/** The real report with `n` failure details in its first policy. */
function reportWith(n: number, id: string): object {
  const detail = {
    'result-type': 'certificate-expired',
    'sending-mta-ip': '192.0.2.1',
    'receiving-ip': '198.51.100.7',
    'failed-session-count': 1,
  };
  const [first, ...rest] = base.policies;
  return { ...base, 'report-id': id, policies: [{ ...first, 'failure-details': Array.from({ length: n }, () => detail) }, ...rest] };
}

describe('memory budget', () => {
  it('estimates the inflated size from the gzip trailer, exactly, and bounds what it cannot tell', () => {
    const json = Buffer.from(JSON.stringify(reportWith(5000, 'x')));
    assert.deepEqual(estimateInflatedBytes(gzipSync(json), 64 * MiB), { bytes: json.length, exact: true });
    assert.deepEqual(estimateInflatedBytes(json, 64 * MiB), { bytes: json.length, exact: true });
    const lying = Buffer.concat([gzipSync(json).subarray(0, -4), Buffer.from([0xff, 0xff, 0xff, 0x7f])]);
    assert.equal(estimateInflatedBytes(lying, 64 * MiB).exact, false);
  });

  it('grants in arrival order while there is room, and refuses what can never fit', async () => {
    const budget = createMemoryBudget(10 * MiB);
    const big = Buffer.from(`{"a":"${'x'.repeat(MiB)}"}`); // ~1 MiB of JSON: ~8 MiB of budget
    const first = budget.lease(64 * MiB);
    await first.beforeDecompress(big);
    assert.ok(budget.inUse() > 8 * MiB);
    const second = budget.lease(64 * MiB);
    let granted = false;
    const waiting = second.beforeDecompress(big).then(() => (granted = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(granted, false, 'the second waits while the first holds the budget');
    assert.equal(budget.waiting(), 1);
    first.release();
    await waiting;
    assert.equal(granted, true);
    second.release();
    assert.equal(budget.inUse(), 0);

    const tooBig = Buffer.from(`{"a":"${'x'.repeat(2 * MiB)}"}`);
    await assert.rejects(
      budget.lease(64 * MiB).beforeDecompress(tooBig),
      (e: unknown) => e instanceof ReportInputError && e.reason === 'memory-limit' && /WORKER_MEMORY_BUDGET/.test(e.detail),
    );
    assert.equal(budget.inUse(), 0);
  });

  describe('through the pipeline', () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ WORKER_MEMORY_BUDGET: '4MiB' });
    });
    after(() => h?.close());

    it('a report that can never fit the budget is quarantined as memory-limit; a small one is stored', async () => {
      const huge = reportWith(20_000, 'too-big'); // ~1.5 MB of JSON: ~12 MB to decode
      assert.ok(JSON.stringify(huge).length * BYTES_PER_JSON_BYTE > 4 * MiB);
      const sent = await smtpSend(h.receiver.port, buildReportMail({ report: huge }));
      const msg = await h.settled(queuedId(sent.response));
      assert.equal(msg.status, 'quarantined');
      assert.equal(msg.reason, 'memory-limit');

      const ok = await smtpSend(h.receiver.port, buildReportMail({ report: reportWith(100, 'fits') }));
      assert.equal((await h.settled(queuedId(ok.response))).status, 'stored');
    });

    it('several reports near the budget are all stored, one after the other', async () => {
      const ids = await Promise.all(
        [1, 2, 3, 4, 5, 6].map(async (i) =>
          queuedId((await smtpSend(h.receiver.port, buildReportMail({ report: reportWith(4000, `near-${i}`) }))).response),
        ),
      );
      for (const id of ids) assert.equal((await h.settled(id)).status, 'stored');
    });

    it('a message whose runs keep stopping the worker is counted before decoding and quarantined', async () => {
      const id = await insertRawMessage(h.db.pool, buildReportMail({ report: reportWith(10, 'crashes') }), { channel: 'ingest' });
      const deps = { pool: h.db.pool, reportMaxBytes: 64 * MiB, maxAttempts: 5 };
      // Each run follows one that died (its job stalled), and ends without an outcome itself (here: the store
      // fails; in life the process dies again). The stopped run is counted before decoding.
      for (const attempts of [2, 4]) {
        const r = await processMessage({ ...deps, store: () => Promise.reject(new Error('simulated crash')) }, id, {
          previousRunStopped: true,
        }).catch((e: Error) => e);
        assert.ok(r instanceof Error, String(r));
        const row = (await h.db.pool.query(`SELECT attempts, status FROM raw_messages WHERE id = $1`, [id])).rows[0];
        assert.deepEqual(row, { attempts, status: 'pending' }, 'the stopped run and the failure are one attempt each');
      }
      const third = await processMessage(deps, id, { previousRunStopped: true });
      assert.equal(third.outcome, 'quarantined');
      assert.match(third.outcome === 'quarantined' ? third.detail : '', /did not finish 5 times: the worker stopped/);
    });
  });
});
