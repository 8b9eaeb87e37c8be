/**
 * The exit-status policy of every command (src/cli/exitCodeFor.ts, README "Commands"): 0 done, 1 a finding
 * or a failure, 2 usage or configuration. One table of command lines, each run in-process as a user runs it;
 * every error is one line starting "tlsrpt:".
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { CliContext } from '../../src/cli/cliContext.js';
import { createTlsrptProgram } from '../../src/cli/createTlsrptProgram.js';
import { runCli } from '../helpers/runCli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';

const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-exit-'));
const GOOD = join(dir, 'good.txt');
const GUIDE_ERRORS = join(dir, 'mode-first.txt');
writeFileSync(GOOD, 'version: STSv1\nmode: testing\nmx: mx1.example.com\nmax_age: 604800\n');
writeFileSync(GUIDE_ERRORS, 'mode: testing\nversion: STSv1\nmx: mx1.example.com\nmax_age: 10\n');
/** Nothing listens on port 1: the database cannot be reached. */
const NO_DATABASE = { DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/tlsrpt' };
const RUA = '--rua=mailto:tlsrpt@reports.example.com';

interface Case {
  args: string[];
  env?: Record<string, string>;
  code: 0 | 1 | 2;
  /** Part of the error line, for the non-zero cases. */
  says?: RegExp;
  /** Needs the test database (DATABASE_URL is set to it). */
  db?: boolean;
}

const CASES: Case[] = [
  // 0: done.
  { args: ['--help'], code: 0 },
  { args: ['stats', '--help'], code: 0 },
  { args: ['alerts', 'explain', '--format', 'csv'], code: 0 },
  { args: ['policy', 'validate', GOOD], code: 0 },
  { args: ['policy', 'validate', '--rfc', GUIDE_ERRORS], code: 0 },
  { args: ['policy', 'generate', '--domain', 'example.com', '--mx', 'mx.example.com', RUA], code: 0 },
  { args: ['stats'], code: 0, db: true },
  { args: ['quarantine', 'list', '--format', 'json'], code: 0, db: true },
  // 1: a finding or a failure.
  { args: ['policy', 'validate', GUIDE_ERRORS], code: 1 },
  { args: ['policy', 'validate', join(dir, 'missing.txt')], code: 1, says: /cannot read ".*missing\.txt"/ },
  { args: ['readiness'], code: 1, db: true },
  { args: ['quarantine', 'show', '999'], code: 1, says: /^tlsrpt: no message 999: "tlsrpt quarantine list" shows the ids$/, db: true },
  {
    args: ['stats'],
    env: NO_DATABASE,
    code: 1,
    says: /^tlsrpt: connect ECONNREFUSED 127\.0\.0\.1:1; check that PostgreSQL and Redis are running and that DATABASE_URL/,
  },
  {
    args: ['stats'],
    env: { DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/tlsrpt_no_such_database' },
    code: 1,
    says: /^tlsrpt: database "tlsrpt_no_such_database" does not exist; run "tlsrpt migrate" to create it/,
  },
  { args: ['quarantine', 'list'], env: NO_DATABASE, code: 1, says: /ECONNREFUSED|connect/ },
  // 2: usage.
  { args: [], code: 2 },
  { args: ['frobnicate'], code: 2, says: /^tlsrpt: unknown command 'frobnicate' \(run "tlsrpt --help" for usage\)$/ },
  {
    args: ['readiness', '--frobnicate'],
    code: 2,
    says: /^tlsrpt: unknown option '--frobnicate' \(run "tlsrpt readiness --help" for usage\)$/,
  },
  { args: ['readiness', '--days', '0'], code: 2, says: /0 is out of range: use 1 to 3660/ },
  { args: ['readiness', '--days', '5', '--min-days', '6'], code: 2, says: /--min-days 6 is more than --days 5/ },
  { args: ['stats', '--since', '2025-02-30'], code: 2, says: /"2025-02-30" is not a day in the form YYYY-MM-DD/ },
  { args: ['stats', '--by', 'week'], code: 2, says: /argument 'week' is invalid\. Allowed choices are domain, day/ },
  { args: ['stats', '--format', 'xml'], code: 2, says: /Allowed choices are table, json, csv/ },
  { args: ['stats', '--json', '--format', 'csv'], code: 2, says: /^tlsrpt: --json and --format csv ask for two different outputs/ },
  { args: ['stats', '--domain', 'not a domain'], code: 2, says: /"not a domain" is not a domain name/ },
  { args: ['quarantine', 'list', '--limit', '0'], code: 2, says: /0 is out of range/ },
  { args: ['quarantine', 'list', '--reason', 'bogus'], code: 2, says: /unknown reason "bogus"; one of: mime-malformed/ },
  { args: ['quarantine', 'list', '--since', 'yesterday'], code: 2, says: /"yesterday" is not a date/ },
  { args: ['quarantine', 'show', 'abc'], code: 2, says: /"abc" is not a whole number.*tlsrpt quarantine show --help/ },
  { args: ['reprocess', 'x1'], code: 2, says: /message id "x1" is not a whole number/ },
  { args: ['alerts', 'list', '--kind', 'bogus'], code: 2, says: /Allowed choices are failed-sessions, quiet-reporter, test/ },
  { args: ['alerts', 'test', '--domain', 'not a domain'], code: 2, says: /is not a domain name/ },
  { args: ['policy', 'generate', '--domain', 'bad domain', '--mx', 'mx.example.com', RUA], code: 2, says: /is not a domain name/ },
  { args: ['policy', 'generate', '--domain', 'example.com'], code: 2, says: /required option '--mx <host\.\.\.>' not specified/ },
  { args: ['check', 'not a domain', '--no-reports'], code: 2, says: /^tlsrpt: "not a domain" is not a domain name/ },
  { args: ['check', 'example.com', '--days', 'ten'], code: 2, says: /"ten" is not a whole number/ },
  // 2: configuration.
  {
    args: ['policy', 'generate', '--domain', 'example.com', '--mx', 'mx.example.com'],
    code: 2,
    says: /^tlsrpt: no report address: set TLSRPT_RUA/,
  },
  { args: ['config'], env: { LOG_LEVEL: 'loud' }, code: 2, says: /^tlsrpt: configuration error: LOG_LEVEL: "loud" is not one of/ },
  { args: ['stats'], env: { DATABASE_URL: 'mysql://nowhere/x' }, code: 2, says: /^tlsrpt: configuration error: DATABASE_URL: / },
  // readiness: a verdict that could not be reached is 2, because scripts read 1 as "not ready".
  { args: ['readiness'], env: NO_DATABASE, code: 2, says: /ECONNREFUSED|connect/ },
];

describe('exit status of every command', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await db?.drop();
  });

  for (const c of CASES) {
    const line = `tlsrpt ${c.args.join(' ')}`.trim();
    it(`${Object.entries(c.env ?? {})
      .map(([k, v]) => `${k}=${v} `)
      .join('')}${line} -> ${c.code}`, async () => {
      const r = await runCli(c.args, { ...(c.db ? { DATABASE_URL: db.url } : {}), ...c.env });
      assert.equal(r.code, c.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
      if (c.says) {
        // One line that says what to do: no stack, no second line of help.
        assert.match(r.stderr, /^tlsrpt: [^\n]+\n$/, r.stderr);
        assert.match(r.stderr.trimEnd(), c.says);
      }
      if (c.code === 0) assert.equal(r.stderr, '');
    });
  }

  it('prints the stack after the line with TLSRPT_DEBUG set', async () => {
    const r = await runCli(['quarantine', 'list'], { ...NO_DATABASE, TLSRPT_DEBUG: '1' });
    assert.equal(r.code, 1);
    const [first, ...rest] = r.stderr.trimEnd().split('\n');
    assert.match(first!, /^tlsrpt: /);
    assert.ok(
      rest.some((l) => /^\s+at /.test(l)),
      r.stderr,
    );
  });
});

