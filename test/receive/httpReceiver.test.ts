/**
 * The HTTP endpoint's own decisions, against the real server on port 0 with a real client: what it refuses
 * (413, 415, 400, 405, 408, 429), that a refused request stores nothing, 503 with Retry-After when Postgres
 * is gone (and nothing half-written), the health checks, and graceful shutdown.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createLogger } from '../../src/log/createLogger.js';
import { startHttpService } from '../../src/services/httpService.js';
import { realFixture } from '../helpers/fixtures.js';
import { HTTP_TEST_ENV, postReport, startHttpHarness, type HttpHarness } from '../helpers/httpHarness.js';
import { startTcpProxy } from '../helpers/tcpProxy.js';
import { createTestDatabase } from '../helpers/testDatabase.js';
import { clearQueuePrefix, testConfig } from '../helpers/testConfig.js';
import { portAnswers } from '../helpers/services.js';
import { waitFor } from '../helpers/waitFor.js';

const JSON_TYPE = 'application/tlsrpt+json';
const REPORT = realFixture('dmarc-report-viewer--google.json');

async function countRaw(h: HttpHarness): Promise<number> {
  return (await h.db.pool.query(`SELECT count(*)::int AS n FROM raw_messages`)).rows[0].n;
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return res.text();
}

/** The value of one series in a Prometheus text exposition (undefined when absent). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Sends raw bytes over one connection and collects the whole reply until the server closes or `untilReply`. */
function rawExchange(
  port: number,
  first: string,
  rest?: { after: () => Promise<void>; bytes: string },
): Promise<{ reply: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    socket.on('connect', () => {
      socket.write(first);
      if (rest) void rest.after().then(() => socket.write(rest.bytes), reject);
    });
    socket.on('data', (d) => {
      reply += d.toString();
      // A complete JSON reply (Content-Length known): done, even if the server keeps the connection open.
      const m = /Content-Length: (\d+)\r\n[\s\S]*?\r\n\r\n([\s\S]*)$/i.exec(reply);
      if (m && Buffer.byteLength(m[2]!) >= Number(m[1])) socket.end();
    });
    socket.on('close', () => resolve({ reply, ms: Date.now() - t0 }));
    socket.on('error', () => {
      // The server may reset the connection after answering: 'close' follows and resolves with what arrived.
    });
  });
}

