/**
 * attachReports against a real database (src/alert/store/windowStore.ts): a batch of stored reports put into the
 * alert windows of their policy domains in one transaction. Reports are stored the way the worker stores
 * them (storeReports), then attached as the worker's alert hook attaches them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { attachReports, markWindowEvaluated } from '../../src/alert/store/windowStore.js';
import { createPool, withTransaction } from '../../src/db/pool.js';
import { decodeMessage } from '../../src/pipeline/decodeMessage.js';
import { insertRawMessage } from '../../src/store/rawMessages.js';
import { storeReports } from '../../src/store/storeReport.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';

const WAIT_MS = 60_000;

/** One policy of a crafted report: its domain (null: left out), and its failed sessions (0: none). */
interface P {
  domain: string | null;
  failed: number;
  type?: 'sts' | 'tlsa' | 'no-policy-found';
  /** Failure details without a failed-session total: a failing policy all the same. */
  detailsOnly?: boolean;
}

interface Attachment {
  report_id: number;
  policy_domain: string;
  window_id: number;
}

describe('attachReports: a batch of reports into alert windows', () => {
  let db: TestDatabase;
  let serial = 0;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db?.drop());

  /** Stores one report with these policies; returns its id. */
  async function storeReport(...policies: P[]): Promise<number> {
    const [id] = await storeMany(policies);
    return id!;
  }

  /** Stores one report per element, in one storeReports call; returns their ids in order. */
  async function storeMany(...reports: P[][]): Promise<number[]> {
    const items = await Promise.all(
      reports.map(async (policies) => {
        const n = ++serial;
        const report = {
          'organization-name': `Reporter ${n % 3}`,
          'date-range': { 'start-datetime': '2026-03-01T00:00:00Z', 'end-datetime': '2026-03-01T23:59:59Z' },
          'contact-info': 'tlsrpt@reporter.example',
          'report-id': `attach-${n}`,
          policies: policies.map((p) => ({
            policy: {
              'policy-type': p.type ?? 'sts',
              ...(p.type === 'no-policy-found'
                ? {}
                : { 'policy-string': ['version: STSv1', 'mode: enforce', 'mx: *.example', 'max_age: 86400'] }),
              'policy-domain': p.domain ?? 'dropped.example',
              'mx-host': ['mx.example'],
            },
            summary: { 'total-successful-session-count': 10, 'total-failure-session-count': p.detailsOnly ? 0 : p.failed },
            'failure-details': p.failed
              ? [
                  {
                    'result-type': 'certificate-expired',
                    'sending-mta-ip': '198.51.100.1',
                    'receiving-mx-hostname': 'mx.example',
                    'receiving-ip': '192.0.2.1',
                    'failed-session-count': p.failed,
                  },
                ]
              : [],
          })),
        };
        const raw = buildReportMail({ report, policyDomain: 'reports.example', reportId: report['report-id'] });
        const rawMessageId = await insertRawMessage(db.pool, raw, { channel: 'ingest' });
        const decoded = await decodeMessage(raw, { reportMaxBytes: 1 << 20 });
        // A policy without a domain, as a report POSTed without file name or mail header is stored.
        policies.forEach((p, i) => {
          if (p.domain === null)
            delete (decoded.normalised as unknown as { policies: Array<{ policy: Record<string, unknown> }> }).policies[i]!.policy[
              'policy-domain'
            ];
        });
        return { rawMessageId, decoded };
      }),
    );
    return (await storeReports(db.pool, items)).map((r) => {
      if (r instanceof Error) throw r;
      assert.equal(r.outcome, 'stored');
      return r.reportId;
    });
  }

  async function windowsOf(domain: string): Promise<Array<{ id: number; evaluated: boolean }>> {
    const res = await db.pool.query(
      `SELECT id, evaluated_at IS NOT NULL AS evaluated FROM alert_windows WHERE policy_domain = $1 ORDER BY id`,
      [domain],
    );
    return res.rows;
  }

  async function attachmentsOf(reportIds: number[]): Promise<Attachment[]> {
    const res = await db.pool.query(
      `SELECT report_id, policy_domain, window_id FROM alert_window_reports WHERE report_id = ANY($1::bigint[]) ORDER BY report_id, policy_domain`,
      [reportIds],
    );
    return res.rows;
  }

  async function attachmentCount(): Promise<number> {
    return (await db.pool.query(`SELECT count(*)::int AS n FROM alert_window_reports`)).rows[0].n;
  }

  it('a failing and a non-failing report of one domain in one batch: one window opened, both in it, listed once', async () => {
    const quiet = await storeReport({ domain: 'mixed.example', failed: 0 });
    const failing = await storeReport({ domain: 'mixed.example', failed: 3 });
    const t0 = Date.now();
    // The non-failing one first: the batch behaves as if the failing ones came first.
    const opened = await attachReports(db.pool, [quiet, failing], WAIT_MS);
    const t1 = Date.now();

    assert.equal(opened.length, 1);
    const [w] = opened;
    assert.deepEqual(await windowsOf('mixed.example'), [{ id: w!.windowId, evaluated: false }]);
    assert.ok(
      w!.closesAt.getTime() >= t0 + WAIT_MS - 1000 && w!.closesAt.getTime() <= t1 + WAIT_MS + 1000,
      `closes ${WAIT_MS} ms from now`,
    );
    assert.deepEqual(await attachmentsOf([quiet, failing]), [
      { report_id: quiet, policy_domain: 'mixed.example', window_id: w!.windowId },
      { report_id: failing, policy_domain: 'mixed.example', window_id: w!.windowId },
    ]);
  });

  it('reports of a domain with an open window join it, and nothing is opened', async () => {
    const first = await storeReport({ domain: 'open.example', failed: 1 });
    const [w] = await attachReports(db.pool, [first], WAIT_MS);
    assert.ok(w);
    const [failing, quiet] = await storeMany([{ domain: 'open.example', failed: 7 }], [{ domain: 'open.example', failed: 0 }]);

    assert.deepEqual(await attachReports(db.pool, [failing!, quiet!], WAIT_MS), []);
    assert.deepEqual(await windowsOf('open.example'), [{ id: w.windowId, evaluated: false }]);
    assert.deepEqual(
      (await attachmentsOf([first, failing!, quiet!])).map((a) => a.window_id),
      [w.windowId, w.windowId, w.windowId],
    );
  });

  it('a non-failing report never opens a window, alone or with others of its kind', async () => {
    const alone = await storeReport({ domain: 'quiet.example', failed: 0 });
    assert.deepEqual(await attachReports(db.pool, [alone], WAIT_MS), []);
    const two = await storeMany([{ domain: 'quiet.example', failed: 0 }], [{ domain: 'quiet.example', failed: 0, type: 'tlsa' }]);
    assert.deepEqual(await attachReports(db.pool, two, WAIT_MS), []);
    assert.deepEqual(await windowsOf('quiet.example'), []);
    assert.deepEqual(await attachmentsOf([alone, ...two]), []);
  });

  it('failure details without a failed-session total still make a report failing', async () => {
    const r = await storeReport({ domain: 'details-only.example', failed: 2, detailsOnly: true });
    const opened = await attachReports(db.pool, [r], WAIT_MS);
    assert.equal(opened.length, 1);
    assert.deepEqual(await attachmentsOf([r]), [{ report_id: r, policy_domain: 'details-only.example', window_id: opened[0]!.windowId }]);
  });

  it('a report already attached is not attached again, even after its window was evaluated', async () => {
    const r = await storeReport({ domain: 'again.example', failed: 4 });
    const [w] = await attachReports(db.pool, [r], WAIT_MS);
    assert.ok(w);
    const rows = await attachmentCount();

    assert.deepEqual(await attachReports(db.pool, [r], WAIT_MS), [], 'reprocessed while the window is open');
    assert.equal(await attachmentCount(), rows);

    // What settleWindow does once the window closes.
    await withTransaction(db.pool, (c) => markWindowEvaluated(c, w.windowId, 'below-threshold'));
    assert.deepEqual(
      await attachReports(db.pool, [r, r], WAIT_MS),
      [],
      'reprocessed after the evaluation: no second window, no second alert',
    );
    assert.equal(await attachmentCount(), rows);
    assert.deepEqual(await windowsOf('again.example'), [{ id: w.windowId, evaluated: true }]);

    // A new failing report in the same batch opens the next window, alone.
    const next = await storeReport({ domain: 'again.example', failed: 1 });
    const [w2] = await attachReports(db.pool, [r, next], WAIT_MS);
    assert.ok(w2 && w2.windowId !== w.windowId);
    assert.deepEqual(await attachmentsOf([r, next]), [
      { report_id: r, policy_domain: 'again.example', window_id: w.windowId },
      { report_id: next, policy_domain: 'again.example', window_id: w2.windowId },
    ]);
  });

  it('a report with several domains joins or opens a window per domain', async () => {
    const [b] = await attachReports(db.pool, [await storeReport({ domain: 'b.multi.example', failed: 1 })], WAIT_MS);
    assert.ok(b);
    const m = await storeReport(
      { domain: 'a.multi.example', failed: 2 },
      { domain: 'b.multi.example', failed: 0 },
      { domain: 'c.multi.example', failed: 5, type: 'tlsa' },
      { domain: 'c.multi.example', failed: 0 },
      { domain: 'd.multi.example', failed: 0 },
    );
    const opened = await attachReports(db.pool, [m], WAIT_MS);

    const [a] = await windowsOf('a.multi.example');
    const [c] = await windowsOf('c.multi.example');
    assert.ok(a && c);
    assert.deepEqual(
      opened.map((o) => o.windowId).sort((x, y) => x - y),
      [a.id, c.id].sort((x, y) => x - y),
      'a and c opened, each listed once',
    );
    assert.deepEqual(await windowsOf('d.multi.example'), [], 'd has no failures and no open window');
    assert.deepEqual(await attachmentsOf([m]), [
      { report_id: m, policy_domain: 'a.multi.example', window_id: a.id },
      { report_id: m, policy_domain: 'b.multi.example', window_id: b.windowId },
      { report_id: m, policy_domain: 'c.multi.example', window_id: c.id },
    ]);
  });

  it("policy domains are case-insensitive, and a report without a domain goes to the domain ''", async () => {
    const upper = await storeReport({ domain: 'Mixed-Case.EXAMPLE', failed: 1 });
    const [w] = await attachReports(db.pool, [upper], WAIT_MS);
    assert.ok(w);
    const lower = await storeReport({ domain: 'mixed-case.example', failed: 3 });
    const both = await storeReport({ domain: 'MIXED-case.example', failed: 1 }, { domain: 'mixed-CASE.example', failed: 0, type: 'tlsa' });
    assert.deepEqual(await attachReports(db.pool, [lower, both], WAIT_MS), []);
    assert.deepEqual(await windowsOf('mixed-case.example'), [{ id: w.windowId, evaluated: false }]);
    assert.deepEqual(await attachmentsOf([upper, lower, both]), [
      { report_id: upper, policy_domain: 'mixed-case.example', window_id: w.windowId },
      { report_id: lower, policy_domain: 'mixed-case.example', window_id: w.windowId },
      { report_id: both, policy_domain: 'mixed-case.example', window_id: w.windowId },
    ]);

    const [failing, quiet] = await storeMany(
      [{ domain: null, failed: 2, type: 'no-policy-found' }],
      [{ domain: null, failed: 0, type: 'no-policy-found' }],
    );
    const stored = await db.pool.query(`SELECT policy_domain FROM policies WHERE report_id = ANY($1::bigint[])`, [[failing, quiet]]);
    assert.deepEqual(stored.rows, [{ policy_domain: null }, { policy_domain: null }]);
    const opened = await attachReports(db.pool, [quiet!, failing!], WAIT_MS);
    assert.equal(opened.length, 1);
    assert.deepEqual(await windowsOf(''), [{ id: opened[0]!.windowId, evaluated: false }]);
    assert.deepEqual(
      await attachmentsOf([failing!, quiet!]),
      [failing!, quiet!].sort((x, y) => x - y).map((id) => ({ report_id: id, policy_domain: '', window_id: opened[0]!.windowId })),
    );
  });

  it('an empty batch does nothing', async () => {
    assert.deepEqual(await attachReports(db.pool, [], WAIT_MS), []);
  });

  it('two concurrent batches with domains in common open one window per domain and never deadlock', async () => {
    const pools = [0, 1].map(() => createPool(db.url, { max: 1 }));
    try {
      for (let round = 0; round < 6; round++) {
        const domain = (i: number) => `d${i}.race${round}.example`;
        // Each report fails on two neighbouring domains, so every batch needs several locks.
        const reports = await storeMany(
          ...Array.from({ length: 12 }, (_, i) => [
            { domain: domain(i), failed: 1 },
            { domain: domain(i + 1), failed: i % 2 },
          ]),
        );
        // The first batch in id order, the second reversed; they share the domains of reports 3 to 8.
        const one = reports.slice(0, 9);
        const two = reports.slice(3).reverse();
        const [a, b] = await Promise.all([attachReports(pools[0]!, one, WAIT_MS), attachReports(pools[1]!, two, WAIT_MS)]);

        const opened = [...a, ...b].map((w) => w.windowId).sort((x, y) => x - y);
        const windows = (
          await db.pool.query(`SELECT id, policy_domain FROM alert_windows WHERE policy_domain LIKE $1 ORDER BY id`, [
            `%.race${round}.example`,
          ])
        ).rows as Array<{ id: number; policy_domain: string }>;
        assert.deepEqual(
          windows.map((w) => w.policy_domain).sort(),
          Array.from({ length: 13 }, (_, i) => domain(i)).sort(),
          `round ${round}: one window per domain`,
        );
        assert.deepEqual(
          opened,
          windows.map((w) => w.id),
          `round ${round}: each window returned once, by the call that opened it`,
        );
        const windowOf = new Map(windows.map((w) => [w.policy_domain, w.id]));
        const rows = await attachmentsOf(reports);
        assert.equal(rows.length, 24, `round ${round}: every report in a window for each of its two domains`);
        for (const row of rows) assert.equal(row.window_id, windowOf.get(row.policy_domain), `round ${round}: ${row.policy_domain}`);
      }
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });
});
