/**
 * A stored message (MIME mail, or a bare report body from HTTPS POST or a .json/.json.gz file) -> the bytes
 * of the report it carries, plus the RFC 8460 5.3 facts the mail states about it.
 *
 * The report part is found by media type (RFC 8460 5.3: application/tlsrpt+gzip or +json), then by file
 * name (RFC 8460 5.1: sender!policy-domain!begin!end[!id].json[.gz]), then by content sniffing, because real
 * senders mislabel parts (application/tlsrpt, application/octet-stream, application/gzip).
 */
import { simpleParser, type Attachment, type ParsedMail } from 'mailparser';
import { ReportInputError } from '../errors.js';
import { looksLikeJson, sniffCompression } from '../decompress/decompressReport.js';

export interface ReportPart {
  bytes: Buffer;
  /** Media type as labelled by the sender (null for a bare body). */
  contentType: string | null;
  filename: string | null;
  /** How the part was recognised. */
  foundBy: 'media-type' | 'filename' | 'sniffed' | 'bare-body';
  mail: MailFacts;
  fixups: string[];
}

/** What the envelope mail says about the report (RFC 8460 5.3). All null for a bare body. */
export interface MailFacts {
  tlsReportDomain: string | null;
  tlsReportSubmitter: string | null;
  /** Report-ID from the Subject; Google's differs from the JSON report-id, so both are kept. */
  subjectReportId: string | null;
  from: string | null;
  subject: string | null;
  messageId: string | null;
}

const NO_MAIL: MailFacts = {
  tlsReportDomain: null,
  tlsReportSubmitter: null,
  subjectReportId: null,
  from: null,
  subject: null,
  messageId: null,
};

const REPORT_MEDIA_TYPES = new Set(['application/tlsrpt+gzip', 'application/tlsrpt+json']);
/** Labels real senders put on report parts (quirks 18, 19, sample stalwart rpt02). */
const MISLABELLED_MEDIA_TYPES = new Set([
  'application/tlsrpt',
  'application/gzip',
  'application/x-gzip',
  'application/json',
  'application/zip',
  'application/x-zip-compressed',
  'application/octet-stream',
]);
/** RFC 8460 5.1 file name, loosened: the unique-id is optional, and .zip is seen in the wild. */
const REPORT_FILENAME = /^[^!]+![^!]+![0-9]+![0-9]+(![^!]*)?\.json(\.gz)?$|\.json(\.gz|\.zip)?$|\.zip$/i;
const NOT_A_REPORT_FILENAME = /\.xml(\.gz|\.zip)?$/i; // DMARC aggregate reports sent to the wrong address

export async function extractReportPart(raw: Buffer): Promise<ReportPart> {
  // HTTPS POST bodies and backfilled .json/.json.gz files are stored as they are, not as mail.
  const kind = sniffCompression(raw);
  if (kind === 'gzip' || kind === 'zip' || kind === 'zlib' || (kind === 'none' && looksLikeJson(raw))) {
    return { bytes: raw, contentType: null, filename: null, foundBy: 'bare-body', mail: NO_MAIL, fixups: [] };
  }

  let mail: ParsedMail;
  try {
    mail = await simpleParser(raw, {
      skipHtmlToText: true,
      skipTextToHtml: true,
      skipTextLinks: true,
      skipImageLinks: true,
      maxHtmlLengthToParse: 0,
      // No MD5 of every part: nothing reads it (the report's own SHA-256 is taken after decompression),
      // and it costs CPU for every part of every mail.
      checksumAlgo: false,
    });
  } catch (err) {
    throw new ReportInputError('mime-malformed', `the message could not be parsed as MIME: ${(err as Error).message}`, { cause: err });
  }
  const facts = mailFacts(mail);
  const fixups: string[] = [];

  const attachments = mail.attachments ?? [];
  const byType = attachments.find((a) => REPORT_MEDIA_TYPES.has(a.contentType.toLowerCase()));
  if (byType) return part(byType, 'media-type', facts, fixups);

  const byName = attachments.find((a) => a.filename && REPORT_FILENAME.test(a.filename) && !NOT_A_REPORT_FILENAME.test(a.filename));
  if (byName) {
    fixups.push('report-part-mislabelled');
    return part(byName, 'filename', facts, fixups);
  }

  const sniffed = attachments.find(
    (a) =>
      !(a.filename && NOT_A_REPORT_FILENAME.test(a.filename)) &&
      (MISLABELLED_MEDIA_TYPES.has(a.contentType.toLowerCase()) || a.contentType.startsWith('application/')) &&
      looksLikeReportBytes(a.content),
  );
  if (sniffed) {
    fixups.push('report-part-mislabelled');
    return part(sniffed, 'sniffed', facts, fixups);
  }

  // A report pasted into the body of a plain mail.
  if (typeof mail.text === 'string' && looksLikeJson(Buffer.from(mail.text)) && mail.text.includes('"policies"')) {
    fixups.push('report-in-mail-body');
    return { bytes: Buffer.from(mail.text.trim()), contentType: 'text/plain', filename: null, foundBy: 'sniffed', mail: facts, fixups };
  }

  const seen = attachments.map((a) => `${a.contentType}${a.filename ? ` "${a.filename}"` : ''}`);
  throw new ReportInputError(
    'not-a-tls-report',
    `no TLS report part in the mail (subject ${JSON.stringify(facts.subject ?? '')}; ` +
      (seen.length ? `attachments: ${seen.join(', ')})` : 'no attachments)'),
  );
}

function part(a: Attachment, foundBy: ReportPart['foundBy'], mail: MailFacts, fixups: string[]): ReportPart {
  return { bytes: a.content, contentType: a.contentType.toLowerCase(), filename: a.filename ?? null, foundBy, mail, fixups };
}

function looksLikeReportBytes(b: Buffer): boolean {
  const k = sniffCompression(b);
  return k === 'gzip' || k === 'zip' || (k === 'none' && b.includes('"organization-name"'));
}

function mailFacts(mail: ParsedMail): MailFacts {
  const header = (name: string): string | null => {
    const v = mail.headers.get(name);
    if (typeof v === 'string') return v.trim() || null;
    return null;
  };
  const subject = mail.subject ?? null;
  // RFC 8460 5.3: "Report-ID: <id>"; Microsoft leaves out the angle brackets (quirk 15).
  const m = subject ? /Report-ID:\s*<?([^<>\s]+)>?/i.exec(subject) : null;
  return {
    tlsReportDomain: header('tls-report-domain')?.toLowerCase() ?? null,
    tlsReportSubmitter: header('tls-report-submitter'),
    subjectReportId: m?.[1] ?? null,
    from: mail.from?.value?.[0]?.address?.toLowerCase() ?? null,
    subject,
    messageId: mail.messageId ?? null,
  };
}