describe('refused requests', () => {
  let h: HttpHarness;
  before(async () => {
    h = await startHttpHarness(
      { HTTP_MAX_BODY_SIZE: '64KiB', HTTP_BODY_TIMEOUT_SECONDS: '1', HTTP_RATE_LIMIT_PER_MINUTE: '0' },
      { worker: false },
    );
  });
  after(() => h?.close());

  it('413 for a declared Content-Length over HTTP_MAX_BODY_SIZE, storing nothing', async () => {
    const before = await countRaw(h);
    const res = await postReport(h.url(), Buffer.alloc(100_000, 0x20), { 'content-type': JSON_TYPE });
    assert.equal(res.status, 413);
    assert.equal(res.body.error, 'body-too-large');
    assert.equal(await countRaw(h), before);
  });

  it('413 for a chunked body that grows over the limit while streaming, storing nothing', async () => {
    const before = await countRaw(h);
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 10; i++) c.enqueue(new Uint8Array(10_000).fill(0x20));
        c.close();
      },
    });
    const res = await fetch(h.url(), { method: 'POST', body, duplex: 'half', headers: { 'content-type': JSON_TYPE } } as RequestInit);
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { error: string }).error, 'body-too-large');
    assert.equal(await countRaw(h), before);
  });

  it('415 for a body that is not labelled as a report, or has no label, storing nothing', async () => {
    const before = await countRaw(h);
    const labels: Array<Record<string, string>> = [
      { 'content-type': 'text/html' },
      { 'content-type': 'multipart/form-data; boundary=x' },
      {},
    ];
    for (const headers of labels) {
      const res = await fetch(h.url(), { method: 'POST', body: new Blob([REPORT]), headers });
      assert.equal(res.status, 415, JSON.stringify(headers));
      assert.equal(((await res.json()) as { error: string }).error, 'unsupported-media-type');
    }
    assert.equal(await countRaw(h), before);
  });

  it('415 for a Content-Encoding other than gzip', async () => {
    const res = await postReport(h.url(), REPORT, { 'content-type': JSON_TYPE, 'content-encoding': 'br' });
    assert.equal(res.status, 415);
    assert.equal(res.body.error, 'unsupported-content-encoding');
  });

  it('accepts the media type whatever its case and parameters', async () => {
    const res = await postReport(h.url(), REPORT, { 'content-type': 'Application/TLSRPT+JSON; charset=utf-8' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });

  it('400 for an empty body, 405 with Allow: POST for a GET', async () => {
    const empty = await postReport(h.url(), '', { 'content-type': JSON_TYPE });
    assert.equal(empty.status, 400);
    assert.equal(empty.body.error, 'empty-body');
    const get = await fetch(h.url());
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
  });

  it('408 and a closed connection for a body that does not arrive within HTTP_BODY_TIMEOUT_SECONDS', async () => {
    const before = await countRaw(h);
    const { reply, ms } = await rawExchange(
      h.http.port,
      `POST /tlsrpt HTTP/1.1\r\nHost: test\r\nContent-Type: ${JSON_TYPE}\r\nContent-Length: 1000\r\n\r\n{"organization-name":`,
    );
    assert.match(reply, /^HTTP\/1\.1 408 /);
    assert.match(reply, /"error":"body-timeout"/);
    assert.ok(ms >= 900 && ms < 5000, `closed after ${ms} ms`);
    assert.equal(await countRaw(h), before);
  });

  it('431 and a closed connection for request headers larger than Node accepts', async () => {
    const { reply } = await rawExchange(h.http.port, `POST /tlsrpt HTTP/1.1\r\nHost: test\r\nX-Padding: ${'a'.repeat(20 * 1024)}\r\n\r\n`);
    assert.match(reply, /^HTTP\/1\.1 431 /);
    assert.match(reply, /"error":"header-too-large"/);
  });

  it('survives a burst of oversized bodies, and keeps answering', async () => {
    const big = Buffer.alloc(1024 * 1024, 0x20);
    const replies = await Promise.all(
      Array.from({ length: 20 }, () =>
        postReport(h.url(), big, { 'content-type': JSON_TYPE }).catch((err: Error) => ({ status: err.message })),
      ),
    );
    // Each is refused; the server may close a connection before the client finished sending (a fetch error).
    assert.ok(
      replies.every((r) => r.status === 413 || typeof r.status === 'string'),
      JSON.stringify(replies.map((r) => r.status)),
    );
    assert.equal((await fetch(h.url('/healthz'))).status, 200);
    assert.equal((await postReport(h.url(), REPORT, { 'content-type': JSON_TYPE })).status, 200);
  });

  it('ignores X-Forwarded-For unless HTTP_TRUST_PROXY says to believe it', async () => {
    const res = await postReport(h.url(), REPORT, { 'content-type': JSON_TYPE, 'x-forwarded-for': '192.0.2.9' });
    const row = (await h.db.pool.query(`SELECT remote_address FROM raw_messages WHERE id = $1`, [res.body.id])).rows[0];
    assert.equal(row.remote_address, '127.0.0.1');
  });

  it('counts every refusal by reason in /metrics', async () => {
    const text = await scrape(h.url('/metrics'));
    assert.equal(sample(text, 'tlsrpt_http_reports_refused_total{reason="body-timeout"}'), 1);
    assert.equal(sample(text, 'tlsrpt_http_reports_refused_total{reason="empty-body"}'), 1);
    assert.equal(sample(text, 'tlsrpt_http_reports_refused_total{reason="unsupported-media-type"}'), 3);
    assert.equal(sample(text, 'tlsrpt_http_reports_refused_total{reason="unsupported-content-encoding"}'), 1);
    assert.ok((sample(text, 'tlsrpt_http_reports_refused_total{reason="body-too-large"}') ?? 0) >= 2);
    assert.equal(sample(text, 'tlsrpt_http_requests_total{route="/tlsrpt",method="GET",status="405"}'), 1);
  });
});

describe('per-address rate limit', () => {
  let h: HttpHarness;
  before(async () => {
    h = await startHttpHarness({ HTTP_RATE_LIMIT_PER_MINUTE: '3', HTTP_TRUST_PROXY: '127.0.0.1' }, { worker: false });
  });
  after(() => h?.close());

  it('429 with Retry-After past HTTP_RATE_LIMIT_PER_MINUTE for one client, while others and the probes go on', async () => {
    const from = (ip: string) => ({ 'content-type': JSON_TYPE, 'x-forwarded-for': ip });
    for (let i = 0; i < 3; i++) assert.equal((await postReport(h.url(), REPORT, from('192.0.2.1'))).status, 200);
    const before = await countRaw(h);
    const limited = await postReport(h.url(), REPORT, from('192.0.2.1'));
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error, 'rate-limited');
    assert.ok(Number(limited.headers.get('retry-after')) > 0, `retry-after ${limited.headers.get('retry-after')}`);
    assert.equal(await countRaw(h), before, 'nothing stored');

    const other = await postReport(h.url(), REPORT, from('192.0.2.2'));
    assert.equal(other.status, 200);
    const row = (await h.db.pool.query(`SELECT remote_address FROM raw_messages WHERE id = $1`, [other.body.id])).rows[0];
    assert.equal(row.remote_address, '192.0.2.2', 'the address the trusted proxy reports');

    for (let i = 0; i < 5; i++) {
      assert.equal((await fetch(h.url('/healthz'))).status, 200);
      assert.equal((await fetch(h.url('/metrics'))).status, 200);
    }
  });
});

