/**
 * GET /readyz: can this process take reports right now? Postgres reachable with every migration applied
 * (a process newer than its schema would fail on its first INSERT), and Redis reachable (reports would still
 * be stored without it, but not processed until it returns: the sweep re-enqueues them).
 */
import type { Redis } from 'ioredis';
import type { Pool } from '../db/pool.js';
import { pendingMigrations } from '../db/migrate.js';
import { errorMessage } from '../errors.js';

export interface ReadinessCheck {
  name: 'postgres' | 'migrations' | 'redis';
  ok: boolean;
  detail: string;
}

export interface Readiness {
  ready: boolean;
  checks: ReadinessCheck[];
}

const CHECK_TIMEOUT_MS = 2000;

export async function checkDependencies(deps: { pool: Pool; redis: Redis }): Promise<Readiness> {
  const [database, redis] = await Promise.all([checkDatabase(deps.pool), checkRedis(deps.redis)]);
  const checks = [...database, redis];
  return { ready: checks.every((c) => c.ok), checks };
}

async function checkDatabase(pool: Pool): Promise<ReadinessCheck[]> {
  let pending: string[];
  try {
    pending = await withTimeout(
      (async () => {
        const client = await pool.connect();
        try {
          return await pendingMigrations(client);
        } finally {
          client.release();
        }
      })(),
    );
  } catch (err) {
    return [
      { name: 'postgres', ok: false, detail: `not reachable: ${errorMessage(err)}` },
      { name: 'migrations', ok: false, detail: 'unknown while Postgres is not reachable' },
    ];
  }
  return [
    { name: 'postgres', ok: true, detail: 'reachable' },
    pending.length === 0
      ? { name: 'migrations', ok: true, detail: 'schema is current' }
      : { name: 'migrations', ok: false, detail: `${pending.length} pending (${pending.join(', ')}): run "tlsrpt migrate"` },
  ];
}

async function checkRedis(redis: Redis): Promise<ReadinessCheck> {
  try {
    // Right after start the first connection may still be opening; wait for it rather than report a failure.
    if (redis.status === 'wait' || redis.status === 'connecting' || redis.status === 'connect') await withTimeout(firstConnection(redis));
    await withTimeout(redis.ping());
    return { name: 'redis', ok: true, detail: 'reachable' };
  } catch (err) {
    return { name: 'redis', ok: false, detail: `not reachable: ${errorMessage(err)}` };
  }
}

function firstConnection(redis: Redis): Promise<void> {
  return new Promise((resolve, reject) => {
    const onReady = () => {
      redis.off('error', onError);
      resolve();
    };
    const onError = (err: Error) => {
      redis.off('ready', onReady);
      reject(err);
    };
    redis.once('ready', onReady);
    redis.once('error', onError);
  });
}

function withTimeout<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
