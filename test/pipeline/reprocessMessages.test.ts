/**
 * reprocessMessages against a real database: it walks the selected messages a batch at a time (here two
 * per query, so every boundary is crossed), replays each once, stops at the messages present when it began,
 * reports progress ending at its total, and finds the quarantined messages by their partial index.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NEXT_BATCH, reprocessMessages } from '../../src/pipeline/reprocessMessages.js';
import { insertRawMessage } from '../../src/store/rawMessages.js';
import { realFixture } from '../helpers/fixtures.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';

const REPORT_MAX_BYTES = 16 << 20;

describe('reprocessMessages', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db?.drop());

  async function quarantined(raw: Buffer, reason: string): Promise<number> {
    const id = await insertRawMessage(db.pool, raw, { channel: 'smtp' });
    await db.pool.query(`UPDATE raw_messages SET status = 'quarantined', reason = $2, detail = 'an older version' WHERE id = $1`, [
      id,
      reason,
    ]);
    return id;
  }

  it('replays every quarantined message once, a batch at a time, and only those present when it began', async () => {
    const readable: number[] = [];
    const junk: number[] = [];
    for (let i = 0; i < 3; i++) {
      readable.push(await quarantined(realFixture('mox--microsoft.eml'), 'schema-violation'));
      junk.push(await quarantined(buildReportMail({ report: Buffer.from(`{"not": "closed ${i}"`) }), 'json-invalid'));
    }
    const pending = await insertRawMessage(db.pool, realFixture('mox--example.eml'), { channel: 'smtp' });
    const progress: Array<[number, number, number]> = [];
    let late: number | undefined;

    const summary = await reprocessMessages(
      { pool: db.pool, reportMaxBytes: REPORT_MAX_BYTES, maxAttempts: 1, batchSize: 2 },
      {},
      (done, total, id) => {
        progress.push([done, total, id]);
        // Mail quarantined while the run goes on waits for the next run.
        if (done === 1) void quarantined(realFixture('mox--example.eml'), 'json-invalid').then((id) => (late = id));
      },
    );

    const all = [...readable, ...junk].sort((a, b) => a - b);
    assert.deepEqual(
      progress.map(([, , id]) => id),
      all,
      'each selected message once, in id order',
    );
    assert.deepEqual(
      progress.map(([done]) => done),
      all.map((_, i) => i + 1),
    );
    assert.deepEqual(progress.at(-1)!.slice(0, 2), [all.length, all.length], 'the last progress call is done/total');
    assert.equal(summary.selected, all.length);
    // One of the three readable copies stores the report; the other two are duplicates of it.
    assert.deepEqual(summary.outcomes, { stored: 1, duplicate: 2, quarantined: 3 });
    assert.deepEqual(summary.stillQuarantined, { 'json-invalid': 3 });

    assert.ok(late !== undefined);
    const states = await db.pool.query<{ id: number; status: string }>(`SELECT id, status FROM raw_messages WHERE id = ANY($1::bigint[])`, [
      [late, pending],
    ]);
    assert.deepEqual(Object.fromEntries(states.rows.map((r) => [r.id, r.status])), { [late]: 'quarantined', [pending]: 'pending' });
  });

  it('with --reason, only that reason; with --include-pending, the pending ones too', async () => {
    const deps = { pool: db.pool, reportMaxBytes: REPORT_MAX_BYTES, maxAttempts: 1, batchSize: 2 };
    const byReason = await reprocessMessages(deps, { reason: 'schema-violation' });
    assert.equal(byReason.selected, 0, 'nothing is quarantined for schema-violation any more');
    const withPending = await reprocessMessages(deps, { includePending: true });
    // The 3 junk messages again, the one quarantined late and the pending one. Those two carry the same
    // report: quarantined messages are replayed first, so the late one stores it and the pending one is a duplicate.
    assert.equal(withPending.selected, 5);
    assert.deepEqual(withPending.outcomes, { quarantined: 3, stored: 1, duplicate: 1 });
  });

  it('ids asked for: replays the quarantined and pending ones, leaves the settled ones alone', async () => {
    const settled = (
      await db.pool.query<{ id: number }>(`SELECT id FROM raw_messages WHERE status IN ('stored', 'duplicate') ORDER BY id`)
    ).rows.map((r) => r.id);
    const stillJunk = (
      await db.pool.query<{ id: number }>(`SELECT id FROM raw_messages WHERE status = 'quarantined' ORDER BY id`)
    ).rows.map((r) => r.id);
    const summary = await reprocessMessages(
      { pool: db.pool, reportMaxBytes: REPORT_MAX_BYTES, maxAttempts: 1, batchSize: 2 },
      { ids: [...settled, ...stillJunk] },
    );
    assert.equal(summary.selected, stillJunk.length);
    assert.deepEqual(summary.leftAlone, settled);
  });

  it('finds quarantined messages through the partial index of migration 0008, not by reading the table', async () => {
    const client = await db.pool.connect();
    try {
      // Sequential scans priced out: the plan shows which index the statement can use at all.
      await client.query('SET enable_seqscan = off');
      await client.query(`PREPARE next_batch AS ${NEXT_BATCH.quarantined}`);
      const plan = (await client.query(`EXPLAIN EXECUTE next_batch(0, 1000, NULL, 500)`)).rows
        .map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN'])
        .join('\n');
      assert.match(plan, /raw_messages_quarantined_id_idx/);
      assert.doesNotMatch(plan, /Sort/);
    } finally {
      // The session settings and the prepared statement go with the connection.
      client.release(true);
    }
  });
});
