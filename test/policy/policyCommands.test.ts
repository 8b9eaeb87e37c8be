/**
 * `tlsrpt policy generate` -> `tlsrpt policy validate` round trip, through the run* functions and through the
 * whole command line (runCli, as an administrator runs it), with exit codes and the printed problems.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConnectTo, runPolicyGenerate, runPolicyValidate } from '../../src/cli/policyCommands.js';
import { loadConfig } from '../../src/config/loadConfig.js';
import { runCli } from '../helpers/runCli.js';

const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-policy-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const NOW = new Date('2025-01-02T03:04:05Z');
const config = loadConfig({ TLSRPT_RUA: 'mailto:tlsrpt@reports.example.com', MTA_STS_POLICY_DIR: dir });

function capture(): { out: (s: string) => void; text: () => string } {
  const chunks: string[] = [];
  return { out: (s) => chunks.push(s), text: () => chunks.join('') };
}

describe('policy generate and validate (in-process)', () => {
  it('prints the policy and both records, and tells where to save the policy', () => {
    const c = capture();
    assert.equal(runPolicyGenerate({ domain: 'example.com', mx: ['mx1.example.com', '*.mx.example.net'], now: NOW }, config, c.out), 0);
    assert.equal(
      c.text(),
      [
        '# Policy: serve this at https://mta-sts.example.com/.well-known/mta-sts.txt (Content-Type: text/plain);',
        `# with this deployment, save it as ${join(dir, 'example.com.txt')}`,
        'version: STSv1',
        'mode: testing',
        'mx: mx1.example.com',
        'mx: *.mx.example.net',
        'max_age: 604800',
        '',
        '# DNS records to publish (TXT):',
        '_mta-sts.example.com.    TXT  "v=STSv1; id=20250102030405Z"',
        '_smtp._tls.example.com.  TXT  "v=TLSRPTv1; rua=mailto:tlsrpt@reports.example.com"',
        '',
        '# Also: an A/AAAA or CNAME record for mta-sts.example.com pointing at the policy host, with a certificate for that name.',
        '# Change the id in _mta-sts.example.com whenever the policy changes. Then run: tlsrpt check example.com',
        '',
      ].join('\n'),
    );
  });

  it('writes a policy that validate accepts (round trip)', async () => {
    const file = join(dir, 'example.org.txt');
    const g = capture();
    runPolicyGenerate({ domain: 'example.org', mx: ['mx1.example.org'], mode: 'enforce', output: file, now: NOW }, config, g.out);
    assert.equal(readFileSync(file, 'utf8'), 'version: STSv1\nmode: enforce\nmx: mx1.example.org\nmax_age: 1209600\n');
    const v = capture();
    assert.equal(await runPolicyValidate(file, {}, config, v.out), 0);
    assert.equal(v.text(), `${file}: valid (mode enforce, max_age 1209600, mx mx1.example.org)\n`);
  });

  it('prints every problem of a bad policy with its line, and exits 1', async () => {
    const file = join(dir, 'bad.txt');
    writeFileSync(file, 'version: STSv1\nmode: Enforce\nmx: mail.*.example.com\nmax_age: 40000000\n');
    const v = capture();
    assert.equal(await runPolicyValidate(file, {}, config, v.out), 1);
    const lines = v.text().split('\n');
    assert.equal(lines[0], `${file}:2: error mode-invalid: mode is "Enforce"; it must be testing, enforce or none (RFC 8461 3.2)`);
    assert.equal(lines[1], '    fix: Write "mode: enforce" (values are case-sensitive).');
    assert.match(lines[2]!, new RegExp(`^${file.replace(/[.*]/g, '\\$&')}:3: error mx-wildcard: `));
    assert.match(lines[4]!, /:4: error max-age-too-large: max_age 40000000 exceeds the RFC 8461 3\.2 maximum of 31557600/);
    assert.equal(lines[6], `${file}: invalid, 3 error(s); senders would ignore this policy`);
  });
});

describe('--connect-to', () => {
  it('takes HOST:PORT, :PORT, HOST and [IPv6]:PORT', () => {
    assert.deepEqual(parseConnectTo('127.0.0.1:8443'), { host: '127.0.0.1', port: 8443 });
    assert.deepEqual(parseConnectTo(':8443'), { port: 8443 });
    assert.deepEqual(parseConnectTo('staging.example.net'), { host: 'staging.example.net' });
    assert.deepEqual(parseConnectTo('[::1]:53'), { host: '::1', port: 53 });
    for (const bad of ['', ':', 'a:b:c', 'host:70000']) assert.throws(() => parseConnectTo(bad), /expected HOST:PORT/, bad);
  });
});

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, env);

describe('tlsrpt policy (the real command)', () => {
  it('generates to a file, validates it, and refuses a bad one', async () => {
    const file = join(dir, 'cli.example.txt');
    const gen = await cli(['policy', 'generate', '--domain', 'cli.example', '--mx', 'mx1.cli.example', 'mx2.cli.example', '-o', file], {
      TLSRPT_RUA: 'mailto:tls@reports.example',
    });
    assert.equal(gen.code, 0, gen.stderr);
    assert.match(gen.stdout, /^_smtp\._tls\.cli\.example\. +TXT {2}"v=TLSRPTv1; rua=mailto:tls@reports\.example"$/m);
    assert.match(gen.stdout, /^_mta-sts\.cli\.example\. +TXT {2}"v=STSv1; id=\d{14}Z"$/m);
    assert.equal(readFileSync(file, 'utf8'), 'version: STSv1\nmode: testing\nmx: mx1.cli.example\nmx: mx2.cli.example\nmax_age: 604800\n');

    const ok = await cli(['policy', 'validate', file]);
    assert.equal(ok.code, 0, ok.stderr);
    const bad = join(dir, 'cli-bad.txt');
    writeFileSync(bad, 'version: STSv1\nmode: testing\n');
    const refused = await cli(['policy', 'validate', bad]);
    assert.equal(refused.code, 1);
    assert.match(refused.stdout, /error field-missing: the "max_age" field is missing/);
    assert.match(refused.stdout, /error mx-missing: /);
  });

  it('says what to set when no report address is configured', async () => {
    const r = await cli(['policy', 'generate', '--domain', 'example.com', '--mx', 'mx.example.com']);
    // A missing setting is a configuration error: exit status 2 (it was 1 before one exit-code policy).
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'tlsrpt: no report address: set TLSRPT_RUA (e.g. mailto:tlsrpt@reports.example.com) or pass --rua\n');
  });

  it("follows Google's guide by default: mode first and max_age 10 are errors naming it; --rfc keeps them warnings", async () => {
    const file = join(dir, 'mode-first.txt');
    writeFileSync(file, 'mode: testing\nversion: STSv1\nmx: mx1.example.com\nmax_age: 10\n');
    const strict = await cli(['policy', 'validate', file]);
    assert.equal(strict.code, 1, strict.stderr);
    const guide = /Google's MTA-STS policy guide for Google Workspace/;
    const lines = strict.stdout.split('\n');
    assert.match(lines[0]!, /:1: error version-not-first: the policy starts with "mode", not "version"; Google's MTA-STS policy guide/);
    assert.match(lines[2]!, /:4: error max-age-short: max_age 10 is outside 86400\.\.31557600, the range Google's MTA-STS policy guide/);
    assert.match(lines[4]!, guide);
    assert.match(lines[4]!, /invalid under .*, 2 error\(s\); RFC 8461 alone would accept it \(--rfc checks only the RFC\)$/);

    const rfc = await cli(['policy', 'validate', '--rfc', file]);
    assert.equal(rfc.code, 0, rfc.stdout);
    assert.match(rfc.stdout, /:1: warning version-not-first: /);
    assert.match(rfc.stdout, /:4: warning max-age-short: max_age 10 is under one day/);
    assert.match(rfc.stdout, /: valid \(mode testing, max_age 10, mx mx1\.example\.com\), 2 warning\(s\)\n$/);
  });

  it('reads the policy from standard input with "-", and prints problems as CSV or JSON (--json still works)', async () => {
    const policy = 'version: STSv1\nmode: enforce\nmx: mx1.example.com\nmax_age: 40000000\n';
    const csv = await runCli(['policy', 'validate', '--format', 'csv', '-'], {}, policy);
    assert.equal(csv.code, 1, csv.stderr);
    assert.equal(
      csv.stdout,
      'source,line,severity,code,message,fix\r\n' +
        '(stdin),4,error,max-age-too-large,max_age 40000000 exceeds the RFC 8461 3.2 maximum of 31557600 seconds (one year); senders reject the policy,Use at most 31557600.\r\n',
    );
    const json = await runCli(['policy', 'validate', '--json', '-'], {}, policy);
    assert.equal(json.code, 1);
    assert.deepEqual(
      JSON.parse(json.stdout).problems.map((p: { code: string }) => p.code),
      ['max-age-too-large'],
    );
    const both = await runCli(['policy', 'validate', '--json', '--format', 'csv', '-'], {}, policy);
    assert.equal(both.code, 2);
    assert.equal(both.stderr, 'tlsrpt: --json and --format csv ask for two different outputs: give --format alone\n');
  });
});
