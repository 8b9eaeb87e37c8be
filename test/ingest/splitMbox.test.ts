import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { looksLikeMbox, splitMbox } from '../../src/ingest/splitMbox.js';
import { realFixture } from '../helpers/fixtures.js';
import { writeMboxrd } from '../helpers/mbox.js';

describe('splitMbox', () => {
  it('gives back each message byte for byte, CRLF mail included', () => {
    const messages = [
      realFixture('mox--example.eml'),
      realFixture('stalwart-mail-auth--rpt01.eml'),
      realFixture('tlsrpt-digest--tlsrpt_failure.eml'),
    ];
    const split = splitMbox(writeMboxrd(messages));
    assert.equal(split.length, 3);
    split.forEach((m, i) => {
      assert.equal(m.index, i + 1);
      assert.equal(m.separator, 'From MAILER-DAEMON Mon Nov 13 00:00:00 2023');
      assert.ok(m.raw.equals(messages[i]!), `message ${i + 1} differs`);
    });
  });

  it('undoes mboxrd escaping by one ">" and splits only on a "From " line after an empty line', () => {
    const mbox = Buffer.from(
      [
        'From a@example.com Mon Nov 13 00:00:00 2023',
        'Subject: one',
        '',
        '>From the start of a line',
        '>>From an already quoted line',
        'and a line that says From here',
        'From a line not after an empty line stays',
        '',
        'From b@example.com Tue Nov 14 00:00:00 2023',
        'Subject: two',
        '',
        'caf\xe9 in latin1 bytes',
        '',
      ].join('\n'),
      'latin1',
    );
    const [one, two, ...rest] = splitMbox(mbox);
    assert.equal(rest.length, 0);
    assert.equal(
      one!.raw.toString('latin1'),
      'Subject: one\n\nFrom the start of a line\n>From an already quoted line\nand a line that says From here\nFrom a line not after an empty line stays\n',
    );
    assert.equal(two!.separator, 'From b@example.com Tue Nov 14 00:00:00 2023');
    assert.ok(two!.raw.equals(Buffer.from('Subject: two\n\ncaf\xe9 in latin1 bytes\n', 'latin1')), '8-bit bytes pass unchanged');
  });

  it('reads a last message without the closing empty line, and an empty file as no messages', () => {
    const [m] = splitMbox(Buffer.from('From x Mon Nov 13 00:00:00 2023\nSubject: last\n\nbody\n'));
    assert.equal(m!.raw.toString(), 'Subject: last\n\nbody\n');
    assert.deepEqual(splitMbox(Buffer.alloc(0)), []);
  });

  it('tells an mbox ("From " line) from a mail that starts with a From: header', () => {
    assert.equal(looksLikeMbox(Buffer.from('From MAILER-DAEMON Mon Nov 13 00:00:00 2023\n')), true);
    assert.equal(looksLikeMbox(realFixture('stalwart-mail-auth--rpt01.eml')), false); // "From: tlsrpt@..."
  });
});
