/**
 * Report attachment bytes -> report JSON bytes, by what the bytes are (magic numbers), not by what the
 * part was labelled: senders label plain JSON as gzip (quirk 18) and zip files as anything (quirk 19).
 *
 * Every inflate has a ceiling on its output (`maxBytes`): a gzip of a few KB can inflate to gigabytes, and
 * the output is counted chunk by chunk so a bomb is refused after at most one extra 64 KiB chunk.
 */
import { gunzipSync } from 'node:zlib';
import { Inflate } from 'pako';
import yauzl from 'yauzl';
import { ReportInputError } from '../errors.js';

export type Compression = 'gzip' | 'zlib' | 'zip' | 'none';

export interface DecompressedReport {
  json: Buffer;
  compression: Compression;
  /** Names of the transport fix-ups applied (README "Fix-ups"). */
  fixups: string[];
}

const GZIP_MAGIC = [0x1f, 0x8b];
const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];

export function sniffCompression(bytes: Uint8Array): Compression | 'unknown' {
  if (startsWith(bytes, GZIP_MAGIC)) return 'gzip';
  if (startsWith(bytes, ZIP_MAGIC)) return 'zip';
  // zlib header: CM=8 in the low nibble and a header checksum divisible by 31 (RFC 1950 2.2).
  if (bytes.length >= 2 && (bytes[0]! & 0x0f) === 8 && ((bytes[0]! << 8) | bytes[1]!) % 31 === 0) return 'zlib';
  if (looksLikeJson(bytes)) return 'none';
  return 'unknown';
}

/** First non-blank byte is "{" (after an optional UTF-8 byte order mark). */
export function looksLikeJson(bytes: Uint8Array): boolean {
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a || bytes[i] === 0x0d)) i++;
  return bytes[i] === 0x7b;
}

export async function decompressReport(bytes: Buffer, maxBytes: number): Promise<DecompressedReport> {
  const kind = sniffCompression(bytes);
  switch (kind) {
    case 'none':
      if (bytes.length > maxBytes) {
        throw new ReportInputError(
          'decompression-limit',
          `the report is ${bytes.length} bytes, over the ${maxBytes}-byte ceiling (REPORT_MAX_BYTES)`,
        );
      }
      return { json: bytes, compression: 'none', fixups: [] };
    case 'gzip':
      return gunzipAll(bytes, maxBytes);
    case 'zlib':
      return { json: inflateOne(bytes, maxBytes, 'zlib'), compression: 'zlib', fixups: [] };
    case 'zip':
      return unzipReport(bytes, maxBytes);
    default:
      throw new ReportInputError(
        'unsupported-compression',
        `the report attachment is neither JSON, gzip, zlib nor zip (first bytes ${hex(bytes.subarray(0, 8))})`,
      );
  }
}

/**
 * pako joins gzip members back to back (RFC 1952 2.2) as `gzip -d` does. Bytes after the last member that
 * are not another member (Mimecast appends CRLF, quirk 17) make pako fail on a "next header"; in that case
 * only, retry without up to TRAILING_BYTES_TOLERATED trailing bytes, and record the fix-up.
 */
const TRAILING_BYTES_TOLERATED = 64;

function gunzipAll(bytes: Buffer, maxBytes: number): DecompressedReport {
  const native = nativeGunzip(bytes, maxBytes);
  if (native) return { json: native, compression: 'gzip', fixups: [] };
  try {
    return { json: inflateOne(bytes, maxBytes, 'gzip'), compression: 'gzip', fixups: [] };
  } catch (err) {
    if (!(err instanceof ReportInputError) || !/incorrect header check|unknown compression method|invalid/.test(err.detail)) throw err;
    for (let cut = 1; cut <= Math.min(TRAILING_BYTES_TOLERATED, bytes.length - 18); cut++) {
      try {
        const json = inflateOne(bytes.subarray(0, bytes.length - cut), maxBytes, 'gzip');
        return { json, compression: 'gzip', fixups: ['gzip-trailing-bytes'] };
      } catch (retryErr) {
        if (retryErr instanceof ReportInputError && retryErr.reason === 'decompression-limit') throw retryErr;
      }
    }
    throw err;
  }
}

/**
 * Node's own gunzip (native zlib, a fraction of pako's CPU) for the common case: the bytes are gzip that
 * ends where they end, and inflates within the ceiling (maxOutputLength stops it there). Anything else
 * returns null and takes pako's counted inflate above, which decides and words every error and fix-up as
 * before: corruption, truncation, a bomb, and bytes after the last member (Node would ignore those
 * silently, so they are detected here by the size field).
 */
function nativeGunzip(bytes: Buffer, maxBytes: number): Buffer | null {
  let out: Buffer;
  try {
    out = gunzipSync(bytes, { maxOutputLength: Math.max(1, maxBytes) });
  } catch {
    return null; // pako's pass names what is wrong
  }
  // ISIZE (RFC 1952 2.3.1): the last four bytes hold the size of the last member's output, mod 2^32. With
  // bytes after the member they hold something else. (Several members inflate alike on both paths.)
  if (bytes.length < 18 || bytes.readUInt32LE(bytes.length - 4) !== out.length % 2 ** 32) return null;
  return out;
}

class CeilingExceeded extends Error {}

const Z_BUF_ERROR = -5;

