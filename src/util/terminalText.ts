/**
 * Text from reports (organization-name, report-id, host names, error details) comes from anyone who can
 * mail us. Printed raw on an operator's terminal, a CR or LF forges rows in a table, and an escape sequence
 * can move the cursor, retitle the window or hide text (issue 15 finding 5). Every table or plain-text output
 * of a value that did not come from us goes through terminalText, which shows such characters escaped.
 * JSON output needs nothing (JSON.stringify escapes them); CSV keeps them inside quoted fields (RFC 4180).
 */

/**
 * C0 controls, DEL, C1 controls, and the Unicode controls that reorder or hide text: bidirectional
 * embeddings, overrides and isolates (the "Trojan Source" characters), zero-width joiners and the like,
 * line and paragraph separators, and the byte order mark.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** "a\r\nb" -> "a\\r\\nb"; "\u001b[2J" -> "\\x1b[2J"; "\u202e" -> "\\u202e". Other text unchanged. */
export function terminalText(value: string): string {
  return value.replace(UNSAFE, (ch) => {
    const named = NAMED[ch];
    if (named) return named;
    const code = ch.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
