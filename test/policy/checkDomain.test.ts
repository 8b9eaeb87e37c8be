/**
 * `tlsrpt check` end to end: a real DNS server on loopback serving crafted zones, real HTTPS policy hosts on
 * loopback with certificates from a CA made at test time (trusted through MTA_STS_CA_FILE), and stored
 * reports in a real Postgres database. Every expectation is worked out from the zone and policies below.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSecureContext, type SecureContext } from 'node:tls';
import Fastify, { type FastifyInstance } from 'fastify';
import { runCheck, runPolicyValidate } from '../../src/cli/policyCommands.js';
import type { Config } from '../../src/config/loadConfig.js';
import { decodeMessage } from '../../src/pipeline/decodeMessage.js';
import type { CheckFinding } from '../../src/policy/check/checkFinding.js';
import { checkDomain, type CheckDomainOptions } from '../../src/policy/check/checkDomain.js';
import { loadHostedPolicies } from '../../src/policy/host/loadHostedPolicies.js';
import { createDnsResolver } from '../../src/policy/check/lookupDomainRecords.js';
import { policyHostPlugin } from '../../src/policy/host/policyHostPlugin.js';
import { storeReport } from '../../src/store/storeReport.js';
import { insertRawMessage } from '../../src/store/rawMessages.js';
import { startDnsServer, type TestDnsServer, type Zone } from '../helpers/dnsServer.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { createTestCa, type KeyPair, type TestCa } from '../helpers/testCa.js';
import { testConfig } from '../helpers/testConfig.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';

const OUR_RUA = 'mailto:tlsrpt@reports.test';
const GOOD_POLICY = 'version: STSv1\nmode: enforce\nmx: mx1.good.test\nmx: *.backup.good.test\nmax_age: 1209600\n';
const GOOD_POLICY_LINES = ['version: STSv1', 'mode: enforce', 'mx: mx1.good.test', 'mx: *.backup.good.test', 'max_age: 1209600'];
const ONE_MX_POLICY = (domain: string): string => `version: STSv1\nmode: testing\nmx: mx1.${domain}\nmax_age: 604800\n`;

/** Every domain's records; mta-sts.<domain> points at loopback, where the HTTPS hosts listen. */
function zone(): Zone {
  const z: Zone = {};
  const domain = (d: string, o: { mx?: string[]; sts?: string[]; tlsrpt?: Array<string | string[]>; host?: boolean }): void => {
    z[d] = { MX: (o.mx ?? [`mx1.${d}`]).map((exchange, i) => ({ exchange, priority: 10 * (i + 1) })) };
    if (o.sts) z[`_mta-sts.${d}`] = { TXT: o.sts };
    if (o.tlsrpt) z[`_smtp._tls.${d}`] = { TXT: o.tlsrpt };
    if (o.host !== false) z[`mta-sts.${d}`] = { A: ['127.0.0.1'] };
  };
  const fine = { sts: ['v=STSv1; id=202403011'], tlsrpt: [`v=TLSRPTv1; rua=${OUR_RUA}`] };
  domain('good.test', {
    mx: ['mx1.good.test', 'b1.backup.good.test'],
    // An SPF record beside it, and the TLS-RPT record split into two character-strings, as zone files do.
    sts: ['v=spf1 -all', 'v=STSv1; id=20240301'],
    tlsrpt: [['v=TLSRPTv1; ', `rua=${OUR_RUA}`]],
  });
  domain('missing.test', { host: false });
  domain('typo.test', { sts: ['v=STSv1; id=2024-03-01'], tlsrpt: ['v=TSLRPTv1; rua=tlsrpt@reports.test'] });
  domain('nomailto.test', { ...fine, tlsrpt: ['v=TLSRPTv1; rua=tlsrpt@reports.test'] });
  domain('uncovered.test', {
    ...fine,
    mx: ['mx1.uncovered.test', 'mx3.uncovered.test'],
    tlsrpt: [`v=TLSRPTv1; rua=mailto:vendor@dmarc.example,${OUR_RUA}`],
  });
  domain('badname.test', fine);
  domain('untrusted.test', fine);
  domain('large.test', fine);
  domain('largelen.test', fine);
  domain('redirect.test', fine);
  return z;
}

