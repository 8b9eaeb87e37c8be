/**
 * A stored message (MIME mail, or a bare report body from HTTPS POST or a .json/.json.gz file) -> the bytes
 * of the report it carries, plus the RFC 8460 5.3 facts the mail states about it.
 *
 * The report part is found by media type (RFC 8460 5.3: application/tlsrpt+gzip or +json), then by file
 * name (RFC 8460 5.1: sender!policy-domain!begin!end[!id].json[.gz]), then by content sniffing, because real
 * senders mislabel parts (application/tlsrpt, application/octet-stream, application/gzip).
 *
 * Two passes share mailparser's MIME reading (its splitter, mailsplit, and its header parsing): the first
 * finds a part labelled with a report media type, the way nearly every sender labels it, and decodes that
 * part's body only (no text of the human-readable part, no other attachment); a mail without such a part
 * goes through mailparser's whole parse, where the mislabelled parts are looked for. Both give the same
 * part and facts for a well-labelled mail (test/parse/reportPartFastPath.test.ts holds them to it over
 * every real sample).
 */
import mailsplit, { type MimeNode, type SplitterChunk } from '@zone-eu/mailsplit';
import type { Transform } from 'node:stream';
import { MailParser, simpleParser, type Attachment, type ParsedMail } from 'mailparser';
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

  const labelled = await findLabelledPart(raw);
  if (labelled) return labelled;
  return extractByFullParse(raw);
}

const PARSER_OPTIONS = {
  skipHtmlToText: true,
  skipTextToHtml: true,
  skipTextLinks: true,
  skipImageLinks: true,
  maxHtmlLengthToParse: 0,
  // No MD5 of every part: nothing reads it (the report's own SHA-256 is taken after decompression),
  // and it costs CPU for every part of every mail.
  checksumAlgo: false,
} as const;

/** The header fields of the mail that MailFacts reads, as mailparser's simpleParser presents them. */
type HeaderView = Pick<ParsedMail, 'headers' | 'subject' | 'from' | 'messageId'>;

/**
 * mailparser's own reading of a header block (decoded words, addresses, the first of a repeated single
 * header). Not part of its typed interface, so it is looked up once and used only when present: without it
 * every mail takes the whole parse.
 */
type ProcessHeaders = (lines: unknown) => ParsedMail['headers'];
const headerParser = new MailParser(PARSER_OPTIONS) as unknown as { processHeaders?: ProcessHeaders };
const processHeaders: ProcessHeaders | null =
  typeof headerParser.processHeaders === 'function' ? headerParser.processHeaders.bind(headerParser) : null;

/**
 * The first part labelled application/tlsrpt+gzip or +json, decoded, with the facts of the root headers; or
 * null when there is none (or anything about the mail is unusual: then the whole parse decides). Parts are
 * classed as mailparser classes them: every node that is not multipart and not an embedded message's
 * container is a part, in document order.
 */
interface Found {
  node: MimeNode;
  decoder: Transform;
  bytes: Promise<Buffer>;
}

async function findLabelledPart(raw: Buffer): Promise<ReportPart | null> {
  if (!processHeaders) return null;
  let root: MimeNode | null = null;
  let found: Found | null = null;
  const ok = await new Promise<boolean>((resolve) => {
    // The options mailparser gives its own splitter (none of them is the splitter's).
    const splitter = new mailsplit.Splitter({});
    const stream = splitter as unknown as Transform; // the typings declare only the 'data' event
    // A malformed mail is left to the whole parse, which names what is wrong with it (mime-malformed).
    stream.on('error', () => resolve(false));
    stream.on('end', () => resolve(true));
    splitter.on('data', (chunk: SplitterChunk) => {
      if (chunk.type === 'node') {
        if (chunk.root) root ??= chunk;
        if (found || chunk.multipart || (chunk.contentType === 'message/rfc822' && chunk.messageNode)) return;
        if (chunk.contentType && REPORT_MEDIA_TYPES.has(chunk.contentType)) {
          const decoder = chunk.getDecoder();
          found = { node: chunk, decoder, bytes: collect(decoder) };
        }
      } else if (chunk.type === 'body' && found && chunk.node === found.node) {
        found.decoder.write(chunk.value);
      }
    });
    stream.end(raw);
  });
  const hit = found as Found | null;
  if (!ok || !hit || !root) {
    hit?.decoder.end();
    await hit?.bytes.catch(() => null); // a decoder error here means only that the whole parse decides
    return null;
  }
  hit.decoder.end();
  const bytes = await hit.bytes.catch(() => null);
  if (!bytes) return null;
  const rootHeaders = (root as MimeNode).headers;
  if (!rootHeaders) return null;
  // Only the fields MailFacts reads: mailparser's reading of the others (Received, DKIM-Signature, ARC ...,
  // a dozen or more in a real report mail) was thrown away.
  const headers = processHeaders(rootHeaders.getList().filter((h: { key?: unknown }) => FACT_HEADERS.has(String(h.key))));
  const view: HeaderView = {
    headers,
    subject: headers.get('subject') as string | undefined,
    from: headers.get('from') as ParsedMail['from'],
    messageId: headers.get('message-id') as string | undefined,
  };
  const contentType = hit.node.contentType as string;
  return { bytes, contentType, filename: hit.node.filename || null, foundBy: 'media-type', mail: mailFacts(view), fixups: [] };
}

/** The root header fields mailFacts reads, as mailsplit keys them (lower case). */
const FACT_HEADERS = new Set(['subject', 'from', 'message-id', 'tls-report-domain', 'tls-report-submitter']);

function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/**
 * mailparser's whole parse: every attachment and the text, for the mislabelled and the pasted reports.
 * Exported for the test that holds the labelled-part pass to it.
 */
export async function extractByFullParse(raw: Buffer): Promise<ReportPart> {
  let mail: ParsedMail;
  try {
    mail = await simpleParser(raw, PARSER_OPTIONS);
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

function mailFacts(mail: HeaderView): MailFacts {
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
