/** RFC 8461 3.2 policy validation: each rule, with the line numbers and codes worked out by hand. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatStsPolicy, mxPatternProblem, parseStsPolicy, POLICY_MAX_BYTES } from '../../src/policy/syntax/parseStsPolicy.js';

/** [code, line, severity] of every problem, for compact assertions. */
function codes(text: string | Buffer): Array<[string, number | undefined, string]> {
  return parseStsPolicy(text).problems.map((p) => [p.code, p.line, p.severity]);
}

describe('parseStsPolicy', () => {
  it('reads the RFC 8461 3.2 example policy, CRLF-terminated', () => {
    const text =
      'version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n';
    const { policy, problems } = parseStsPolicy(text);
    assert.deepEqual(problems, []);
    assert.deepEqual(policy, {
      version: 'STSv1',
      mode: 'enforce',
      maxAge: 604800,
      mx: ['mail.example.com', '*.example.net', 'backupmx.example.com'],
      extensions: [],
    });
  });

  it('accepts LF line ends, no final newline, and spaces around values', () => {
    const { policy, problems } = parseStsPolicy('version: STSv1\nmode:testing\nmx:   mx1.example.com  \nmax_age: 86400');
    assert.deepEqual(problems, []);
    assert.equal(policy?.mode, 'testing');
    assert.deepEqual(policy?.mx, ['mx1.example.com']);
    assert.equal(policy?.maxAge, 86400);
  });

  it("reads what formatStsPolicy writes (the generator's form)", () => {
    const text = formatStsPolicy({ mode: 'testing', maxAge: 604800, mx: ['mx1.example.com', '*.mail.example.com'] });
    assert.equal(text, 'version: STSv1\nmode: testing\nmx: mx1.example.com\nmx: *.mail.example.com\nmax_age: 604800\n');
    assert.deepEqual(parseStsPolicy(text).problems, []);
  });

  it('lets mode none go without mx lines', () => {
    const { policy, problems } = parseStsPolicy('version: STSv1\nmode: none\nmax_age: 86400\n');
    assert.deepEqual(problems, []);
    assert.deepEqual(policy?.mx, []);
  });

  it('reports every missing field, and a missing mx unless mode is none', () => {
    assert.deepEqual(codes('mode: testing\n'), [
      ['field-missing', undefined, 'error'], // version
      ['field-missing', undefined, 'error'], // max_age
      ['mx-missing', undefined, 'error'],
    ]);
    const messages = parseStsPolicy('mode: testing\n').problems.map((p) => p.message);
    assert.match(messages[0]!, /"version"/);
    assert.match(messages[1]!, /"max_age"/);
  });

  it('bounds max_age: at most 31557600 (an error above), a warning under one day', () => {
    const policy = (age: string): string => `version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: ${age}\n`;
    assert.deepEqual(codes(policy('31557600')), []);
    assert.deepEqual(codes(policy('31557601')), [['max-age-too-large', 4, 'error']]);
    assert.deepEqual(codes(policy('86400')), []);
    assert.deepEqual(codes(policy('86399')), [['max-age-short', 4, 'warning']]);
    assert.equal(parseStsPolicy(policy('86399')).policy?.maxAge, 86399); // a warning keeps the policy valid
    assert.deepEqual(codes(policy('1w')), [['max-age-invalid', 4, 'error']]);
    assert.deepEqual(codes(policy('-5')), [['max-age-invalid', 4, 'error']]);
    assert.deepEqual(codes(policy('12345678901')), [['max-age-invalid', 4, 'error']]); // 11 digits
  });

  it('allows a wildcard only as the whole left-most label (RFC 8461 4.1)', () => {
    assert.equal(mxPatternProblem('*.example.com'), null);
    assert.equal(mxPatternProblem('mx1.example.com'), null);
    assert.equal(mxPatternProblem('mail.*.example.com')?.code, 'mx-wildcard');
    assert.equal(mxPatternProblem('*example.com')?.code, 'mx-wildcard');
    assert.equal(mxPatternProblem('*.*.example.com')?.code, 'mx-wildcard');
    assert.equal(mxPatternProblem('*')?.code, 'mx-wildcard');
    assert.equal(mxPatternProblem('mx1.example.com.')?.code, 'mx-invalid');
    assert.match(mxPatternProblem('mx1.example.com.')!.fix, /"mx1\.example\.com"/);
    assert.equal(mxPatternProblem('192.0.2.25')?.code, 'mx-invalid');
    assert.equal(mxPatternProblem('mx_1.example.com')?.code, 'mx-invalid');
    assert.equal(mxPatternProblem('mx.bücher.example')?.code, 'mx-u-label');
    assert.match(mxPatternProblem('mx.bücher.example')!.fix, /mx\.xn--bcher-kva\.example/);
  });

  it('reports each problem on its own line, in line order', () => {
    const text = [
      'mode: testing', //            1  (version not first: warning)
      'Version: STSv1', //           2  field names are case-sensitive
      'version: STSv1', //           3
      'mx: mail.*.example.com', //   4  wildcard in the middle
      '', //                         5  blank line
      'mx: mx1.example.com', //      6
      'mx: MX1.example.com', //      7  duplicate (case-insensitive)
      'max-age: 86400', //           8  misspelled field
      'max_age : 86400', //          9  space before colon
      'max_age: 604800', //         10
      'mode: enforce', //           11  duplicate: first one counts
      '# a comment', //             12
      'note: hello', //             13  unknown field
    ].join('\n');
    assert.deepEqual(codes(text), [
      ['version-not-first', 1, 'warning'],
      ['field-name', 2, 'error'],
      ['mx-wildcard', 4, 'error'],
      ['blank-line', 5, 'error'],
      ['mx-duplicate', 7, 'warning'],
      ['field-name', 8, 'error'],
      ['line-syntax', 9, 'error'],
      ['field-duplicate', 11, 'warning'],
      ['line-syntax', 12, 'error'],
      ['field-unknown', 13, 'warning'],
    ]);
    assert.equal(parseStsPolicy(text).policy, null);
  });

  it('uses the first of duplicated fields, as senders do', () => {
    const { policy, problems } = parseStsPolicy('version: STSv1\nmode: testing\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n');
    assert.equal(policy?.mode, 'testing');
    assert.deepEqual(
      problems.map((p) => p.code),
      ['field-duplicate'],
    );
  });

  it('names the fix for wrong-case values', () => {
    const { problems } = parseStsPolicy('version: STSv1\nmode: Enforce\nmx: mx.example.com\nmax_age: 86400\n');
    assert.deepEqual(
      problems.map((p) => [p.code, p.line]),
      [['mode-invalid', 2]],
    );
    assert.match(problems[0]!.fix, /"mode: enforce"/);
    assert.deepEqual(codes('version: STSv2\nmode: none\nmax_age: 86400\n'), [['version-invalid', 1, 'error']]);
  });

  it('refuses a policy over 64 KB, a byte-order mark, a bare CR and non-UTF-8 bytes', () => {
    const head = 'version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 86400\n';
    const big = head + 'x: y\n'.repeat(Math.ceil((POLICY_MAX_BYTES - head.length) / 5) + 1);
    assert.ok(Buffer.byteLength(big) > POLICY_MAX_BYTES);
    assert.ok(codes(big).some(([code, line]) => code === 'policy-too-large' && line === undefined));
    const atLimit = head + 'x'.repeat(POLICY_MAX_BYTES - head.length - 8) + ': value\n';
    assert.equal(Buffer.byteLength(atLimit), POLICY_MAX_BYTES);
    assert.ok(!codes(atLimit).some(([code]) => code === 'policy-too-large'));

    assert.deepEqual(codes(`\uFEFF${head}`), [['byte-order-mark', 1, 'error']]);
    // Line 1 holds both fields behind a lone CR, so neither counts: version and mode are then missing.
    assert.deepEqual(
      codes('version: STSv1\rmode: testing\nmx: mx.example.com\nmax_age: 86400\n').map((c) => c[0]),
      ['line-syntax', 'field-missing', 'field-missing'],
    );
    assert.deepEqual(codes(Buffer.from([0x76, 0x3a, 0xff, 0x0a])), [['policy-not-utf8', undefined, 'error']]);
    assert.deepEqual(codes('  \n'), [['policy-empty', undefined, 'error']]);
  });
});

