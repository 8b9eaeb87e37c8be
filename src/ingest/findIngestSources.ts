/**
 * The paths given to `tlsrpt ingest` -> the files to read, each marked as one message or an mbox.
 *
 * - A file named on the command line is always read: as an mbox when it starts with a "From " line,
 *   otherwise as one message (mail, or a bare .json/.json.gz report, which the pipeline recognises).
 * - A Maildir (a directory with cur/ or new/) contributes every file in cur/ and new/; tmp/ holds mail
 *   still being delivered and is left alone (the Maildir specification).
 * - Any other directory is walked recursively, in name order. Its files are read when their name says what
 *   they are (.eml, .json, .json.gz, .gz, .zip, .mbox, .mbx) or, with no extension, when their first bytes
 *   look like mail, an mbox or a report; anything else (notes, .txt, .pdf) is listed as skipped. Hidden
 *   files and directories are skipped, except Maildir++ folders (".Sent", ".Reports"), which are Maildirs.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { sniffCompression } from '../decompress/decompressReport.js';
import { looksLikeMbox } from './splitMbox.js';

export type SourceKind = 'message' | 'mbox';

export interface IngestSource {
  path: string;
  kind: SourceKind;
}

export interface SkippedFile {
  path: string;
  why: string;
}

export interface FoundSources {
  sources: IngestSource[];
  skipped: SkippedFile[];
}

/** A path that does not exist or cannot be read: the command stops before storing anything. */
export class IngestPathError extends Error {
  override readonly name = 'IngestPathError';
  readonly reason = 'ingest-path-unreadable';
}

const MESSAGE_EXTENSIONS = /\.(eml|json|json\.gz|gz|zip)$/i;
const MBOX_EXTENSIONS = /\.(mbox|mbx)$/i;
const SNIFF_BYTES = 512;

export async function findIngestSources(paths: readonly string[]): Promise<FoundSources> {
  const found: FoundSources = { sources: [], skipped: [] };
  for (const path of paths) {
    const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
      throw new IngestPathError(`cannot read "${path}": ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`);
    });
    if (info.isDirectory()) await walkDirectory(path, found);
    else if (info.isFile()) found.sources.push({ path, kind: looksLikeMbox(await readHead(path)) ? 'mbox' : 'message' });
    else found.skipped.push({ path, why: 'not a regular file or directory' });
  }
  return found;
}

async function walkDirectory(dir: string, found: FoundSources): Promise<void> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const names = new Set(entries.filter((e) => e.isDirectory()).map((e) => e.name));
  if (names.has('cur') || names.has('new')) {
    await readMaildir(dir, found);
    // Maildir++ keeps sub-folders as hidden directories beside cur/new/tmp.
    for (const e of entries) {
      if (e.isDirectory() && e.name.startsWith('.') && (await isMaildir(join(dir, e.name)))) await readMaildir(join(dir, e.name), found);
    }
    return;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (!e.name.startsWith('.') || (await isMaildir(path))) await walkDirectory(path, found);
    } else if (e.isFile()) {
      if (e.name.startsWith('.')) continue;
      const kind = await classifyWalkedFile(path);
      if (kind) found.sources.push({ path, kind });
      else found.skipped.push({ path, why: 'not mail, an mbox or a report file' });
    }
  }
}

async function readMaildir(dir: string, found: FoundSources): Promise<void> {
  for (const sub of ['cur', 'new']) {
    const entries = await readdir(join(dir, sub), { withFileTypes: true }).catch(() => []);
    const files = entries
      .filter((e) => e.isFile() && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort();
    for (const name of files) found.sources.push({ path: join(dir, sub, name), kind: 'message' });
  }
}

async function isMaildir(dir: string): Promise<boolean> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.some((e) => e.isDirectory() && (e.name === 'cur' || e.name === 'new'));
}

async function classifyWalkedFile(path: string): Promise<SourceKind | null> {
  const name = basename(path);
  if (MBOX_EXTENSIONS.test(name)) return 'mbox';
  if (MESSAGE_EXTENSIONS.test(name)) return looksLikeMbox(await readHead(path)) ? 'mbox' : 'message';
  if (name.includes('.')) return null; // an extension that says it is something else
  return sniffKind(await readHead(path));
}

/** What the first bytes of a file without an extension say it is (mbox, mail, report), if anything. */
export function sniffKind(head: Buffer): SourceKind | null {
  if (looksLikeMbox(head)) return 'mbox';
  if (sniffCompression(head) !== 'unknown') return 'message';
  // RFC 5322 2.2: a header field name is printable ASCII except ":", followed by ":".
  return /^[\x21-\x39\x3b-\x7e]+:/.test(head.toString('latin1')) ? 'message' : null;
}

async function readHead(path: string): Promise<Buffer> {
  const fh = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
    throw new IngestPathError(`cannot read "${path}": ${err.message}`);
  });
  try {
    const buf = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await fh.read(buf, 0, SNIFF_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
