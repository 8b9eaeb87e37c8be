import assert from 'node:assert/strict';
import { deflateSync, gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { decompressReport } from '../../src/decompress/decompressReport.js';
import { ReportInputError } from '../../src/errors.js';
import { realFixture } from '../helpers/fixtures.js';
import { buildZip } from '../helpers/zip.js';

const JSON_BYTES = Buffer.from('{"organization-name":"x"}');
const MAX = 1024 * 1024;

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ReportInputError, String(err));
    return err.reason;
  }
  return 'no error';
}

describe('decompressReport', () => {
  it('inflates a real gzip attachment (FNAME flag set, Stalwart)', async () => {
    const r = await decompressReport(
      realFixture('stalwart-mail-auth--rpt01--ATTACHMENT--mail.sender.example!example.com!1013662812!1013749130.json.gz'),
      MAX,
    );
    assert.equal(r.compression, 'gzip');
    assert.equal(JSON.parse(r.json.toString())['organization-name'], 'Company-X');
    assert.deepEqual(r.fixups, []);
  });

  it('passes plain JSON through, with or without a byte order mark', async () => {
    assert.equal((await decompressReport(JSON_BYTES, MAX)).compression, 'none');
    assert.equal((await decompressReport(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), JSON_BYTES]), MAX)).compression, 'none');
  });

  it('ignores bytes after the gzip stream and records it (Mimecast CRLF, quirk 17)', async () => {
    const r = await decompressReport(Buffer.concat([gzipSync(JSON_BYTES), Buffer.from('\r\n')]), MAX);
    assert.deepEqual(r.json, JSON_BYTES);
    assert.deepEqual(r.fixups, ['gzip-trailing-bytes']);
  });

  it('joins gzip members back to back as gzip -d does (RFC 1952 2.2)', async () => {
    const r = await decompressReport(Buffer.concat([gzipSync(Buffer.from('{"a":')), gzipSync(Buffer.from('1}'))]), MAX);
    assert.equal(r.json.toString(), '{"a":1}');
    assert.deepEqual(r.fixups, []);
  });

  it('does not hide a truly corrupt stream behind the trailing-bytes tolerance', async () => {
    const gz = gzipSync(Buffer.alloc(10_000, 0x61));
    assert.equal(await reason(decompressReport(Buffer.concat([gz, Buffer.alloc(100, 0x41)]), MAX)), 'gzip-corrupt');
  });

  it('reads zlib streams', async () => {
    assert.deepEqual((await decompressReport(deflateSync(JSON_BYTES), MAX)).json, JSON_BYTES);
  });

  it('reads the .json member of a zip and records it (quirk 19)', async () => {
    const zip = buildZip([{ name: 'report.json', data: JSON_BYTES }]);
    const r = await decompressReport(zip, MAX);
    assert.deepEqual(r.json, JSON_BYTES);
    assert.equal(r.compression, 'zip');
    assert.deepEqual(r.fixups, ['zip-attachment']);
  });

  it('refuses a zip bomb at the ceiling', async () => {
    const zip = buildZip([{ name: 'report.json', data: Buffer.alloc(5 * MAX, 0x20) }]);
    assert.equal(await reason(decompressReport(zip, MAX)), 'decompression-limit');
  });

  it('refuses a gzip bomb at the ceiling, whatever the compressed size', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * MAX));
    assert.ok(bomb.length < 100_000);
    assert.equal(await reason(decompressReport(bomb, MAX)), 'decompression-limit');
  });

  it('reports a truncated gzip as gzip-corrupt, with what was recovered', async () => {
    const gz = gzipSync(Buffer.alloc(10_000, 0x61));
    const err = await decompressReport(gz.subarray(0, gz.length - 8), MAX).catch((e: ReportInputError) => e);
    assert.ok(err instanceof ReportInputError);
    assert.equal(err.reason, 'gzip-corrupt');
    assert.match(err.detail, /truncated/);
  });

  it('reports corrupt deflate data as gzip-corrupt', async () => {
    const gz = gzipSync(Buffer.alloc(10_000, 0x61));
    gz.fill(0xff, 12, 30);
    assert.equal(await reason(decompressReport(gz, MAX)), 'gzip-corrupt');
  });

  it('refuses unknown formats as unsupported-compression', async () => {
    assert.equal(await reason(decompressReport(Buffer.from('BZh91AY&SY'), MAX)), 'unsupported-compression');
  });

  it('refuses a zip with no usable member as zip-corrupt', async () => {
    const zip = buildZip([
      { name: 'a.txt', data: Buffer.from('x') },
      { name: 'b.txt', data: Buffer.from('y') },
    ]);
    assert.equal(await reason(decompressReport(zip, MAX)), 'zip-corrupt');
  });
});
