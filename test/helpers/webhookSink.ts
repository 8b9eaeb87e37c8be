/**
 * A real HTTP server on loopback that records the alert webhooks it receives. `respond` picks the status
 * of each request (default 200), to play a destination that is failing.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  /** The body as received, for checking signatures over the exact bytes. */
  rawBody: string;
}

export interface WebhookSink {
  port: number;
  url(path: string): string;
  requests: ReceivedRequest[];
  close(): Promise<void>;
}

export async function startWebhookSink(options: { port?: number; respond?: (req: ReceivedRequest) => number } = {}): Promise<WebhookSink> {
  const requests: ReceivedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // recorded as text
      }
      const r: ReceivedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, rawBody: text };
      const status = options.respond?.(r) ?? 200;
      if (status >= 200 && status < 300) requests.push(r);
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'unavailable');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A loopback port that nothing listens on (for now): bound, read, released. */
export async function freePort(): Promise<number> {
  const sink = await startWebhookSink();
  await sink.close();
  return sink.port;
}