describe("parseStsPolicy with Google's guide (rules: 'google', the default of policy validate)", () => {
  const guideCodes = (text: string): Array<[string, number | undefined, string]> =>
    parseStsPolicy(text, { rules: 'google' }).problems.map((p) => [p.code, p.line, p.severity]);
  const policy = (age: string): string => `version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: ${age}\n`;

  it('makes max_age outside 86400..31557600 an error naming the guide', () => {
    assert.deepEqual(guideCodes(policy('86400')), []);
    assert.deepEqual(guideCodes(policy('31557600')), []);
    assert.deepEqual(guideCodes(policy('86399')), [['max-age-short', 4, 'error']]);
    assert.deepEqual(guideCodes(policy('31557601')), [['max-age-too-large', 4, 'error']]);
    const short = parseStsPolicy(policy('10'), { rules: 'google' });
    assert.equal(short.policy, null);
    assert.match(
      short.problems[0]!.message,
      /^max_age 10 is outside 86400\.\.31557600, the range Google's MTA-STS policy guide for Google Workspace/,
    );
  });

  it('makes a first line other than version an error naming the guide; the RFC rules keep both warnings', () => {
    const text = 'mode: testing\nversion: STSv1\nmx: mx.example.com\nmax_age: 10\n';
    assert.deepEqual(guideCodes(text), [
      ['version-not-first', 1, 'error'],
      ['max-age-short', 4, 'error'],
    ]);
    assert.match(
      parseStsPolicy(text, { rules: 'google' }).problems[0]!.message,
      /Google's MTA-STS policy guide .* requires "version: STSv1" on the first line/,
    );
    assert.deepEqual(codes(text), [
      ['version-not-first', 1, 'warning'],
      ['max-age-short', 4, 'warning'],
    ]);
    assert.deepEqual(parseStsPolicy(text, { rules: 'rfc' }), parseStsPolicy(text));
    assert.equal(parseStsPolicy(text).policy?.maxAge, 10);
  });
});
