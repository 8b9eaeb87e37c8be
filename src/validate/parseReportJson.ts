import { ReportInputError } from '../errors.js';

/** Report JSON bytes -> value. Strips a UTF-8 byte order mark, which JSON.parse refuses. */
export function parseReportJson(bytes: Buffer): unknown {
  let text = bytes.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const head = text.trimStart().slice(0, 64);
  if (/^<(\?xml|feedback)/i.test(head)) {
    // A DMARC aggregate report sent to the TLS-RPT address (quirk 25).
    throw new ReportInputError('not-a-tls-report', 'the attachment is XML (a DMARC aggregate report?), not a TLS report');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    const pos = /position (\d+)/.exec(msg);
    const where = pos ? ` near ${JSON.stringify(text.slice(Math.max(0, Number(pos[1]) - 20), Number(pos[1]) + 20))}` : '';
    throw new ReportInputError('json-invalid', `the report is not valid JSON: ${msg}${where}`, { cause: err });
  }
}
