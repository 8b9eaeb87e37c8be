/**
 * An mbox file -> the messages it holds, byte for byte as they were before they were appended, read as a
 * stream of Buffers: memory holds one message at a time (at most MAX_MESSAGE_SIZE of it), never the file,
 * so a 5 GB Google Takeout export is read in the same few megabytes as a small one.
 *
 * Format (RFC 4155, the application/mbox registration): each message starts with a "From " separator line
 * ("From sender@example.com Mon Nov 13 00:00:00 2023") at the start of the file or after an empty line, and
 * a writer ends each message with an empty line. Body lines that would look like a separator were escaped
 * by prefixing ">". The mboxrd convention (prefix one ">" to any line matching /^>*From /) is undone by
 * removing one ">"; it also reads mboxo files correctly, except for bodies that really began with ">From ",
 * which mboxo cannot tell apart and no TLS report mail contains (the report itself is base64 or JSON).
 *
 * Everything is bytes: separators are found with Buffer.indexOf across chunk boundaries, so 8-bit content
 * passes through unchanged and no file-sized string is ever built. An empty line is "\n" or "\r\n" (a CRLF
 * file keeps its CRs in each message).
 */
import { createReadStream } from 'node:fs';

export interface MboxMessage {
  /** 1-based position in the file, for messages a person can find again. */
  index: number;
  /** The separator line without its line ending: who and when, per the writer. */
  separator: string;
  /** The message's bytes; null when it is larger than the ceiling given to the splitter (then not kept). */
  raw: Buffer | null;
  /** Its size: of `raw`, or for one too large to keep, its bytes in the file (escapes included). */
  size: number;
  /** Bytes of the file read up to the end of this message: how far a backfill has got. */
  endOffset: number;
}

const LF = 0x0a;
const CR = 0x0d;
/** A separator is "From " at the start of a line: found as "\nFrom " (the file's start counts as after "\n\n"). */
const SEPARATOR = Buffer.from('\nFrom ', 'latin1');
/** A separator may straddle two chunks: these last bytes of a chunk wait for the next one (with the CR before it). */
const KEEP = SEPARATOR.length;
/** RFC 5322 2.1.1: a line is at most 998 characters; a longer separator line is kept only this far. */
const SEPARATOR_LINE_MAX = 1000;
const FROM_SPACE = Buffer.from('From ', 'latin1');

/** True when the bytes begin like an mbox file (a "From " separator line; "From:" is a mail header). */
export function looksLikeMbox(head: Uint8Array): boolean {
  return Buffer.from(head.subarray(0, 5)).toString('latin1') === 'From ';
}

export interface MboxSplitter {
  /** The next bytes of the file -> the messages they completed. */
  push(chunk: Buffer): MboxMessage[];
  /** The end of the file -> the last message, if any. */
  end(): MboxMessage[];
}

/**
 * A splitter fed chunk by chunk (pure: no I/O). Messages larger than `maxMessageBytes` come out with
 * `raw: null` and their size, so the caller can report them; their bytes are not kept while they stream by.
 */
