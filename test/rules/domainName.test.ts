import assert from 'node:assert/strict';
import { test } from 'node:test';
import { domainNameProblem, isDomainName, normaliseDomainName } from '../../src/rules/domainName.js';

/** One table of cases for the one domain-name rule: [input as typed, domain?, host name (single label allowed)?]. */
const CASES: Array<[string, boolean, boolean]> = [
  ['example.com', true, true],
  ['Example.COM.', true, true],
  ['mx-1.mail.example.co.uk', true, true],
  ['xn--bcher-kva.example', true, true],
  ['localhost', false, true],
  ['', false, false],
  ['example..com', false, false],
  ['.example.com', false, false],
  ['-bad.example.com', false, false],
  ['bad-.example.com', false, false],
  ['under_score.example.com', false, false],
  ['bücher.example', false, false],
  ['192.0.2.1', false, false],
  ['mx.example.com:25', false, false],
  ['ex ample.com', false, false],
  ['evil.com\r\nX-Injected: 1', false, false],
  [`${'a'.repeat(64)}.example.com`, false, false],
  [`${'a.'.repeat(127)}com`, false, false],
];

for (const [input, domain, host] of CASES) {
  test(`domain name rule: ${JSON.stringify(input)}`, () => {
    const name = normaliseDomainName(input);
    assert.equal(isDomainName(name), domain, String(domainNameProblem(name)));
    assert.equal(isDomainName(name, { singleLabel: true }), host, String(domainNameProblem(name, { singleLabel: true })));
  });
}

test('a problem says what is wrong', () => {
  assert.match(domainNameProblem('a..b') ?? '', /empty label/);
  assert.match(domainNameProblem('localhost') ?? '', /single label/);
});
