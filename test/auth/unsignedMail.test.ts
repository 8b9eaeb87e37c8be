/**
 * verifyDkim answers a mail without a DKIM-Signature header itself (unsignedMail), without mailauth's pass
 * over the whole mail: its answer must be exactly dkimVerify's, for every real sample mail (signed ones go
 * to dkimVerify, unsigned ones with their From headers stripped of signatures) and for crafted variants of
 * the header block's line ends, folding and From header.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { dkimAuthentication, unsignedMail, verifyDkim } from '../../src/auth/verifyDkim.js';
import { realFixture, realFixtureNames } from '../helpers/fixtures.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { makeTestKey, reportMail, testReport, txtStrings } from './dkimTestMail.js';

/** No lookup is expected for an unsigned mail; a signed one finds no key (the answer is still compared). */
const resolver = async (): Promise<string[][]> => {
  throw Object.assign(new Error('no such key'), { code: 'ENOTFOUND' });
};

/** The real mails with every DKIM-Signature header (and its folded lines) taken out. */
function stripSignatures(raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  const split = /\r?\n\r?\n/.exec(text);
  const end = split ? split.index : text.length;
  const kept = text
    .slice(0, end)
    .split(/(?=\r?\n(?![ \t]))/)
    .filter((h) => !/^\r?\n?dkim-signature:/i.test(h))
    .join('');
  return Buffer.from(kept.replace(/^\r?\n/, '') + text.slice(end), 'latin1');
}

function variants(): Array<[string, Buffer]> {
  const real = realFixtureNames((n) => n.endsWith('.eml')).flatMap((n): Array<[string, Buffer]> => {
    const raw = realFixture(n);
    return [
      [n, raw],
      [`${n}, signatures taken out`, stripSignatures(raw)],
    ];
  });
  const body = buildReportMail({ report: testReport('Example', 'example.com') }).toString('latin1');
  const rest = body.slice(body.search(/\r\n\r\n/));
  const mail = (headers: string[], tail = rest, eol = '\r\n') => Buffer.from(headers.join(eol) + tail.replace(/\r\n/g, eol), 'latin1');
  return [
    ...real,
    ['buildReportMail', buildReportMail({ report: testReport('Example', 'example.com') })],
    ['bare LF line ends', mail(['From: tls@example.com', 'Subject: x'], rest, '\n')],
    ['folded From with a display name', mail(['From: "Reports,\r\n  Example" <tls@Example.COM>', 'Subject: x'])],
    ['encoded-word display name', mail(['From: =?utf-8?q?R=C3=A9ports?= <tls@example.org>', 'Subject: x'])],
    ['two From headers, two addresses', mail(['From: a@one.example, b@two.example', 'from: c@three.example'])],
    ['no From header', mail(['Subject: no from'])],
    ['From without an address', mail(['From: undisclosed-recipients:;'])],
    ['no body at all', Buffer.from('From: tls@example.com\r\nSubject: x\r\n')],
    ['empty line as bare LF after CRLF headers', Buffer.from('From: tls@example.com\r\nSubject: x\r\n\nbody\r\n')],
    ['a DKIM-Signature header in the body only', mail(['From: tls@example.com'], '\r\n\r\nDKIM-Signature: v=1; d=x; s=y; b=; bh=\r\n')],
    [
      'a lower-case dkim-signature header',
      mail(['dkim-signature: v=1; a=rsa-sha256; d=example.com; s=s; h=from; bh=x; b=y', 'From: tls@example.com']),
    ],
    ['an X-Original-DKIM-Signature header', mail(['X-Original-DKIM-Signature: v=1; d=example.com', 'From: tls@example.com'])],
    ['a DKIM-Signature name without a colon', mail(['DKIM-Signature', 'From: tls@example.com'])],
    [
      'a DKIM-Signature with space before the colon',
      mail(['DKIM-Signature : v=1; a=rsa-sha256; d=example.com; s=s; bh=x; b=y', 'From: tls@example.com']),
    ],
  ];
}

describe('verifyDkim of an unsigned mail', () => {
  for (const [name, raw] of variants()) {
    it(`gives dkimVerify's answer: ${name}`, async () => {
      const expected = dkimAuthentication(await dkimVerify(raw, { resolver }));
      assert.deepEqual(await verifyDkim(raw, resolver), expected);
      const fast = unsignedMail(raw);
      // Only an unsigned mail takes the fast path, and there it gives the same answer.
      if (expected.signatures.length > 0) assert.equal(fast, null);
      if (name.endsWith('signatures taken out')) assert.notEqual(fast, null);
      if (fast) assert.deepEqual(dkimAuthentication(fast), expected);
    });
  }

  it('still verifies a signed mail through mailauth', async () => {
    const key = makeTestKey();
    const raw = await reportMail(testReport('Example', 'example.com'), {
      fromDomain: 'example.com',
      policyDomain: 'example.com',
      signer: { domain: 'example.com', selector: 's1', key },
    });
    assert.equal(unsignedMail(raw), null);
    const found = await verifyDkim(raw, async () => [txtStrings(key.record)]);
    assert.equal(found.result, 'pass');
    assert.equal(found.authenticated, true);
  });
});
