/** Group commit: batching of concurrent submissions, per-item results, and the raw-message multi-row INSERT. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createGroupCommit, createGroupRun } from '../../src/db/groupCommit.js';
import { insertRawMessages } from '../../src/store/rawMessages.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';

describe('createGroupCommit', () => {
  it('flushes items of one tick together, and items that arrive during a flush in the next batch', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const group = createGroupCommit(async (items: number[]) => {
      batches.push(items);
      if (batches.length === 1) await gate;
      return items.map((n) => n * 10);
    }, 4);
    const first = [1, 2, 3].map((n) => group.submit(n));
    await new Promise((r) => setImmediate(r)); // the first flush has started and waits on the gate
    const second = [4, 5, 6, 7, 8].map((n) => group.submit(n));
    release();
    assert.deepEqual(await Promise.all([...first, ...second]), [10, 20, 30, 40, 50, 60, 70, 80]);
    // 1-3 in the first flush; 4-8 arrived meanwhile and are cut at maxBatch 4.
    assert.deepEqual(batches, [[1, 2, 3], [4, 5, 6, 7], [8]]);
  });

  it('rejects every item of a failed batch and carries on with the next', async () => {
    let calls = 0;
    const group = createGroupCommit(async (items: string[]) => {
      calls++;
      if (items.includes('bad')) throw new Error('commit failed');
      return items.map((s) => s.toUpperCase());
    }, 10);
    const results = await Promise.allSettled([group.submit('ok'), group.submit('bad')]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    assert.equal(await group.submit('next'), 'NEXT');
    assert.equal(calls, 2);
  });
});

describe('createGroupRun', () => {
  it('runs the items of one tick together and settles each caller with the run', async () => {
    const runs: number[][] = [];
    const group = createGroupRun(async (items: number[]) => {
      runs.push(items);
      if (items.includes(0)) throw new Error('run failed');
    }, 10);
    assert.deepEqual(await Promise.all([1, 2, 3].map((n) => group.submit(n))), [undefined, undefined, undefined]);
    const failed = await Promise.allSettled([group.submit(0), group.submit(4)]);
    assert.deepEqual(
      failed.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    assert.deepEqual(runs, [
      [1, 2, 3],
      [0, 4],
    ]);
  });
});

describe('a group with a linger', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('waits up to the linger for more items', async () => {
    const batches: Array<{ items: number[]; at: number }> = [];
    const t0 = performance.now();
    const group = createGroupRun(
      async (items: number[]) => {
        batches.push({ items, at: performance.now() - t0 });
      },
      4,
      { lingerMs: 200 },
    );
    const first = [group.submit(1)];
    await sleep(20);
    first.push(group.submit(2)); // joins 1: within its linger
    await Promise.all(first);
    assert.deepEqual(
      batches.map((b) => b.items),
      [[1, 2]],
    );
    assert.ok(batches[0]!.at >= 190, `flushed after ${batches[0]!.at} ms, before the linger of 200 ms`);
  });

  it('flushes a full batch without waiting, and lets the rest linger', async () => {
    const flushed: number[][] = [];
    const group = createGroupRun(
      async (items: number[]) => {
        flushed.push(items);
      },
      4,
      { lingerMs: 60_000 },
    );
    const full = Promise.all([3, 4, 5, 6].map((n) => group.submit(n)));
    const rest = group.submit(9);
    const outcome = await Promise.race([
      full.then(() => 'flushed'),
      new Promise((r) => setTimeout(r, 10_000).unref()).then(() => 'still lingering'),
    ]);
    assert.equal(outcome, 'flushed');
    assert.deepEqual(flushed, [[3, 4, 5, 6]]);
    await group.drain();
    await rest;
    assert.deepEqual(flushed, [[3, 4, 5, 6], [9]]);
  });

  it('drain() flushes lingering items at once and waits for the flush', async () => {
    const flushed: number[][] = [];
    const group = createGroupRun(
      async (items: number[]) => {
        await sleep(5);
        flushed.push(items);
      },
      10,
      { lingerMs: 60_000 },
    );
    const submitted = [7, 8].map((n) => group.submit(n));
    await group.drain();
    assert.deepEqual(flushed, [[7, 8]]);
    await Promise.all(submitted);
    await group.drain(); // nothing waits: resolves at once
  });
});

describe('insertRawMessages', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db.drop());

  it('stores every message in one statement and returns the ids in input order', async () => {
    const bodies = ['first', 'second', 'third'].map((s) => Buffer.from(s));
    const ids = await insertRawMessages(
      db.pool,
      bodies.map((raw) => ({ raw, envelope: { channel: 'smtp' as const, mailFrom: 'a@b.example', rcptTo: ['t@r.example'] } })),
    );
    assert.equal(ids.length, 3);
    const rows = await db.pool.query(
      `SELECT id, convert_from(raw, 'UTF8') AS body, size_bytes, rcpt_to, status FROM raw_messages ORDER BY id`,
    );
    assert.deepEqual(
      rows.rows.map((r) => [r.id, r.body, r.size_bytes, r.rcpt_to, r.status]),
      [
        [ids[0], 'first', 5, ['t@r.example'], 'pending'],
        [ids[1], 'second', 6, ['t@r.example'], 'pending'],
        [ids[2], 'third', 5, ['t@r.example'], 'pending'],
      ],
    );
  });
});
