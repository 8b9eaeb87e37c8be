/**
 * Does a mail in the mailbox carry a TLS report? Decided by the pipeline's own rule (extractReportPart), so
 * that what `tlsrpt imap` leaves alone is exactly what the worker would quarantine as not-a-tls-report. A
 * report that is there but broken (corrupt gzip, invalid JSON) counts as a report: it is stored and
 * quarantined with its reason, where the administrator sees it.
 */
import { ReportInputError } from '../errors.js';
import { extractReportPart } from '../parse/extractReportPart.js';

export async function isReportMail(raw: Buffer): Promise<boolean> {
  try {
    await extractReportPart(raw);
    return true;
  } catch (err) {
    if (err instanceof ReportInputError) return err.reason !== 'not-a-tls-report';
    throw err;
  }
}