describe('when Postgres is unreachable', () => {
  it('503 with Retry-After, /readyz 503, /healthz 200, /metrics still served', async () => {
    const config = testConfig(`postgresql://postgres@127.0.0.1:${await closedPort()}/none`, HTTP_TEST_ENV);
    const http = await startHttpService(config, createLogger('silent'));
    try {
      const base = `http://127.0.0.1:${http.port}`;
      const res = await postReport(`${base}/tlsrpt`, REPORT, { 'content-type': JSON_TYPE });
      assert.equal(res.status, 503);
      assert.equal(res.body.error, 'storage-unavailable');
      assert.equal(res.headers.get('retry-after'), '120');

      const ready = await fetch(`${base}/readyz`);
      assert.equal(ready.status, 503);
      const checks = ((await ready.json()) as { checks: Array<{ name: string; ok: boolean }> }).checks;
      assert.deepEqual(
        checks.map((c) => [c.name, c.ok]),
        [
          ['postgres', false],
          ['migrations', false],
          ['redis', true],
        ],
      );
      assert.equal((await fetch(`${base}/healthz`)).status, 200);

      const text = await scrape(`${base}/metrics`);
      assert.equal(sample(text, 'tlsrpt_metrics_source_up{source="postgres"}'), 0);
      assert.equal(sample(text, 'tlsrpt_metrics_source_up{source="redis"}'), 1);
      assert.equal(sample(text, 'tlsrpt_http_reports_refused_total{reason="storage-unavailable"}'), 1);
    } finally {
      await http.stop();
      await clearQueuePrefix(config.queuePrefix);
    }
  });

  it('cut mid-life: 503 and nothing half-written; accepted again once it is back', async () => {
    const db = await createTestDatabase();
    const proxy = await startTcpProxy(Number(new URL(db.url).port || 5432));
    const viaProxy = new URL(db.url);
    viaProxy.port = String(proxy.port);
    const config = testConfig(viaProxy.toString(), HTTP_TEST_ENV);
    const http = await startHttpService(config, createLogger('silent'));
    const url = `http://127.0.0.1:${http.port}/tlsrpt`;
    const bodies = ['dmarc-report-viewer--google.json', 'dmarc-report-viewer--no-policy.json', 'dmarc-report-viewer--microsoft.json'].map(
      (f) => realFixture(f),
    );
    try {
      assert.equal((await postReport(url, bodies[0]!, { 'content-type': JSON_TYPE })).status, 200);
      proxy.cut();
      const refused = await postReport(url, bodies[1]!, { 'content-type': JSON_TYPE });
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('retry-after'), '120');
      proxy.restore();
      const again = await waitFor('the endpoint to accept again', async () => {
        const r = await postReport(url, bodies[2]!, { 'content-type': JSON_TYPE });
        return r.status === 200 ? r : null;
      });
      assert.equal(again.body.status, 'accepted');

      const rows = (await db.pool.query(`SELECT raw, size_bytes FROM raw_messages ORDER BY id`)).rows;
      assert.equal(rows.length, 2, 'the refused body left no row');
      assert.ok(rows[0].raw.equals(bodies[0]) && rows[1].raw.equals(bodies[2]));
      assert.ok(
        rows.every((r) => r.raw.length === r.size_bytes),
        'every row whole',
      );
    } finally {
      await http.stop();
      await proxy.close();
      await clearQueuePrefix(config.queuePrefix);
      await db.drop();
    }
  });
});

describe('health checks', () => {
  it('/readyz is 200 with every check passing, and 503 naming a pending migration', async () => {
    const h = await startHttpHarness({}, { worker: false });
    try {
      const ok = await fetch(h.url('/readyz'));
      assert.equal(ok.status, 200);
      assert.deepEqual(((await ok.json()) as { ready: boolean }).ready, true);

      await h.db.pool.query(`DELETE FROM pgmigrations`);
      const pending = await fetch(h.url('/readyz'));
      assert.equal(pending.status, 503);
      const checks = ((await pending.json()) as { checks: Array<{ name: string; ok: boolean; detail: string }> }).checks;
      const migrations = checks.find((c) => c.name === 'migrations')!;
      assert.equal(migrations.ok, false);
      assert.match(migrations.detail, /0001_create_core_tables.*tlsrpt migrate/);
    } finally {
      await h.close();
    }
  });

  it('without Redis: /readyz 503 for redis, yet reports are still accepted (the sweep queues them later)', async () => {
    const h = await startHttpHarness({ REDIS_URL: `redis://127.0.0.1:${await closedPort()}` }, { worker: false });
    try {
      const ready = await fetch(h.url('/readyz'));
      assert.equal(ready.status, 503);
      const checks = ((await ready.json()) as { checks: Array<{ name: string; ok: boolean }> }).checks;
      assert.deepEqual(
        checks.map((c) => [c.name, c.ok]),
        [
          ['postgres', true],
          ['migrations', true],
          ['redis', false],
        ],
      );
      const res = await postReport(h.url(), REPORT, { 'content-type': JSON_TYPE });
      assert.equal(res.status, 200);
      const row = (await h.db.pool.query(`SELECT status FROM raw_messages WHERE id = $1`, [res.body.id])).rows[0];
      assert.equal(row.status, 'pending');
    } finally {
      await h.close();
    }
  });
});

