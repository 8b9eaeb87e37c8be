/**
 * The fold of the message totals finds the last message old enough to fold without walking back over the
 * younger ones: at a sustained 2,000 messages/s the margin holds 240,000 of them, and the rollup job folds
 * once a second. Counted with PostgreSQL's own statistics (index entries read).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createPool, type Pool } from '../../src/db/pool.js';
import { createIdHistory, foldMessageTotals } from '../../src/metrics/messageTotals.js';
import { FOLD_MARGIN_SECONDS, NO_ID_BOUND, RAW_BOUNDS_SQL } from '../../src/metrics/pipelineTotals.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';

const YOUNG = 3000;

describe('folding the message totals of a busy receiver', () => {
  let db: TestDatabase;
  let pool: Pool;
  let lastOld: number;
  before(async () => {
    db = await createTestDatabase();
    // One connection: its statistics are flushed from it.
    pool = createPool(db.url, { max: 1 });
    const insert = (n: number, age: string) =>
      db.pool.query<{ id: number }>(
        `INSERT INTO raw_messages (channel, received_at, size_bytes, sha256, raw, status, processed_at)
         SELECT 'smtp', now() - $2::interval, 1, '\\x00', '\\x00', 'stored', now() - $2::interval
         FROM generate_series(1, $1) RETURNING id`,
        [n, age],
      );
    lastOld = Math.max(...(await insert(10, '10 minutes')).rows.map((r) => r.id));
    await insert(YOUNG, '0 seconds');
    await db.pool.query('ANALYZE raw_messages');
  });
  after(async () => {
    await pool?.end();
    await db?.drop();
  });

  async function entriesRead(): Promise<number> {
    await pool.query('SELECT pg_stat_force_next_flush()');
    const r = await db.pool.query<{ n: number }>(
      `SELECT coalesce(sum(idx_tup_read), 0)::int AS n FROM pg_stat_user_indexes WHERE relname = 'raw_messages'`,
    );
    return r.rows[0]!.n;
  }

  async function bounds(bound: string | number): Promise<{ raw_old: number; entries: number }> {
    const before = await entriesRead();
    const r = await pool.query<{ raw_old: number }>(RAW_BOUNDS_SQL, [0, FOLD_MARGIN_SECONDS, bound]);
    return { raw_old: r.rows[0]!.raw_old, entries: (await entriesRead()) - before };
  }

  it('walks back over every younger message when no id is known to be old enough', async () => {
    const { raw_old, entries } = await bounds(NO_ID_BOUND);
    assert.equal(raw_old, lastOld);
    assert.ok(entries >= YOUNG, `${entries} index entries read`);
  });

  it('starts from an id taken before the margin, and finds the same message', async () => {
    const { raw_old, entries } = await bounds(lastOld);
    assert.equal(raw_old, lastOld);
    assert.ok(entries < 50, `${entries} index entries read, not the ${YOUNG} younger ones`);
  });

  it('folds with the ids its passes sampled, up to the last old message, reading none of the younger', async () => {
    let now = 0;
    const ids = createIdHistory(() => now);
    ids.record(lastOld); // a pass when the old messages were the newest
    now = FOLD_MARGIN_SECONDS * 1000;
    const before = await entriesRead();
    assert.equal(await foldMessageTotals(pool, FOLD_MARGIN_SECONDS, ids), 10);
    assert.ok((await entriesRead()) - before < 100, 'the fold read the younger messages');
    const mark = await db.pool.query<{ message_mark: number }>('SELECT message_mark FROM rollup_state');
    assert.equal(mark.rows[0]!.message_mark, lastOld);
    // This pass sampled the newest id; once it is old enough, it bounds the next search.
    now += FOLD_MARGIN_SECONDS * 1000;
    assert.equal(ids.bound(FOLD_MARGIN_SECONDS * 1000), lastOld + YOUNG);
  });
});
