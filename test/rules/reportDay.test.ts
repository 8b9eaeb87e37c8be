/**
 * The UTC day of a report: one table of cases (reportDay.cases.ts) through reportDay() and SQL report_day();
 * then issue 12's report from 2024-02-29T23:00Z to 2024-03-01T23:00Z, which is 1 March in the stats and in
 * the quiet-reporter check alike.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadReporterHistories } from '../../src/alert/run/checkQuietReporters.js';
import { reportDay } from '../../src/rules/reportDay.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { REPORT_DAY_CASES } from './reportDay.cases.js';
import { storeReport } from './storeReport.js';

describe('the UTC day of a report: one table of cases, TypeScript and SQL', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db?.drop());

  for (const c of REPORT_DAY_CASES) {
    it(`${c.name}: ${c.start} .. ${c.end} -> ${c.day}`, async () => {
      assert.equal(reportDay(new Date(c.start), new Date(c.end)), c.day, 'reportDay()');
      const res = await db.pool.query<{ day: string }>(`SELECT report_day($1::timestamptz, $2::timestamptz)::text AS day`, [
        c.start,
        c.end,
      ]);
      assert.equal(res.rows[0]!.day, c.day, 'report_day()');
    });
  }

  it('a report from 2024-02-29T23:00Z to 2024-03-01T23:00Z is 1 March in the stats and in the quiet-reporter check', async () => {
    await storeReport(db.pool, {
      start: '2024-02-29T23:00:00Z',
      end: '2024-03-01T23:00:00Z',
      policies: [{ type: 'sts', domain: 'leap.example', policyString: ['version: STSv1', 'mode: testing'], ok: 10, failed: 0 }],
    });
    const stats = await db.pool.query(`SELECT day::text FROM daily_domain_stats WHERE policy_domain = 'leap.example'`);
    assert.deepEqual(stats.rows, [{ day: '2024-03-01' }]);
    const histories = await loadReporterHistories(db.pool, new Date('2024-02-01T00:00:00Z'));
    assert.deepEqual(
      histories.map((h) => [h.policyDomain, h.reportDays]),
      [['leap.example', ['2024-03-01']]],
    );
  });
});