describe('--config FILE', () => {
  const parse = async (args: string[], env: Record<string, string> = {}): Promise<CliContext> => {
    const ctx = new CliContext({ env, stdout: { write: () => true }, stderr: { write: () => true }, stdin: Readable.from([]) });
    await createTlsrptProgram(ctx).parseAsync(args, { from: 'user' });
    return ctx;
  };

  it('sets TLSRPT_CONFIG in the environment the command reads configuration from, before or after the command', async () => {
    assert.equal((await parse(['--config', '/etc/tlsrpt.yaml', 'alerts', 'explain'])).env().TLSRPT_CONFIG, '/etc/tlsrpt.yaml');
    assert.equal((await parse(['alerts', 'explain', '--config', 'here.yaml'])).env().TLSRPT_CONFIG, 'here.yaml');
    // Without --config, TLSRPT_CONFIG is whatever the caller's environment says.
    assert.equal((await parse(['alerts', 'explain'], { TLSRPT_CONFIG: 'env.yaml' })).env().TLSRPT_CONFIG, 'env.yaml');
    assert.equal(
      (await parse(['alerts', 'explain', '--config', 'flag.yaml'], { TLSRPT_CONFIG: 'env.yaml' })).env().TLSRPT_CONFIG,
      'flag.yaml',
    );
  });

  it('is listed in the help of every command', async () => {
    for (const args of [['stats'], ['policy', 'validate'], ['serve'], ['quarantine', 'show']]) {
      const r = await runCli([...args, '--help']);
      assert.match(
        r.stdout,
        /Global Options:\n {2}--config <file>\s+read configuration from this YAML file \(sets\s+TLSRPT_CONFIG;/,
        args.join(' '),
      );
    }
  });
});
