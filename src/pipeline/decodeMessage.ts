/**
 * Raw stored bytes -> a validated report, through every pure stage:
 * MIME (find the report part) -> decompress (with ceiling) -> JSON -> normalise (named fix-ups) -> schema.
 * No I/O: the same function serves the worker, `tlsrpt reprocess` and the per-stage benchmark.
 */
import { createHash } from 'node:crypto';
import type { MessageAuthentication } from '../auth/verifyDkim.js';
import { decompressReport } from '../decompress/decompressReport.js';
import { extractReportPart, type MailFacts, type ReportPart } from '../parse/extractReportPart.js';
import { normaliseReport } from '../validate/normaliseReport.js';
import { parseReportJson } from '../validate/parseReportJson.js';
import { toTlsReport, type TlsReport, type WireReport } from '../validate/reportTypes.js';
import { validateReport } from '../validate/validateReport.js';
import type { MemoryLease } from './memoryBudget.js';

export interface DecodedReport {
  report: TlsReport;
  /** The report after fix-ups, as stored in reports.report_json. */
  normalised: WireReport;
  /** SHA-256 of the report JSON as received: equal for a re-delivery, different for a conflicting report. */
  payloadSha256: Buffer;
  fixups: string[];
  mail: MailFacts;
  filename: string | null;
  /** The input is a bare report (an HTTPS POST body, a backfilled .json/.json.gz file), not a mail. */
  bareBody: boolean;
  /**
   * What this copy proved about its sender: set by the authentication step that follows decoding
   * (src/auth/authenticateMessage.ts, I/O), never by decodeMessage. Absent: not verified.
   */
  authentication?: MessageAuthentication | null;
}

export interface DecodeOptions {
  /** Ceiling on decompressed bytes (REPORT_MAX_BYTES). */
  reportMaxBytes: number;
  /** The worker's memory budget for this message: reserved before inflating, corrected after (memoryBudget.ts). */
  memory?: Pick<MemoryLease, 'beforeDecompress' | 'afterDecompress'>;
}

export async function decodeMessage(raw: Buffer, options: DecodeOptions): Promise<DecodedReport> {
  const part = await extractReportPart(raw);
  const { normalised, payloadSha256, fixups } = await readReport(part, options);
  validateReport(normalised);
  return {
    report: toTlsReport(normalised),
    normalised,
    payloadSha256,
    fixups,
    mail: part.mail,
    filename: part.filename,
    bareBody: part.foundBy === 'bare-body',
  };
}

/**
 * Decompress -> JSON -> fix-ups. A function of its own so that the decompressed bytes and the parsed value
 * are unreachable once it returns: for a report with 100,000 failure details each full copy costs tens of
 * MB, and only the normalised one (normalised in place) is needed from here on.
 */
async function readReport(
  part: ReportPart,
  options: DecodeOptions,
): Promise<{ normalised: unknown; payloadSha256: Buffer; fixups: string[] }> {
  await options.memory?.beforeDecompress(part.bytes);
  const { json, compression, fixups: decompressFixups } = await decompressReport(part.bytes, options.reportMaxBytes);
  await options.memory?.afterDecompress(json.length);
  const fixups = [...part.fixups, ...decompressFixups];
  if (compression === 'none' && part.contentType !== null && /gzip/.test(part.contentType)) {
    fixups.push('plain-json-labelled-gzip');
  }
  const payloadSha256 = createHash('sha256').update(json).digest();
  const normalised = normaliseReport(
    parseReportJson(json),
    { tlsReportDomain: part.mail.tlsReportDomain, filename: part.filename },
    { inPlace: true },
  );
  return { normalised: normalised.report, payloadSha256, fixups: [...new Set([...fixups, ...normalised.fixups])] };
}