export function createMboxSplitter(maxMessageBytes = Number.POSITIVE_INFINITY): MboxSplitter {
  // Bytes of the previous chunk not yet assigned to a message (a separator may begin in them), and the two
  // bytes before them, for the empty-line check. The start of the file counts as following an empty line:
  // a virtual "\n\n" before its first byte (so offset, the file position of tail[0], starts at -1).
  let tail: Buffer = Buffer.from([LF]);
  let prev1 = LF;
  let prev2 = LF;
  let offset = -1;
  let index = 0;
  let current: { separator: string; parts: Buffer[]; size: number; tooLarge: boolean } | null = null;
  let separatorLine: { parts: Buffer[]; size: number } | null = null;
  let out: MboxMessage[] = [];

  const take = (buf: Buffer, from: number, to: number) => {
    if (!current || to <= from) return;
    current.size += to - from;
    if (current.tooLarge) return;
    if (current.size > maxMessageBytes) {
      current.tooLarge = true;
      current.parts = [];
      return;
    }
    current.parts.push(buf.subarray(from, to));
  };

  const finish = (endOffset: number, atEnd: boolean) => {
    if (!current) return;
    const { separator, tooLarge, size } = current;
    const raw = tooLarge ? null : unescapeFromLines(atEnd ? closeLastMessage(Buffer.concat(current.parts)) : Buffer.concat(current.parts));
    out.push({ index, separator, raw, size: raw ? raw.length : size, endOffset });
    current = null;
  };

  const process = (buf: Buffer, atEnd: boolean) => {
    const at = (k: number) => (k >= 0 ? buf[k]! : k === -1 ? prev1 : prev2);
    let i = 0; // the first byte not yet assigned to a message or a separator line
    let search = 0;
    for (;;) {
      if (separatorLine) {
        const nl = buf.indexOf(LF, i);
        const lineEnd = nl < 0 ? buf.length : nl;
        const room = SEPARATOR_LINE_MAX - separatorLine.size;
        if (room > 0) {
          const piece = buf.subarray(i, Math.min(lineEnd, i + room));
          separatorLine.parts.push(piece);
          separatorLine.size += piece.length;
        }
        if (nl < 0 && !atEnd) {
          i = buf.length;
          break;
        }
        index++;
        const text = Buffer.concat(separatorLine.parts).toString('latin1').replace(/\r$/, '');
        current = { separator: text, parts: [], size: 0, tooLarge: false };
        separatorLine = null;
        i = search = nl < 0 ? buf.length : nl + 1;
        continue;
      }
      const p = buf.indexOf(SEPARATOR, search);
      if (p < 0) break;
      // The line before must be empty: "\n" or "\r\n" (its own line break is the "\n" at p).
      const blank = at(p - 1) === LF ? 0 : at(p - 1) === CR && at(p - 2) === LF ? 1 : -1;
      if (blank < 0) {
        search = p + 1;
        continue;
      }
      // The empty line the writer added before the separator is not part of the message.
      take(buf, i, Math.max(i, p - blank));
      finish(offset + p, false);
      separatorLine = { parts: [], size: 0 };
      i = p + 1;
    }
    if (atEnd) {
      take(buf, i, buf.length);
      finish(offset + buf.length, true);
      return;
    }
    const keepFrom = Math.max(i, buf.length - KEEP);
    take(buf, i, keepFrom);
    prev1 = at(keepFrom - 1);
    prev2 = at(keepFrom - 2);
    offset += keepFrom;
    // A copy: the chunk it came from need not stay in memory for these few bytes.
    tail = Buffer.from(buf.subarray(keepFrom));
  };

  const drain = () => {
    const done = out;
    out = [];
    return done;
  };

  return {
    push(chunk) {
      process(tail.length ? Buffer.concat([tail, chunk]) : chunk, false);
      return drain();
    },
    end() {
      process(tail, true);
      tail = Buffer.alloc(0);
      return drain();
    },
  };
}

/** The messages of an mbox read as a stream of chunks (a file stream, or any iterable of Buffers). */
export async function* splitMbox(
  chunks: AsyncIterable<Buffer> | Iterable<Buffer>,
  maxMessageBytes = Number.POSITIVE_INFINITY,
): AsyncGenerator<MboxMessage> {
  const splitter = createMboxSplitter(maxMessageBytes);
  for await (const chunk of chunks) yield* splitter.push(chunk);
  yield* splitter.end();
}

/** Chunks of 1 MiB: few enough calls per gigabyte, small beside the messages in hand. */
const READ_CHUNK_BYTES = 1 << 20;

/** The messages of an mbox file, streamed (see splitMbox). */
export function readMboxFile(path: string, maxMessageBytes = Number.POSITIVE_INFINITY): AsyncGenerator<MboxMessage> {
  return splitMbox(createReadStream(path, { highWaterMark: READ_CHUNK_BYTES }) as AsyncIterable<Buffer>, maxMessageBytes);
}

/**
 * The last message of the file: it keeps the line break that ended its last line (one is added when the
 * file ends without one), and a final empty line, which the writer adds after every message, is dropped.
 */
function closeLastMessage(raw: Buffer): Buffer {
  if (raw.length === 0) return raw;
  const ended = raw[raw.length - 1] === LF ? raw : Buffer.concat([raw, Buffer.from([LF])]);
  const n = ended.length;
  if (n === 1 || ended[n - 2] === LF) return ended.subarray(0, n - 1); // last line ""
  if (ended[n - 2] === CR && (n === 2 || ended[n - 3] === LF)) return ended.subarray(0, n - 2); // last line "\r"
  return ended;
}

/** mboxrd: one ">" is removed from every line matching /^>+From /. Most messages have none: returned as is. */
export function unescapeFromLines(raw: Buffer): Buffer {
  const cuts: number[] = [];
  const escapedAt = (s: number) => {
    let j = s;
    while (raw[j] === 0x3e) j++; // ">"
    return j > s && raw.subarray(j, j + FROM_SPACE.length).equals(FROM_SPACE);
  };
  if (escapedAt(0)) cuts.push(0);
  for (let p = raw.indexOf('\n>', 0, 'latin1'); p >= 0; p = raw.indexOf('\n>', p + 1, 'latin1')) {
    if (escapedAt(p + 1)) cuts.push(p + 1);
  }
  if (cuts.length === 0) return raw;
  const parts: Buffer[] = [];
  let from = 0;
  for (const c of cuts) {
    parts.push(raw.subarray(from, c));
    from = c + 1;
  }
  parts.push(raw.subarray(from));
  return Buffer.concat(parts);
}
