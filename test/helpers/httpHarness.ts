/**
 * Runs the real HTTP service (and, unless told not to, a worker) in-process against a fresh database and a
 * private queue prefix, on 127.0.0.1 port 0.
 */
import type { Logger } from 'pino';
import type { Config } from '../../src/config/loadConfig.js';
import { createLogger } from '../../src/log/createLogger.js';
import { startHttpService, type HttpService, type HttpServiceOptions } from '../../src/services/httpService.js';
import { startWorkerService, type WorkerService } from '../../src/services/workerService.js';
import { createTestDatabase, type TestDatabase } from './testDatabase.js';
import { clearQueuePrefix, testConfig } from './testConfig.js';
import { waitFor } from './waitFor.js';

export interface HttpHarness {
  db: TestDatabase;
  config: Config;
  http: HttpService;
  worker: WorkerService | null;
  /** http://127.0.0.1:<port><path> (https:// when TLS is on). */
  url(path?: string): string;
  /** Waits until raw message `id` is no longer pending; returns its row. */
  settled(id: number): Promise<{ status: string; reason: string | null; detail: string | null; report_id: number | null }>;
  close(): Promise<void>;
}

export const HTTP_TEST_ENV = { HTTP_HOST: '127.0.0.1', HTTP_PORT: '0' };

export async function startHttpHarness(
  env: Record<string, string> = {},
  options: { worker?: boolean; receiver?: HttpServiceOptions; db?: TestDatabase; log?: Logger } = {},
): Promise<HttpHarness> {
  const db = options.db ?? (await createTestDatabase());
  const config = testConfig(db.url, { ...HTTP_TEST_ENV, ...env });
  const log = options.log ?? createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const http = await startHttpService(config, log, options.receiver);
  const worker = options.worker === false ? null : await startWorkerService(config, log);
  const scheme = config.http.tls ? 'https' : 'http';
  return {
    db,
    config,
    http,
    worker,
    url: (path = config.http.reportPath) => `${scheme}://127.0.0.1:${http.port}${path}`,
    settled: (id) =>
      waitFor(`raw message ${id} to be processed`, async () => {
        const r = await db.pool.query(`SELECT status, reason, detail, report_id FROM raw_messages WHERE id = $1`, [id]);
        return r.rows[0] && r.rows[0].status !== 'pending' ? r.rows[0] : null;
      }),
    async close() {
      await http.stop();
      await worker?.stop();
      await clearQueuePrefix(config.queuePrefix);
      if (!options.db) await db.drop();
    },
  };
}

export interface PostResult {
  status: number;
  headers: Headers;
  body: { status?: string; id?: number; error?: string; message?: string };
}

/** POSTs `body` with fetch (undici), as a reporting MTA would. */
export async function postReport(url: string, body: Buffer | string, headers: Record<string, string> = {}): Promise<PostResult> {
  const res = await fetch(url, { method: 'POST', body, headers });
  const text = await res.text();
  let parsed: PostResult['body'];
  try {
    parsed = JSON.parse(text) as PostResult['body'];
  } catch {
    parsed = { message: text };
  }
  return { status: res.status, headers: res.headers, body: parsed };
}
