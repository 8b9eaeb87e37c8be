/**
 * Issue 15 finding 2: a disk-full error (SQLSTATE 53100) for 30 s left 533 of 1,500 accepted messages
 * quarantined as `internal-error` for good. The fault is made for real: a trigger on the report tables raises
 * SQLSTATE 53100 while a flag row exists, as PostgreSQL does when it cannot extend a file. Every accepted
 * message must end stored once it clears, with no manual step.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { outageBackoff, OUTAGE_BACKOFF_MAX_MS } from '../../src/queue/reportQueue.js';
import { realJson } from '../helpers/fixtures.js';
import { startHarness, type Harness } from '../helpers/pipelineHarness.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { queuedId, smtpSend } from '../helpers/smtpSend.js';
import { waitFor } from '../helpers/waitFor.js';

const FAULT_MS = 30_000;
const MESSAGES = 100;

describe('a disk-full fault on the report tables', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ WORKER_MAX_ATTEMPTS: '3' });
    await h.db.pool.query(`
      CREATE TABLE test_disk_full (on_since timestamptz NOT NULL);
      CREATE FUNCTION test_raise_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM test_disk_full) THEN
          RAISE EXCEPTION 'could not extend file "base/16384/16385": No space left on device' USING ERRCODE = '53100';
        END IF;
        RETURN NULL;
      END $$;
      CREATE TRIGGER test_disk_full BEFORE INSERT ON reports FOR EACH STATEMENT EXECUTE FUNCTION test_raise_disk_full();
      CREATE TRIGGER test_disk_full BEFORE INSERT ON policies FOR EACH STATEMENT EXECUTE FUNCTION test_raise_disk_full();
      CREATE TRIGGER test_disk_full BEFORE INSERT ON failure_details FOR EACH STATEMENT EXECUTE FUNCTION test_raise_disk_full();`);
  });
  after(() => h?.close());

  it('retries without quarantining while the disk is full, and stores every accepted message once it clears', async () => {
    await h.db.pool.query(`INSERT INTO test_disk_full VALUES (now())`);
    const started = Date.now();
    const ids: number[] = [];
    for (let i = 0; i < MESSAGES; i++) {
      const report = { ...(realJson('parsedmarc--smtp_tls.json') as object), 'report-id': `disk-full-${i}` };
      const sent = await smtpSend(h.receiver.port, buildReportMail({ report }));
      assert.equal(sent.code, 250, sent.response); // raw_messages is not affected: accepted as usual
      ids.push(queuedId(sent.response));
    }
    // The fault lasts FAULT_MS: that is the scenario, not a wait for something to happen.
    await new Promise((r) => setTimeout(r, Math.max(0, FAULT_MS - (Date.now() - started))));
    const during = await h.db.pool.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM raw_messages WHERE id = ANY($1) GROUP BY status`,
      [ids],
    );
    assert.deepEqual(during.rows, [{ status: 'pending', n: MESSAGES }], 'nothing settled, nothing quarantined during the fault');
    const attempted = await h.db.pool.query(`SELECT max(attempts)::int AS n FROM raw_messages WHERE id = ANY($1)`, [ids]);
    assert.equal(attempted.rows[0].n, 0, 'an outage is not counted against WORKER_MAX_ATTEMPTS');

    await h.db.pool.query(`DELETE FROM test_disk_full`);
    await waitFor(
      'every message stored after the fault cleared',
      async () =>
        (await h.db.pool.query(`SELECT count(*)::int AS n FROM raw_messages WHERE id = ANY($1) AND status = 'stored'`, [ids])).rows[0].n ===
        MESSAGES,
      2 * FAULT_MS + 10_000, // the next retry of each job comes within about the fault's length
    );
    const reports = await h.db.pool.query(`SELECT count(*)::int AS n FROM reports`);
    assert.equal(reports.rows[0].n, MESSAGES);
  });

  it('backs off exponentially from 1 s to at most 5 minutes, with some jitter taken off', () => {
    const none = () => 0;
    assert.deepEqual(
      [1, 2, 3, 9, 10, 40, 1_000_000].map((n) => outageBackoff(n, none)),
      [1000, 2000, 4000, 256_000, 300_000, 300_000, 300_000],
    );
    assert.equal(
      outageBackoff(20, () => 1),
      OUTAGE_BACKOFF_MAX_MS * 0.8,
    );
  });
});
