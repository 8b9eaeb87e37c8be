/**
 * The pure parts of `tlsrpt imap`: IMAP_URL read into a mailbox (percent-encoding, default ports and folder,
 * STARTTLS required off loopback, the label that never holds the password), IMAP_PROCESSED and
 * IMAP_NON_REPORT, the OAuth2 settings checked together, and the backoff.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/loadConfig.js';
import { describeConfig } from '../../src/config/describeConfig.js';
import { ConfigError } from '../../src/errors.js';
import { DEFAULT_TIMING, nextDelay } from '../../src/imap/mailboxReader.js';
import { parseMailboxUrl } from '../../src/imap/mailboxUrl.js';
import { parseNonReportAction, parseProcessedAction } from '../../src/imap/serverAction.js';

const configError = (message: RegExp) => (err: unknown) => err instanceof ConfigError && message.test(err.message);

describe('IMAP_URL', () => {
  it('reads a Gmail app-password URL: percent-encoded user, TLS on 993, INBOX', () => {
    const m = parseMailboxUrl('imaps://tls-reports%40example.com:abcd%20efgh@imap.gmail.com', 'IMAP_URL');
    assert.deepEqual(m, {
      label: 'imaps://tls-reports%40example.com@imap.gmail.com/INBOX',
      host: 'imap.gmail.com',
      port: 993,
      secure: true,
      requireStartTls: false,
      user: 'tls-reports@example.com',
      password: 'abcd efgh',
      folder: 'INBOX',
    });
  });

  it('imap:// uses 143 and requires STARTTLS, except on loopback', () => {
    const remote = parseMailboxUrl('imap://u:p@mail.example.com/TLS-RPT/Reports', 'IMAP_URL');
    assert.deepEqual([remote.port, remote.secure, remote.requireStartTls, remote.folder], [143, false, true, 'TLS-RPT/Reports']);
    for (const host of ['127.0.0.1', 'localhost', '[::1]']) {
      assert.equal(parseMailboxUrl(`imap://u:p@${host}:1143/`, 'IMAP_URL').requireStartTls, false, host);
    }
  });

  it('no password means XOAUTH2', () => {
    assert.equal(parseMailboxUrl('imaps://tls-reports%40example.com@outlook.office365.com/INBOX', 'IMAP_URL').password, null);
  });

  it('refuses what it cannot use, without repeating the password', () => {
    assert.throws(() => parseMailboxUrl('pop3://u:p@mail.example.com', 'IMAP_URL'), configError(/is not imap: or imaps:/));
    assert.throws(() => parseMailboxUrl('imaps://imap.gmail.com/INBOX', 'IMAP_URL'), configError(/names no user/));
    assert.throws(
      () => parseMailboxUrl('imaps://u:p%zz@imap.gmail.com', 'IMAP_URL'),
      configError(/password is not correctly percent-encoded/),
    );
    assert.throws(
      () => parseMailboxUrl('imaps://u:sup3rsecret@bad_host!/', 'IMAP_URL'),
      (err: unknown) => err instanceof ConfigError && !err.message.includes('sup3rsecret'),
    );
  });

  it('is a list (comma-separated), shown masked by tlsrpt config, checked against the token settings', () => {
    const config = loadConfig({ IMAP_URL: 'imaps://a:pw1@imap.gmail.com/INBOX, imap://b:pw2@127.0.0.1:1143/Reports' });
    assert.deepEqual(
      config.imap.mailboxes.map((m) => m.label),
      ['imaps://a@imap.gmail.com/INBOX', 'imap://b@127.0.0.1:1143/Reports'],
    );
    const shown = JSON.stringify(describeConfig(config).IMAP_URL);
    assert.ok(!shown.includes('pw1') && !shown.includes('pw2'), shown);
    assert.throws(() => loadConfig({ IMAP_URL: 'imaps://a@imap.gmail.com/INBOX' }), configError(/no token source is set/));
    assert.throws(
      () => loadConfig({ IMAP_URL: 'imaps://a@imap.gmail.com/INBOX', IMAP_OAUTH2_TOKEN_URL: 'https://oauth2.googleapis.com/token' }),
      configError(/IMAP_OAUTH2_CLIENT_ID: the refresh-token flow needs the OAuth client ID/),
    );
    assert.throws(
      () => loadConfig({ IMAP_OAUTH2_TOKEN_COMMAND: 'oauth2l fetch', IMAP_OAUTH2_REFRESH_TOKEN: 'x' }),
      configError(/set one or the other/),
    );
    assert.deepEqual(loadConfig({ IMAP_OAUTH2_TOKEN_COMMAND: 'oauth2l fetch' }).imap.oauth2, { kind: 'command', command: 'oauth2l fetch' });
  });
});

describe('IMAP_PROCESSED and IMAP_NON_REPORT', () => {
  it('reads seen, delete and move:FOLDER; non-report mail is never deleted', () => {
    assert.deepEqual(parseProcessedAction('seen', 'X'), { kind: 'seen' });
    assert.deepEqual(parseProcessedAction('DELETE', 'X'), { kind: 'delete' });
    assert.deepEqual(parseProcessedAction('move:TLS-RPT/Processed', 'X'), { kind: 'move', folder: 'TLS-RPT/Processed' });
    assert.throws(() => parseProcessedAction('move:', 'X'), configError(/names no folder/));
    assert.throws(() => parseProcessedAction('archive', 'X'), configError(/is not seen, move:FOLDER or delete/));
    assert.deepEqual(parseNonReportAction('leave', 'X'), { kind: 'leave' });
    assert.deepEqual(parseNonReportAction('move:Not reports', 'X'), { kind: 'move', folder: 'Not reports' });
    assert.throws(() => parseNonReportAction('delete', 'X'), configError(/never deleted/));
  });
});

describe('reconnect backoff', () => {
  it('doubles from 1 s to 5 minutes after failures, and from 5 minutes to an hour after a refused login', () => {
    const walk = (refused: boolean) => {
      const delays: number[] = [];
      let d = 0;
      for (let i = 0; i < 12; i++) delays.push((d = nextDelay(DEFAULT_TIMING, d, refused)));
      return delays;
    };
    const outage = walk(false);
    assert.deepEqual(outage.slice(0, 4), [1000, 2000, 4000, 8000]);
    assert.equal(outage.at(-1), 5 * 60_000);
    const refused = walk(true);
    assert.deepEqual(refused.slice(0, 3), [5 * 60_000, 10 * 60_000, 20 * 60_000]);
    assert.equal(refused.at(-1), 60 * 60_000);
  });
});
