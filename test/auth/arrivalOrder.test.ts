/**
 * Issue 15, part 2: figures that do not depend on arrival order. sys4 tlsrpt-reporter leaves policy-domain
 * out of a no-policy-found policy and names the domain only in the mail's TLS-Report-Domain header (quirk 8).
 * The same report POSTed over HTTPS (no header, no DKIM) and mailed (header, DKIM-signed) must give the same
 * rows whichever copy comes first: usually the POST, since mail waits in queues. Each order runs in a
 * database of its own, through the worker's path (raw message -> processMessage with the authenticator).
 */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { createAuthenticator, type Authenticator } from '../../src/auth/authenticateMessage.js';
import { processMessage } from '../../src/pipeline/processMessage.js';
import { insertRawMessage, type Channel } from '../../src/store/rawMessages.js';
import { queryReadiness, READINESS_DEFAULTS } from '../../src/stats/queryReadiness.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dnsServer.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { testConfig } from '../helpers/testConfig.js';
import { runCli } from '../helpers/runCli.js';
import { makeTestKey, reportMail, testReport, txtStrings } from './dkimTestMail.js';

const DOMAIN = 'example.org';

describe('the same report by HTTPS and by mail, in either order', () => {
  let dns: TestDnsServer;
  let httpsFirst: TestDatabase;
  let mailFirst: TestDatabase;
  let authenticator: Authenticator;
  let json: Buffer;
  let mail: Buffer;

  const receive = async (db: TestDatabase, raw: Buffer, channel: Channel) => {
    const id = await insertRawMessage(db.pool, raw, { channel, remoteAddress: '198.51.100.7' });
    return processMessage({ pool: db.pool, reportMaxBytes: 1 << 20, maxAttempts: 1, authenticator }, id);
  };

  before(async () => {
    const key = makeTestKey();
    [dns, httpsFirst, mailFirst] = await Promise.all([
      startDnsServer({ 'sel._domainkey.sys4.example': { TXT: [txtStrings(key.record)] } }),
      createTestDatabase(),
      createTestDatabase(),
    ]);
    authenticator = createAuthenticator(testConfig(httpsFirst.url, { DNS_SERVERS: dns.address }).worker.authentication);
    // 30 sessions of a domain without a policy, and no policy-domain in the report: only the mail names it.
    const report = testReport('sys4 AG', null, { policyType: 'no-policy-found', successful: 30 });
    json = Buffer.from(JSON.stringify(report));
    const signed = await reportMail(report, {
      fromDomain: 'sys4.example',
      policyDomain: DOMAIN,
      signer: { domain: 'sys4.example', selector: 'sel', key },
    });
    // The mail's attachment is the same JSON, byte for byte (gzipped), as a sender sends one report both ways.
    assert.ok(signed.includes(gzipSync(json).toString('base64').slice(0, 60)));
    mail = signed;

    assert.equal((await receive(httpsFirst, json, 'http')).outcome, 'stored');
    assert.equal((await receive(httpsFirst, mail, 'smtp')).outcome, 'duplicate');
    assert.equal((await receive(mailFirst, mail, 'smtp')).outcome, 'stored');
    assert.equal((await receive(mailFirst, json, 'http')).outcome, 'duplicate');
  });
  after(async () => {
    await Promise.all([httpsFirst?.drop(), mailFirst?.drop(), dns?.close()]);
  });

  async function rows(db: TestDatabase, sql: string): Promise<unknown[]> {
    return (await db.pool.query(sql)).rows;
  }

  async function bothOrders(sql: string): Promise<unknown[]> {
    const [a, b] = await Promise.all([rows(httpsFirst, sql), rows(mailFirst, sql)]);
    assert.deepEqual(a, b, sql);
    return a;
  }

  it('stores the same report row, with the domain, the mail headers and the DKIM pass', async () => {
    const [report] = (await bothOrders(
      `SELECT organization_name, report_id, start_at, end_at, payload_sha256, report_json,
              ARRAY(SELECT f FROM unnest(fixups) AS f ORDER BY f) AS fixups, tls_report_domain, tls_report_submitter,
              subject_report_id, attachment_filename, authenticated, authenticated_by
       FROM reports`,
    )) as Array<Record<string, unknown>>;
    assert.equal(report!.tls_report_domain, DOMAIN);
    assert.equal(report!.authenticated, true);
    assert.equal(report!.authenticated_by, 'sys4.example');
    assert.ok((report!.fixups as string[]).includes('policy-domain-from-mail-header'));
    assert.equal(
      (report!.report_json as { policies: Array<{ policy: Record<string, unknown> }> }).policies[0]!.policy['policy-domain'],
      DOMAIN,
    );
  });

  it('stores the same policies, with the policy domain from the header', async () => {
    const policies = await bothOrders(
      `SELECT policy_index, policy_type, policy_domain, policy_string, mx_host, total_successful_session_count,
              total_failure_session_count
       FROM policies ORDER BY policy_index`,
    );
    assert.deepEqual(
      policies.map((p) => (p as { policy_domain: string }).policy_domain),
      [DOMAIN],
    );
  });

  it('keeps what each copy proved with the copy', async () => {
    // Which copy is `stored` and which `duplicate` is the arrival order itself; what each proved is not.
    const copies = await bothOrders(`SELECT channel, authentication ->> 'method' AS method, authentication ->> 'result' AS result
                                     FROM raw_messages ORDER BY channel`);
    assert.deepEqual(
      copies.map((c) => {
        const { channel, method, result } = c as Record<string, string>;
        return `${channel} ${method} ${result}`;
      }),
      ['http https not-applicable', 'smtp dkim pass'],
    );
  });

  it('`tlsrpt report show` lists both copies with what each proved', async () => {
    const [{ id }] = (await httpsFirst.pool.query(`SELECT id FROM reports`)).rows;
    const shown = await runCli(['report', 'show', String(id)], { DATABASE_URL: httpsFirst.url });
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^authenticated +yes, by sys4\.example$/m);
    assert.match(shown.stdout, /^policy_domains +example\.org$/m);
    assert.match(shown.stdout, /^ {2}raw message \d+, http, stored, received \S+: https, not trusted \(no DKIM over HTTPS\)$/m);
    assert.match(shown.stdout, /^ {2}raw message \d+, smtp, duplicate, received \S+: dkim=pass d=sys4\.example s=sel$/m);
    const json = JSON.parse((await runCli(['report', 'show', String(id), '--format', 'json'], { DATABASE_URL: httpsFirst.url })).stdout);
    assert.deepEqual(
      json.copies.map((c: { channel: string; authentication: { result: string } }) => `${c.channel} ${c.authentication.result}`),
      ['http not-applicable', 'smtp pass'],
    );
    const missing = await runCli(['report', 'show', '999999'], { DATABASE_URL: httpsFirst.url });
    assert.equal(missing.code, 1);
  });

  it('gives the same daily figures and readiness: 30 sessions for the domain, not "no reports"', async () => {
    const stats = await bothOrders(`SELECT day, policy_domain, organization_name, successful_sessions, failed_sessions, reports
                                    FROM daily_domain_stats ORDER BY day, policy_domain`);
    assert.deepEqual(
      stats.map((s) => (s as { policy_domain: string | null }).policy_domain),
      [DOMAIN],
    );
    assert.equal(Number((stats[0] as { successful_sessions: string }).successful_sessions), 30);
    await bothOrders(`SELECT * FROM daily_domain_totals ORDER BY day, policy_domain`);
    const options = { ...READINESS_DEFAULTS, asOf: null, domains: [DOMAIN] };
    const [a, b] = await Promise.all([queryReadiness(httpsFirst.pool, options), queryReadiness(mailFirst.pool, options)]);
    assert.deepEqual(a, b);
    assert.equal(a[0]!.successful_sessions, 30);
    assert.equal(a[0]!.authenticated_reporters, 1);
    assert.doesNotMatch(a[0]!.reason, /No reports/);
  });

  // Last: it adds a third copy to one of the databases.
  it('a copy that adds nothing writes nothing to the stored report', async () => {
    const before = (await mailFirst.pool.query(`SELECT xmin::text AS xmin FROM reports`)).rows;
    assert.equal((await receive(mailFirst, mail, 'smtp')).outcome, 'duplicate');
    assert.deepEqual((await mailFirst.pool.query(`SELECT xmin::text AS xmin FROM reports`)).rows, before);
  });
});
