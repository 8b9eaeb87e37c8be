/**
 * The test signer itself: reportAuthentication.test.ts once stored its signed mail unauthenticated under load
 * because the signature was wrong, not the verification. mailauth's dkimSign, unless given signTime, reads
 * the clock once for the t= tag it signs and again for the t= it writes; the second it rounds to changing between
 * the two reads (the RSA signing runs in between, slower under load) made "bad signature".
 */
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { makeTestKey, reportMail, testReport, txtStrings } from './dkimTestMail.js';

describe('reportMail signing', () => {
  it('signs a mail that verifies even when the clock turns over a second between two reads', async () => {
    const key = makeTestKey();
    // Every read of the clock is 600 ms after the one before: any two reads land in different seconds.
    let now = Date.now();
    mock.method(Date, 'now', () => (now += 600));
    let mail: Buffer;
    try {
      mail = await reportMail(testReport('Google Inc.', 'clock.example'), {
        fromDomain: 'google.com',
        policyDomain: 'clock.example',
        signer: { domain: 'google.com', selector: 'sel', key },
      });
    } finally {
      mock.restoreAll();
    }
    const verified = await dkimVerify(mail, { resolver: async () => [txtStrings(key.record)] });
    assert.deepEqual(
      verified.results.map((r) => [r.status.result, r.status.comment ?? null]),
      [['pass', null]],
    );
  });
});
