/**
 * The two TXT records: `_mta-sts` (RFC 8461 3.1) and `_smtp._tls` (RFC 8460 3), including the mistakes seen
 * in the wild (real-world quirk 27: rua without "mailto:", the "TSLRPTv1" typo).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchMxPattern, mxCovered } from '../../src/policy/syntax/matchMxPattern.js';
import { parseStsRecord, stsIdFromTime } from '../../src/policy/syntax/parseStsRecord.js';
import { parseTlsRptRecord } from '../../src/policy/syntax/parseTlsRptRecord.js';
import { findOurRua } from '../../src/policy/check/ruaTargets.js';

const codesOf = (v: { problems: Array<{ code: string; severity: string }> }): string[] => v.problems.map((p) => `${p.severity}:${p.code}`);

describe('_mta-sts TXT record', () => {
  it('reads the RFC 8461 3.1 example and ignores unrelated TXT records', () => {
    const v = parseStsRecord(['v=spf1 -all', 'v=STSv1; id=20160831085700Z;'], 'example.com');
    assert.deepEqual(v.problems, []);
    assert.deepEqual(v.record, { id: '20160831085700Z', extensions: [] });
  });

  it('keeps extension fields and allows spaces around ";"', () => {
    const v = parseStsRecord(['v=STSv1 ;  id=abc123 ; ext_1=yes'], 'example.com');
    assert.deepEqual(v.record, { id: 'abc123', extensions: [{ name: 'ext_1', value: 'yes' }] });
  });

  it('flags a missing record, two records, and a record that is not exactly v=STSv1', () => {
    assert.deepEqual(codesOf(parseStsRecord([], 'example.com')), ['error:sts-record-missing']);
    assert.deepEqual(codesOf(parseStsRecord(['v=STSv1; id=1', 'v=STSv1; id=2'], 'example.com')), ['error:sts-record-multiple']);
    const typo = parseStsRecord(['v=STSV1; id=2024'], 'example.com');
    assert.deepEqual(codesOf(typo), ['error:sts-version-invalid']);
    assert.match(typo.problems[0]!.fix, /_mta-sts\.example\.com TXT "v=STSv1; id=2024"/);
  });

  it('checks the id: 1 to 32 letters and digits, present, after a ";"', () => {
    assert.deepEqual(codesOf(parseStsRecord(['v=STSv1; id=' + 'a'.repeat(32)], 'example.com')), []);
    const long = parseStsRecord(['v=STSv1; id=' + 'a'.repeat(33)], 'example.com');
    assert.deepEqual(codesOf(long), ['error:sts-id-invalid']);
    assert.match(long.problems[0]!.message, /33 characters/);
    const dashed = parseStsRecord(['v=STSv1; id=2024-03-01'], 'example.com');
    assert.deepEqual(codesOf(dashed), ['error:sts-id-invalid']);
    assert.match(dashed.problems[0]!.message, /contains "-"/);
    assert.match(dashed.problems[0]!.fix, /id=20240301/);
    assert.deepEqual(codesOf(parseStsRecord(['v=STSv1;'], 'example.com')), ['error:sts-id-missing']);
    assert.deepEqual(codesOf(parseStsRecord(['v=STSv1 id=123'], 'example.com')), ['error:sts-record-syntax']);
    assert.deepEqual(codesOf(parseStsRecord(['v=STSv1; ID=123'], 'example.com')), ['error:sts-record-syntax', 'error:sts-id-missing']);
  });

  it('makes ids from the time like the RFC example', () => {
    assert.equal(stsIdFromTime(new Date('2016-08-31T08:57:00.123Z')), '20160831085700Z');
  });
});

describe('_smtp._tls TXT record', () => {
  it('reads a record with several rua URIs, in order', () => {
    const v = parseTlsRptRecord(['v=TLSRPTv1; rua=mailto:tlsrpt@example.com, https://reports.example.net/tlsrpt'], 'example.com');
    assert.deepEqual(v.problems, []);
    assert.deepEqual(v.record?.rua, ['mailto:tlsrpt@example.com', 'https://reports.example.net/tlsrpt']);
  });

  it('flags rua= without mailto: (sys4 #54) and suggests the fixed record', () => {
    const v = parseTlsRptRecord(['v=TLSRPTv1; rua=postmaster@example.com'], 'example.com');
    assert.deepEqual(codesOf(v), ['error:rua-missing-mailto']);
    assert.equal(v.record, null);
    assert.equal(v.problems[0]!.fix, 'Write "rua=mailto:postmaster@example.com".');
  });

  it('flags the TSLRPTv1 typo and wrong case as records senders discard', () => {
    const typo = parseTlsRptRecord(['v=TSLRPTv1; rua=mailto:tls@example.com'], 'example.com');
    assert.deepEqual(codesOf(typo), ['error:tlsrpt-version-invalid']);
    assert.match(typo.problems[0]!.message, /"v=TSLRPTv1"/);
    assert.equal(typo.problems[0]!.fix, 'Publish _smtp._tls.example.com TXT "v=TLSRPTv1; rua=mailto:tls@example.com".');
    // Both mistakes at once: the fix repairs both.
    const both = parseTlsRptRecord(['v=tlsrptv1; rua=tls@example.com'], 'example.com');
    assert.equal(both.problems[0]!.fix, 'Publish _smtp._tls.example.com TXT "v=TLSRPTv1; rua=mailto:tls@example.com".');
    // A typo beside a good record is only a warning: senders use the good one.
    const beside = parseTlsRptRecord(['v=TSLRPTv1; rua=mailto:a@example.com', 'v=TLSRPTv1; rua=mailto:b@example.com'], 'example.com');
    assert.deepEqual(codesOf(beside), ['warning:tlsrpt-version-invalid']);
    assert.deepEqual(beside.record?.rua, ['mailto:b@example.com']);
  });

  it('flags a missing record, two records, a DMARC record in its place, and unsupported schemes', () => {
    assert.deepEqual(codesOf(parseTlsRptRecord(['v=spf1 -all'], 'example.com')), ['error:tlsrpt-record-missing']);
    assert.deepEqual(
      codesOf(parseTlsRptRecord(['v=TLSRPTv1; rua=mailto:a@x.example', 'v=TLSRPTv1; rua=mailto:b@x.example'], 'example.com')),
      ['error:tlsrpt-record-multiple'],
    );
    const dmarc = parseTlsRptRecord(['v=DMARC1; p=none; rua=mailto:dmarc@example.com'], 'example.com');
    assert.deepEqual(codesOf(dmarc), ['error:tlsrpt-version-invalid']);
    assert.match(dmarc.problems[0]!.message, /DMARC record/);
    const http = parseTlsRptRecord(['v=TLSRPTv1; rua=http://example.com/r'], 'example.com');
    assert.deepEqual(codesOf(http), ['error:rua-scheme-unsupported']);
    assert.match(http.problems[0]!.fix, /https:\/\/example\.com\/r/);
    assert.deepEqual(codesOf(parseTlsRptRecord(['v=TLSRPTv1;'], 'example.com')), ['error:rua-missing']);
    assert.deepEqual(codesOf(parseTlsRptRecord(['v=TLSRPTv1 rua=mailto:a@example.com'], 'example.com')), ['error:tlsrpt-record-syntax']);
    assert.deepEqual(codesOf(parseTlsRptRecord(['v=TLSRPTv1; rua=mailto:a@example.com,'], 'example.com')), ['error:rua-invalid']);
    assert.deepEqual(codesOf(parseTlsRptRecord(['v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com'], 'example.com')), [
      'error:rua-duplicate',
    ]);
  });
});

describe('mx patterns (RFC 8461 4.1)', () => {
  it('matches a wildcard against exactly one left-most label, ignoring case and a trailing dot', () => {
    assert.equal(matchMxPattern('*.example.com', 'mx1.example.com'), true);
    assert.equal(matchMxPattern('*.example.com', 'MX1.Example.COM.'), true);
    assert.equal(matchMxPattern('*.example.com', 'example.com'), false);
    assert.equal(matchMxPattern('*.example.com', 'a.b.example.com'), false);
    assert.equal(matchMxPattern('mx1.example.com', 'mx1.example.com.'), true);
    assert.equal(matchMxPattern('mx1.example.com', 'mx2.example.com'), false);
    assert.equal(mxCovered(['mx1.example.com', '*.mail.example.net'], 'in.mail.example.net'), true);
    assert.equal(mxCovered(['mx1.example.com', '*.mail.example.net'], 'mail.example.net'), false);
  });
});

describe('our place among the rua targets', () => {
  const ours = { rua: ['mailto:tlsrpt@reports.example.com'], acceptedRecipients: [] };
  it('is first, listed later, or absent', () => {
    assert.deepEqual(findOurRua(['mailto:TLSRPT@Reports.Example.com'], ours), {
      status: 'first',
      uri: 'mailto:TLSRPT@Reports.Example.com',
    });
    assert.deepEqual(findOurRua(['mailto:other@example.com', 'mailto:tlsrpt@reports.example.com'], ours), {
      status: 'listed',
      uri: 'mailto:tlsrpt@reports.example.com',
      position: 2,
      first: 'mailto:other@example.com',
    });
    assert.deepEqual(findOurRua(['mailto:other@example.com'], ours), { status: 'absent' });
    assert.deepEqual(findOurRua(['mailto:other@example.com'], { rua: [], acceptedRecipients: [] }), { status: 'unknown' });
  });

  it('counts addresses the receiver accepts, sub-addressed ones included (quirk 29)', () => {
    const receiver = { rua: [], acceptedRecipients: ['tls@example.com', 'reports.example.org'] };
    assert.equal(findOurRua(['mailto:tls+google@example.com'], receiver).status, 'first');
    assert.equal(findOurRua(['mailto:anyone@reports.example.org'], receiver).status, 'first');
    assert.equal(findOurRua(['https://example.com/tls', 'mailto:x@example.com'], receiver).status, 'absent');
  });
});
