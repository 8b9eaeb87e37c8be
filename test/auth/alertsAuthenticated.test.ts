/**
 * ALERT_AUTHENTICATED_ONLY=on, end to end as `tlsrpt serve` wires it (SMTP receiver -> worker with DKIM
 * verification through DNS_SERVERS -> alert windows): a forged unsigned report of failures raises no alert,
 * the same failures in a report signed by its From domain do.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startAlertHarness, type AlertHarness } from '../helpers/alertHarness.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dnsServer.js';
import { waitFor } from '../helpers/waitFor.js';
import { makeTestKey, reportMail, testReport, txtStrings, type TestKey } from './dkimTestMail.js';

describe('alerts from authenticated reports only', () => {
  let h: AlertHarness;
  let dns: TestDnsServer;
  let key: TestKey;

  before(async () => {
    key = makeTestKey();
    dns = await startDnsServer({ 'sel._domainkey.google.com': { TXT: [txtStrings(key.record)] } });
    h = await startAlertHarness({ DNS_SERVERS: dns.address, ALERT_AUTHENTICATED_ONLY: 'on', ALERT_GROUP_WAIT_SECONDS: '0.5' });
  });
  after(async () => {
    await h?.close();
    await dns?.close();
  });

  const outcome = (domain: string) =>
    waitFor(`the window of ${domain} to be evaluated`, async () => {
      const r = await h.db.pool.query(`SELECT outcome FROM alert_windows WHERE policy_domain = $1`, [domain]);
      return r.rows[0]?.outcome as string | undefined;
    });

  it('a forged report of failures opens a window that raises no alert; a signed one alerts', async () => {
    const failing = (domain: string) => testReport('Google Inc.', domain, { successful: 90, failed: 10 });
    const forged = await h.deliver(
      await reportMail(failing('forged.example'), { fromDomain: 'google.com', policyDomain: 'forged.example' }),
    );
    const signed = await h.deliver(
      await reportMail(failing('signed.example'), {
        fromDomain: 'google.com',
        policyDomain: 'signed.example',
        signer: { domain: 'google.com', selector: 'sel', key },
      }),
    );
    assert.deepEqual([forged.status, signed.status], ['stored', 'stored']);
    const authenticated = await h.db.pool.query(`SELECT authenticated FROM reports WHERE id = ANY($1::bigint[]) ORDER BY id`, [
      [forged.reportId, signed.reportId],
    ]);
    assert.deepEqual(
      authenticated.rows.map((r) => r.authenticated),
      [false, true],
    );
    assert.notEqual(await outcome('forged.example'), 'alerted');
    assert.equal(await outcome('signed.example'), 'alerted');
    const alerts = await h.db.pool.query(`SELECT policy_domain FROM alerts ORDER BY id`);
    assert.deepEqual(
      alerts.rows.map((r) => r.policy_domain),
      ['signed.example'],
    );
  });
});
