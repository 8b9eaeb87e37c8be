/**
 * Issue 15, part 1: reports authenticated with DKIM. Real signatures made in the test (mailauth's dkimSign),
 * their keys published by a DNS server on loopback, verified by the worker's own path (raw message ->
 * processMessage with the authenticator of config.worker.authentication) into a fresh database.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAuthenticator, type AuthenticationSettings } from '../../src/auth/authenticateMessage.js';
import { isServiceOutage } from '../../src/errors.js';
import { processMessage } from '../../src/pipeline/processMessage.js';
import { foldRollups } from '../../src/rollup/foldRollups.js';
import { insertRawMessage, type Channel } from '../../src/store/rawMessages.js';
import { queryReadiness, READINESS_DEFAULTS } from '../../src/stats/queryReadiness.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dnsServer.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { testConfig } from '../helpers/testConfig.js';
import { runCli } from '../helpers/runCli.js';
import { makeTestKey, reportMail, testReport, txtStrings, type TestKey } from './dkimTestMail.js';

const GOOGLE = 'Google Inc.';

describe('DKIM authentication of report mail', () => {
  let db: TestDatabase;
  let dns: TestDnsServer;
  let key: TestKey;
  let emailOnlyKey: TestKey;
  let tlsrptKey: TestKey;
  let unpublishedKey: TestKey;
  let settings: AuthenticationSettings;

  before(async () => {
    key = makeTestKey();
    emailOnlyKey = makeTestKey('email');
    tlsrptKey = makeTestKey('email:tlsrpt');
    unpublishedKey = makeTestKey();
    [db, dns] = await Promise.all([
      createTestDatabase(),
      startDnsServer({
        'sel._domainkey.google.com': { TXT: [txtStrings(key.record)] },
        'mail._domainkey.google.com': { TXT: [txtStrings(emailOnlyKey.record)] },
        'reports._domainkey.google.com': { TXT: [txtStrings(tlsrptKey.record)] },
        'sel._domainkey.esp.example': { TXT: [txtStrings(key.record)] },
      }),
    ]);
    settings = testConfig(db.url, { DNS_SERVERS: dns.address, DKIM_DNS_TIMEOUT_SECONDS: '1' }).worker.authentication;
  });
  after(async () => {
    await db?.drop();
    await dns?.close();
  });

  async function receive(raw: Buffer, s: AuthenticationSettings = settings, channel: Channel = 'smtp', remoteAddress = '198.51.100.7') {
    const id = await insertRawMessage(db.pool, raw, { channel, remoteAddress });
    const result = await processMessage(
      { pool: db.pool, reportMaxBytes: 1 << 20, maxAttempts: 1, authenticator: createAuthenticator(s) },
      id,
    );
    const [row] = (
      await db.pool.query(
        `SELECT m.status, m.reason, m.detail, m.authentication, r.authenticated, r.authenticated_by
         FROM raw_messages m LEFT JOIN reports r ON r.id = m.report_id WHERE m.id = $1`,
        [id],
      )
    ).rows;
    return { id, result, row };
  }

  const signedBy = (domain: string, selector: string, k: TestKey) => ({ domain, selector, key: k });

  /** A report about `policyDomain` From google.com, signed with its published key. */
  const signedMail = (policyDomain: string) =>
    reportMail(testReport(GOOGLE, policyDomain), { fromDomain: 'google.com', policyDomain, signer: signedBy('google.com', 'sel', key) });

  /** Processes a message that is still pending once more, with the DNS server that answers at once. */
  const receiveAgain = (id: number) =>
    processMessage({ pool: db.pool, reportMaxBytes: 1 << 20, maxAttempts: 1, authenticator: createAuthenticator(settings) }, id);

  it('record: a forged unsigned "Google Inc." report and a signed one are both stored, only the signed one authenticated', async () => {
    const forged = await receive(
      await reportMail(testReport(GOOGLE, 'record.example'), { fromDomain: 'google.com', policyDomain: 'record.example' }),
    );
    const signed = await receive(
      await reportMail(testReport(GOOGLE, 'record.example'), {
        fromDomain: 'google.com',
        policyDomain: 'record.example',
        signer: signedBy('google.com', 'sel', key),
      }),
    );
    assert.equal(forged.row.status, 'stored');
    assert.equal(forged.row.authenticated, false);
    assert.equal(forged.row.authenticated_by, null);
    assert.deepEqual(forged.row.authentication, {
      method: 'dkim',
      result: 'none',
      authenticated: false,
      authenticatedBy: null,
      fromDomain: 'google.com',
      signatures: [],
    });
    assert.equal(signed.row.status, 'stored');
    assert.equal(signed.row.authenticated, true);
    assert.equal(signed.row.authenticated_by, 'google.com');
    assert.deepEqual(signed.row.authentication.signatures, [
      { result: 'pass', domain: 'google.com', selector: 'sel', aligned: true, tlsrptService: true, comment: null },
    ]);
  });

  it('records a failing signature, a missing key, an unaligned signer and a key not for tlsrpt, each unauthenticated', async () => {
    const report = (d: string) => testReport(GOOGLE, d);
    const cases = [
      { why: 'signed with another key', signer: signedBy('google.com', 'sel', unpublishedKey), result: 'fail', aligned: true },
      { why: 'no key published', signer: signedBy('google.com', 'gone', key), result: 'permerror', aligned: true },
      { why: 'signed by another domain', signer: signedBy('esp.example', 'sel', key), result: 'pass', aligned: false },
      { why: 'key only for email (s=email)', signer: signedBy('google.com', 'mail', emailOnlyKey), result: 'pass', aligned: true },
    ];
    for (const c of cases) {
      const { row } = await receive(
        await reportMail(report('fail.example'), { fromDomain: 'google.com', policyDomain: 'fail.example', signer: c.signer }),
      );
      assert.equal(row.status, 'stored', c.why);
      assert.equal(row.authenticated, false, c.why);
      const [sig] = row.authentication.signatures;
      assert.equal(sig.result, c.result, c.why);
      assert.equal(sig.aligned, c.aligned, c.why);
    }
    const { row } = await receive(
      await reportMail(report('fail.example'), {
        fromDomain: 'google.com',
        policyDomain: 'fail.example',
        signer: signedBy('google.com', 'reports', tlsrptKey),
      }),
    );
    assert.equal(row.authenticated, true, 'a key with s=email:tlsrpt may sign reports');
  });

  it('a body changed after signing fails', async () => {
    const mail = await reportMail(testReport(GOOGLE, 'fail.example'), {
      fromDomain: 'google.com',
      policyDomain: 'fail.example',
      signer: signedBy('google.com', 'sel', key),
    });
    const tampered = Buffer.from(
      mail.toString('latin1').replace('This is an aggregate TLS report', 'This is a forged TLS report'),
      'latin1',
    );
    const { row } = await receive(tampered);
    assert.equal(row.authentication.signatures[0].result, 'fail');
    assert.equal(row.authenticated, false);
  });

  it('require: the forged report is quarantined as not-authenticated, the signed one stored; reprocess stores it once the key is published', async () => {
    const require = { ...settings, mode: 'require' as const };
    const forged = await receive(
      await reportMail(testReport(GOOGLE, 'require.example'), { fromDomain: 'google.com', policyDomain: 'require.example' }),
      require,
    );
    assert.equal(forged.row.status, 'quarantined');
    assert.equal(forged.row.reason, 'not-authenticated');
    assert.match(forged.row.detail, /dkim=none/);
    assert.equal(forged.row.authentication.result, 'none', 'what was found stays with the quarantined message');

    const signed = await receive(
      await reportMail(testReport(GOOGLE, 'require.example'), {
        fromDomain: 'google.com',
        policyDomain: 'require.example',
        signer: signedBy('google.com', 'sel', key),
      }),
      require,
    );
    assert.equal(signed.row.status, 'stored');

    // Signed with a key the sender has not published yet: quarantined, then stored by reprocess once it is.
    const lateKey = makeTestKey();
    const early = await receive(
      await reportMail(testReport(GOOGLE, 'require.example'), {
        fromDomain: 'google.com',
        policyDomain: 'require.example',
        signer: signedBy('google.com', 'late', lateKey),
      }),
      require,
    );
    assert.equal(early.row.reason, 'not-authenticated');
    assert.match(early.row.detail, /dkim=permerror d=google.com s=late \(no key\)/);
    const published = await startDnsServer({ 'late._domainkey.google.com': { TXT: [txtStrings(lateKey.record)] } });
    try {
      const cli = await runCli(['reprocess', String(early.id), '--format', 'json'], {
        DATABASE_URL: db.url,
        DNS_SERVERS: published.address,
        REPORT_AUTHENTICATION: 'require',
      });
      assert.equal(cli.code, 0, cli.stderr);
      assert.deepEqual(JSON.parse(cli.stdout).outcomes, { stored: 1 });
    } finally {
      await published.close();
    }
    const shown = await runCli(['quarantine', 'show', String(forged.id)], { DATABASE_URL: db.url });
    assert.match(shown.stdout, /^authentication +dkim=none \(the mail is not signed; From domain google.com\)$/m);
  });

  it('a DNS outage is a service outage: the message stays pending, then is stored once DNS answers', async () => {
    const mail = await signedMail('outage.example');
    const id = await insertRawMessage(db.pool, mail, { channel: 'smtp' });
    // Nothing listens on this port: every lookup is refused (ECONNREFUSED), as when the resolver is down.
    const down = createAuthenticator({ ...settings, dnsServers: ['127.0.0.1:9'], dnsTimeoutMs: 200 });
    await assert.rejects(
      processMessage({ pool: db.pool, reportMaxBytes: 1 << 20, maxAttempts: 1, authenticator: down }, id),
      (err: unknown) => isServiceOutage(err) && (err as { code?: string }).code === 'dkim-temperror',
    );
    const [pending] = (await db.pool.query(`SELECT status, attempts FROM raw_messages WHERE id = $1`, [id])).rows;
    assert.deepEqual(pending, { status: 'pending', attempts: 0 });
    const retried = await processMessage(
      { pool: db.pool, reportMaxBytes: 1 << 20, maxAttempts: 1, authenticator: createAuthenticator(settings) },
      id,
    );
    assert.equal(retried.outcome, 'stored');
  });

  it('a key answered only after the DNS timeout is a temporary error: the message stays pending, never stored unauthenticated', async () => {
    const mail = await signedMail('slow.example');
    const id = await insertRawMessage(db.pool, mail, { channel: 'smtp' });
    // The key is there, but every answer comes long after both attempts of the lookup gave up.
    const slow = await startDnsServer({ 'sel._domainkey.google.com': { TXT: [txtStrings(key.record)] } }, { answerAfterMs: 60_000 });
    try {
      const late = createAuthenticator({ ...settings, dnsServers: [slow.address], dnsTimeoutMs: 100 });
      await assert.rejects(
        processMessage({ pool: db.pool, reportMaxBytes: 1 << 20, maxAttempts: 1, authenticator: late }, id),
        (err: unknown) => isServiceOutage(err) && (err as { code?: string }).code === 'dkim-temperror',
      );
      assert.deepEqual(slow.queries, ['sel._domainkey.google.com TXT', 'sel._domainkey.google.com TXT'], 'asked twice');
    } finally {
      await slow.close();
    }
    const [pending] = (await db.pool.query(`SELECT status, attempts, authentication FROM raw_messages WHERE id = $1`, [id])).rows;
    assert.deepEqual(pending, { status: 'pending', attempts: 0, authentication: null });
    const retried = await receiveAgain(id);
    assert.equal(retried.outcome, 'stored');
    const [row] = (
      await db.pool.query(`SELECT authenticated FROM reports r JOIN raw_messages m ON m.report_id = r.id WHERE m.id = $1`, [id])
    ).rows;
    assert.equal(row.authenticated, true);
  });

  it('a lost DNS query is asked again: the answer to the second attempt authenticates the mail', async () => {
    const lossy = await startDnsServer({ 'sel._domainkey.google.com': { TXT: [txtStrings(key.record)] } }, { dropFirst: 1 });
    try {
      const authenticator = createAuthenticator({ ...settings, dnsServers: [lossy.address] });
      const mail = await signedMail('lossy.example');
      const found = await authenticator.authenticate({ channel: 'smtp', raw: mail });
      assert.equal(found.authenticated, true, found.signatures[0]?.comment ?? '');
      assert.equal(lossy.queries.length, 2, 'the first query was dropped, the second answered');
    } finally {
      await lossy.close();
    }
  });

  it('a mail whose keys still cannot be looked up DKIM_TEMPERROR_RETRY_HOURS after receipt is settled with temperror', async () => {
    const down = { ...settings, dnsServers: ['127.0.0.1:9'], dnsTimeoutMs: 200 };
    const old = async (s: AuthenticationSettings) => {
      const mail = await signedMail('outage.example');
      const id = await insertRawMessage(db.pool, mail, { channel: 'smtp' });
      await db.pool.query(`UPDATE raw_messages SET received_at = now() - interval '25 hours' WHERE id = $1`, [id]);
      await processMessage({ pool: db.pool, reportMaxBytes: 1 << 20, maxAttempts: 1, authenticator: createAuthenticator(s) }, id);
      return (
        await db.pool.query(
          `SELECT m.status, m.reason, m.authentication ->> 'result' AS result, r.authenticated
           FROM raw_messages m LEFT JOIN reports r ON r.id = m.report_id WHERE m.id = $1`,
          [id],
        )
      ).rows[0];
    };
    assert.deepEqual(await old(down), { status: 'stored', reason: null, result: 'temperror', authenticated: false });
    assert.deepEqual(await old({ ...down, mode: 'require' }), {
      status: 'quarantined',
      reason: 'not-authenticated',
      result: 'temperror',
      authenticated: null,
    });
  });

  it('caches key lookups: a second mail with the same key asks DNS nothing', async () => {
    const authenticator = createAuthenticator(settings);
    const mail = async () =>
      reportMail(testReport(GOOGLE, 'cache.example'), {
        fromDomain: 'google.com',
        policyDomain: 'cache.example',
        signer: signedBy('google.com', 'sel', key),
      });
    const before = dns.queries.length;
    assert.equal((await authenticator.authenticate({ channel: 'smtp', raw: await mail() })).authenticated, true);
    assert.equal((await authenticator.authenticate({ channel: 'smtp', raw: await mail() })).authenticated, true);
    assert.equal(dns.queries.length - before, 1);
  });

  it('HTTPS reports are recorded as https, a client in HTTP_TRUSTED_CLIENTS is trusted, report files as file; require leaves them stored', async () => {
    const body = (d: string) => Buffer.from(JSON.stringify(testReport('Example Sender', d)));
    const trustedSettings = testConfig(db.url, {
      DNS_SERVERS: dns.address,
      HTTP_TRUSTED_CLIENTS: '192.0.2.0/24',
      REPORT_AUTHENTICATION: 'require',
    }).worker.authentication;
    const untrusted = await receive(body('https.example'), trustedSettings, 'http', '198.51.100.7');
    assert.equal(untrusted.row.status, 'stored');
    assert.equal(untrusted.row.authenticated, false);
    assert.equal(untrusted.row.authentication.method, 'https');
    assert.equal(untrusted.row.authentication.result, 'not-applicable');
    const trusted = await receive(body('https.example'), trustedSettings, 'http', '192.0.2.7');
    assert.equal(trusted.row.authenticated, true);
    assert.equal(trusted.row.authenticated_by, 'trusted client 192.0.2.7');
    // A .json file backfilled by `tlsrpt ingest` has no mail to verify: stored, never authenticated.
    const file = await receive(body('https.example'), trustedSettings, 'ingest', '192.0.2.7');
    assert.equal(file.row.status, 'stored');
    assert.equal(file.row.authenticated, false);
    assert.equal(file.row.authentication.method, 'file');
    // The same bare JSON sent as SMTP DATA is a mail without headers: verified, and quarantined by require.
    const bare = await receive(body('https.example'), trustedSettings, 'smtp', '192.0.2.7');
    assert.equal(bare.row.reason, 'not-authenticated');
  });

  it('readiness says how many reporters were authenticated, and --authenticated-only counts only them', async () => {
    // Google signs; a forged "Microsoft Corporation" report does not: two reporters, one authenticated.
    for (let k = 1; k <= 7; k++) {
      const day = new Date(Date.now() - k * 86_400_000).toISOString().slice(0, 10);
      await receive(
        await reportMail(testReport(GOOGLE, 'ready.example', { day }), {
          fromDomain: 'google.com',
          policyDomain: 'ready.example',
          signer: signedBy('google.com', 'sel', key),
        }),
      );
      await receive(
        await reportMail(testReport('Microsoft Corporation', 'ready.example', { day }), {
          fromDomain: 'microsoft.com',
          policyDomain: 'ready.example',
        }),
      );
    }
    // The workers' rollup job folds the stored reports into the per-day totals that readiness reads.
    assert.equal((await foldRollups(db.pool)).busy, false);
    const options = { ...READINESS_DEFAULTS, asOf: null, domains: ['ready.example'] };
    const [all] = await queryReadiness(db.pool, options);
    assert.equal(all!.ready, true);
    assert.equal(all!.reporters, 2);
    assert.equal(all!.authenticated_reporters, 1);
    assert.match(all!.reason, /^Reports on 7 of the last 14 days from 2 reporters; .* 1 of 2 reporters authenticated\.$/);

    const [only] = await queryReadiness(db.pool, { ...options, authenticatedOnly: true });
    assert.equal(only!.ready, false);
    assert.equal(
      only!.reason,
      'Authenticated reports from only 1 reporter (Google Inc.), fewer than the 2 required. 1 of 2 reporters authenticated.',
    );

    const cli = await runCli(['readiness', '--domain', 'ready.example', '--authenticated-only', '--format', 'json'], {
      DATABASE_URL: db.url,
    });
    assert.equal(cli.code, 1);
    assert.equal(JSON.parse(cli.stdout)[0].authenticated_reporters, 1);
  });
});