/** Inflates a gzip (all members) or zlib stream under the output ceiling. */
function inflateOne(input: Uint8Array, maxBytes: number, kind: 'gzip' | 'zlib'): Buffer {
  return inflateWithCeiling(input, maxBytes, { raw: false, what: `${kind} stream`, corrupt: 'gzip-corrupt' });
}

/**
 * The one counted inflate every format goes through: output is counted chunk by chunk (at most 64 KiB) and
 * the inflate is abandoned as soon as it passes `maxBytes`.
 */
function inflateWithCeiling(
  input: Uint8Array,
  maxBytes: number,
  o: { raw: boolean; what: string; corrupt: 'gzip-corrupt' | 'zip-corrupt' },
): Buffer {
  // Output chunks sized to the input (reports inflate about 10-20x): a typical 1 KiB report then costs
  // one 16 KiB buffer instead of a zero-filled 64 KiB one.
  const chunkSize = Math.min(64 * 1024, Math.max(16 * 1024, input.length * 16));
  const inflator = new Inflate({ raw: o.raw, chunkSize });
  const chunks: Buffer[] = [];
  let size = 0;
  inflator.onData = (chunk) => {
    size += chunk.length;
    if (size > maxBytes) throw new CeilingExceeded();
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
  };
  inflator.onEnd = () => {
    // Nothing to do: onData above keeps the chunks, and pako's default would join its own, empty, list.
  };
  try {
    inflator.push(input, true);
  } catch (err) {
    if (err instanceof CeilingExceeded) {
      throw new ReportInputError(
        'decompression-limit',
        `${o.what} inflates past the ${maxBytes}-byte ceiling (REPORT_MAX_BYTES) from ${input.length} compressed bytes`,
      );
    }
    throw new ReportInputError(o.corrupt, `${o.what} is corrupt: ${(err as Error).message}`, { cause: err });
  }
  if (inflator.err === Z_BUF_ERROR || (!inflator.err && !inflator.ended)) {
    throw new ReportInputError(
      o.corrupt,
      `${o.what} is truncated: it ends after ${input.length} bytes without its end marker (${size} bytes recovered)`,
    );
  }
  if (inflator.err) {
    throw new ReportInputError(o.corrupt, `${o.what} is corrupt: ${inflator.msg || `zlib error ${inflator.err}`}`);
  }
  return Buffer.concat(chunks, size);
}

/**
 * Zip is not allowed by RFC 8460 5.1 but is accepted defensively (quirk 19): yauzl reads the container,
 * and the member's deflate data goes through the same counted inflate as gzip.
 */
async function unzipReport(bytes: Buffer, maxBytes: number): Promise<DecompressedReport> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.fromBufferPromise(bytes, { lazyEntries: true, validateEntrySizes: false });
  } catch (err) {
    throw new ReportInputError('zip-corrupt', `zip archive is corrupt: ${(err as Error).message}`, { cause: err });
  }
  try {
    const entries: yauzl.Entry[] = [];
    for await (const entry of zip.eachEntry()) entries.push(entry);
    const candidates = entries.filter((e) => !e.fileName.endsWith('/'));
    const entry = candidates.find((e) => /\.json(\.gz)?$/i.test(e.fileName)) ?? (candidates.length === 1 ? candidates[0] : undefined);
    if (!entry) {
      throw new ReportInputError(
        'zip-corrupt',
        `zip archive holds no .json member (members: ${candidates.map((e) => e.fileName).join(', ') || 'none'})`,
      );
    }
    if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
      throw new ReportInputError(
        'unsupported-compression',
        `zip member ${entry.fileName} uses compression method ${entry.compressionMethod}; only stored and deflate are read`,
      );
    }
    if (entry.compressedSize > bytes.length)
      throw new ReportInputError('zip-corrupt', `zip member ${entry.fileName} claims more bytes than the archive has`);
    // decodeFileData: false hands us the member's raw deflate bytes, to inflate under our own ceiling.
    const stream = await zip.openReadStreamPromise(entry, { decodeFileData: false });
    const raw = await readAll(stream, entry.compressionMethod === 0 ? maxBytes : bytes.length);
    let json: Buffer;
    if (entry.compressionMethod === 0) json = raw;
    else json = inflateWithCeiling(raw, maxBytes, { raw: true, what: `zip member ${entry.fileName}`, corrupt: 'zip-corrupt' });
    const fixups = ['zip-attachment'];
    // A zip holding a .json.gz: unwrap the inner gzip too.
    if (startsWith(json, GZIP_MAGIC)) {
      const inner = gunzipAll(json, maxBytes);
      json = inner.json;
      fixups.push(...inner.fixups);
    }
    return { json, compression: 'zip', fixups };
  } catch (err) {
    if (err instanceof ReportInputError) throw err;
    throw new ReportInputError('zip-corrupt', `zip archive is corrupt: ${(err as Error).message}`, { cause: err });
  } finally {
    zip.close();
  }
}

async function readAll(stream: NodeJS.ReadableStream, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > maxBytes)
      throw new ReportInputError('decompression-limit', `zip member is larger than the ${maxBytes}-byte ceiling (REPORT_MAX_BYTES)`);
    chunks.push(b);
  }
  return Buffer.concat(chunks, size);
}

function startsWith(bytes: Uint8Array, magic: number[]): boolean {
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').replace(/(..)/g, '$1 ').trim();
}
