/**
 * The HTTP endpoint's group commit (src/receive/rawIntake.ts), on the real service with a worker: a burst
 * of concurrent POSTs is committed in a few shared INSERTs, yet each sender gets the id of the row that
 * holds its own body, byte for byte, and every report is stored once.
 */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { postReport, startHttpHarness, type HttpHarness } from '../helpers/httpHarness.js';

const BURST = 50;

function burstReport(i: number): unknown {
  const domain = `burst${i}.example`;
  return {
    'organization-name': 'Burst Reporter',
    'date-range': { 'start-datetime': '2026-03-01T00:00:00Z', 'end-datetime': '2026-03-01T23:59:59Z' },
    'contact-info': 'tlsrpt@burst.example',
    'report-id': `burst-${i}`,
    policies: [
      {
        policy: {
          'policy-type': 'sts',
          'policy-string': ['version: STSv1', 'mode: enforce', `mx: mx.${domain}`, 'max_age: 86400'],
          'policy-domain': domain,
          'mx-host': [`mx.${domain}`],
        },
        summary: { 'total-successful-session-count': 100 + i, 'total-failure-session-count': i % 4 },
        'failure-details':
          i % 4
            ? [
                {
                  'result-type': 'certificate-expired',
                  'sending-mta-ip': '198.51.100.7',
                  'receiving-mx-hostname': `mx.${domain}`,
                  'receiving-ip': '192.0.2.7',
                  'failed-session-count': i % 4,
                },
              ]
            : [],
      },
    ],
  };
}

describe('HTTP intake commits concurrent POSTs in groups', () => {
  let h: HttpHarness;
  before(async () => {
    h = await startHttpHarness({ REPORT_MAX_BYTES: '1MiB' });
  });
  after(() => h?.close());

  it(`${BURST} concurrent POSTs: each stored once, each reply naming the row of its own body, all processed`, async () => {
    // Half gzip, half plain JSON: bodies of different sizes finish arriving in no particular order.
    const bodies = Array.from({ length: BURST }, (_, i) => {
      const json = Buffer.from(JSON.stringify(burstReport(i)));
      return i % 2 ? { body: gzipSync(json), type: 'application/tlsrpt+gzip' } : { body: json, type: 'application/tlsrpt+json' };
    });

    const replies = await Promise.all(bodies.map(({ body, type }) => postReport(h.url(), body, { 'content-type': type })));

    for (const [i, r] of replies.entries()) {
      assert.equal(r.status, 200, `POST ${i}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.status, 'accepted');
      assert.equal(typeof r.body.id, 'number');
    }
    const ids = replies.map((r) => r.body.id!);
    assert.equal(new Set(ids).size, BURST, 'one id per POST');

    const rows = (await h.db.pool.query(`SELECT id, channel, raw, xmin::text AS tx FROM raw_messages ORDER BY id`)).rows as Array<{
      id: number;
      channel: string;
      raw: Buffer;
      tx: string;
    }>;
    assert.equal(rows.length, BURST, 'each body stored once');
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const [i, id] of ids.entries()) {
      const row = byId.get(id);
      assert.ok(row, `row ${id} of POST ${i}`);
      assert.equal(row.channel, 'http');
      assert.ok(row.raw.equals(bodies[i]!.body), `row ${id} holds the body of POST ${i}, the one it was answered to`);
    }
    // Shared commits: rows written by one INSERT carry the same transaction id.
    const transactions = new Set(rows.map((r) => r.tx)).size;
    assert.ok(transactions < BURST, `${BURST} POSTs committed in ${transactions} transactions`);

    for (const [i, id] of ids.entries()) {
      const msg = await h.settled(id);
      assert.equal(msg.status, 'stored', `POST ${i}: ${msg.reason}: ${msg.detail}`);
      const report = (
        await h.db.pool.query(
          `SELECT r.report_id, r.raw_message_id, p.policy_domain, p.total_successful_session_count AS ok
           FROM reports r JOIN policies p ON p.report_id = r.id WHERE r.id = $1`,
          [msg.report_id],
        )
      ).rows;
      assert.deepEqual(report, [{ report_id: `burst-${i}`, raw_message_id: id, policy_domain: `burst${i}.example`, ok: 100 + i }]);
    }
    const reports = await h.db.pool.query(`SELECT count(*)::int AS n FROM reports`);
    assert.equal(reports.rows[0].n, BURST);
  });
});
