/**
 * Builds report mails the way RFC 8460 section 5.3 describes them (multipart/report; report-type=tlsrpt,
 * a human-readable part, and the report as application/tlsrpt+gzip or +json), for fixtures and benchmarks.
 */
import { gzipSync } from 'node:zlib';

export interface ReportMailOptions {
  /** The report: an object (serialised) or the exact bytes to attach. */
  report: unknown;
  /** gzip the report (default) or attach it as plain JSON. */
  gzip?: boolean;
  /** Attach these bytes instead of the (gzipped) report: for broken attachments. */
  attachment?: Buffer;
  contentType?: string;
  filename?: string;
  policyDomain?: string;
  submitter?: string;
  reportId?: string;
  messageId?: string;
}

export function buildReportMail(o: ReportMailOptions): Buffer {
  const json = Buffer.isBuffer(o.report) ? o.report : Buffer.from(JSON.stringify(o.report));
  const gzip = o.gzip ?? true;
  const bytes = o.attachment ?? (gzip ? gzipSync(json) : json);
  const domain = o.policyDomain ?? 'example.com';
  const submitter = o.submitter ?? 'mail.sender.example';
  const reportId = o.reportId ?? `${Date.now()}.${Math.random().toString(36).slice(2)}@${submitter}`;
  const contentType = o.contentType ?? (gzip ? 'application/tlsrpt+gzip' : 'application/tlsrpt+json');
  const filename = o.filename ?? `${submitter}!${domain}!1700000000!1700086399.json${gzip ? '.gz' : ''}`;
  const boundary = `----=_boundary_${Math.random().toString(36).slice(2)}`;
  const body64 = bytes.toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    [
      `From: tls-reporting@${submitter}`,
      `Date: Mon, 13 Nov 2023 00:00:00 +0000`,
      `Subject: Report Domain: ${domain} Submitter: ${submitter} Report-ID: <${reportId}>`,
      `TLS-Report-Domain: ${domain}`,
      `TLS-Report-Submitter: ${submitter}`,
      `To: <tlsrpt@reports.example.com>`,
      `Message-ID: <${o.messageId ?? reportId}>`,
      `MIME-Version: 1.0`,
      `Content-Type: multipart/report; report-type="tlsrpt"; boundary="${boundary}"`,
      ``,
      `--${boundary}`,
      `Content-Type: text/plain; charset="us-ascii"`,
      ``,
      `This is an aggregate TLS report from ${submitter}`,
      ``,
      `--${boundary}`,
      `Content-Type: ${contentType}`,
      `Content-Transfer-Encoding: base64`,
      `Content-Disposition: attachment; filename="${filename}"`,
      ``,
      body64,
      `--${boundary}--`,
      ``,
    ].join('\r\n'),
  );
}
