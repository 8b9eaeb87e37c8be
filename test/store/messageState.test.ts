/**
 * The raw_messages state machine (src/store/messageState.ts) against a real database: its table of
 * transitions is what the SQL does, from every state; and a worker racing `tlsrpt reprocess` or `tlsrpt
 * ingest` on one message, in real concurrent transactions, never overwrites the state the first one settled.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log/createLogger.js';
import { ingestSources } from '../../src/ingest/ingestSources.js';
import { decodeMessage, type DecodedReport } from '../../src/pipeline/decodeMessage.js';
import { processMessage, type ProcessResult } from '../../src/pipeline/processMessage.js';
import { reprocessMessages } from '../../src/pipeline/reprocessMessages.js';
import {
  MESSAGE_STATUSES,
  MessageStateChanged,
  TRANSITIONS,
  mayMake,
  quarantineMessage,
  recordAttempt,
  reopenForReprocess,
  type MessageStatus,
  type TransitionName,
} from '../../src/store/messageState.js';
import { insertRawMessage } from '../../src/store/rawMessages.js';
import { storeReport } from '../../src/store/storeReport.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { waitFor } from '../helpers/waitFor.js';

const REPORT_MAX_BYTES = 16 << 20;
let serial = 0;

function reportMail(): Buffer {
  const n = ++serial;
  const report = {
    'organization-name': 'State Org',
    'date-range': { 'start-datetime': '2026-03-01T00:00:00Z', 'end-datetime': '2026-03-01T23:59:59Z' },
    'contact-info': 'tlsrpt@state.example',
    'report-id': `state-${n}-${process.pid}`,
    policies: [
      {
        policy: { 'policy-type': 'no-policy-found', 'policy-domain': 'state.example' },
        summary: { 'total-successful-session-count': n, 'total-failure-session-count': 0 },
      },
    ],
  };
  return buildReportMail({ report, policyDomain: 'state.example', submitter: 'state.example', reportId: report['report-id'] });
}

describe('the raw_messages state machine', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db?.drop());

  /** A new raw message carrying a new report, with its decoded form. */
  async function message(): Promise<{ id: number; decoded: DecodedReport }> {
    const raw = reportMail();
    const id = await insertRawMessage(db.pool, raw, { channel: 'smtp' });
    return { id, decoded: await decodeMessage(raw, { reportMaxBytes: REPORT_MAX_BYTES }) };
  }

  /** Puts a message in `status` directly, as the transitions themselves would have left it. */
  async function force(id: number, status: MessageStatus): Promise<void> {
    await db.pool.query(
      `UPDATE raw_messages SET status = $2, reason = CASE WHEN $2 = 'quarantined' THEN 'json-invalid' END WHERE id = $1`,
      [id, status],
    );
  }

  async function row(id: number): Promise<{ status: MessageStatus; report_id: number | null; reason: string | null; attempts: number }> {
    return (await db.pool.query(`SELECT status, report_id, reason, attempts FROM raw_messages WHERE id = $1`, [id])).rows[0];
  }

  async function reportsOf(id: number): Promise<number> {
    return (await db.pool.query(`SELECT count(*)::int AS n FROM reports WHERE raw_message_id = $1`, [id])).rows[0].n;
  }

  const apply: Record<TransitionName, (id: number, decoded: DecodedReport) => Promise<unknown>> = {
    settle: (id, decoded) => storeReport(db.pool, id, decoded),
    quarantine: (id) => quarantineMessage(db.pool, id, 'schema-violation', 'a test'),
    retry: (id) => recordAttempt(db.pool, id, 'a test'),
    reprocess: (id) => reopenForReprocess(db.pool, id),
  };

  it('does in SQL exactly what its table says, from every state', async () => {
    for (const transition of Object.keys(TRANSITIONS) as TransitionName[]) {
      for (const from of MESSAGE_STATUSES) {
        const { id, decoded } = await message();
        await force(id, from);
        const outcome = await apply[transition](id, decoded).then(
          () => 'applied',
          (err: unknown) => err,
        );
        const now = (await row(id)).status;
        if (mayMake(transition, from)) {
          assert.equal(outcome, 'applied', `${transition} from ${from}`);
          assert.ok((TRANSITIONS[transition].to as readonly string[]).includes(now), `${transition} from ${from} left ${now}`);
        } else {
          assert.ok(outcome instanceof MessageStateChanged, `${transition} from ${from} must be refused, got ${String(outcome)}`);
          assert.equal(outcome.code, 'message-state-changed');
          assert.equal(outcome.found, from);
          assert.equal(now, from, `${transition} from ${from} changed the state`);
          assert.equal(await reportsOf(id), 0, `${transition} from ${from} wrote a report`);
        }
      }
    }
  });

  it('a quarantine waiting on a store that commits first is refused, and the stored message stays stored', async () => {
    const { id, decoded } = await message();
    const storing = await db.pool.connect();
    try {
      await storing.query('BEGIN');
      const stored = await storeReport(storing, id, decoded); // holds the row lock until COMMIT
      // The worker gives up on the same message meanwhile: its UPDATE waits for the lock.
      const quarantine = quarantineMessage(db.pool, id, 'internal-error', 'processing failed 5 times').then(
        () => null,
        (err: unknown) => err,
      );
      await waitForLockWait(db, id);
      await storing.query('COMMIT');
      const refused = await quarantine;
      assert.ok(refused instanceof MessageStateChanged, String(refused));
      assert.equal(refused.found, 'stored');
      assert.match(refused.message, /is stored, not pending: another process/);
      const r = await row(id);
      assert.equal(r.status, 'stored');
      assert.equal(r.report_id, stored.reportId);
      assert.equal(r.reason, null);
    } finally {
      storing.release();
    }
  });

  it('a store waiting on a quarantine that commits first writes no report', async () => {
    const { id, decoded } = await message();
    const quarantining = await db.pool.connect();
    try {
      await quarantining.query('BEGIN');
      await quarantineMessage(quarantining, id, 'schema-violation', 'held');
      const store = storeReport(db.pool, id, decoded).then(
        () => null,
        (err: unknown) => err,
      );
      await waitForLockWait(db, id);
      await quarantining.query('COMMIT');
      const refused = await store;
      assert.ok(refused instanceof MessageStateChanged, String(refused));
      assert.equal(refused.found, 'quarantined');
      assert.equal((await row(id)).status, 'quarantined');
      assert.equal(await reportsOf(id), 0);
    } finally {
      quarantining.release();
    }
  });

  it('reprocess racing a worker on one message: one settles it, the other is told, nothing is overwritten', async () => {
    const deps = { pool: db.pool, reportMaxBytes: REPORT_MAX_BYTES, maxAttempts: 1 };
    const ids: number[] = [];
    for (let i = 0; i < 40; i++) ids.push((await message()).id);
    // Half of them quarantined (what reprocess replays), half pending (a worker's job in flight).
    for (const id of ids.filter((_, i) => i % 2 === 0)) await force(id, 'quarantined');

    // Reprocess replays them in id order. Each time it finishes one, a worker takes the one it goes on to,
    // at the same moment.
    const order = ids;
    const worker: Array<Promise<ProcessResult>> = [];
    const replay = reprocessMessages(deps, { ids }, (_done, _total, id) => {
      const next = order[order.indexOf(id) + 1];
      if (next !== undefined) worker.push(processMessage(deps, next));
    });
    worker.push(processMessage(deps, order[0]!));
    const summary = await replay;
    const results = await Promise.all(worker);

    for (const id of ids) {
      const r = await row(id);
      assert.equal(r.status, 'stored', `message ${id}`);
      assert.equal(await reportsOf(id), 1, `message ${id} has one report`);
    }
    // Each message was settled by exactly one of the two; the other was told it lost.
    const settledByWorker = results.filter((r) => r.outcome === 'stored').length;
    const settledByReprocess = summary.outcomes.stored ?? 0;
    const outcomes = results.map((r) => (r.outcome === 'skipped' ? `skipped (${r.status})` : r.outcome));
    assert.equal(settledByWorker + settledByReprocess, ids.length, JSON.stringify({ summary, outcomes }));
    assert.equal(summary.selected, ids.length);
    for (const o of outcomes) assert.ok(o === 'stored' || o.startsWith('skipped'), o);
  });

  it('ingest racing a worker on the messages it stores: each is settled once, and ingest reports what happened', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tlsrpt-state-'));
    try {
      const files: string[] = [];
      for (let i = 0; i < 20; i++) {
        const path = join(dir, `report-${i}.eml`);
        await writeFile(path, reportMail());
        files.push(path);
      }
      const deps = { pool: db.pool, reportMaxBytes: REPORT_MAX_BYTES, maxAttempts: 1 };
      // A worker that takes every pending message as soon as it is committed.
      let running = true;
      const seen = new Set<number>();
      const workerResults: ProcessResult[] = [];
      const worker = (async () => {
        while (running) {
          const pending = (
            await db.pool.query<{ id: number }>(`SELECT id FROM raw_messages WHERE status = 'pending' AND channel = 'ingest'`)
          ).rows;
          await Promise.all(
            pending
              .filter((p) => !seen.has(p.id))
              .map(async (p) => {
                seen.add(p.id);
                workerResults.push(await processMessage(deps, p.id));
              }),
          );
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      const summary = await ingestSources(
        {
          pool: db.pool,
          log: createLogger('silent'),
          maxMessageBytes: 10 << 20,
          reportMaxBytes: REPORT_MAX_BYTES,
          maxAttempts: 1,
          enqueue: async () => {
            throw new Error('nothing should be handed to the queue');
          },
        },
        files.map((path) => ({ path, kind: 'message' as const })),
        [],
      );
      running = false;
      await worker;

      assert.equal(summary.stored, files.length, JSON.stringify(summary.results));
      for (const result of summary.results) {
        assert.equal(result.outcome, 'stored');
        const r = await row(result.rawMessageId!);
        assert.equal(r.status, 'stored');
        assert.equal(r.report_id, result.reportId);
        assert.equal(await reportsOf(result.rawMessageId!), 1);
      }
      for (const r of workerResults)
        assert.ok(r.outcome === 'stored' || (r.outcome === 'skipped' && r.status === 'stored'), JSON.stringify(r));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** Waits until some session is blocked on a lock (the competing transition waiting for the held row). */
async function waitForLockWait(db: TestDatabase, id: number): Promise<void> {
  await waitFor(`a transition of message ${id} to wait for the row lock`, async () => {
    const r = await db.pool.query(
      `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND state = 'active'`,
    );
    return (r.rowCount ?? 0) > 0;
  });
}
