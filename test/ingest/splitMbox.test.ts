import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createMboxSplitter, looksLikeMbox, readMboxFile, splitMbox, type MboxMessage } from '../../src/ingest/splitMbox.js';
import { realFixture } from '../helpers/fixtures.js';
import { writeMboxrd } from '../helpers/mbox.js';

/** The file in chunks of `size` bytes, as a stream delivers it (the last one shorter). */
function chunksOf(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

async function collect(chunks: Iterable<Buffer>, max?: number): Promise<MboxMessage[]> {
  const out: MboxMessage[] = [];
  for await (const m of splitMbox(chunks, max)) out.push(m);
  return out;
}

/** Every chunk size that can cut a separator, an escape or a CRLF apart, and the whole file at once. */
async function splitEveryWay(data: Buffer, max?: number): Promise<MboxMessage[]> {
  const whole = await collect([data], max);
  for (const size of [1, 2, 3, 5, 6, 7, 8, 13, 64]) {
    const parts = await collect(chunksOf(data, size), max);
    assert.deepEqual(parts, whole, `split in chunks of ${size} bytes`);
  }
  return whole;
}

describe('splitMbox (streaming)', () => {
  it('gives back each message byte for byte, CRLF mail included, whatever the chunk boundaries', async () => {
    const messages = [
      realFixture('mox--example.eml'),
      realFixture('stalwart-mail-auth--rpt01.eml'),
      realFixture('tlsrpt-digest--tlsrpt_failure.eml'),
    ];
    const mbox = writeMboxrd(messages);
    const split = await splitEveryWay(mbox);
    assert.equal(split.length, 3);
    split.forEach((m, i) => {
      assert.equal(m.index, i + 1);
      assert.equal(m.separator, 'From MAILER-DAEMON Mon Nov 13 00:00:00 2023');
      assert.ok(m.raw!.equals(messages[i]!), `message ${i + 1} differs`);
    });
    assert.equal(split[2]!.endOffset, mbox.length);
    // Each message ends where the empty line before the next separator begins.
    assert.equal(mbox.subarray(split[0]!.endOffset, split[0]!.endOffset + 6).toString(), '\nFrom ');
  });

  it('undoes mboxrd escaping by one ">" and splits only on a "From " line after an empty line', async () => {
    const mbox = Buffer.from(
      [
        'From a@example.com Mon Nov 13 00:00:00 2023',
        'Subject: one',
        '',
        '>From the start of a line',
        '>>From an already quoted line',
        'and a line that says From here',
        'From a line not after an empty line stays',
        '>not an escape',
        '',
        'From b@example.com Tue Nov 14 00:00:00 2023',
        'Subject: two',
        '',
        'caf\xe9 in latin1 bytes',
        '',
      ].join('\n'),
      'latin1',
    );
    const [one, two, ...rest] = await splitEveryWay(mbox);
    assert.equal(rest.length, 0);
    assert.equal(
      one!.raw!.toString('latin1'),
      'Subject: one\n\nFrom the start of a line\n>From an already quoted line\nand a line that says From here\nFrom a line not after an empty line stays\n>not an escape\n',
    );
    assert.equal(two!.separator, 'From b@example.com Tue Nov 14 00:00:00 2023');
    assert.ok(two!.raw!.equals(Buffer.from('Subject: two\n\ncaf\xe9 in latin1 bytes\n', 'latin1')), '8-bit bytes pass unchanged');
  });

  it('reads a CRLF mbox: the empty line before a separator is "\\r\\n"', async () => {
    const mbox = Buffer.from('From a Mon\r\nSubject: one\r\n\r\n>From x\r\n\r\nFrom b Tue\r\nSubject: two\r\n\r\nbody\r\n\r\n');
    const split = await splitEveryWay(mbox);
    assert.deepEqual(
      split.map((m) => [m.separator, m.raw!.toString()]),
      [
        ['From a Mon', 'Subject: one\r\n\r\nFrom x\r\n'],
        ['From b Tue', 'Subject: two\r\n\r\nbody\r\n'],
      ],
    );
  });

  it('reads a last message without the closing empty line or line break, empty messages, and an empty file', async () => {
    const [m] = await splitEveryWay(Buffer.from('From x Mon Nov 13 00:00:00 2023\nSubject: last\n\nbody\n'));
    assert.equal(m!.raw!.toString(), 'Subject: last\n\nbody\n');
    const [n] = await splitEveryWay(Buffer.from('From x Mon Nov 13 00:00:00 2023\nSubject: last\n\nbody'));
    assert.equal(n!.raw!.toString(), 'Subject: last\n\nbody\n');
    const empty = await splitEveryWay(Buffer.from('From a\n\nFrom b\nFrom c'));
    assert.deepEqual(
      empty.map((x) => [x.separator, x.raw!.toString()]),
      [
        ['From a', ''],
        ['From b', 'From c\n'],
      ],
    );
    assert.deepEqual(await collect([Buffer.alloc(0)]), []);
    assert.deepEqual(await collect([]), []);
  });

  it('reports a message over the ceiling with its size and no bytes, and keeps the others', async () => {
    const small = Buffer.from('Subject: small\n\nok\n');
    const large = Buffer.from(`Subject: large\n\n${'x'.repeat(200)}\n`);
    const split = await splitEveryWay(writeMboxrd([small, large, small]), 100);
    assert.deepEqual(
      split.map((m) => [m.index, m.raw?.toString() ?? null, m.size]),
      [
        [1, small.toString(), small.length],
        [2, null, large.length],
        [3, small.toString(), small.length],
      ],
    );
  });

  it('pushes complete messages as soon as their end is read', () => {
    const s = createMboxSplitter();
    assert.deepEqual(s.push(Buffer.from('From a\nSubject: one\n\n')), []);
    const [one] = s.push(Buffer.from('From b\nSubject: two\n'));
    assert.equal(one!.raw!.toString(), 'Subject: one\n');
    const [two] = s.end();
    assert.equal(two!.raw!.toString(), 'Subject: two\n');
  });

  it('reads a file as a stream', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-mbox-'));
    try {
      const messages = [realFixture('tlsrpt-digest--tlsrpt_failure.eml'), realFixture('mox--microsoft.eml')];
      writeFileSync(join(dir, 'a.mbox'), writeMboxrd(messages));
      const read: Buffer[] = [];
      for await (const m of readMboxFile(join(dir, 'a.mbox'))) read.push(m.raw!);
      assert.deepEqual(read, messages);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tells an mbox ("From " line) from a mail that starts with a From: header', () => {
    assert.equal(looksLikeMbox(Buffer.from('From MAILER-DAEMON Mon Nov 13 00:00:00 2023\n')), true);
    assert.equal(looksLikeMbox(realFixture('stalwart-mail-auth--rpt01.eml')), false); // "From: tlsrpt@..."
  });
});
