/**
 * The connections of long-lived processes log their errors, rate-limited: an outage leaves a trace without a
 * line per reconnection attempt, and the recovery is logged too.
 */
import assert from 'node:assert/strict';
import { captureLog } from '../helpers/captureLog.js';
import { it } from 'node:test';
import { createPool } from '../../src/db/pool.js';
import { createProducerConnection, createReportQueue } from '../../src/queue/reportQueue.js';
import { PG_URL_BASE, REDIS_URL, requireServices } from '../helpers/services.js';
import { clearQueuePrefix } from '../helpers/testConfig.js';
import { startTcpProxy } from '../helpers/tcpProxy.js';
import { waitFor } from '../helpers/waitFor.js';

it('a Redis outage is logged once, however many reconnection attempts fail, and so is the recovery', async () => {
  await requireServices();
  const proxy = await startTcpProxy(Number(new URL(REDIS_URL).port || 6379));
  const { lines, log } = captureLog();
  const url = new URL(REDIS_URL);
  url.port = String(proxy.port);
  const redis = createProducerConnection(url.toString(), log);
  const prefix = `errors-test-${process.pid}`;
  const queue = createReportQueue(redis, prefix, log);
  try {
    await waitFor('the connection', async () => redis.status === 'ready');
    let attempts = 0;
    redis.on('error', () => attempts++);
    proxy.cut();
    await waitFor('three failed reconnection attempts', async () => attempts >= 3);
    const errors = lines.filter((l) => l.msg === 'Redis connection error; reconnecting');
    assert.equal(errors.length, 1, JSON.stringify(lines));
    proxy.restore();
    await waitFor('the recovery line', async () => lines.find((l) => l.msg === 'Redis connection restored'));
  } finally {
    await queue.close();
    redis.disconnect();
    await proxy.close();
    await clearQueuePrefix(prefix); // the queue's meta key
  }
});

it('an idle PostgreSQL connection that is lost is logged', async () => {
  await requireServices();
  const proxy = await startTcpProxy(Number(new URL(PG_URL_BASE).port || 5432));
  const { lines, log } = captureLog();
  const url = new URL(`${PG_URL_BASE}/postgres`);
  url.port = String(proxy.port);
  const pool = createPool(url.toString(), { max: 1, log });
  try {
    await pool.query('SELECT 1');
    proxy.cut();
    await waitFor('the log line', async () => lines.find((l) => l.msg === 'PostgreSQL connection lost; the next query connects again'));
  } finally {
    await pool.end();
    await proxy.close();
  }
});
