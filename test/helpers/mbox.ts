/**
 * Writes an mbox the way mboxrd writers do (RFC 4155): a "From " separator line per message, ">" prefixed to
 * body lines matching /^>*From /, and an empty line after each message. For building test inputs only.
 */
export function writeMboxrd(messages: readonly Buffer[], sender = 'MAILER-DAEMON', date = 'Mon Nov 13 00:00:00 2023'): Buffer {
  const parts: Buffer[] = [];
  for (const m of messages) {
    let text = m.toString('latin1');
    if (!text.endsWith('\n')) text += '\n';
    const escaped = text.replace(/^(>*From )/gm, '>$1');
    parts.push(Buffer.from(`From ${sender} ${date}\n${escaped}\n`, 'latin1'));
  }
  return Buffer.concat(parts);
}

/** CRLF -> LF, as mbox files store mail. */
export function toLf(b: Buffer): Buffer {
  return Buffer.from(b.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
}