describe('tlsrpt check against real DNS and HTTPS on loopback', () => {
  let ca: TestCa;
  let dns: TestDnsServer;
  let db: TestDatabase;
  let config: Config;
  let policyHost: FastifyInstance;
  let craftedHost: Server;
  let hostPort = 0;
  let craftedPort = 0;

  before(async () => {
    ca = createTestCa();
    const certs = new Map<string, KeyPair>();
    const good = ca.issue([
      'mta-sts.good.test',
      'mta-sts.typo.test',
      'mta-sts.nomailto.test',
      'mta-sts.uncovered.test',
      'mta-sts.large.test',
      'mta-sts.largelen.test',
      'mta-sts.redirect.test',
    ]);
    for (const d of ['good', 'typo', 'nomailto', 'uncovered', 'large', 'largelen', 'redirect']) certs.set(`mta-sts.${d}.test`, good);
    certs.set('mta-sts.badname.test', ca.issue(['www.badname.test']));
    certs.set('mta-sts.untrusted.test', ca.selfSigned(['mta-sts.untrusted.test']));
    const contexts = new Map<string, SecureContext>([...certs].map(([name, kp]) => [name, createSecureContext(kp)]));
    const SNICallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void =>
      cb(null, contexts.get(servername));

    dns = await startDnsServer(zone());
    db = await createTestDatabase();
    config = testConfig(db.url, { DNS_SERVERS: dns.address, MTA_STS_CA_FILE: ca.caCertPath, TLSRPT_RUA: OUR_RUA });

    // The policy host is our own plugin, serving files from a policy directory like a deployment does.
    const dir = join(ca.dir, 'policies');
    mkdirSync(dir);
    writeFileSync(join(dir, 'good.test.txt'), GOOD_POLICY);
    for (const d of ['typo.test', 'nomailto.test', 'uncovered.test', 'badname.test', 'untrusted.test'])
      writeFileSync(join(dir, `${d}.txt`), ONE_MX_POLICY(d));
    policyHost = Fastify({ https: { ...good, SNICallback } });
    await policyHost.register(policyHostPlugin, { policies: loadHostedPolicies(testConfig(db.url, { MTA_STS_POLICY_DIR: dir }).mtaSts) });
    await policyHost.listen({ host: '127.0.0.1', port: 0 });
    hostPort = (policyHost.server.address() as { port: number }).port;

    // A second host answering what a broken deployment does: a policy over 64 KB (streamed, no length), a redirect.
    craftedHost = createServer({ ...good, SNICallback }, (req, res) => {
      const host = (req.headers.host ?? '').replace(/:\d+$/, '');
      if (host === 'mta-sts.large.test') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write(ONE_MX_POLICY('large.test'));
        for (let i = 0; i < 20; i++) res.write(`x${i}: ${'y'.repeat(4000)}\n`);
        return res.end();
      }
      if (host === 'mta-sts.largelen.test') {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '70000' });
        return res.end(Buffer.alloc(70_000, 'x'));
      }
      if (host === 'mta-sts.redirect.test') {
        res.writeHead(301, { location: 'https://www.redirect.test/mta-sts.txt' });
        return res.end();
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => craftedHost.listen(0, '127.0.0.1', resolve));
    craftedPort = (craftedHost.address() as { port: number }).port;
  });

  after(async () => {
    await policyHost?.close();
    await new Promise((resolve) => (craftedHost ? craftedHost.close(resolve) : resolve(undefined)));
    await dns?.close();
    await db?.drop();
    ca?.cleanup();
  });

  const options = (port: number, reports = false): CheckDomainOptions => ({
    resolver: createDnsResolver(config.mtaSts.dnsServers),
    fetch: { extraCa: [config.mtaSts.extraCa!.pem], connectTo: { port }, timeoutMs: 5000 },
    ours: { rua: config.mtaSts.rua, acceptedRecipients: [] },
    reports: reports ? { pool: db.pool, days: 14 } : null,
  });
  const check = async (domain: string, port = hostPort, reports = false): Promise<Map<string, CheckFinding>> => {
    const result = await checkDomain(domain, options(port, reports));
    return new Map(result.findings.map((f) => [f.check, f]));
  };
  const statuses = (m: Map<string, CheckFinding>): string[] => [...m.values()].map((f) => `${f.check}:${f.status}`);

  it('passes a good domain on every check, reports included', async () => {
    const f = await check('good.test', hostPort, true);
    assert.deepEqual(statuses(f), [
      'mx-records:pass',
      'sts-record:pass',
      'sts-id:pass',
      'tlsrpt-record:pass',
      'rua-target:pass',
      'policy-host-certificate:pass',
      'policy-fetch:pass',
      'policy-syntax:pass',
      'mx-coverage:pass',
      'reports-policy:pass',
      'reports-mx:pass',
    ]);
    assert.equal(f.get('mx-records')!.summary, '2 MX: mx1.good.test (10), b1.backup.good.test (20)');
    assert.equal(f.get('rua-target')!.summary, `this deployment (${OUR_RUA}) is the first rua target`);
    assert.match(f.get('policy-host-certificate')!.summary, /^valid for mta-sts\.good\.test, issued by tlsrpt test CA \(tlsrpt tests\)/);
    assert.equal(
      f.get('policy-fetch')!.summary,
      `fetched ${GOOD_POLICY.length} bytes from https://mta-sts.good.test/.well-known/mta-sts.txt`,
    );
    assert.equal(f.get('policy-syntax')!.summary, 'mode enforce, max_age 1209600, 2 mx pattern(s)');
    // The policy host was found through the configured resolver, not the system's.
    assert.ok(dns.queries.includes('mta-sts.good.test A'));
  });

  it('fails a domain with no MTA-STS or TLS-RPT records and no policy host, saying what to publish', async () => {
    const f = await check('missing.test', hostPort, true);
    assert.deepEqual(statuses(f), ['mx-records:pass', 'sts-record:fail', 'tlsrpt-record:fail', 'policy-fetch:fail', 'reports-policy:warn']);
    assert.equal(
      f.get('sts-record')!.summary,
      'no TXT record at _mta-sts.missing.test begins with "v=STSv1", so senders do not look for a policy',
    );
    assert.match(f.get('tlsrpt-record')!.fix!, /^Publish _smtp\._tls\.missing\.test TXT "v=TLSRPTv1; rua=mailto:/);
    assert.equal(
      f.get('policy-fetch')!.summary,
      'https://mta-sts.missing.test/.well-known/mta-sts.txt: mta-sts.missing.test has no A or AAAA record',
    );
    assert.match(f.get('reports-policy')!.summary, /no valid published policy/);
  });

  it('fails typo records: a bad id, "TSLRPTv1", and rua without mailto:', async () => {
    const typo = await check('typo.test');
    assert.equal(typo.get('sts-record')!.status, 'pass');
    assert.equal(typo.get('sts-id')!.status, 'fail');
    assert.equal(typo.get('sts-id')!.summary, 'id "2024-03-01" contains "-" (RFC 8461 3.1: 1 to 32 letters and digits)');
    assert.equal(typo.get('tlsrpt-record')!.status, 'fail');
    assert.match(typo.get('tlsrpt-record')!.summary, /begins with "v=TSLRPTv1" instead of exactly "v=TLSRPTv1"/);
    assert.equal(typo.get('tlsrpt-record')!.fix, 'Publish _smtp._tls.typo.test TXT "v=TLSRPTv1; rua=mailto:tlsrpt@reports.test".');
    assert.equal(typo.has('rua-target'), false);

    const nomailto = await check('nomailto.test');
    assert.equal(nomailto.get('tlsrpt-record')!.status, 'fail');
    assert.match(nomailto.get('tlsrpt-record')!.summary, /^rua "tlsrpt@reports\.test" is an address without "mailto:"/);
    assert.equal(nomailto.get('tlsrpt-record')!.fix, 'Write "rua=mailto:tlsrpt@reports.test".');
  });

  it('fails an MX the policy does not cover, and warns when this deployment is not the first rua', async () => {
    const f = await check('uncovered.test');
    assert.equal(f.get('mx-coverage')!.status, 'fail');
    assert.equal(f.get('mx-coverage')!.summary, 'MX mx3.uncovered.test matches no mx pattern of the policy (mx1.uncovered.test)');
    assert.equal(f.get('rua-target')!.status, 'warn');
    assert.match(
      f.get('rua-target')!.summary,
      /rua target 2 of 2; Microsoft sends reports only to the first \(mailto:vendor@dmarc\.example\)/,
    );
  });

  it('fails a policy host whose certificate is for another name, or self-signed', async () => {
    const badname = await check('badname.test');
    const cert = badname.get('policy-host-certificate')!;
    assert.equal(cert.status, 'fail');
    assert.match(cert.summary, /ERR_TLS_CERT_ALTNAME_INVALID/);
    assert.match(cert.fix!, /subject alternative names include mta-sts\.badname\.test/);
    assert.match(cert.details![0]!, /^presented: www\.badname\.test, issued by tlsrpt test CA/);
    assert.equal(badname.has('policy-fetch'), false);
    assert.equal(badname.has('policy-syntax'), false);

    const untrusted = await check('untrusted.test');
    assert.equal(untrusted.get('policy-host-certificate')!.status, 'fail');
    assert.match(untrusted.get('policy-host-certificate')!.summary, /DEPTH_ZERO_SELF_SIGNED_CERT/);
    assert.match(untrusted.get('policy-host-certificate')!.fix!, /publicly trusted CA/);
  });

  it('fails a policy over 64 KB and a redirect', async () => {
    const large = await check('large.test', craftedPort);
    assert.equal(large.get('policy-host-certificate')!.status, 'pass');
    assert.equal(large.get('policy-fetch')!.status, 'fail');
    assert.match(large.get('policy-fetch')!.summary, /the policy is over 65536 bytes; senders may refuse policies over 65536 bytes/);
    const declared = await check('largelen.test', craftedPort);
    assert.match(declared.get('policy-fetch')!.summary, /: the policy is 70000 bytes; senders may refuse/);
    const redirect = await check('redirect.test', craftedPort);
    assert.equal(redirect.get('policy-fetch')!.status, 'fail');
    assert.match(
      redirect.get('policy-fetch')!.summary,
      /answered 301 redirecting to "https:\/\/www\.redirect\.test\/mta-sts\.txt"; senders must not follow redirects/,
    );
  });

  it('compares stored reports with the published policy: old policy, other mode, uncovered MX', async () => {
    const now = Date.now();
    const day = 86_400_000;
    const report = (org: string, id: string, daysAgo: number, policyString: string[], failures: unknown[] = []) => ({
      'organization-name': org,
      'date-range': {
        'start-datetime': new Date(now - daysAgo * day).toISOString(),
        'end-datetime': new Date(now - (daysAgo - 1) * day).toISOString(),
      },
      'contact-info': `tlsrpt@${org.split(' ')[0]!.toLowerCase()}.example`,
      'report-id': id,
      policies: [
        {
          policy: { 'policy-type': 'sts', 'policy-string': policyString, 'policy-domain': 'good.test', 'mx-host': ['mx1.good.test'] },
          summary: { 'total-successful-session-count': 10, 'total-failure-session-count': failures.length ? 4 : 0 },
          ...(failures.length ? { 'failure-details': failures } : {}),
        },
      ],
    });
    const store = async (r: unknown): Promise<void> => {
      const raw = buildReportMail({ report: r, policyDomain: 'good.test' });
      const id = await insertRawMessage(db.pool, raw, { channel: 'ingest' });
      const outcome = await storeReport(db.pool, id, await decodeMessage(raw, { reportMaxBytes: 1 << 20 }));
      assert.equal(outcome.outcome, 'stored');
    };
    const oldPolicy = ['version: STSv1', 'mode: testing', 'mx: mx1.good.test', 'max_age: 604800'];
    await store(report('Google Inc.', 'g-1', 2, GOOD_POLICY_LINES));
    await store(
      report('Microsoft Corporation', 'ms-1', 3, oldPolicy, [
        { 'result-type': 'certificate-host-mismatch', 'receiving-mx-hostname': 'mx9.good.test', 'failed-session-count': 4 },
      ]),
    );
    // Outside the 14-day window: must not count.
    await store(report('Old Org', 'old-1', 40, ['version: STSv1', 'mode: none', 'max_age: 86400']));

    const f = await check('good.test', hostPort, true);
    const policy = f.get('reports-policy')!;
    assert.equal(policy.status, 'warn');
    assert.equal(policy.summary, 'Microsoft Corporation applied a policy that differs from the published one in the last 14 days');
    const lastDay = new Date(now - 2 * day).toISOString().slice(0, 10);
    assert.deepEqual(policy.details, [
      `Microsoft Corporation, 1 report(s), last ${lastDay}: mode testing (published: enforce); max_age 604800 (published: 1209600); mx *.backup.good.test missing`,
    ]);
    assert.equal(f.get('reports-mode')!.summary, 'reporters applied mode testing while the published mode is enforce');
    const mx = f.get('reports-mx')!;
    assert.equal(mx.status, 'fail');
    assert.deepEqual(mx.details, ['mx9.good.test: 4 failed session(s) reported by Microsoft Corporation (certificate-host-mismatch)']);
  });

  it('prints the findings and exits 1 on a failure from the command (runCheck)', async () => {
    const lines: string[] = [];
    const code = await runCheck('typo.test', { connectTo: { port: hostPort }, reports: false }, config, (s) => lines.push(s));
    const out = lines.join('');
    assert.equal(code, 1);
    assert.match(out, /^MTA-STS and TLS-RPT check for typo\.test\n/);
    assert.match(out, /\n {2}FAIL {2}tlsrpt-record +"v=TSLRPTv1; rua=tlsrpt@reports\.test" begins with "v=TSLRPTv1"/);
    assert.match(out, /\n +fix: Publish _smtp\._tls\.typo\.test TXT "v=TLSRPTv1; rua=mailto:tlsrpt@reports\.test"\.\n/);
    assert.match(out, /\nResult: 2 fail, 0 warn, 6 pass\n$/);

    const json: string[] = [];
    assert.equal(
      await runCheck('good.test', { connectTo: { port: hostPort }, reports: false, format: 'json' }, config, (s) => json.push(s)),
      0,
    );
    const parsed = JSON.parse(json.join('')) as { ok: boolean; policy: { mode: string }; findings: CheckFinding[] };
    assert.equal(parsed.ok, true);
    assert.equal(parsed.policy.mode, 'enforce');
    assert.equal(parsed.findings.length, 9);
  });

  it('blames the configured resolver, not the domain, when the resolver does not answer', async () => {
    // Nothing listens on UDP port 9 of loopback: every query is refused at once.
    const down = testConfig(db.url, { DNS_SERVERS: '127.0.0.1:9', MTA_STS_CA_FILE: ca.caCertPath, TLSRPT_RUA: OUR_RUA });
    const lines: string[] = [];
    const code = await runCheck('good.test', { connectTo: { port: hostPort }, reports: false }, down, (s) => lines.push(s));
    const out = lines.join('');
    assert.equal(code, 1);
    assert.match(
      out,
      /\n {2}FAIL {2}dns-resolver +your local resolver did not answer: DNS_SERVERS 127\.0\.0\.1:9 gave ECONNREFUSED, so good\.test could not be checked\n +fix: This is a problem of this machine, not of the domain/,
    );
    assert.match(out, /\n {2}WARN {2}mx-records +MX good\.test not checked: the resolver did not answer \(ECONNREFUSED\)\n/);
    assert.match(out, /\n {2}WARN {2}sts-record +TXT _mta-sts\.good\.test not checked: the resolver did not answer/);
    assert.match(
      out,
      /\n {2}WARN {2}policy-fetch +https:\/\/mta-sts\.good\.test\/\.well-known\/mta-sts\.txt not checked: the resolver did not answer/,
    );
    assert.match(out, /\nResult: 1 fail, 4 warn, 0 pass\n$/);
    assert.doesNotMatch(out, /zone/);
  });

  it('validates a policy by URL or domain the way senders fetch it (runPolicyValidate)', async () => {
    const out: string[] = [];
    const ok = await runPolicyValidate(
      'https://mta-sts.good.test/.well-known/mta-sts.txt',
      { connectTo: { port: hostPort } },
      config,
      (s) => out.push(s),
    );
    assert.equal(ok, 0);
    assert.equal(
      out.join(''),
      'https://mta-sts.good.test/.well-known/mta-sts.txt: valid (mode enforce, max_age 1209600, mx mx1.good.test, *.backup.good.test)\n',
    );
    const bad: string[] = [];
    assert.equal(await runPolicyValidate('large.test', { connectTo: { port: craftedPort } }, config, (s) => bad.push(s)), 1);
    assert.match(bad.join(''), /^https:\/\/mta-sts\.large\.test\/\.well-known\/mta-sts\.txt: error policy-too-large: /);
  });
});
