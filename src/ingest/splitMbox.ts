/**
 * An mbox file -> the messages it holds, byte for byte as they were before they were appended.
 *
 * Format (RFC 4155, the application/mbox registration): each message starts with a "From " separator line
 * ("From sender@example.com Mon Nov 13 00:00:00 2023") at the start of the file or after an empty line, and
 * a writer ends each message with an empty line. Body lines that would look like a separator were escaped
 * by prefixing ">". The mboxrd convention (prefix one ">" to any line matching /^>*From /) is undone by
 * removing one ">"; it also reads mboxo files correctly, except for bodies that really began with ">From ",
 * which mboxo cannot tell apart and no TLS report mail contains (the report itself is base64 or JSON).
 *
 * Bytes are handled as latin1 strings so that 8-bit content passes through unchanged.
 */

export interface MboxMessage {
  /** 1-based position in the file, for messages a person can find again. */
  index: number;
  /** The separator line without its line ending: who and when, per the writer. */
  separator: string;
  raw: Buffer;
}

const SEPARATOR = /^From /;
const ESCAPED = /^>+From /;

/** True when the bytes begin like an mbox file (a "From " separator line; "From:" is a mail header). */
export function looksLikeMbox(head: Uint8Array): boolean {
  return Buffer.from(head.subarray(0, 5)).toString('latin1') === 'From ';
}

export function splitMbox(data: Buffer): MboxMessage[] {
  const text = data.toString('latin1');
  const messages: MboxMessage[] = [];
  let current: { separator: string; lines: string[] } | null = null;
  let previousBlank = true; // the start of the file counts as following an empty line

  const finish = () => {
    if (!current) return;
    const lines = current.lines;
    // The empty line the writer added before the next separator (or at the end of the file) is not part of
    // the message. A CRLF file leaves "\r" as that line's content.
    if (lines.length > 0 && (lines[lines.length - 1] === '' || lines[lines.length - 1] === '\r')) lines.pop();
    messages.push({ index: messages.length + 1, separator: current.separator, raw: Buffer.from(lines.join('\n'), 'latin1') });
  };

  // Splitting on "\n" keeps any "\r" at the ends of lines, so CRLF messages come back as CRLF.
  const lines = text.split('\n');
  // A file that ends with a line break yields one empty string after it, which is not a line.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();

  for (const line of lines) {
    if (previousBlank && SEPARATOR.test(line)) {
      finish();
      current = { separator: line.replace(/\r$/, ''), lines: [] };
      previousBlank = false;
      continue;
    }
    const blank = line === '' || line === '\r';
    if (current) current.lines.push(ESCAPED.test(line) ? line.slice(1) : line);
    previousBlank = blank;
  }
  finish();
  // Each message keeps the line break that ended its last line.
  for (const m of messages) {
    if (m.raw.length > 0) m.raw = Buffer.concat([m.raw, Buffer.from('\n')]);
  }
  return messages;
}
