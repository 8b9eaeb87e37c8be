import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findIngestSources, IngestPathError, sniffKind } from '../../src/ingest/findIngestSources.js';

describe('findIngestSources', () => {
  let root: string;
  const put = (path: string, content: string | Buffer) => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  };

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'tlsrpt-find-'));
    put('reports/a.eml', 'Subject: a\n\nbody\n');
    put('reports/b.json', '{"organization-name": "x"}');
    put('reports/c.json.gz', Buffer.from([0x1f, 0x8b, 8, 0]));
    put('reports/notes.txt', '{"looks": "like json but is a note"}');
    put('reports/README.md', '# notes\n');
    put('reports/.hidden.eml', 'Subject: hidden\n\n');
    put('reports/export', 'From MAILER-DAEMON Mon Nov 13 00:00:00 2023\nSubject: x\n\n');
    put('reports/saved-mail', 'Return-Path: <x@example.com>\nSubject: y\n\n');
    put('reports/binary', Buffer.from([0, 1, 2, 3]));
    put('reports/inbox.mbox', 'From x Mon Nov 13 00:00:00 2023\n\n');
    put('Maildir/cur/1700000000.M1P1.host:2,S', 'Subject: cur\n\n');
    put('Maildir/new/1700000001.M2P1.host', 'Subject: new\n\n');
    put('Maildir/tmp/1700000002.M3P1.host', 'Subject: still being delivered\n\n');
    put('Maildir/.Reports/cur/1700000003.M4P1.host:2,', 'Subject: sub-folder\n\n');
    put('Maildir/.Trash/notes.txt', 'not a maildir folder');
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('walks directories and Maildirs, reading what is mail, mbox or a report and listing the rest as skipped', async () => {
    const found = await findIngestSources([root]);
    const rel = (p: string) => relative(root, p);
    assert.deepEqual(
      found.sources.map((s) => [rel(s.path), s.kind]),
      [
        ['Maildir/cur/1700000000.M1P1.host:2,S', 'message'],
        ['Maildir/new/1700000001.M2P1.host', 'message'],
        ['Maildir/.Reports/cur/1700000003.M4P1.host:2,', 'message'],
        ['reports/a.eml', 'message'],
        ['reports/b.json', 'message'],
        ['reports/c.json.gz', 'message'],
        ['reports/export', 'mbox'],
        ['reports/inbox.mbox', 'mbox'],
        ['reports/saved-mail', 'message'],
      ],
    );
    assert.deepEqual(found.skipped.map((s) => rel(s.path)).sort(), ['reports/README.md', 'reports/binary', 'reports/notes.txt']);
  });

  it('reads a file named on the command line whatever its name, as an mbox when it starts with a "From " line', async () => {
    const found = await findIngestSources([join(root, 'reports/notes.txt'), join(root, 'reports/export')]);
    assert.deepEqual(
      found.sources.map((s) => s.kind),
      ['message', 'mbox'],
    );
  });

  it('stops on a path that does not exist, naming it', async () => {
    await assert.rejects(findIngestSources([join(root, 'nope')]), (err: unknown) => {
      assert.ok(err instanceof IngestPathError);
      assert.match(err.message, /cannot read ".*nope": no such file or directory/);
      return true;
    });
  });

  it('sniffs files without an extension by their first bytes', () => {
    assert.equal(sniffKind(Buffer.from('From x Mon Nov 13 00:00:00 2023\n')), 'mbox');
    assert.equal(sniffKind(Buffer.from('From: x@example.com\n')), 'message');
    assert.equal(sniffKind(Buffer.from('  {"policies": []}')), 'message');
    assert.equal(sniffKind(Buffer.from([0x1f, 0x8b])), 'message');
    assert.equal(sniffKind(Buffer.from('# a note: with a colon\n')), null);
  });
});
