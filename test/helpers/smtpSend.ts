import nodemailer from 'nodemailer';

export interface SendResult {
  ok: boolean;
  /** The server's reply, e.g. "250 2.0.0 OK queued as 12" or "550 5.1.1 ...". */
  response: string;
  code: number;
}

/** Sends raw bytes over real SMTP (nodemailer as the client, as an MTA would). */
export async function smtpSend(
  port: number,
  raw: Buffer | string,
  envelope: { from?: string; to?: string[] } = {},
  options: { starttls?: boolean } = {},
): Promise<SendResult> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: !options.starttls,
    requireTLS: Boolean(options.starttls),
    tls: { rejectUnauthorized: false },
  });
  try {
    const info = await transport.sendMail({
      envelope: { from: envelope.from ?? 'noreply-smtp-tls-reporting@google.com', to: envelope.to ?? ['tlsrpt@reports.example.com'] },
      raw,
    });
    return { ok: true, response: info.response, code: Number(info.response.slice(0, 3)) };
  } catch (err) {
    const e = err as { response?: string; responseCode?: number; message: string };
    return { ok: false, response: e.response ?? e.message, code: e.responseCode ?? 0 };
  } finally {
    transport.close();
  }
}

export function queuedId(response: string): number {
  const m = /queued as (\d+)/.exec(response);
  if (!m) throw new Error(`no "queued as <id>" in ${JSON.stringify(response)}`);
  return Number(m[1]);
}
