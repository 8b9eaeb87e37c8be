/**
 * The sts mode of a policy-string: one table of cases (stsMode.cases.ts) through stsMode() and SQL
 * sts_mode(); then issue 12's three readings of one element holding the whole policy (the alert, `tlsrpt
 * check`, the SQL behind the readiness verdict), which must all say enforce.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { policyMode } from '../../src/alert/decide/evaluateWindow.js';
import { readPolicyString } from '../../src/policy/check/comparePolicyWithReports.js';
import { stsMode } from '../../src/rules/stsMode.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { STS_MODE_CASES, WHOLE_POLICY_IN_ONE_ELEMENT } from './stsMode.cases.js';
import { storeReport } from './storeReport.js';

describe('the sts mode of a policy-string: one table of cases, TypeScript and SQL', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db?.drop());

  for (const c of STS_MODE_CASES) {
    it(c.name, async () => {
      assert.equal(stsMode(c.policyString), c.mode, 'stsMode()');
      const res = await db.pool.query<{ mode: string | null }>(`SELECT sts_mode($1::text[]) AS mode`, [c.policyString]);
      assert.equal(res.rows[0]!.mode, c.mode, 'sts_mode()');
    });
  }

  it('one element holding the whole policy reads enforce in the alert, in tlsrpt check and in SQL', async () => {
    const policyString = [WHOLE_POLICY_IN_ONE_ELEMENT];
    assert.equal(policyMode('sts', policyString), 'enforce', 'the alert');
    assert.equal(readPolicyString(policyString).mode, 'enforce', 'tlsrpt check');

    await storeReport(db.pool, {
      start: '2026-01-14T00:00:00Z',
      end: '2026-01-14T23:59:59Z',
      policies: [{ type: 'sts', domain: 'one-element.example', policyString, ok: 10, failed: 0 }],
    });
    const totals = await db.pool.query(`SELECT sts_mode FROM daily_domain_totals WHERE policy_domain = 'one-element.example'`);
    assert.deepEqual(totals.rows, [{ sts_mode: 'enforce' }], 'daily_domain_totals');
    const verdict = await db.pool.query(
      `SELECT policy_mode, reason FROM enforce_readiness_for(14, 0.001, 0, 0, '2026-01-15') WHERE policy_domain = 'one-element.example'`,
    );
    assert.deepEqual(verdict.rows, [
      {
        policy_mode: 'enforce',
        reason:
          'Reports on 1 of the last 14 days from 1 reporter; failure rate 0% (0 of 10 sessions) is within the 0.1% maximum. The MTA-STS policy is already in enforce mode. 0 of 1 reporter authenticated.',
      },
    ]);
  });
});