describe('graceful shutdown', () => {
  it('finishes a report in progress, then refuses connections', async () => {
    const h = await startHttpHarness({}, { worker: false });
    try {
      const port = h.http.port;
      const json = REPORT.toString();
      const half = Math.floor(json.length / 2);
      let stopping: Promise<void> | undefined;
      // Emitted once the request's headers are parsed and fastify has taken it in.
      const received = new Promise((resolve) => h.http.server.app.server.once('request', resolve));
      const { reply } = await rawExchange(
        port,
        `POST /tlsrpt HTTP/1.1\r\nHost: test\r\nContent-Type: ${JSON_TYPE}\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json.slice(0, half)}`,
        {
          after: async () => {
            // The first half is in; begin the shutdown before the rest arrives.
            await received;
            stopping = h.http.server.close();
            await waitFor('the listener to close', () => portAnswers(port).then((up) => !up));
          },
          bytes: json.slice(half),
        },
      );
      assert.match(reply, /^HTTP\/1\.1 200 /);
      await stopping;
      const rows = (await h.db.pool.query(`SELECT raw FROM raw_messages`)).rows;
      assert.equal(rows.length, 1);
      assert.ok(rows[0].raw.equals(REPORT));
      assert.equal(await portAnswers(port), false);
    } finally {
      await h.close();
    }
  });
});

describe('METRICS_ALLOW', () => {
  it('answers /metrics only to allowed client addresses, as the trusted proxy reports them', async () => {
    const h = await startHttpHarness({ METRICS_ALLOW: '10.0.0.0/8', HTTP_TRUST_PROXY: 'loopback' }, { worker: false });
    try {
      const direct = await fetch(h.url('/metrics'));
      assert.equal(direct.status, 403);
      const refused = (await direct.json()) as { error: string; message: string };
      assert.equal(refused.error, 'metrics-forbidden');
      assert.match(refused.message, /not allowed from 127\.0\.0\.1: add it to METRICS_ALLOW/);
      assert.equal((await fetch(h.url('/metrics'), { headers: { 'x-forwarded-for': '198.51.100.7' } })).status, 403);
      assert.equal((await fetch(h.url('/metrics'), { headers: { 'x-forwarded-for': '10.1.2.3' } })).status, 200);
      assert.equal((await fetch(h.url('/healthz'), { headers: { 'x-forwarded-for': '198.51.100.7' } })).status, 200);
    } finally {
      await h.close();
    }
  });
});

describe('extra plugins', () => {
  it('registers a plugin beside the built-in routes, with its own routes and the default JSON parser', async () => {
    const h = await startHttpHarness(
      { HTTP_RATE_LIMIT_PER_MINUTE: '1' },
      {
        worker: false,
        receiver: {
          plugins: [
            async (app) => {
              app.get('/.well-known/mta-sts.txt', async (_request, reply) =>
                reply.type('text/plain').send('version: STSv1\r\nmode: testing\r\n'),
              );
            },
            {
              plugin: async (app: FastifyInstance, opts: { greeting?: string }) => {
                app.post('/echo', async (request) => ({ greeting: opts.greeting, got: request.body }));
              },
              options: { greeting: 'hello' },
            },
          ],
        },
      },
    );
    try {
      for (let i = 0; i < 3; i++) {
        const policy = await fetch(h.url('/.well-known/mta-sts.txt'));
        assert.equal(policy.status, 200, 'the report rate limit does not apply to other routes');
        assert.equal(await policy.text(), 'version: STSv1\r\nmode: testing\r\n');
      }
      const echo = await fetch(h.url('/echo'), { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } });
      assert.deepEqual(await echo.json(), { greeting: 'hello', got: { a: 1 } });
      const text = await scrape(h.url('/metrics'));
      assert.equal(sample(text, 'tlsrpt_http_requests_total{route="/.well-known/mta-sts.txt",method="GET",status="200"}'), 3);
    } finally {
      await h.close();
    }
  });
});
