import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../src/config/loadConfig.js';
import { REDIS_URL } from './services.js';

/** A Config for tests: loopback, port 0, a queue prefix of its own, fast sweep; overrides as env vars. */
export function testConfig(databaseUrl: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    QUEUE_PREFIX: `test-${process.pid}-${randomBytes(4).toString('hex')}`,
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: '0',
    SMTP_SERVER_NAME: 'tlsrpt.test',
    LOG_LEVEL: 'silent',
    SHUTDOWN_TIMEOUT_SECONDS: '5',
    ...env,
  });
}

/** Deletes every Redis key under a queue prefix (tests, and the benchmark's own prefix). */
export async function clearQueuePrefix(prefix: string, redisUrl = REDIS_URL): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
