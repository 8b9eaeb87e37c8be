/**
 * The receiver refuses to start as an open MX: reachable from other hosts (SMTP_HOST not loopback) with no
 * ACCEPTED_RECIPIENTS, unless SMTP_ACCEPT_ANY_RECIPIENT=on says a relay in front picks the recipients.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/loadConfig.js';
import { ConfigError } from '../../src/errors.js';
import { checkRecipientGuard } from '../../src/receive/recipientGuard.js';
import { runCli } from '../helpers/runCli.js';

function guard(env: Record<string, string>): void {
  checkRecipientGuard(loadConfig(env));
}

describe('the open-MX guard', () => {
  it('refuses a non-loopback SMTP_HOST with no ACCEPTED_RECIPIENTS, naming the variables to set', () => {
    for (const host of ['0.0.0.0', '::', '192.0.2.25', 'mx.example.com']) {
      assert.throws(
        () => guard({ SMTP_HOST: host }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.code === 'config-invalid' &&
          err.variable === 'ACCEPTED_RECIPIENTS' &&
          err.message.includes(`listen on ${host} (SMTP_HOST)`) &&
          err.message.includes('SMTP_ACCEPT_ANY_RECIPIENT=on'),
        host,
      );
    }
    // The default SMTP_HOST is 0.0.0.0: a fresh configuration is refused too.
    assert.throws(() => guard({}), ConfigError);
  });

  it('lets it start with recipients, on loopback, or when told that any recipient is meant', () => {
    guard({ SMTP_HOST: '0.0.0.0', ACCEPTED_RECIPIENTS: 'tlsrpt@reports.example.com' });
    for (const host of ['127.0.0.1', '127.0.0.53', '::1', '[::1]', 'localhost']) guard({ SMTP_HOST: host });
    guard({ SMTP_HOST: '0.0.0.0', SMTP_ACCEPT_ANY_RECIPIENT: 'on' });
    assert.throws(() => guard({ SMTP_ACCEPT_ANY_RECIPIENT: 'yes' }), /SMTP_ACCEPT_ANY_RECIPIENT/);
  });

  for (const command of ['receiver', 'serve']) {
    it(`tlsrpt ${command} exits 2 before touching the database, with the reason on one line`, async () => {
      // Nothing listens on port 1: had it started, it would have failed on the database instead.
      const r = await runCli([command], { DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/tlsrpt', SMTP_HOST: '0.0.0.0' });
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        /^tlsrpt: configuration error: ACCEPTED_RECIPIENTS: is empty and the SMTP receiver would listen on 0\.0\.0\.0/,
      );
      assert.equal(r.stderr.trim().split('\n').length, 1);
    });
  }
});
